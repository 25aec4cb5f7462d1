using System.Text;
using DataSpoc.Pipe.Config;

namespace DataSpoc.Pipe.Lake;

/// <summary>
/// The one place names from users and taps become file names and key segments: pipeline names (a YAML file in the
/// home, a folder under <c>.dataspoc/</c>), source names (<c>source.name</c> or the tap's) and stream names (table
/// folders). Every front end (CLI, MCP, <see cref="Api.PipeClient"/>) and the runner go through here, so no name can
/// reach a path outside its folder (<c>../../evil</c>).
/// </summary>
public static class LakeNames
{
    public const int MaxPipelineNameLength = 100;

    public const string PipelineNameRule = "use letters, digits, '-', '_' and '.', not starting with '.' or '-', at most 100 characters";

    /// <summary>A pipeline name is usable as a file name in the home and as one key segment in the bucket.</summary>
    public static bool IsValidPipelineName(string? name) =>
        name is { Length: > 0 and <= MaxPipelineNameLength } && name[0] != '.' && name[0] != '-' &&
        name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    /// <summary>Returns <paramref name="name"/> when it is a valid pipeline name, else throws a <see cref="ConfigException"/> that says why.</summary>
    public static string Pipeline(string? name, string? file = null) =>
        IsValidPipelineName(name) ? name! : throw new ConfigException($"pipeline name '{Printable(name)}' is not valid: {PipelineNameRule}", file);

    /// <summary>
    /// Why a <c>source.name</c> cannot be a folder name, or null when it can: one segment (no '/', '\' or control
    /// characters), not hidden (a leading '.' would hide the tables and could reach <c>.dataspoc/</c>).
    /// </summary>
    public static string? SourceNameError(string name)
    {
        if (name.Length == 0) return "source name is empty";
        if (name.Length > 200) return "source name is longer than 200 characters";
        if (name[0] == '.') return $"source name '{Printable(name)}' must not start with '.'";
        if (name.Any(c => c is '/' or '\\' || char.IsControl(c)))
            return $"source name '{Printable(name)}' must be one folder name (no '/', '\\' or control characters)";
        if (UriDelimiterIn(name) is { } delimiter)
            return $"source name '{Printable(name)}' must not contain '{delimiter}': {UriDelimiterWhy}";
        return null;
    }

    /// <summary>The <c>&lt;source&gt;</c> folder; throws <see cref="ConfigException"/> for a name that is not one safe segment.</summary>
    public static string Source(string name) =>
        SourceNameError(name) is { } why ? throw new ConfigException(why, key: "source.name") : name;

    /// <summary>
    /// A Singer stream name made safe for a key: '/', '\', '#', '?', '%', control characters and whitespace become '_'.
    /// A name that is empty or only dots is rejected, so no key can leave its folder.
    /// </summary>
    public static string Table(string stream) => Segment(stream, "stream");

    /// <summary>
    /// The table name builds before 2026-12-04 gave <paramref name="stream"/>, when it differs from <see cref="Table"/>'s:
    /// they kept '#', '?' and '%'. A run after the upgrade lands such a stream in a new table, without the old one's rows.
    /// </summary>
    public static string? EarlierTable(string stream)
    {
        if (!stream.Any(IsUriDelimiter)) return null;
        var earlier = new string(stream.Select(c => c is '/' or '\\' || char.IsControl(c) || char.IsWhiteSpace(c) ? '_' : c).ToArray());
        return earlier == Table(stream) ? null : earlier;
    }

    /// <summary>The longest table (or source) folder name, in UTF-8 bytes.</summary>
    public const int MaxSegmentBytes = 200;

    /// <summary>A derived name (a tap's executable) made into one segment the same way as a stream name.</summary>
    internal static string Segment(string name, string what)
    {
        var sb = new StringBuilder(name.Length);
        foreach (var c in name)
            sb.Append(c is '/' or '\\' || IsUriDelimiter(c) || char.IsControl(c) || char.IsWhiteSpace(c) ? '_' : c);
        var safe = sb.ToString();
        if (safe.Length == 0 || safe.All(c => c == '.'))
            throw new ArgumentException($"{what} name '{name}' cannot be used as a folder name (empty or only dots)");
        // A data file is named <table>_<NNNN>_<run>.parquet, and file systems take 255 bytes for a name.
        if (Encoding.UTF8.GetByteCount(safe) is var bytes && bytes > MaxSegmentBytes)
            throw new ArgumentException($"{what} name '{Printable(name)}' is {bytes} bytes long in UTF-8: a folder and its data files' names take at most {MaxSegmentBytes}");
        return safe;
    }

    /// <summary>
    /// '#', '?' and '%' are kept out of keys because a table's keys also become URIs: Iceberg metadata records each file
    /// and the table as a location such as <c>s3://lake/raw/src/hash#x/...</c>, written as it is, and readers parse it as
    /// a URI (icebird and Java Iceberg's S3URI cut it at '#' or '?'; '%41' is decoded to 'A'), so they would read
    /// another object. Replaced here, in the one rule for every folder and file name, the plain folder, the data files,
    /// Iceberg and Delta all name the table alike.
    /// </summary>
    private static bool IsUriDelimiter(char c) => c is '#' or '?' or '%';

    /// <summary>The first '#', '?' or '%' in a name the user gives for a folder of the lake, or null (<see cref="IsUriDelimiter"/>).</summary>
    internal static char? UriDelimiterIn(string name)
    {
        var at = name.AsSpan().IndexOfAny('#', '?', '%');
        return at < 0 ? null : name[at];
    }

    /// <summary>
    /// Why a folder named by the user (<c>source.name</c>, <c>destination.path</c>, a bucket's name or prefix) may not
    /// hold those characters: unlike a stream name, which the lake renames, these are the user's own and are kept as
    /// written, so they are refused.
    /// </summary>
    internal const string UriDelimiterWhy =
        "table locations are URIs (Iceberg metadata, Delta logs, OpenLineage, DuckDB's globs) and '#', '?' and '%' cut or change them";

    /// <summary>A name as it can be quoted in an error: control characters shown as '?', long names cut.</summary>
    internal static string Printable(string? name)
    {
        if (name is null) return "";
        var shown = new string(name.Select(c => char.IsControl(c) ? '?' : c).ToArray());
        return shown.Length > 120 ? shown[..120] + "..." : shown;
    }
}
