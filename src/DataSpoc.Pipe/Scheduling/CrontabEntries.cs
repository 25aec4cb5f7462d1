using System.Text;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Sources;

namespace DataSpoc.Pipe.Scheduling;

/// <summary>What a crontab line of this tool runs: the pipeline (<c>schedule.cron</c>) or <c>maintain</c> on its tables (<c>schedule.maintain</c>).</summary>
public enum ScheduleKind
{
    Run,
    Maintain,
}

/// <summary>One of this tool's active crontab lines for a home: cron runs <see cref="Pipeline"/> (or maintains it, by <see cref="Kind"/>) at <see cref="Cron"/>.</summary>
/// <param name="Pipeline">The pipeline the line runs.</param>
/// <param name="Cron">The line's schedule: its five fields, or an <c>@</c> keyword.</param>
/// <param name="Line">The line as the crontab holds it, without its line end.</param>
/// <param name="CronTimeZone">The <c>CRON_TZ</c> set above the line, which cron reads its schedule in; null when none is (cron then uses the machine's zone).</param>
/// <param name="Kind">Whether the line runs the pipeline or <c>maintain</c>.</param>
public sealed record CrontabEntry(string Pipeline, string Cron, string Line, string? CronTimeZone, ScheduleKind Kind = ScheduleKind.Run)
{
    /// <summary><c>run</c> or <c>maintain</c>: the command the line runs, as <c>schedule list</c> shows it.</summary>
    public string KindName => Kind == ScheduleKind.Maintain ? "maintain" : "run";
}

/// <summary>
/// Finds and rewrites this tool's lines in a crontab's text. Each ends with the tag
/// <c># dataspoc-pipe:&lt;name&gt;@&lt;home&gt;</c> (a line running the pipeline) or
/// <c># dataspoc-pipe-maintain:&lt;name&gt;@&lt;home&gt;</c> (a line running <c>maintain</c> on its tables; builds without
/// <c>schedule.maintain</c> see no tag of theirs there, and keep the line): a pipeline name never holds <c>'@'</c>, so the
/// name ends at the tag's first <c>'@'</c> and the home is the rest, whatever its path holds (an <c>'@'</c> too, as in
/// <c>/home/jane@corp.example.com</c>). The home is written as its real path and matched as one (a link to it, or a
/// trailing <c>/</c>, is the same home). Only active lines count: a commented-out tagged line is the user's, and kept.
/// Every line that is not one of ours being replaced or removed is written back as it was, line end included.
/// </summary>
public static class CrontabEntries
{
    private const string TagPrefix = "# dataspoc-pipe:";
    private const string MaintainTagPrefix = "# dataspoc-pipe-maintain:";
    private const string CronTzVariable = "CRON_TZ";
    private const string TempFolderSetting = "TMPDIR=";

    /// <summary>The tag that ends a pipeline's line and makes it this home's: the home's real path (<see cref="PipeHome.Canonical"/>).</summary>
    public static string Tag(string homeRoot, string pipeline, ScheduleKind kind = ScheduleKind.Run) =>
        $"{PrefixOf(kind)}{pipeline}@{PipeHome.Canonical(homeRoot)}";

    private static string PrefixOf(ScheduleKind kind) => kind == ScheduleKind.Maintain ? MaintainTagPrefix : TagPrefix;

    /// <summary>
    /// The command <c>schedule install</c> writes on a pipeline's line, as the words the shell reads (after cron turns
    /// <c>\%</c> back into <c>%</c>): the <c>PATH</c>, the installing shell's <c>TMPDIR</c> when it sets one
    /// (<paramref name="tempFolder"/>: the private temp folder <c>validate</c> checked, where cron would use <c>/tmp</c>)
    /// and the home, <c>flock -n</c> on the pipeline's lock file in
    /// <c>&lt;home&gt;/logs/</c>, <paramref name="program"/> running the pipeline with <c>--rotate-log</c>, its output
    /// appended to <c>&lt;home&gt;/logs/&lt;name&gt;.log</c>. The home is its real path, as in the tag.
    /// </summary>
    public static IReadOnlyList<string> CommandWords(string homeRoot, string pipeline, string path, IReadOnlyList<string> program, string? tempFolder = null) =>
        CommandWords(homeRoot, pipeline, path, tempFolder, program, ["run", pipeline]);

