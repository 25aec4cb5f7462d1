using System.Text.Json.Nodes;
using DataSpoc.Pipe.Cli.Infrastructure;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Storage;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DataSpoc.Pipe.Cli.Commands;

/// <summary><c>status</c>: per pipeline, the latest run (from its bucket's run logs) and the next scheduled time.</summary>
internal sealed class StatusCommand : AsyncCommand<StatusCommand.Settings>
{
    public sealed class Settings : OutputSettings;

    private sealed record Row(string Pipeline, string Status, DateTimeOffset? LastRun, double? Duration, long? Records, string? RunId,
        string? Cron, DateTimeOffset? NextRun, string? Error);

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var home = Pipelines.Home();
        var loader = PipelineLoader.ForHome(home);
        var rows = new List<Row>();
        foreach (var name in home.PipelineNames())
            rows.Add(await RowAsync(loader, home, name, cancellationToken));

        if (settings.Json)
        {
            var array = new JsonArray();
            foreach (var r in rows)
                array.Add((JsonNode)new JsonObject
                {
                    ["pipeline"] = r.Pipeline,
                    ["status"] = r.Status,
                    ["last_run"] = r.LastRun?.ToString("O"),
                    ["duration_seconds"] = r.Duration,
                    ["records"] = r.Records,
                    ["run_id"] = r.RunId,
                    ["schedule"] = r.Cron,
                    ["next_run"] = r.NextRun?.ToString("O"),
                    ["error"] = r.Error,
                });
            JsonOutput.Write(array);
            return ExitCodes.Success;
        }
        if (rows.Count == 0)
        {
            AnsiConsole.MarkupLineInterpolated($"No pipelines in {home.PipelinesDirectory}. Create one with: dataspoc-pipe add <name>");
            return ExitCodes.Success;
        }
        var table = new Table().AddColumns("pipeline", "status", "last run", "duration", "records", "schedule", "next run");
        foreach (var r in rows)
            table.AddRow(Markup.Escape(r.Pipeline), StatusMarkup(r.Status), Units.Time(r.LastRun),
                r.Duration is { } d ? Units.Duration(d) : "-", r.Records is { } n ? Units.Count(n) : "-", Markup.Escape(r.Cron ?? "-"), Units.Time(r.NextRun));
        AnsiConsole.Write(table);
        // Seven columns leave an error no room in an 80-column row: each gets one line of its own under the table instead.
        var errors = rows.Where(r => r.Error is { Length: > 0 }).ToList();
        foreach (var r in errors)
            AnsiConsole.MarkupLine($"[red]{Markup.Escape(r.Pipeline)}[/]: {Markup.Escape(TableCells.OneLine(r.Error!, AnsiConsole.Profile.Width - r.Pipeline.Length - 2))}");
        if (errors.Count > 0) AnsiConsole.MarkupLine("Full errors: dataspoc-pipe status --output json, or dataspoc-pipe logs <name>");
        return ExitCodes.Success;
    }

    private static async Task<Row> RowAsync(PipelineLoader loader, PipeHome home, string name, CancellationToken cancellationToken)
    {
        PipelineDefinition pipeline;
        try
        {
            pipeline = loader.LoadFile(home.FindPipelineFile(name)!);
        }
        catch (ConfigException e)
        {
            return new Row(name, "invalid", null, null, null, null, null, null, e.Message);
        }
        var cron = pipeline.Schedule?.Cron;
        var next = Schedules.Next(cron, DateTimeOffset.UtcNow);
        try
        {
            var latest = await RunLogs.LatestAsync(pipeline, cancellationToken);
            if (latest is not { Log: var log })
                return new Row(name, "never run", null, null, null, null, cron, next, null);
            return new Row(name, log.Status, log.StartedAt, log.DurationSeconds, log.TotalRecords, log.RunId, cron, next,
                log.Error is null ? null : pipeline.Redaction.Redact(log.Error));
        }
        catch (Exception e) when (e is StorageException or UsageException or IOException or UnauthorizedAccessException)
        {
            return new Row(name, "unknown", null, null, null, null, cron, next, pipeline.Redaction.Redact(e.Message));
        }
    }

    private static string StatusMarkup(string status) => status switch
    {
        "success" => "[green]success[/]",
        "failure" => "[red]failure[/]",
        "invalid" or "unknown" => $"[red]{status}[/]",
        _ => Markup.Escape(status),
    };
}
