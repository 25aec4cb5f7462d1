using System.ComponentModel;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Cli.Infrastructure;
using DataSpoc.Pipe.Lake;
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
        var client = Pipelines.Client();
        if (settings.List)
        {
            var logs = await client.LogsAsync(settings.Name, Math.Max(1, settings.Limit), cancellationToken);
            if (settings.Json)
            {
                var array = new JsonArray();
                foreach (var log in logs)
                    array.Add((JsonNode)new JsonObject
                    {
                        ["run_id"] = log.RunId,
                        ["started_at"] = log.StartedAt.ToString("O"),
                        ["status"] = log.Status,
                        ["mode"] = log.Mode,
                        ["duration_seconds"] = log.DurationSeconds,
                        ["total_records"] = log.TotalRecords,
                        ["key"] = LakePaths.LogKey(settings.Name, log.StartedAt, log.RunId),
                    });
                JsonOutput.Write(array);
                return ExitCodes.Success;
            }
            if (logs.Count == 0)
            {
                AnsiConsole.MarkupLineInterpolated($"{settings.Name} has not run yet.");
                return ExitCodes.Success;
            }
            var table = new Table().AddColumns("run", "started", "status", "mode", "duration", "records");
            foreach (var log in logs)
                table.AddRow(Markup.Escape(log.RunId), Units.Time(log.StartedAt), log.Status == "success" ? "[green]success[/]" : "[red]failure[/]",
                    Markup.Escape(log.Mode), Units.Duration(log.DurationSeconds), Units.Count(log.TotalRecords));
            AnsiConsole.Write(table);
            return ExitCodes.Success;
        }
        // The log as the application layer reads it: as stored by the runner, with secrets masked again.
        var chosen = await client.LogAsync(settings.Name, settings.Run, cancellationToken);
        JsonOutput.Write(JsonNode.Parse(LakeJson.Serialize(chosen)));
        return ExitCodes.Success;
    }
}
