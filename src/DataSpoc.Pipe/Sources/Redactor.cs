using System.Text;
using System.Text.Json.Nodes;

namespace DataSpoc.Pipe.Sources;

/// <summary>
/// Masks secret values (tap config secrets, <c>${VAR}</c> expansions, credentials of the environment) in any text bound
/// for logs, errors or responses, in every form a value takes in JSON text: raw, or with any of its characters escaped
/// (<c>\u0026</c> in either hex case, <c>\"</c>, <c>\\</c>, <c>\/</c>, <c>\n</c>, surrogate pairs), also when JSON was escaped
/// again inside JSON (<c>\\u0026</c>, <c>\\\"</c>). A tap that echoes its config through <c>json.dumps</c> or a .NET serializer
/// is therefore masked as well as one that prints the value as it is. Secrets of at least
/// <see cref="EncodedFormLength"/> characters are also masked in the encodings other software prints them in (see
/// <see cref="EncodedForms"/> and <see cref="PercentEncodedSecret"/>).
/// </summary>
/// <remarks>
/// Secrets shorter than <see cref="ShortSecretLength"/> characters are masked only where they stand alone (no letter
/// or digit right before or after them), so a two-letter password does not mask every word that contains those two
/// letters, and not at all when they hold no letter or digit. Longer secrets are masked wherever they occur.
/// Everything a secret is matched as is worked out once, when the redactor is built: it then runs on every line shown.
/// </remarks>
public sealed class Redactor
{
    public const string Mask = "***";

    /// <summary>Secrets shorter than this are masked only as whole tokens.</summary>
    public const int ShortSecretLength = 4;

    /// <summary>
    /// Secrets at least this long are also masked encoded (case-changed, hex, base64, percent-encoded): the encoded
    /// forms of a shorter one are short runs of letters and digits that would mask ordinary words and numbers.
    /// </summary>
    public const int EncodedFormLength = 6;

    private readonly MaskedSecret[] _secrets;

    /// <summary>One secret and what it is matched as: <see cref="Texts"/> raw or JSON-escaped, then <see cref="Percent"/>.</summary>
    private sealed record MaskedSecret(string Secret, string[] Texts, PercentEncodedSecret? Percent);

    private readonly Func<string, string?>? _originOf;

    /// <param name="secrets">The values to mask.</param>
    /// <param name="originOf">Where a secret comes from, in words that never hold it (for <see cref="OriginOfSecretIn"/>).</param>
    public Redactor(IEnumerable<string> secrets, Func<string, string?>? originOf = null)
    {
        _originOf = originOf;
        // Longest first, so a secret containing another is masked whole, in every form, before the shorter one is.
        _secrets = secrets.Where(IsMaskable).Distinct(StringComparer.Ordinal).OrderByDescending(s => s.Length)
            .Select(s => s.Length < EncodedFormLength
                ? new MaskedSecret(s, Longest(ShellQuotedForms(s).Prepend(s)), null)
                : new MaskedSecret(s, Longest(EncodedForms(s).Concat(ShellQuotedForms(s)).Prepend(s)), new PercentEncodedSecret(s)))
            .ToArray();
    }

    public static Redactor None { get; } = new([]);

    /// <summary>
    /// Whether a value is worth masking: not empty, and not a short run of punctuation or spaces (a delimiter such as
    /// <c>,</c> or <c>|</c> set in <c>.env</c>), which stands alone everywhere and would mask every comma of every
    /// message, JSON included, while hiding nothing a reader could use.
    /// </summary>
    private static bool IsMaskable(string value) =>
        !string.IsNullOrEmpty(value) && (value.Length >= ShortSecretLength || value.Any(char.IsLetterOrDigit));

    /// <summary>
    /// The secret as software other than a JSON encoder prints it: upper- or lower-cased (a tap that shouts its
    /// settings), hex of its UTF-8 bytes in either case, and base64 of them in the standard and URL-safe alphabets, with
    /// and without padding. Base64 of a longer value that holds the secret (HTTP Basic <c>user:pass</c>) shifts with
    /// what precedes it and is not among these.
    /// </summary>
    private static IEnumerable<string> EncodedForms(string secret)
    {
        yield return secret.ToUpperInvariant();
        yield return secret.ToLowerInvariant();
        var bytes = Encoding.UTF8.GetBytes(secret);
        yield return Convert.ToHexStringLower(bytes);
        yield return Convert.ToHexString(bytes);
        var base64 = Convert.ToBase64String(bytes);
        var urlSafe = base64.Replace('+', '-').Replace('/', '_');
        yield return base64;
        yield return base64.TrimEnd('=');
        yield return urlSafe;
        yield return urlSafe.TrimEnd('=');
    }

