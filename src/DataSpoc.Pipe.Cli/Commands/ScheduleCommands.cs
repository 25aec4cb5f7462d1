using System.ComponentModel;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Cli.Infrastructure;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Scheduling;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DataSpoc.Pipe.Cli.Commands;

/// <summary>
/// <c>schedule install</c>: one crontab line per pipeline with <c>schedule.cron</c>, and one running <c>maintain</c> per
/// pipeline with <c>schedule.maintain</c>; running it again changes nothing. Secrets are not needed to install: a
/// <c>${VAR}</c> that a scheduled run would lack (set neither in <c>.env</c> nor with a default) is a warning naming the
/// pipeline and the variable. A run or maintain line the user added by hand (README's earlier recipe) is kept, and then no
/// second one of that kind is installed for that pipeline: a warning says so.
/// </summary>
internal sealed class ScheduleInstallCommand : Command<ScheduleInstallCommand.Settings>
{
    public sealed class Settings : OutputSettings;

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var home = Pipelines.Home();
        var loader = PipelineLoader.ForHome(home, allowUnsetVariables: true);
        var lines = new List<(string Pipeline, ScheduleKind Kind, string Line)>();
        var warnings = new List<ScheduleWarning>();
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in home.PipelineNames())
        {
            // An invalid pipeline must not be scheduled silently: fail before touching the crontab.
            var pipeline = loader.LoadFile(files[name] = home.FindPipelineFile(name)!);
            if (pipeline.Schedule?.Cron is { Length: > 0 } cron) lines.Add((name, ScheduleKind.Run, CronEntries.Line(home, name, cron)));
            if (pipeline.Schedule?.Maintain is { } maintain) lines.Add((name, ScheduleKind.Maintain, CronEntries.MaintainLine(home, name, maintain)));
            if (lines.Any(l => l.Pipeline == name))
                warnings.AddRange(VariableProblems.ForSchedule(pipeline, home, loader.Variables).Select(ScheduleWarning.Of));
        }
        var crontab = new Crontab();
        var current = crontab.Read();
        var before = CrontabEntries.Parse(current, home.Root);
        // A line the user wrote by hand keeps running as it is: a second one would run or maintain the pipeline twice.
        var handWritten = CrontabEntries.HandWritten(current, home.Root);
        bool ByHand((string Pipeline, ScheduleKind Kind, string Line) l) => handWritten.Any(h => h.Pipeline == l.Pipeline && h.Kind == l.Kind);
        var wanted = lines.Where(l => !ByHand(l)).ToList();
        foreach (var (name, kind, _) in lines.Where(ByHand))
        {
            var key = kind == ScheduleKind.Maintain ? "schedule.maintain" : "schedule.cron";
            var verb = kind == ScheduleKind.Maintain ? "maintain" : "run";
            warnings.Add(new ScheduleWarning(name, null, files[name], key,
                $"pipeline '{name}': {key} is not installed: the crontab already runs '{verb} {name}' on a line schedule install did not write, " +
                $"which is kept as it is; to have {key}'s line instead, remove that line (crontab -e) and run schedule install again"));
        }
        var updated = CrontabEntries.Install(current, home.Root, wanted);
        if (updated != current)
        {
            PipeHome.CreateFolder(Path.Combine(home.Root, "logs"));
            crontab.Write(updated);
        }
        var removed = before.Where(b => !wanted.Any(w => w.Pipeline == b.Pipeline && w.Kind == b.Kind)).Select(ScheduleOutput.Label).Distinct().ToList();
        ScheduleOutput.Write(settings, CrontabEntries.Parse(updated, home.Root), removed, updated == current, warnings);
        return ExitCodes.Success;
    }
}

/// <summary><c>schedule remove [name]</c>: removes this tool's crontab lines (all, or one pipeline's run and maintain lines); other lines stay.</summary>
internal sealed class ScheduleRemoveCommand : Command<ScheduleRemoveCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandArgument(0, "[NAME]")]
        [Description("Only this pipeline's entry (default: every entry of this home)")]
        public string? Name { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var home = Pipelines.Home();
        var crontab = new Crontab();
        var current = crontab.Read();
        var ours = CrontabEntries.Parse(current, home.Root);
        var removed = ours.Where(e => settings.Name is null || e.Pipeline == settings.Name).Select(ScheduleOutput.Label).Distinct().ToList();
        // A typo must not read as "nothing to remove": a name that is neither an entry nor a pipeline (whose entry may
        // be gone already) is an error listing the known pipelines.
        if (settings.Name is { } name && removed.Count == 0) Pipelines.Client().PipelineFile(name);
        var updated = CrontabEntries.Remove(current, home.Root, settings.Name);
        if (removed.Count > 0) crontab.Write(updated);
        var kept = CrontabEntries.Parse(updated, home.Root);
        ScheduleOutput.Write(settings, kept, removed, removed.Count == 0);
        return ExitCodes.Success;
    }
}

