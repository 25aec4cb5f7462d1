using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace DataSpoc.Pipe.Tests.Support;

/// <summary>
/// The forms a secret takes in JSON text, to search outputs for: raw, escaped by .NET's default encoder (<c>\u0026</c>,
/// <c>\u002B</c>, non-ASCII as <c>\uXXXX</c>), by the relaxed encoder, by Python's <c>json.dumps</c> (lowercase hex,
/// <c>\"</c>), with <c>\/</c>, and escaped twice (JSON inside a JSON string).
/// </summary>
public static class SecretForms
{
    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static IEnumerable<string> Of(string secret)
    {
        var dotnet = Inner(JsonSerializer.Serialize(secret));
        var relaxed = Inner(JsonSerializer.Serialize(secret, Relaxed));
        var python = PythonAscii(secret);
        var forms = new[]
        {
            secret, dotnet, relaxed, python, python.Replace("/", "\\/"),
            Inner(JsonSerializer.Serialize(dotnet)), Inner(JsonSerializer.Serialize(python)),
        };
        return forms.Concat(PythonPrintedOf(secret)).Distinct(StringComparer.Ordinal);
    }

    /// <summary>
    /// The secret as Python code prints it outside JSON, written here from Python's rules: <c>repr()</c> and
    /// <c>ascii()</c> of the str (<c>\xNN</c>, <c>\uXXXX</c>, <c>\UXXXXXXXX</c>, <c>\'</c>), <c>repr(secret.encode())</c>
    /// (each UTF-8 byte outside printable ASCII as <c>\xNN</c>), and <c>shlex.quote</c> (<c>'"'"'</c> for each <c>'</c>).
    /// </summary>
    public static IEnumerable<string> PythonPrintedOf(string secret)
    {
        yield return PythonRepr(secret, asciiOnly: false);
        yield return PythonRepr(secret, asciiOnly: true);
        yield return PythonBytesRepr(Encoding.UTF8.GetBytes(secret));
        yield return "'" + secret.Replace("'", "'\"'\"'", StringComparison.Ordinal) + "'";
    }

    private static string PythonRepr(string s, bool asciiOnly)
    {
        var quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        var sb = new StringBuilder().Append(quote);
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            var point = char.IsSurrogatePair(s, i) ? char.ConvertToUtf32(c, s[++i]) : c;
            if (point == quote || point == '\\') sb.Append('\\').Append((char)point);
            else if (point == '\n') sb.Append("\\n");
            else if (point == '\r') sb.Append("\\r");
            else if (point == '\t') sb.Append("\\t");
            else if (point < 0x20 || point == 0x7f || (asciiOnly && point > 0x7f) || (point is >= 0x80 and < 0xa0))
                sb.Append(point < 0x100 ? $"\\x{point:x2}" : point < 0x10000 ? $"\\u{point:x4}" : $"\\U{point:x8}");
            else sb.Append(char.ConvertFromUtf32(point));
        }
        return sb.Append(quote).ToString();
    }

    private static string PythonBytesRepr(byte[] bytes)
    {
        var quote = bytes.Contains((byte)'\'') && !bytes.Contains((byte)'"') ? '"' : '\'';
        var sb = new StringBuilder("b").Append(quote);
        foreach (var b in bytes)
        {
            if (b == quote || b == '\\') sb.Append('\\').Append((char)b);
            else if (b == '\n') sb.Append("\\n");
            else if (b == '\r') sb.Append("\\r");
            else if (b == '\t') sb.Append("\\t");
            else if (b < 0x20 || b >= 0x7f) sb.Append($"\\x{b:x2}");
            else sb.Append((char)b);
        }
        return sb.Append(quote).ToString();
    }

    /// <summary>Whether <paramref name="text"/> holds <paramref name="secret"/> in any of its forms (whole tokens only for short secrets).</summary>
    public static string? FoundIn(string text, string secret)
    {
        foreach (var form in Of(secret))
        {
            for (var at = text.IndexOf(form, StringComparison.Ordinal); at >= 0; at = text.IndexOf(form, at + 1, StringComparison.Ordinal))
            {
                if (secret.Length >= 4) return form; // Redactor.ShortSecretLength: shorter ones are masked as whole tokens only
                var before = at == 0 || !char.IsLetterOrDigit(text[at - 1]);
                var after = at + form.Length >= text.Length || !char.IsLetterOrDigit(text[at + form.Length]);
                if (before && after) return form;
            }
        }
        return null;
    }

    /// <summary>
    /// The secret as software other than a JSON encoder writes it: hex of its UTF-8 bytes in either case, base64 in the
    /// standard and URL-safe alphabets with and without padding, and percent-encoded (as in a URI).
    /// </summary>
    public static IEnumerable<string> EncodedOf(string secret)
    {
        var bytes = Encoding.UTF8.GetBytes(secret);
        var base64 = Convert.ToBase64String(bytes);
        var urlSafe = base64.Replace('+', '-').Replace('/', '_');
        string[] forms = [Convert.ToHexStringLower(bytes), Convert.ToHexString(bytes), base64, base64.TrimEnd('='), urlSafe, urlSafe.TrimEnd('='), Uri.EscapeDataString(secret)];
        return forms.Distinct(StringComparer.Ordinal);
    }

    /// <summary>
    /// Every place under <paramref name="root"/> (a file:// bucket) that holds <paramref name="secret"/> (at least four
    /// characters long) in any of its JSON (<see cref="Of"/>) or encoded (<see cref="EncodedOf"/>) forms: a file's or a
    /// folder's path, or a file's bytes. Empty when it is nowhere.
    /// </summary>
    public static List<string> FoundUnder(string root, string secret)
    {
        var forms = Of(secret).Concat(EncodedOf(secret)).Distinct(StringComparer.Ordinal).ToList();
        var found = new List<string>();
        foreach (var entry in Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories))
        {
            var path = Path.GetRelativePath(root, entry);
            if (forms.FirstOrDefault(f => path.Contains(f, StringComparison.Ordinal)) is { } inName) found.Add($"the name of {path} ({inName})");
            if (!File.Exists(entry)) continue;
            var bytes = File.ReadAllBytes(entry);
            if (forms.FirstOrDefault(f => bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(f)) >= 0) is { } inBytes) found.Add($"the bytes of {path} ({inBytes})");
        }
        return found;
    }

    public static string PythonAscii(string s)
    {
        var sb = new StringBuilder();
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c < 0x20 || c > 0x7e) sb.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        return sb.ToString();
    }

    private static string Inner(string jsonString) => jsonString[1..^1];
}