    private static string[] Longest(IEnumerable<string> forms) => [.. forms.Distinct(StringComparer.Ordinal).OrderByDescending(f => f.Length)];

    /// <summary>
    /// The secret inside POSIX shell single quotes, as <c>shlex.quote</c> (Python) and shell scripts write a value holding
    /// a <c>'</c>: each <c>'</c> closes the quotes and is written <c>"'"</c> or <c>\'</c> before they open again
    /// (<c>'it'"'"'s'</c>, <c>'it'\''s'</c>). Without a <c>'</c> the value stands raw between the quotes: masked as it is.
    /// </summary>
    private static IEnumerable<string> ShellQuotedForms(string secret)
    {
        if (!secret.Contains('\'')) yield break;
        yield return secret.Replace("'", "'\"'\"'", StringComparison.Ordinal);
        yield return secret.Replace("'", "'\\''", StringComparison.Ordinal);
    }

    public string Redact(string text) => Redact(text, minLength: 0);

    /// <summary>
    /// <paramref name="name"/> (a stream's name, which becomes a folder, file names and table metadata in the bucket)
    /// masked when it holds a secret in any form <see cref="Redact(string)"/> masks, else null. Secrets shorter than
    /// <see cref="ShortSecretLength"/> do not count: a name is one token, so the whole-token rule that keeps them from
    /// masking words would still refuse a stream named <c>id</c> for a secret <c>id</c>, and such a value hides nothing.
    /// </summary>
    public string? MaskedName(string name)
    {
        var masked = Redact(name, ShortSecretLength);
        return masked == name ? null : masked;
    }

    /// <summary>
    /// Where the secret that <see cref="MaskedName"/> finds in <paramref name="name"/> comes from (a variable's name and
    /// file, never the value), or null when unknown.
    /// </summary>
    public string? OriginOfSecretIn(string name)
    {
        foreach (var secret in _secrets)
        {
            if (secret.Secret.Length < ShortSecretLength) continue;
            var masked = name;
            foreach (var form in secret.Texts) masked = RedactOne(masked, form);
            if (secret.Percent is { } percent) masked = percent.Redact(masked);
            if (masked != name) return _originOf?.Invoke(secret.Secret);
        }
        return null;
    }

    private string Redact(string text, int minLength)
    {
        if (string.IsNullOrEmpty(text)) return text;
        foreach (var secret in _secrets)
        {
            if (secret.Secret.Length < minLength) continue;
            foreach (var form in secret.Texts) text = RedactOne(text, form);
            if (secret.Percent is { } percent) text = percent.Redact(text);
        }
        return text;
    }

    private static string RedactOne(string text, string secret)
    {
        var first = secret[0];
        // Fast path: nothing starts here, neither raw nor escaped.
        if (text.IndexOf(first) < 0 && text.IndexOf('\\') < 0) return text;
        StringBuilder? sb = null;
        var copied = 0;
        for (var i = 0; i < text.Length;)
        {
            // Jump to the next place a match can start (vectorized: a value shown may be megabytes long).
            var next = text.AsSpan(i).IndexOfAny(first, '\\');
            if (next < 0) break;
            i += next;
            var end = MatchAt(text, i, secret, 0);
            if (end < 0 || (secret.Length < ShortSecretLength && !StandsAlone(text, i, end))) { i++; continue; }
            sb ??= new StringBuilder(text.Length);
            sb.Append(text, copied, i - copied).Append(Mask);
            i = copied = end;
        }
        if (sb is null) return text;
        return sb.Append(text, copied, text.Length - copied).ToString();
    }