/// <summary>
/// <c>schedule list</c>: this home's crontab entries (run and maintain lines) with their next run, in the zone cron reads
/// each in: the lines install wrote, then those written by hand (<see cref="CrontabEntries.HandWritten"/>), which cron runs
/// as well and install and remove leave as they are.
/// </summary>
internal sealed class ScheduleListCommand : Command<ScheduleListCommand.Settings>
{
    public sealed class Settings : OutputSettings;

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var home = Pipelines.Home();
        var crontab = new Crontab().Read();
        ScheduleOutput.Write(settings, CrontabEntries.Parse(crontab, home.Root), null, null, handWritten: CrontabEntries.HandWritten(crontab, home.Root));
        return ExitCodes.Success;
    }
}

/// <summary>What <c>schedule install</c> warns of: a <c>${VAR}</c> a scheduled run would lack (<see cref="Variable"/> set), or a <c>schedule.maintain</c> it did not install.</summary>
internal sealed record ScheduleWarning(string Pipeline, string? Variable, string File, string Key, string Message)
{
    public static ScheduleWarning Of(VariableProblem p) => new(p.Pipeline, p.Variable, p.File, p.Key, p.Message);
}

internal static class ScheduleOutput
{
    /// <summary>How a line is named in <c>removed</c> and under the table: its pipeline, and <c>(maintain)</c> for a maintain line.</summary>
    public static string Label(CrontabEntry entry) => entry.Kind == ScheduleKind.Maintain ? entry.Pipeline + " (maintain)" : entry.Pipeline;

    /// <summary>Who wrote a line: <c>install</c> (tagged, install and remove rewrite it) or <c>hand</c> (install and remove leave it).</summary>
    private static string WrittenBy(bool byHand) => byHand ? "hand" : "install";

    /// <summary>
    /// Writes the lines install wrote (<paramref name="entries"/>), then those written by hand (<paramref name="handWritten"/>,
    /// never checked against the line install writes: they are the user's).
    /// </summary>
    public static void Write(OutputSettings settings, IReadOnlyList<CrontabEntry> entries, List<string>? removed, bool? unchanged,
        IReadOnlyList<ScheduleWarning>? warnings = null, IReadOnlyList<CrontabEntry>? handWritten = null)
    {
        warnings ??= [];
        var lines = entries.Select(e => (Entry: e, ByHand: false)).Concat((handWritten ?? []).Select(e => (Entry: e, ByHand: true))).ToList();
        // Warnings go to stderr in both formats, so scripts reading the JSON still see them in their logs.
        foreach (var w in warnings) Console.Error.WriteLine("warning: " + w.Message);
        var client = Pipelines.Client();
        if (settings.Json)
        {
            var doc = new JsonObject
            {
                ["entries"] = new JsonArray(lines.Select(l => (JsonNode)new JsonObject
                {
                    ["pipeline"] = l.Entry.Pipeline,
                    ["kind"] = l.Entry.KindName,
                    ["cron"] = l.Entry.Cron,
                    ["next_run"] = client.NextRun(l.Entry),
                    ["time_zone"] = client.TimeZoneOf(l.Entry),
                    ["line"] = l.Entry.Line,
                    ["written_by"] = WrittenBy(l.ByHand),
                    ["problem"] = l.ByHand ? null : client.LineProblem(l.Entry),
                }).ToArray()),
            };
            if (removed is not null) doc["removed"] = new JsonArray(removed.Select(r => (JsonNode)JsonValue.Create(r)!).ToArray());
            if (unchanged is not null) doc["changed"] = !unchanged.Value;
            if (warnings.Count > 0)
                doc["warnings"] = new JsonArray(warnings.Select(w => (JsonNode)new JsonObject
                {
                    ["pipeline"] = w.Pipeline,
                    ["variable"] = w.Variable,
                    ["file"] = w.File,
                    ["key"] = w.Key,
                    ["message"] = w.Message,
                }).ToArray());
            JsonOutput.Write(doc);
            return;
        }
        if (lines.Count == 0) AnsiConsole.MarkupLine("No scheduled pipelines.");
        else
        {
            // Cron reads each schedule in its zone (the crontab's CRON_TZ, else the machine's); the next run is shown in UTC.
            // A line that will fail (its pipeline is gone) or is not the one install writes now is marked '!' and explained under the table.
            var problems = lines.Select(l => (Pipeline: Label(l.Entry), Problem: l.ByHand ? null : client.LineProblem(l.Entry))).ToList();
            var table = new Table().AddColumns("pipeline", "kind", "cron", "time zone", "next run", "written by");
            for (var i = 0; i < lines.Count; i++)
            {
                var (e, byHand) = lines[i];
                table.AddRow(Markup.Escape(e.Pipeline), e.KindName, Markup.Escape(e.Cron), Markup.Escape(client.TimeZoneOf(e)),
                    Units.Time(client.NextRun(e)) + (problems[i].Problem is null ? "" : " [yellow]![/]"), WrittenBy(byHand));
            }
            AnsiConsole.Write(table);
            foreach (var (pipeline, problem) in problems.Where(p => p.Problem is not null))
                AnsiConsole.MarkupLine($"[yellow]{Markup.Escape(pipeline)}[/] ! {Markup.Escape(problem!)}");
        }
        if (removed is { Count: > 0 }) AnsiConsole.MarkupLineInterpolated($"Removed: {string.Join(", ", removed)}");
        if (unchanged == true) AnsiConsole.MarkupLine("Crontab unchanged.");
    }
}