    /// <summary>
    /// The command of a pipeline's <c>maintain</c> line (<c>schedule.maintain</c>): as <see cref="CommandWords(string, string, string, IReadOnlyList{string}, string)"/>,
    /// under the same lock file (so a maintain and a run of the pipeline never overlap) and into the same log, running
    /// <c>maintain &lt;name&gt;</c> with <see cref="MaintainArguments"/>. It waits for the lock (<see cref="MaintainLockWait"/>)
    /// where a run skips: a daily maintain falls on a minute a frequent run fires at too (<c>0 3 * * *</c> beside
    /// <c>*/5 * * * *</c>), and skipping would leave the tables unmaintained day after day without a word in the log.
    /// </summary>
    public static IReadOnlyList<string> MaintainCommandWords(string homeRoot, string pipeline, string path, IReadOnlyList<string> program, MaintainSchedule maintain,
        string? tempFolder = null) =>
        CommandWords(homeRoot, pipeline, path, tempFolder, program, ["maintain", pipeline, .. MaintainArguments(maintain)]);

    /// <summary>Seconds a maintain line waits for the pipeline's lock file (a run going on) before it gives up.</summary>
    public const int MaintainLockWait = 3600;

    /// <summary>
    /// <c>flock</c>'s options on a line running <paramref name="verb"/>: a run skips when the lock is held, a maintain waits.
    /// Either way a lock it does not get exits <see cref="LockNotTakenExit"/> (<c>-E</c>), which the line tells from the
    /// command's own exit codes to log the skip.
    /// </summary>
    private static string[] FlockOptions(string verb) =>
        [.. verb == "maintain" ? ["-w", MaintainLockWait.ToString(System.Globalization.CultureInfo.InvariantCulture)] : (string[])["-n"],
            "-E", LockNotTakenExit.ToString(System.Globalization.CultureInfo.InvariantCulture)];

    /// <summary>The exit code of <c>flock</c> when it did not get the lock: <c>EX_TEMPFAIL</c>, which no command of this tool exits with.</summary>
    public const int LockNotTakenExit = 75;

    /// <summary>
    /// The words of a line that follow its command: when <c>flock</c> did not get the lock, <c>date</c> appends
    /// <c>&lt;name&gt;: skipped &lt;UTC time&gt;: ...</c> (<c>maintain skipped</c> for a maintain) to the log, dated as a
    /// run's <c>started</c> line is, so a skipped firing leaves a trace where its output would be. POSIX sh only.
    /// </summary>
    private static string[] SkipLogWords(string pipeline, string verb, string lockFile, string log)
    {
        var what = verb == "maintain" ? "maintain skipped" : "skipped";
        var why = verb == "maintain"
            ? $"the lock {lockFile} stayed held for {MaintainLockWait.ToString(System.Globalization.CultureInfo.InvariantCulture)} s (a run of the pipeline still going)"
            : $"the lock {lockFile} is held (the previous run or a maintain of the pipeline still going)";
        // date's format: '%' in the text (a home may hold one) is written '%%'.
        var format = $"+{pipeline}: {what} %Y-%m-%d %H:%M:%SZ: {why.Replace("%", "%%", StringComparison.Ordinal)}";
        // In braces, so the line still exits non-zero when the command itself failed (1 then; a skip exits 0).
        return ["||", "{", "[", "$?", "-eq", LockNotTakenExit.ToString(System.Globalization.CultureInfo.InvariantCulture), "]", "&&", "date", "-u", format, ">>", log, ";", "}"];
    }

    /// <summary>The words of <see cref="CommandWords(string, string, string, IReadOnlyList{string}, string)"/>'s lines that are shell syntax, written unquoted.</summary>
    public static bool IsShellSyntax(string word) => word is ">>" or "2>&1" or "||" or "&&" or "[" or "]" or "$?" or "{" or "}" or ";";