    /// <summary>
    /// Where a match of <paramref name="secret"/> (from its character <paramref name="s"/>) that starts at
    /// <paramref name="t"/> ends, or -1. Each character matches itself or any JSON escape of it; a backslash in the
    /// text can start several escapes, so those alternatives are tried in turn (secrets are short: the depth is small).
    /// </summary>
    private static int MatchAt(string text, int t, string secret, int s)
    {
        while (s < secret.Length)
        {
            if (t >= text.Length) return -1;
            var c = secret[s];
            var x = text[t];
            if (x != '\\')
            {
                if (x != c) return -1;
                t++;
                s++;
                continue;
            }
            var run = 1;
            while (t + run < text.Length && text[t + run] == '\\') run++;
            var after = t + run < text.Length ? text[t + run] : '\0';
            // \uXXXX after one or more backslashes (escaped once, or again inside another JSON string).
            if (after == 'u' && t + run + 4 < text.Length && TryHex(text.AsSpan(t + run + 1, 4), out var unit) && unit == c)
            {
                var end = MatchAt(text, t + run + 5, secret, s + 1);
                if (end >= 0) return end;
            }
            // Python's escapes (repr/ascii() of a str, repr of bytes; a log line then JSON-escaped again doubles the backslash).
            if (after == 'x' && PythonHexEscapeEnd(text, t, run, secret, s) is var (hexEnd, hexNext) && hexEnd >= 0)
            {
                var end = MatchAt(text, hexEnd, secret, hexNext);
                if (end >= 0) return end;
            }
            if (after == 'U' && char.IsHighSurrogate(c) && s + 1 < secret.Length && t + run + 8 < text.Length
                && TryHexValue(text.AsSpan(t + run + 1, 8), out var point) && char.IsLowSurrogate(secret[s + 1])
                && point == char.ConvertToUtf32(c, secret[s + 1]))
            {
                var end = MatchAt(text, t + run + 9, secret, s + 2);
                if (end >= 0) return end;
            }
            if (c == '\\')
            {
                // A backslash as \\\\ (escaped twice), \\ (once) or itself: longest first, so no half escape is left behind.
                foreach (var width in (ReadOnlySpan<int>)[4, 2, 1])
                {
                    if (width > run) continue;
                    var end = MatchAt(text, t + width, secret, s + 1);
                    if (end >= 0) return end;
                }
                return -1;
            }
            // Any number of backslashes: an odd run is a JSON escape (once, or again inside JSON), an even one a Python or
            // shell escape written into JSON (repr()'s \n logged by a JSON logger is \\n).
            if (after == ShortEscape(c))
            {
                var end = MatchAt(text, t + run + 1, secret, s + 1);
                if (end >= 0) return end;
            }
            return -1;
        }
        return t;
    }

    /// <summary>
    /// Where the text after Python's <c>\xNN</c> escape(s) at <paramref name="t"/> (each after <paramref name="run"/>
    /// backslashes) ends when they stand for the secret's character at <paramref name="s"/>, and the secret's next index;
    /// (-1, -1) when they do not. One <c>\xNN</c> is a character up to U+00FF in <c>repr()</c>/<c>ascii()</c> of a str;
    /// in the repr of bytes (<c>b'...'</c>, <c>repr(secret.encode())</c>) a non-ASCII character is the <c>\xNN</c> of
    /// each of its UTF-8 bytes (an emoji's four for its surrogate pair).
    /// </summary>
    private static (int End, int Next) PythonHexEscapeEnd(string text, int t, int run, string secret, int s)
    {
        var c = secret[s];
        var width = run + 3;
        if (t + width <= text.Length && TryHexValue(text.AsSpan(t + run + 1, 2), out var single) && single == c) return (t + width, s + 1);
        if (c < 0x80) return (-1, -1);
        var chars = char.IsHighSurrogate(c) && s + 1 < secret.Length && char.IsLowSurrogate(secret[s + 1]) ? 2 : 1;
        Span<byte> utf8 = stackalloc byte[4];
        if (!Encoding.UTF8.TryGetBytes(secret.AsSpan(s, chars), utf8, out var count)) return (-1, -1);
        var at = t;
        for (var i = 0; i < count; i++, at += width)
        {
            if (at + width > text.Length || text[at + run] != 'x' || !TryHexValue(text.AsSpan(at + run + 1, 2), out var b) || b != utf8[i])
                return (-1, -1);
            for (var k = 0; k < run; k++)
                if (text[at + k] != '\\') return (-1, -1);
        }
        return (at, s + chars);
    }

    /// <summary>
    /// The letter after a backslash that stands for <paramref name="c"/> in JSON, Python (<c>\'</c>) or a double-quoted
    /// shell word (<c>\$</c>, <c>\`</c>), or '\0'.
    /// </summary>
    private static char ShortEscape(char c) => c switch
    {
        '"' or '/' or '\'' or '$' or '`' => c,
        '\n' => 'n',
        '\r' => 'r',
        '\t' => 't',
        '\b' => 'b',
        '\f' => 'f',
        _ => '\0',
    };

    private static bool TryHex(ReadOnlySpan<char> digits, out char unit)
    {
        var ok = TryHexValue(digits, out var value);
        unit = ok ? (char)value : '\0';
        return ok;
    }

