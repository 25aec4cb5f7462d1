using System.Text.Json.Nodes;
using DataSpoc.Pipe.Api;
using DataSpoc.Pipe.Cli.Infrastructure;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DataSpoc.Pipe.Cli.Commands;

/// <summary><c>status</c>: per pipeline, the latest run (from its bucket's run logs), a run in progress (from its lock) and the next scheduled time.</summary>
internal sealed class StatusCommand : AsyncCommand<StatusCommand.Settings>
{
    public sealed class Settings : OutputSettings;

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var client = Pipelines.Client();
        var rows = await client.StatusAsync(cancellationToken);

        if (settings.Json)
        {
            var array = new JsonArray();
            foreach (var r in rows)
                array.Add((JsonNode)new JsonObject
                {
                    ["pipeline"] = r.Pipeline,
                    ["status"] = r.Status,
                    ["last_run"] = r.LastRun,
                    ["duration_seconds"] = r.DurationSeconds,
                    ["records"] = r.Records,
                    ["run_id"] = r.RunId,
                    ["schedule"] = r.Schedule,
                    ["next_run"] = r.NextRun,
                    ["schedule_time_zone"] = r.ScheduleTimeZone,
                    ["installed_schedule"] = r.InstalledSchedule,
                    ["schedule_problem"] = r.ScheduleProblem,
                    ["maintain_schedule"] = r.MaintainSchedule,
                    ["next_maintain"] = r.NextMaintain,
                    ["maintain_time_zone"] = r.MaintainTimeZone,
                    ["maintain_problem"] = r.MaintainProblem,
                    ["error"] = r.Error,
                    ["damaged_logs"] = r.DamagedLogs,
                    ["running"] = r.Running is { } running ? new JsonObject
                    {
                        ["kind"] = running.Kind,
                        ["run_id"] = running.RunId,
                        ["since"] = running.Since,
                        ["host"] = running.Host,
                        ["pid"] = running.Pid,
                        ["process"] = running.Process,
                        ["unchecked"] = running.Unchecked,
                        ["parts"] = running.Parts is { } parts ? new JsonArray(parts.Select(p => (JsonNode)new JsonObject
                        {
                            ["part"] = p.Part,
                            ["run_id"] = p.RunId,
                            ["since"] = p.Since,
                            ["host"] = p.Host,
                            ["pid"] = p.Pid,
                            ["process"] = p.Process,
                        }).ToArray()) : null,
                    } : null,
                });
            JsonOutput.Write(array);
            return ExitCodes.Success;
        }
        if (rows.Count == 0)
        {
            AnsiConsole.MarkupLineInterpolated($"No pipelines in {Path.Combine(client.Home, "pipelines")}. Create one with: dataspoc-pipe add <name>");
            return ExitCodes.Success;
        }
        // Times are shown in UTC (marked Z); the next run is the one cron will make, from the crontab line, in the zone
        // cron reads it in. A schedule cron does not run as schedule.cron says is marked '!' and explained under the table.
        // A maintain schedule (schedule.maintain, or a maintain line of the crontab) is a row of its own, "<name> (maintain)",
        // under its pipeline's, in the same schedule and next run columns, by the same rules.
        var table = new Table().AddColumns("pipeline", "status", "last run", "duration", "records", "schedule", "next run");
        var zoned = new List<(string Label, string Zone)>();
        foreach (var r in rows)
        {
            if (r.Schedule is not null || r.InstalledSchedule is not null) zoned.Add((r.Pipeline, r.ScheduleTimeZone));
            if (HasMaintain(r)) zoned.Add((MaintainLabel(r), r.MaintainTimeZone!));
            // A run in progress is the status; the other columns stay its previous run's, as the line under the table says.
            table.AddRow(Markup.Escape(client.ShownName(r.Pipeline)), r.Running is { } running ? $"[blue]{TableCells.Activity(running)}[/]" : TableCells.Status(r.Status), Units.Time(r.LastRun),
                r.DurationSeconds is { } d ? Units.Duration(d) : "-", r.Records is { } n ? Units.Count(n) : "-", Markup.Escape(r.Schedule ?? "-"),
                Units.Time(r.NextRun) + (r.ScheduleProblem is null ? "" : " [yellow]![/]"));
            if (HasMaintain(r))
                table.AddRow(Markup.Escape(MaintainLabel(r)), "", "", "", "", Markup.Escape(r.MaintainSchedule ?? "-"),
                    Units.Time(r.NextMaintain) + (r.MaintainProblem is null ? "" : " [yellow]![/]"));
        }
        AnsiConsole.Write(table);
        var zones = zoned.Select(z => z.Zone).Distinct().ToList();
        if (zones.Count == 1) AnsiConsole.MarkupLineInterpolated($"Schedules are read in {zones[0]}; times are UTC.");
        else if (zones.Count > 1)
            AnsiConsole.MarkupLineInterpolated($"Schedules are read in {string.Join(", ", zoned.Select(z => $"{z.Zone} ({z.Label})"))}; times are UTC.");
        foreach (var r in rows.Where(r => r.Running is not null))
            AnsiConsole.MarkupLineInterpolated($"{r.Pipeline}: {TableCells.Activity(r.Running!)} since {Units.Time(r.Running!.Since)} ({TableCells.Runner(r.Running)}); the other columns show its previous run ({r.Status})");
        foreach (var r in rows.Where(r => r.ScheduleProblem is not null))
            AnsiConsole.MarkupLine($"[yellow]{Markup.Escape(r.Pipeline)}[/] ! {Markup.Escape(r.ScheduleProblem!)}");
        foreach (var r in rows.Where(r => r.MaintainProblem is not null))
            AnsiConsole.MarkupLine($"[yellow]{Markup.Escape(MaintainLabel(r))}[/] ! {Markup.Escape(r.MaintainProblem!)}");
        foreach (var r in rows.Where(r => r.DamagedLogs is not null))
            AnsiConsole.MarkupLine($"[yellow]{Markup.Escape(client.ShownName(r.Pipeline))}[/] ! {Markup.Escape(r.DamagedLogs!)}");
        // Seven columns leave an error no room in an 80-column row: each gets one line of its own under the table instead.
        var errors = rows.Where(r => r.Error is { Length: > 0 }).ToList();
        foreach (var (r, shown) in errors.Select(r => (r, client.ShownName(r.Pipeline))))
            AnsiConsole.MarkupLine($"[red]{Markup.Escape(shown)}[/]: {Markup.Escape(TableCells.OneLine(r.Error!, AnsiConsole.Profile.Width - shown.Length - 2))}");
        if (errors.Count > 0) AnsiConsole.MarkupLine("Full errors: dataspoc-pipe status --output json, or dataspoc-pipe logs <name>");
        return ExitCodes.Success;
    }

    /// <summary>Whether the pipeline has a maintain schedule to show: <c>schedule.maintain</c>, or a maintain line in the crontab.</summary>
    private static bool HasMaintain(PipelineStatus r) => r.MaintainTimeZone is not null;

    private static string MaintainLabel(PipelineStatus r) => r.Pipeline + " (maintain)";
}
