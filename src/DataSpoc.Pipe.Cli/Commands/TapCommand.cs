using System.ComponentModel;
using DataSpoc.Pipe.Cli.Infrastructure;
using DataSpoc.Pipe.Sources.BuiltIn;
using Spectre.Console.Cli;

namespace DataSpoc.Pipe.Cli.Commands;

/// <summary><c>tap &lt;name&gt;</c>: runs a built-in tap as a standalone Singer tap (messages on stdout), for other Singer tooling.</summary>
internal sealed class TapCommand : AsyncCommand<TapCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<NAME>")]
        [Description("A built-in tap: csv, jsonl, postgres, …")]
        public string Name { get; init; } = "";

        [CommandOption("--config <FILE>")]
        [Description("The tap's JSON config")]
        public string? Config { get; init; }

        [CommandOption("--state <FILE>")]
        [Description("Singer STATE to resume from")]
        public string? State { get; init; }

        [CommandOption("--catalog|--properties <FILE>")]
        [Description("Singer catalog with selected streams")]
        public string? Catalog { get; init; }

        [CommandOption("--discover")]
        [Description("Print the catalog instead of extracting")]
        public bool Discover { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        await using var stdout = StandardStreams.SingerOutput();
        var code = await BuiltInTapCommand.RunAsync(settings.Name, settings.Config, settings.State, settings.Catalog, settings.Discover,
            stdout, Console.Error, cancellationToken, Stores.Create());
        return code switch { 0 => ExitCodes.Success, 2 => ExitCodes.Usage, _ => ExitCodes.Failed };
    }
}