    /// <summary>The value of 2, 4 or 8 hex digits (either case); false when one is not a hex digit or it is no Unicode code point.</summary>
    private static bool TryHexValue(ReadOnlySpan<char> digits, out int value)
    {
        value = 0;
        foreach (var d in digits)
        {
            var v = char.IsAsciiDigit(d) ? d - '0' : d is >= 'a' and <= 'f' ? d - 'a' + 10 : d is >= 'A' and <= 'F' ? d - 'A' + 10 : -1;
            if (v < 0 || value > 0x10FFFF) { value = 0; return false; }
            value = value * 16 + v;
        }
        return value <= 0x10FFFF;
    }

    /// <summary>
    /// Whether the text at [start, end) is not glued to a letter or digit on either side. A letter that ends an escape
    /// (<c>\n</c>, <c>\t</c>, ...) or a <c>\uXXXX</c> before the match is a separator, not part of a word.
    /// </summary>
    private static bool StandsAlone(string text, int start, int end)
    {
        if (start > 0 && char.IsLetterOrDigit(text[start - 1]))
        {
            var escapeLetter = start >= 2 && text[start - 2] == '\\' && text[start - 1] is 'n' or 'r' or 't' or 'b' or 'f';
            var unicodeEscape = start >= 6 && text[start - 6] == '\\' && text[start - 5] == 'u' && TryHex(text.AsSpan(start - 4, 4), out _);
            if (!escapeLetter && !unicodeEscape) return false;
        }
        if (end < text.Length && char.IsLetterOrDigit(text[end])) return false;
        return true;
    }

    /// <summary>
    /// Key names whose values are treated as secrets wherever they appear in a tap config, at any depth, lists and
    /// objects under them included, and names of environment variables whose values are (<c>AZURE_STORAGE_CONNECTION_STRING</c>,
    /// <c>OTEL_EXPORTER_OTLP_HEADERS</c>, which carry keys and bearer tokens). Case, '_', '-', '.' and spaces are ignored
    /// (<c>apiKey</c>, <c>API-KEY</c>, <c>api_key</c> are one key).
    /// </summary>
    public static bool IsSecretKey(string key)
    {
        var k = Normalize(key);
        if (k.Length == 0) return false;
        // Keys that end like a secret but name columns or settings (replication_key, key_properties, partition_key...).
        if (k.Contains("replication") || k.Contains("primary") || k.Contains("partition") || k.Contains("properties") || k.Contains("foreign")
            || k.StartsWith("sort", StringComparison.Ordinal) || k is "key" or "keys")
            return false;
        return k.Contains("password") || k.Contains("passwd") || k.Contains("passphrase") || k.Contains("passcode") || k.Contains("secret")
            || k.Contains("token") || k.EndsWith("key", StringComparison.Ordinal) || k.EndsWith("keys", StringComparison.Ordinal)
            || k.Contains("apikey") || k.Contains("accesskey") || k.Contains("credential") || k.Contains("private") || k.Contains("auth")
            || k.Contains("cookie") || k.Contains("signature") || k.Contains("salt") || k.Contains("sessionid") || k.Contains("certificate")
            || k.Contains("connectionstring") || (k.StartsWith("otelexporterotlp", StringComparison.Ordinal) && k.EndsWith("headers", StringComparison.Ordinal))
            || k is "pass" or "pwd" or "pin" or "connstr" or "dsn" or "jwt" or "bearer" or "cert" or "sas";
    }

    private static string Normalize(string key)
    {
        var sb = new StringBuilder(key.Length);
        foreach (var c in key)
            if (c is not ('_' or '-' or '.' or ' ')) sb.Append(char.ToLowerInvariant(c));
        return sb.ToString();
    }

    /// <summary>The secret values in a tap config: strings and numbers under secret-looking keys, at any depth (lists and objects included).</summary>
    public static IEnumerable<string> SecretsIn(JsonNode? node, bool underSecretKey = false)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (k, v) in o)
                    foreach (var s in SecretsIn(v, underSecretKey || IsSecretKey(k))) yield return s;
                break;
            case JsonArray a:
                foreach (var v in a)
                    foreach (var s in SecretsIn(v, underSecretKey)) yield return s;
                break;
            case JsonValue v when underSecretKey:
                // true/false/null are settings, not secrets: masking them would mask every "true" in a log.
                var kind = v.GetValueKind();
                if (kind == System.Text.Json.JsonValueKind.String) yield return v.GetValue<string>();
                else if (kind == System.Text.Json.JsonValueKind.Number) yield return v.ToJsonString();
                break;
        }
    }
}