    /// <summary>The options of <c>maintain</c> that <paramref name="maintain"/> asks for: <c>--expire-older-than &lt;age&gt; [--compact [--target-file-mb N]]</c>.</summary>
    public static IReadOnlyList<string> MaintainArguments(MaintainSchedule maintain)
    {
        List<string> words = ["--expire-older-than", Durations.Describe(maintain.ExpireOlderThan)];
        if (maintain.Compact) words.Add("--compact");
        if (maintain.Compact && maintain.TargetFileMb is { } mb) words.AddRange(["--target-file-mb", mb.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        return words;
    }

    private static IReadOnlyList<string> CommandWords(string homeRoot, string pipeline, string path, string? tempFolder, IReadOnlyList<string> program,
        IReadOnlyList<string> command)
    {
        var home = PipeHome.Canonical(homeRoot);
        var logs = Path.Combine(home, "logs");
        var log = Path.Combine(logs, pipeline + ".log");
        var lockFile = Path.Combine(logs, pipeline + ".lock");
        return ["PATH=" + path, .. tempFolder is null ? [] : (string[])[TempFolderSetting + tempFolder], PipeHome.EnvironmentVariable + "=" + home, "flock", .. FlockOptions(command[0]), lockFile,
            .. program, .. command, "--rotate-log", log, ">>", log, "2>&1", .. SkipLogWords(pipeline, command[0], lockFile, log)];
    }

    /// <summary>
    /// Why <paramref name="entry"/>'s command is not the one <c>schedule install</c> writes now (an earlier version's
    /// line, without <c>--rotate-log</c>, say, or one starting another copy of this tool), or null when it is.
    /// </summary>
    /// <param name="entry">A line of this home.</param>
    /// <param name="homeRoot">The home.</param>
    /// <param name="program">The command that starts this tool as install would write it; null takes the line's own (when the caller cannot know which binary is current).</param>
    public static string? CommandProblem(CrontabEntry entry, string homeRoot, IReadOnlyList<string>? program)
    {
        const string reinstall = "installed by an earlier version or another binary (run: dataspoc-pipe schedule install)";
        if (InstalledWords(entry) is not { Count: > 0 } installed) return $"the crontab line's command is not one schedule install writes: {reinstall}";
        // The PATH and TMPDIR are the installing shell's: another caller's differing from them is not a problem of the line.
        var path = installed[0].StartsWith("PATH=", StringComparison.Ordinal) ? installed[0]["PATH=".Length..] : "";
        var tempFolder = installed.Count > 1 && installed[1].StartsWith(TempFolderSetting, StringComparison.Ordinal) ? installed[1][TempFolderSetting.Length..] : null;
        var verb = entry.KindName;
        var theirs = ProgramOf(installed, verb);
        // A maintain line's options are the line's own here: whether they are the ones schedule.maintain asks for is
        // status's question (MaintainArgumentsOf), which has the pipeline loaded.
        var command = entry.Kind == ScheduleKind.Maintain
            ? (IReadOnlyList<string>)["maintain", entry.Pipeline, .. MaintainArgumentsOf(entry) ?? []]
            : ["run", entry.Pipeline];
        if (installed.SequenceEqual(CommandWords(homeRoot, entry.Pipeline, path, tempFolder, program ?? theirs ?? [], command), StringComparer.Ordinal)) return null;
        return program is not null && theirs is not null && !theirs.SequenceEqual(program, StringComparer.Ordinal)
            ? $"the crontab line starts '{string.Join(' ', theirs)}', not '{string.Join(' ', program)}': {reinstall}"
            : $"the crontab line's command is not the one schedule install writes now: {reinstall}";
    }

    /// <summary>The words that start this tool in a command of <see cref="CommandWords(string, string, string, IReadOnlyList{string}, string)"/>'s shape: between <c>flock &lt;options&gt; &lt;lock&gt;</c> and <paramref name="verb"/> (<c>run</c> or <c>maintain</c>).</summary>
    private static List<string>? ProgramOf(List<string> words, string verb)
    {
        var options = FlockOptions(verb);
        var flock = words.IndexOf("flock");
        var start = flock + 1 + options.Length + 1;
        if (flock is not (2 or 3) || words.Count <= start || !words.Skip(flock + 1).Take(options.Length).SequenceEqual(options, StringComparer.Ordinal)) return null;
        var at = words.IndexOf(verb, start);
        return at > start ? words[start..at] : null;
    }

    /// <summary>
    /// The options a <c>maintain</c> line of this tool passes (between <c>maintain &lt;name&gt;</c> and <c>--rotate-log</c>),
    /// to compare with <see cref="MaintainArguments"/>; null when the line is not of that shape.
    /// </summary>
    public static IReadOnlyList<string>? MaintainArgumentsOf(CrontabEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (entry.Kind != ScheduleKind.Maintain || InstalledWords(entry) is not { } words) return null;
        var at = words.IndexOf("maintain");
        var end = words.LastIndexOf("--rotate-log");
        return at >= 0 && at + 1 < words.Count && words[at + 1] == entry.Pipeline && end > at + 1 ? words[(at + 2)..end] : null;
    }

    /// <summary>The words of a line's command (after its schedule, before its tag), or null when the shell could not read them.</summary>
    private static List<string>? InstalledWords(CrontabEntry entry)
    {
        var line = entry.Line.TrimStart(' ', '\t');
        var tag = line.LastIndexOf(PrefixOf(entry.Kind), StringComparison.Ordinal);
        if (tag < 0) return null;
        var command = line[..tag];
        // Skip the schedule: an @keyword or five fields.
        var fields = entry.Cron.StartsWith('@') ? 1 : 5;
        var at = 0;
        for (var f = 0; f < fields; f++)
        {
            while (at < command.Length && command[at] is ' ' or '\t') at++;
            while (at < command.Length && command[at] is not (' ' or '\t')) at++;
        }
        try
        {
            return CommandLine.Split(command[at..].Replace("\\%", "%", StringComparison.Ordinal));
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>This home's active lines, in crontab order, each with the <c>CRON_TZ</c> in effect for it.</summary>
    public static IReadOnlyList<CrontabEntry> Parse(string crontab, string homeRoot)
    {
        var entries = new List<CrontabEntry>();
        var home = new Home(homeRoot);
        foreach (var (text, _, zone) in Lines(crontab))
        {
            if (PipelineOf(text, home) is not { } ours) continue;
            entries.Add(new CrontabEntry(ours.Pipeline, CronOf(text), text, zone, ours.Kind));
        }
        return entries;
    }

    /// <summary>The <c>CRON_TZ</c> a line added at the end of the crontab would be read in; null when none is set there.</summary>
    public static string? CronTimeZoneAtEnd(string crontab)
    {
        string? zone = null;
        foreach (var (_, _, z) in Lines(crontab)) zone = z;
        return zone;
    }

    /// <summary>
    /// The crontab with this home's lines set to <paramref name="wanted"/> (pipeline, kind, line): a pipeline's line of a
    /// kind is replaced where it stands (so it keeps the <c>CRON_TZ</c> above it), a new one is added at the end, and a
    /// line not wanted (or a second line of a pipeline and kind) is removed. Running it again on its result changes nothing.
    /// </summary>
    public static string Install(string crontab, string homeRoot, IReadOnlyList<(string Pipeline, ScheduleKind Kind, string Line)> wanted)
    {
        var lines = wanted.ToDictionary(w => (w.Pipeline, w.Kind), w => w.Line);
        var placed = new HashSet<(string, ScheduleKind)>();
        var text = new StringBuilder(crontab.Length);
        var home = new Home(homeRoot);
        foreach (var (line, end, _) in Lines(crontab))
        {
            if (PipelineOf(line, home) is not { } ours) text.Append(line).Append(end);
            // crontab wants the last line ended: a replaced last line without one gets a newline.
            else if (lines.TryGetValue(ours, out var replacement) && placed.Add(ours)) text.Append(replacement).Append(end.Length > 0 ? end : "\n");
        }
        foreach (var (_, _, line) in wanted.Where(w => !placed.Contains((w.Pipeline, w.Kind))))
        {
            if (text.Length > 0 && text[^1] != '\n') text.Append('\n');
            text.Append(line).Append('\n');
        }
        return text.ToString();
    }

    /// <summary>The crontab without this home's lines (or only <paramref name="pipeline"/>'s, its run and maintain lines); every other line as it was.</summary>
    public static string Remove(string crontab, string homeRoot, string? pipeline = null)
    {
        var text = new StringBuilder(crontab.Length);
        var home = new Home(homeRoot);
        foreach (var (line, end, _) in Lines(crontab))
            if (PipelineOf(line, home) is not { } ours || pipeline is not null && ours.Pipeline != pipeline)
                text.Append(line).Append(end);
        return text.ToString();
    }

    /// <summary>
    /// This home's active lines this tool did not write that run a pipeline (<c>dataspoc-pipe run orders</c>) or
    /// <c>maintain</c> on its tables (the line README's earlier recipe had users add by hand:
    /// <c>... dataspoc-pipe maintain orders --expire-older-than 7d ...</c>), in any of the shapes a shell runs alike: options
    /// before the name (<c>maintain --compact orders</c>), the home set by <c>export DATASPOC_PIPE_HOME=...;</c> first, or
    /// written with <c>$HOME</c>, <c>${HOME}</c> or <c>~</c>. Its home is the last <c>DATASPOC_PIPE_HOME=</c> it sets before the
    /// command, else the user's default home. <c>schedule install</c> keeps such a line and writes no line of its own of that
    /// kind for the pipeline (cron would run or maintain it twice), saying so. A line of several commands
    /// (<c>... maintain a; dataspoc-pipe maintain b</c>, or <c>&amp;&amp;</c>) counts for each of their pipelines, each
    /// command's home read as above from the words before it. Each entry has the line's schedule and <c>CRON_TZ</c>.
    /// </summary>
    public static IReadOnlyList<CrontabEntry> HandWritten(string crontab, string homeRoot)
    {
        var found = new List<CrontabEntry>();
        var home = new Home(homeRoot);
        foreach (var (text, _, zone) in Lines(crontab))
        {
            var line = text.TrimStart(' ', '\t');
            // Comments, environment lines and every tagged line (ours, or another home's) are not hand-written lines.
            if (line.Length == 0 || line[0] == '#' || line.Contains(TagPrefix, StringComparison.Ordinal) || line.Contains(MaintainTagPrefix, StringComparison.Ordinal)) continue;
            List<string> words;
            try
            {
                words = [.. CommandLine.Split(line.Replace("\\%", "%", StringComparison.Ordinal)).SelectMany(SeparatorApart)];
            }
            catch (FormatException)
            {
                continue;
            }
            foreach (var kind in (ScheduleKind[])[ScheduleKind.Run, ScheduleKind.Maintain])
            {
                var verb = kind == ScheduleKind.Maintain ? "maintain" : "run";
                // Every command of the line counts (maintain a; dataspoc-pipe maintain b): each runs its own pipeline.
                for (var at = words.IndexOf(verb); at >= 0; at = words.IndexOf(verb, at + 1))
                {
                    if (at < 1 || Path.GetFileName(words[at - 1]) is not ("dataspoc-pipe" or "dataspoc-pipe.dll")
                        || NameAfterOptions(words, at + 1, kind == ScheduleKind.Maintain ? MaintainValueOptions : RunValueOptions) is not { } pipeline) continue;
                    if (!LakeNames.IsValidPipelineName(pipeline)) continue;
                    var setting = words.Take(at).LastOrDefault(w => w.StartsWith(PipeHome.EnvironmentVariable + "=", StringComparison.Ordinal));
                    var lineHome = setting is null ? Path.Combine(PipeHome.UserHome(), ".dataspoc-pipe") : ShellHome(setting[(PipeHome.EnvironmentVariable.Length + 1)..]);
                    if (home.Is(lineHome) && !found.Any(e => e.Pipeline == pipeline && e.Kind == kind))
                        found.Add(new CrontabEntry(pipeline, CronOf(text), text, zone, kind));
                }
            }
        }
        return found;
    }

    /// <summary>The pipelines <see cref="HandWritten"/> finds a line of <paramref name="kind"/> for.</summary>
    public static IReadOnlySet<string> HandWrittenPipelines(string crontab, string homeRoot, ScheduleKind kind) =>
        HandWritten(crontab, homeRoot).Where(e => e.Kind == kind).Select(e => e.Pipeline).ToHashSet(StringComparer.Ordinal);

    /// <summary>A crontab line's schedule: its <c>@</c> keyword, or its five fields joined by one space.</summary>
    private static string CronOf(string line)
    {
        var fields = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        return fields[0].StartsWith('@') ? fields[0] : string.Join(' ', fields.Take(5));
    }

    /// <summary>The shell's command separators a word ends with (<c>;</c>, <c>&amp;&amp;</c>, <c>||</c>), as words of their own: <c>orders;</c> is the name <c>orders</c>, then the end of its command.</summary>
    private static IEnumerable<string> SeparatorApart(string word)
    {
        foreach (var separator in (string[])[";", "&&", "||"])
            if (word.Length > separator.Length && word.EndsWith(separator, StringComparison.Ordinal))
                return [word[..^separator.Length], separator];
        return [word];
    }

    /// <summary>The options of <c>maintain</c> that take a value (the next word, unless written <c>--option=value</c>).</summary>
    private static readonly string[] MaintainValueOptions = ["--expire-older-than", "--target-file-mb", "--rotate-log", "-o", "--output"];

    /// <summary>The options of <c>run</c> that take a value.</summary>
    private static readonly string[] RunValueOptions = ["--parallel", "--part", "--split-run", "--rotate-log", "-o", "--output"];

    /// <summary>The first word from <paramref name="start"/> that is neither an option of the command nor an option's value (<paramref name="valueOptions"/>): its pipeline; null when a redirection, the command's end or the line's comes first.</summary>
    private static string? NameAfterOptions(List<string> words, int start, string[] valueOptions)
    {
        for (var i = start; i < words.Count; i++)
        {
            var word = words[i];
            if (word.Length == 0 || word[0] is '>' or '<' or '|' or '&' or ';' || word == "2>&1") return null;
            if (word[0] != '-') return word;
            if (!word.Contains('=', StringComparison.Ordinal) && valueOptions.Contains(word, StringComparer.Ordinal)) i++;
        }
        return null;
    }

    /// <summary>A <c>DATASPOC_PIPE_HOME=</c> value as the shell gives it: <c>$HOME</c>, <c>${HOME}</c> and a leading <c>~</c> made the user's home.</summary>
    private static string ShellHome(string value)
    {
        foreach (var variable in (string[])["${HOME}", "$HOME"])
            if (value == variable || value.StartsWith(variable + "/", StringComparison.Ordinal))
                return PipeHome.UserHome() + value[variable.Length..];
        return PipeHome.ExpandHome(value);
    }

    /// <summary>
    /// The pipeline an active line of this home runs, and whether it runs it or maintains it; null when the line is not
    /// one. The tag's home counts when it is <paramref name="home"/> as written or names the same folder
    /// (<see cref="PipeHome.Canonical"/>): a line written through a link to the home, or with a trailing <c>/</c>, is this
    /// home's, so install replaces it and remove removes it.
    /// </summary>
    private static (string Pipeline, ScheduleKind Kind)? PipelineOf(string line, Home home)
    {
        // A comment is not run: a tagged line the user commented out (to pause it) is theirs to keep.
        if (line.TrimStart(' ', '\t').StartsWith('#')) return null;
        var end = line.TrimEnd(' ', '\t');
        // The tag is the last one on the line (neither prefix holds the other).
        var run = end.LastIndexOf(TagPrefix, StringComparison.Ordinal);
        var maintain = end.LastIndexOf(MaintainTagPrefix, StringComparison.Ordinal);
        var kind = maintain > run ? ScheduleKind.Maintain : ScheduleKind.Run;
        var at = Math.Max(run, maintain);
        if (at < 0) return null;
        // A pipeline name never holds '@': the name ends at the first one, the home is the rest (it may hold '@').
        var tag = end[(at + PrefixOf(kind).Length)..];
        var split = tag.IndexOf('@');
        if (split <= 0) return null;
        var name = tag[..split];
        return LakeNames.IsValidPipelineName(name) && home.Is(tag[(split + 1)..]) ? (name, kind) : null;
    }

    /// <summary>A home as written and as its real path, to match the homes of tags against.</summary>
    private sealed class Home(string root)
    {
        private readonly string _canonical = PipeHome.Canonical(root);

        // Only an absolute path can be a home's: a relative one would be read against this process's directory.
        public bool Is(string tagged) => tagged == root || Path.IsPathRooted(tagged) && PipeHome.Canonical(tagged) == _canonical;
    }

    /// <summary>
    /// Each line, without and with its line end (<c>"\r\n"</c>, <c>"\n"</c>, or <c>""</c> for a last line without one),
    /// and the <c>CRON_TZ</c> in effect for it: cronie reads each entry's schedule in the last <c>CRON_TZ</c> set above it.
    /// </summary>
    private static IEnumerable<(string Text, string End, string? CronTimeZone)> Lines(string crontab)
    {
        string? zone = null;
        var start = 0;
        while (start < crontab.Length)
        {
            var newline = crontab.IndexOf('\n', start);
            var next = newline < 0 ? crontab.Length : newline + 1;
            var textEnd = newline < 0 ? crontab.Length : newline > start && crontab[newline - 1] == '\r' ? newline - 1 : newline;
            var text = crontab[start..textEnd];
            if (CronTz(text) is { } value) zone = value.Length > 0 ? value : null;
            yield return (text, crontab[textEnd..next], zone);
            start = next;
        }
    }

    /// <summary>The value of a <c>CRON_TZ=</c> line (spaces around <c>=</c> and quotes allowed, as cron reads them), or null for another line.</summary>
    private static string? CronTz(string line)
    {
        var text = line.TrimStart(' ', '\t');
        if (!text.StartsWith(CronTzVariable, StringComparison.Ordinal)) return null;
        var rest = text[CronTzVariable.Length..].TrimStart(' ', '\t');
        if (!rest.StartsWith('=')) return null;
        var value = rest[1..].Trim(' ', '\t');
        return value.Length >= 2 && value[0] is '"' or '\'' && value[^1] == value[0] ? value[1..^1] : value;
    }
}
