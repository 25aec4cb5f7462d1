using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Scheduling;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>
/// The crontab lines this tool writes: one per scheduled pipeline, tagged <c># dataspoc-pipe:&lt;name&gt;@&lt;home&gt;</c>,
/// and one more per pipeline with <c>schedule.maintain</c>, tagged <c># dataspoc-pipe-maintain:&lt;name&gt;@&lt;home&gt;</c>,
/// so install/remove touch only ours (and only this home's; <see cref="CrontabEntries"/> finds them), and guarded by
/// <c>flock</c> on the pipeline's one lock file so they never overlap: a run due while another run or a maintain goes on
/// skips (<c>-n</c>), a maintain waits for it (<c>-w</c>, <see cref="CrontabEntries.MaintainLockWait"/>).
/// </summary>
internal static class CronEntries
{
    /// <summary>The line that runs <paramref name="pipeline"/> at <paramref name="cron"/> (<c>schedule.cron</c>).</summary>
    public static string Line(PipeHome home, string pipeline, string cron) =>
        Line(home, pipeline, ScheduleKind.Run, ("schedule.cron", cron), (path, temp) => CrontabEntries.CommandWords(home.Root, pipeline, path, Program, temp));

    /// <summary>The line that runs <c>maintain</c> on <paramref name="pipeline"/> as <c>schedule.maintain</c> says.</summary>
    public static string MaintainLine(PipeHome home, string pipeline, MaintainSchedule maintain) =>
        Line(home, pipeline, ScheduleKind.Maintain, ("schedule.maintain.cron", maintain.Cron),
            (path, temp) => CrontabEntries.MaintainCommandWords(home.Root, pipeline, path, Program, maintain, temp));

    private static string Line(PipeHome home, string pipeline, ScheduleKind kind, (string Key, string Value) cron, Func<string, string?, IReadOnlyList<string>> commandWords)
    {
        // Every value is checked before the line is made (the lock and log files are the home and the name joined).
        var path = CrontabText("PATH", Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin");
        // Carried as the home is: validate checked the private temp folder under this shell's TMPDIR, which cron lacks.
        var temp = Environment.GetEnvironmentVariable("TMPDIR") is { Length: > 0 } tmpdir ? CrontabText("TMPDIR", Path.GetFullPath(tmpdir)) : null;
        CrontabText("the home", home.CanonicalRoot);
        CrontabText("the pipeline name", pipeline);
        foreach (var word in Program) CrontabText("this program's path", word);
        var words = commandWords(path, temp);
        var assignments = words.TakeWhile(w => w != "flock").Count();
        // The leading NAME=value words are assignments only while the name stays unquoted: only their values are quoted.
        var command = string.Join(' ', words.Select((w, i) => CrontabEntries.IsShellSyntax(w) ? w
            : i < assignments && w.IndexOf('=') is var eq and > 0 ? w[..(eq + 1)] + Quote(w[(eq + 1)..]) : Quote(w)));
        // '%' ends a crontab command (the rest becomes stdin) unless escaped.
        // The schedule is checked by validate's rule (which refuses a line break or tab in it), not a second one of install's.
        if (PipelineLoader.CronError(cron.Value) is { } why) throw new UsageException($"schedule install: {cron.Key}: {why}");
        return $"{cron.Value} {command.Replace("%", "\\%", StringComparison.Ordinal)} {CrontabEntries.Tag(home.Root, pipeline, kind)}";
    }

    /// <summary>
    /// Refuses a value with a control character: cron ends an entry at a newline whatever the quoting, so the rest of
    /// such a value would be a crontab line of its own (a command run every minute), and other control characters have
    /// no place in a command line either. Every value of the line is checked (the lock and log files are the home and
    /// the pipeline name joined), before the crontab is touched.
    /// </summary>
    private static string CrontabText(string what, string value)
    {
        var at = value.AsSpan().IndexOfAny(PrintableOutput.ControlChars);
        if (at >= 0)
            throw new UsageException($"schedule install: {what} '{PrintableOutput.EscapeAll(value)}' holds a control character " +
                $"(U+{(int)value[at]:X4}), which a crontab line cannot carry: use one without it");
        return value;
    }

    /// <summary>Over this size, a scheduled pipeline's output file is rotated before its next run.</summary>
    public const long OutputRotationBytes = 10 * 1024 * 1024;

    /// <summary>
    /// Rotates a scheduled run's (or maintain's) output file (<c>&lt;home&gt;/logs/&lt;name&gt;.log</c>) when it is over
    /// <see cref="OutputRotationBytes"/>: a run every five minutes would otherwise grow it without end. The shell opened
    /// it for appending before this process started, so it is copied to <c>.1</c> and emptied in place (a rename would
    /// leave this run writing into the old file); nothing else writes to it meanwhile, since <c>flock</c> lets one run of
    /// a pipeline at a time. Returns why it could not, or null.
    /// </summary>
    public static string? RotateOutput(string path, PipeHome home)
    {
        // Only the output files schedule install names: a run never copies or empties anything outside the home.
        var logs = Path.GetFullPath(Path.Combine(home.Root, "logs")) + Path.DirectorySeparatorChar;
        if (!Path.GetFullPath(path).StartsWith(logs, StringComparison.Ordinal))
            return $"--rotate-log: {path} was not rotated: only a file in {logs} (where schedule install sends output) is";
        try
        {
            var file = new FileInfo(path);
            if (file.LinkTarget is not null) return $"--rotate-log: {path} was not rotated: it is a symbolic link";
            if (!file.Exists || file.Length <= OutputRotationBytes) return null;
            File.Copy(path, path + ".1", overwrite: true);
            using var emptied = new FileStream(path, FileMode.Open, FileAccess.Write);
            emptied.SetLength(0);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"--rotate-log: {path} was not rotated: {e.Message}";
        }
    }

    /// <summary>How cron should start this tool: this very binary, or <c>dotnet &lt;dll&gt;</c> when run through dotnet.</summary>
    public static IReadOnlyList<string> Program { get; } = SelfCommand();

    private static string[] SelfCommand()
    {
        var process = Environment.ProcessPath ?? "dataspoc-pipe";
        if (Path.GetFileNameWithoutExtension(process) != "dotnet") return [process];
        // Started as `dotnet dataspoc-pipe.dll`: the first command-line argument is the dll's path.
        return [process, Path.GetFullPath(Environment.GetCommandLineArgs()[0])];
    }

    private static string Quote(string word) =>
        word.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '-' or '_' or ':' or '=' or '+' or ',')
            ? word
            : "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
