using System.Globalization;
using System.Text;

namespace DataSpoc.Pipe.Kubernetes;

/// <summary>
/// An ordered YAML mapping for manifests: keys keep their insertion order, null values are left out. Built with
/// collection initializers (<c>new ManifestMap { ["kind"] = "Job" }</c>) and written by <see cref="ManifestYaml"/>.
/// </summary>
public sealed class ManifestMap : List<KeyValuePair<string, object?>>
{
    public object? this[string key]
    {
        get => Find(key) is var i and >= 0 ? base[i].Value : null;
        set
        {
            var i = Find(key);
            if (i >= 0) base[i] = new(key, value);
            else Add(new(key, value));
        }
    }

    private int Find(string key) => FindIndex(e => e.Key == key);
}

/// <summary>
/// Writes <see cref="ManifestMap"/> trees (maps, lists, strings, integers, booleans) as block YAML. Strings that a YAML
/// reader could take for another type (<c>true</c>, <c>0755</c>, <c>null</c>, ...) or that hold special characters are
/// double-quoted; multi-line text (a pipeline file in a ConfigMap) is a literal block, byte for byte. No reflection:
/// safe for the Native AOT CLI.
/// </summary>
public static class ManifestYaml
{
    /// <summary>One YAML stream: documents separated by <c>---</c>.</summary>
    public static string Write(IEnumerable<ManifestMap> documents)
    {
        var sb = new StringBuilder();
        var first = true;
        foreach (var doc in documents)
        {
            if (!first) sb.Append("---\n");
            first = false;
            WriteMap(sb, doc, 0);
        }
        return sb.ToString();
    }

    private static void WriteMap(StringBuilder sb, ManifestMap map, int indent, bool firstLineIndented = true)
    {
        var firstEntry = true;
        foreach (var (key, value) in map)
        {
            if (value is null) continue;
            if (!firstEntry || firstLineIndented) sb.Append(' ', indent);
            firstEntry = false;
            sb.Append(Scalar(key)).Append(':');
            WriteValue(sb, value, indent);
        }
        if (firstEntry) sb.Append(firstLineIndented ? new string(' ', indent) + "{}\n" : "{}\n");
    }

    /// <summary>Writes what follows <c>key:</c> (the value on the same line, or a nested block below).</summary>
    private static void WriteValue(StringBuilder sb, object value, int indent)
    {
        switch (value)
        {
            case ManifestMap { Count: 0 }:
                sb.Append(" {}\n");
                break;
            case ManifestMap nested:
                sb.Append('\n');
                WriteMap(sb, nested, indent + 2);
                break;
            case System.Collections.IList { Count: 0 }:
                sb.Append(" []\n");
                break;
            case System.Collections.IList list:
                sb.Append('\n');
                WriteList(sb, list, indent);
                break;
            case string text when IsLiteralBlock(text):
                WriteLiteral(sb, text, indent + 2);
                break;
            default:
                sb.Append(' ').Append(Scalar(value)).Append('\n');
                break;
        }
    }

    private static void WriteList(StringBuilder sb, System.Collections.IList list, int indent)
    {
        foreach (var item in list)
        {
            sb.Append(' ', indent).Append('-');
            switch (item)
            {
                case ManifestMap { Count: > 0 } map:
                    sb.Append(' ');
                    WriteMap(sb, map, indent + 2, firstLineIndented: false);
                    break;
                case null:
                    throw new ArgumentException("a manifest list cannot hold null");
                default:
                    WriteValue(sb, item, indent);
                    break;
            }
        }
    }

    private static void WriteLiteral(StringBuilder sb, string text, int indent)
    {
        var body = text.TrimEnd('\n');
        var trailing = text.Length - body.Length;
        sb.Append(trailing switch { 0 => " |-", 1 => " |", _ => " |+" }).Append('\n');
        foreach (var line in body.Split('\n'))
        {
            if (line.Length > 0) sb.Append(' ', indent).Append(line);
            sb.Append('\n');
        }
        // "|+" keeps every trailing line break: the first ended the last line, the rest are empty lines.
        for (var i = 1; i < trailing; i++) sb.Append('\n');
    }

    /// <summary>
    /// A literal block keeps text exactly when it has line breaks, no carriage returns or other control characters,
    /// and its first line does not start with a space (that would need an indentation indicator).
    /// </summary>
    private static bool IsLiteralBlock(string text) =>
        text.Contains('\n') && text.TrimEnd('\n').Length > 0 && text[0] != ' ' && text[0] != '\n' &&
        !text.Any(c => (c < ' ' && c is not '\n' and not '\t') || c is '\u007f' or '\ufeff');

    private static string Scalar(object value) => value switch
    {
        string s => PlainIsSafe(s) ? s : Quote(s),
        bool b => b ? "true" : "false",
        int or long => Convert.ToString(value, CultureInfo.InvariantCulture)!,
        _ => throw new ArgumentException($"a manifest value cannot be a {value.GetType().Name}"),
    };

    private static readonly string[] Reserved =
        ["true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", "nan", ".nan", ".inf", "-.inf", "+.inf"];

    /// <summary>Plain only for text made of letters, digits and <c>_ . / -</c> that no YAML 1.1 or 1.2 reader takes for a bool, null or number.</summary>
    private static bool PlainIsSafe(string s) =>
        s.Length > 0 && (char.IsAsciiLetter(s[0]) || s[0] is '_' or '/') &&
        s.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '/' or '-') &&
        !Reserved.Contains(s, StringComparer.OrdinalIgnoreCase);

    /// <summary>A double-quoted scalar; its escapes are the JSON ones, which YAML's double-quoted style shares.</summary>
    private static string Quote(string s)
    {
        var sb = new StringBuilder(s.Length + 2).Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\t': sb.Append("\\t"); break;
                case '\r': sb.Append("\\r"); break;
                default:
                    if (c < ' ' || c is '\u007f' or '\ufeff') sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }
}
