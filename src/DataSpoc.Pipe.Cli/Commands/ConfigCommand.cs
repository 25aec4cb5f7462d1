using System.ComponentModel;
using DataSpoc.Pipe.Cli.Infrastructure;
using Spectre.Console.Cli;

namespace DataSpoc.Pipe.Cli.Commands;

/// <summary><c>config &lt;name&gt;</c>: a pipeline's effective configuration (defaults applied, <c>${VAR}</c> expanded) as JSON, secrets masked.</summary>
internal sealed class ConfigCommand : Command<ConfigCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandArgument(0, "<NAME>")]
        [Description("The pipeline")]
        public string Name { get; init; } = "";
    }

    // The configuration is a document: both output formats print the same JSON.
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        JsonOutput.Write(Pipelines.Client().Config(settings.Name));
        return ExitCodes.Success;
    }
}
