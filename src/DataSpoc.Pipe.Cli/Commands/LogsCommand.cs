using System.ComponentModel;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Cli.Infrastructure;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DataSpoc.Pipe.Cli.Commands;

/// <summary><c>logs &lt;name&gt;</c>: the latest run log as JSON; <c>--list</c> the recent runs; <c>--run &lt;id&gt;</c> one of them.</summary>
internal sealed class LogsCommand : AsyncCommand<LogsCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandArgument(0, "<NAME>")]
        [Description("The pipeline")]
        public string Name { get; init; } = "";

        [CommandOption("--list")]
        [Description("List the recent runs (newest first) instead of showing one log")]
        public bool List { get; init; }

        [CommandOption("--run <RUN_ID>")]
        [Description("Show the log of this run (an id from [green]--list[/])")]
        public string? Run { get; init; }

        [CommandOption("--limit <N>")]
        [Description("How many runs [green]--list[/] shows")]
        [DefaultValue(20)]
        public int Limit { get; init; } = 20;
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var home = Pipelines.Home();
        var pipeline = Pipelines.Load(home, settings.Name);
        var keys = await RunLogs.KeysAsync(pipeline, cancellationToken);
        if (settings.List)
        {
            var rows = new List<(string Key, Lake.RunLog Log)>();
            foreach (var key in keys.Take(Math.Max(1, settings.Limit)))
                if (await RunLogs.ReadAsync(pipeline, key, cancellationToken) is { } entry) rows.Add((key, entry.Log));
            if (settings.Json)
            {
                var array = new JsonArray();
                foreach (var (key, log) in rows)
                    array.Add((JsonNode)new JsonObject
                    {
                        ["run_id"] = log.RunId,
                        ["started_at"] = log.StartedAt.ToString("O"),
                        ["status"] = log.Status,
                        ["mode"] = log.Mode,
                        ["duration_seconds"] = log.DurationSeconds,
                        ["total_records"] = log.TotalRecords,
                        ["key"] = key,
                    });
                JsonOutput.Write(array);
                return ExitCodes.Success;
            }
            if (rows.Count == 0)
            {
                AnsiConsole.MarkupLineInterpolated($"{settings.Name} has not run yet.");
                return ExitCodes.Success;
            }
            var table = new Table().AddColumns("run", "started", "status", "mode", "duration", "records");
            foreach (var (_, log) in rows)
                table.AddRow(Markup.Escape(log.RunId), Units.Time(log.StartedAt), log.Status == "success" ? "[green]success[/]" : "[red]failure[/]",
                    Markup.Escape(log.Mode), Units.Duration(log.DurationSeconds), Units.Count(log.TotalRecords));
            AnsiConsole.Write(table);
            return ExitCodes.Success;
        }

        string? chosen;
        if (settings.Run is { } id)
        {
            chosen = keys.FirstOrDefault(k => RunLogs.RunIdOf(k) == id);
            if (chosen is null)
                throw new UsageException($"{settings.Name} has no run '{id}'" + (keys.Count == 0 ? "" : $"; recent runs: {string.Join(", ", keys.Take(5).Select(RunLogs.RunIdOf))}"));
        }
        else
        {
            chosen = keys.FirstOrDefault() ?? throw new FailedException($"{settings.Name} has not run yet (no log in {pipeline.Destination.Bucket}/.dataspoc/logs/{settings.Name}/)");
        }
        var read = await RunLogs.ReadAsync(pipeline, chosen, cancellationToken) ?? throw new FailedException($"log {chosen} disappeared while reading it");
        // The log is printed as stored (it is already redacted by the runner), re-indented.
        JsonOutput.Write(JsonNode.Parse(read.Raw));
        return ExitCodes.Success;
    }
}
