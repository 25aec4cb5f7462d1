using System.ComponentModel;
using DataSpoc.Pipe.Api;
using DataSpoc.Pipe.Cli.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Spectre.Console.Cli;

namespace DataSpoc.Pipe.Cli.Mcp;

/// <summary>
/// <c>mcp</c>: serves the Model Context Protocol over stdio for AI agents and MCP clients. Stdout carries only the
/// protocol; every log line goes to stderr.
/// </summary>
internal sealed class McpCommand : AsyncCommand<McpCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--home <DIR>")]
        [Description("The home folder to serve (default: $DATASPOC_PIPE_HOME, else ~/.dataspoc-pipe)")]
        public string? Home { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var builder = Host.CreateEmptyApplicationBuilder(settings: null);
        builder.Logging.AddConsole(o => { o.LogToStandardErrorThreshold = LogLevel.Trace; o.FormatterName = McpLogFormatter.Name; });
        builder.Services.AddSingleton<Microsoft.Extensions.Logging.Console.ConsoleFormatter, McpLogFormatter>();
        builder.Logging.SetMinimumLevel(Environment.GetEnvironmentVariable("DATASPOC_PIPE_DEBUG") is "1" or "true" ? LogLevel.Debug : LogLevel.Warning);
        builder.Services.AddSingleton(Pipelines.Client(settings.Home, Stores.Create()));
        builder.Services.AddSingleton<PipeTools>();
        // stdio through McpStdio: it answers the lines that are not JSON-RPC messages, which the SDK's transport drops.
        var stdio = new McpStdio(Console.OpenStandardInput(), Console.OpenStandardOutput());
        builder.Services
            .AddMcpServer(o => o.ServerInfo = new() { Name = "dataspoc-pipe", Version = ToolVersion.Current })
            .WithStreamServerTransport(stdio.Input, stdio.Output)
            .WithTools<PipeTools>()
            .WithMessageFilters(f => f.AddIncomingFilter(ToolArguments.ParamsFilter))
            .WithRequestFilters(f => f.AddCallToolFilter(ToolArguments.Filter).AddListToolsFilter(ToolArguments.ListFilter))
            .WithResources<PipeResources>();
        using var host = builder.Build();
        using var hangUp = StopSignals.HangUpStops(host.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication);
        await host.RunAsync(cancellationToken);
        return ExitCodes.Success;
    }
}
