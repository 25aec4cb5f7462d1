using System.Text;
using DataSpoc.Pipe.Lake;

namespace DataSpoc.Pipe.Scheduling;

/// <summary>One of this tool's active crontab lines for a home: cron runs <see cref="Pipeline"/> at <see cref="Cron"/>.</summary>
/// <param name="Pipeline">The pipeline the line runs.</param>
/// <param name="Cron">The line's schedule: its five fields, or an <c>@</c> keyword.</param>
/// <param name="Line">The line as the crontab holds it, without its line end.</param>
/// <param name="CronTimeZone">The <c>CRON_TZ</c> set above the line, which cron reads its schedule in; null when none is (cron then uses the machine's zone).</param>
public sealed record CrontabEntry(string Pipeline, string Cron, string Line, string? CronTimeZone);

/// <summary>
/// Finds and rewrites this tool's lines in a crontab's text. Each ends with the tag
/// <c># dataspoc-pipe:&lt;name&gt;@&lt;home&gt;</c>: a pipeline name never holds <c>'@'</c>, so the name is what lies
/// between the tag's prefix and <c>"@" + home</c>, whatever the home's path holds (an <c>'@'</c> too, as in
/// <c>/home/jane@corp.example.com</c>). Only active lines count: a commented-out tagged line is the user's, and kept.
/// Every line that is not one of ours being replaced or removed is written back as it was, line end included.
/// </summary>
public static class CrontabEntries
{
    private const string TagPrefix = "# dataspoc-pipe:";
    private const string CronTzVariable = "CRON_TZ";

    /// <summary>The tag that ends a pipeline's line and makes it this home's.</summary>
    public static string Tag(string homeRoot, string pipeline) => $"{TagPrefix}{pipeline}@{homeRoot}";

    /// <summary>This home's active lines, in crontab order, each with the <c>CRON_TZ</c> in effect for it.</summary>
    public static IReadOnlyList<CrontabEntry> Parse(string crontab, string homeRoot)
    {
        var entries = new List<CrontabEntry>();
        foreach (var (text, _, zone) in Lines(crontab))
        {
            if (PipelineOf(text, homeRoot) is not { } pipeline) continue;
            var fields = text.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            var cron = fields[0].StartsWith('@') ? fields[0] : string.Join(' ', fields.Take(5));
            entries.Add(new CrontabEntry(pipeline, cron, text, zone));
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
    /// The crontab with this home's lines set to <paramref name="wanted"/> (pipeline, line): a pipeline's line is
    /// replaced where it stands (so it keeps the <c>CRON_TZ</c> above it), a new one is added at the end, and a line of a
    /// pipeline not wanted (or a second line of one) is removed. Running it again on its result changes nothing.
    /// </summary>
    public static string Install(string crontab, string homeRoot, IReadOnlyList<(string Pipeline, string Line)> wanted)
    {
        var lines = wanted.ToDictionary(w => w.Pipeline, w => w.Line, StringComparer.Ordinal);
        var placed = new HashSet<string>(StringComparer.Ordinal);
        var text = new StringBuilder(crontab.Length);
        foreach (var (line, end, _) in Lines(crontab))
        {
            if (PipelineOf(line, homeRoot) is not { } pipeline) text.Append(line).Append(end);
            // crontab wants the last line ended: a replaced last line without one gets a newline.
            else if (lines.TryGetValue(pipeline, out var replacement) && placed.Add(pipeline)) text.Append(replacement).Append(end.Length > 0 ? end : "\n");
        }
        foreach (var (pipeline, line) in wanted.Where(w => !placed.Contains(w.Pipeline)))
        {
            if (text.Length > 0 && text[^1] != '\n') text.Append('\n');
            text.Append(line).Append('\n');
        }
        return text.ToString();
    }

    /// <summary>The crontab without this home's lines (or only <paramref name="pipeline"/>'s); every other line as it was.</summary>
    public static string Remove(string crontab, string homeRoot, string? pipeline = null)
    {
        var text = new StringBuilder(crontab.Length);
        foreach (var (line, end, _) in Lines(crontab))
            if (PipelineOf(line, homeRoot) is not { } p || pipeline is not null && p != pipeline)
                text.Append(line).Append(end);
        return text.ToString();
    }

    /// <summary>The pipeline an active line of this home runs, or null when the line is not one.</summary>
    private static string? PipelineOf(string line, string homeRoot)
    {
        // A comment is not run: a tagged line the user commented out (to pause it) is theirs to keep.
        if (line.TrimStart(' ', '\t').StartsWith('#')) return null;
        var suffix = "@" + homeRoot;
        var end = line.TrimEnd(' ', '\t');
        if (!end.EndsWith(suffix, StringComparison.Ordinal)) return null;
        var head = end[..^suffix.Length];
        var at = head.LastIndexOf(TagPrefix, StringComparison.Ordinal);
        if (at < 0) return null;
        // Not a pipeline name (it holds '@', say): the tag of another home whose path ends with this one's.
        var name = head[(at + TagPrefix.Length)..];
        return LakeNames.IsValidPipelineName(name) ? name : null;
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
