using System.ComponentModel;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Cli.Infrastructure;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DataSpoc.Pipe.Cli.Commands;

/// <summary>
/// <c>logs &lt;name&gt;</c>: the latest run log as JSON; <c>--list</c> the recent runs; <c>--run &lt;id&gt;</c> one of them;
/// <c>--expire-older-than &lt;age&gt;</c> deletes old ones.
/// </summary>
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

        [CommandOption("--expire-older-than <DURATION>")]
        [Description("Delete the run logs of runs older than this (e.g. 90d) from the bucket, except the latest run's")]
        public string? ExpireOlderThan { get; init; }

        public override ValidationResult Validate()
        {
            var output = base.Validate();
            if (!output.Successful) return output;
            if (ExpireOlderThan is { } age && Durations.Problem(age, "90d, 12h, 30m") is { } problem)
                return ValidationResult.Error($"--expire-older-than: {problem}");
            if (ExpireOlderThan is not null && (List || Run is not null)) return ValidationResult.Error("--expire-older-than deletes logs: it does not go with --list or --run");
            if (List && Run is not null) return ValidationResult.Error("--list lists the recent runs and --run shows one run's log: give one of them");
            // Not ignored silently: without --list one log is shown whatever the limit.
            if (Limit is not null && !List) return ValidationResult.Error("--limit is how many runs --list shows: give it with --list");
            if (Limit is not null && !(int.TryParse(Limit, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) && n >= 1))
                return ValidationResult.Error($"--limit '{Limit}': expected a whole number of runs, at least 1");
            return ValidationResult.Success();
        }

        [CommandOption("--limit <N>")]
        [Description("How many runs [green]--list[/] shows (default 20)")]
        // Text, so that a --limit given without --list can be told from the default and refused.
        public string? Limit { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var client = Pipelines.Client();
        if (settings.ExpireOlderThan is { } age)
        {
            Durations.TryParse(age, out var olderThan);
            var expiry = await client.ExpireLogsAsync(settings.Name, olderThan, cancellationToken);
            if (settings.Json)
                JsonOutput.Write(new JsonObject { ["pipeline"] = expiry.Pipeline, ["deleted"] = expiry.Deleted, ["kept"] = expiry.Kept, ["older_than"] = age });
            else
                AnsiConsole.MarkupLineInterpolated($"{settings.Name}: deleted {expiry.Deleted} run log(s) older than {age}; {expiry.Kept} kept");
            return ExitCodes.Success;
        }
        if (settings.List)
        {
            var logs = await client.LogsAsync(settings.Name, settings.Limit is { } limit ? int.Parse(limit, System.Globalization.CultureInfo.InvariantCulture) : 20, cancellationToken);
            if (settings.Json)
            {
                var array = new JsonArray();
                foreach (var log in logs)
                    array.Add((JsonNode)new JsonObject
                    {
                        ["run_id"] = log.RunId,
                        ["started_at"] = log.StartedAt,
                        ["status"] = log.Status,
                        ["mode"] = log.Mode,
                        ["duration_seconds"] = log.DurationSeconds,
                        ["total_records"] = log.TotalRecords,
                        // Rows a killed run's commit landed, completed by this run (that run wrote no log).
                        ["recovered"] = log.Recovered is { } recovered
                            ? new JsonObject { ["run_id"] = recovered.RunId, ["records"] = recovered.Records, ["files"] = recovered.Files }
                            : null,
                        ["key"] = LakePaths.LogKey(settings.Name, log.StartedAt, log.RunId),
                        ["tool_version"] = log.ToolVersion,
                        ["error"] = log.IsDamaged ? log.Error : null,
                    });
                JsonOutput.Write(array);
                return ExitCodes.Success;
            }
            if (logs.Count == 0)
            {
                AnsiConsole.MarkupLineInterpolated($"{settings.Name} has not run yet.");
                return ExitCodes.Success;
            }
            // The build that wrote each run, when the listed runs were not all written by one: where the lake changed builds.
            var showBuild = logs.Select(l => l.ToolVersion).Distinct(StringComparer.Ordinal).Count() > 1;
            var table = new Table().AddColumns("run", "started", "status", "mode", "duration", "records", "recovered");
            if (showBuild) table.AddColumn("build");
            foreach (var log in logs)
            {
                string[] cells = [Markup.Escape(log.RunId), Units.Time(log.StartedAt), TableCells.Status(log.Status),
                    Markup.Escape(log.Mode), Units.Duration(log.DurationSeconds), Units.Count(log.TotalRecords),
                    log.Recovered is { } recovered ? Markup.Escape($"{Units.Count(recovered.Records)} (run {recovered.RunId})") : "-"];
                table.AddRow(showBuild ? [.. cells, Markup.Escape(log.ToolVersion)] : cells);
            }
            AnsiConsole.Write(table);
            foreach (var log in logs.Where(l => l.IsDamaged))
                AnsiConsole.MarkupLine($"[yellow]{Markup.Escape(log.RunId)}[/] ! {Markup.Escape(log.Error!)}");
            return ExitCodes.Success;
        }
        // The log as the application layer reads it: as stored by the runner, with secrets masked again.
        var chosen = await client.LogAsync(settings.Name, settings.Run, cancellationToken);
        JsonOutput.Write(JsonNode.Parse(LakeJson.Serialize(chosen)));
        return ExitCodes.Success;
    }}
