using System.ComponentModel;
using DataSpoc.Pipe.Cli.Infrastructure;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DataSpoc.Pipe.Cli.Commands;

/// <summary><c>init</c>: creates the home folder; running it again changes nothing.</summary>
internal sealed class InitCommand : Command<InitCommand.Settings>
{
    public sealed class Settings : CommandSettings;

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var home = Pipelines.Home();
        var created = Pipelines.InitHome(home);
        if (created.Count == 0)
            AnsiConsole.MarkupLineInterpolated($"Already initialized: {home.Root}");
        else
        {
            AnsiConsole.MarkupLineInterpolated($"Initialized {home.Root}");
            foreach (var path in created) AnsiConsole.MarkupLineInterpolated($"  created {path}");
            AnsiConsole.MarkupLine("Next: [green]dataspoc-pipe add <name>[/] (or [green]dataspoc-pipe demo[/])");
        }
        return ExitCodes.Success;
    }
}
