using System.ComponentModel;
using DataSpoc.Pipe.Api;
using DataSpoc.Pipe.Cli.Infrastructure;
using DataSpoc.Pipe.Cli.Ui;
using Microsoft.Extensions.Hosting;
using Spectre.Console.Cli;

namespace DataSpoc.Pipe.Cli.Commands;

/// <summary><c>ui [--port 8765]</c>: serves the read-only dashboard on 127.0.0.1 until Ctrl+C.</summary>
internal sealed class UiCommand : AsyncCommand<UiCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--port <PORT>")]
        [Description("Port on 127.0.0.1 (0 picks a free one)")]
        [DefaultValue(8765)]
        public int Port { get; init; } = 8765;

        public override Spectre.Console.ValidationResult Validate() =>
            Port is < 0 or > 65535 ? Spectre.Console.ValidationResult.Error("--port must be between 0 and 65535") : Spectre.Console.ValidationResult.Success();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var home = Pipelines.Home();
        var stores = Stores.Create();
        var pages = new DashboardPages(Pipelines.Client(home.Root, stores), stores, TimeProvider.System);
        await using var app = await DashboardServer.StartAsync(pages, settings.Port, cancellationToken);
        using var hangUp = StopSignals.HangUpStops(app.Lifetime.StopApplication);
        Console.Out.WriteLine($"dataspoc-pipe dashboard on {DashboardServer.Address(app)} (home {home.Root}); Ctrl+C stops it");
        Console.Out.Flush();
        await app.WaitForShutdownAsync(cancellationToken);
        return ExitCodes.Success;
    }
}
