using System.Text;

namespace DataSpoc.Pipe.Sources;

/// <summary>
/// Finds a secret percent-encoded, as a tap prints a password inside a DSN or URL: any of its characters as <c>%XX</c>
/// of its UTF-8 bytes (upper or lower hex) or as itself, and a space also as <c>+</c>. Which characters an encoder
/// leaves alone differs (<c>/</c> for Python's <c>quote</c>, <c>!'()*</c> for JavaScript's
/// <c>encodeURIComponent</c>), so each character is matched either way instead of one encoding being built.
/// </summary>
internal sealed class PercentEncodedSecret
{
    private readonly string[] _characters;
    private readonly byte[][] _utf8;
    private readonly bool _hasSpace;

    public PercentEncodedSecret(string secret)
    {
        // By code point, so a surrogate pair is one character encoded as its four UTF-8 bytes.
        _characters = secret.EnumerateRunes().Select(r => r.ToString()).ToArray();
        _utf8 = _characters.Select(Encoding.UTF8.GetBytes).ToArray();
        _hasSpace = secret.Contains(' ');
    }

    public string Redact(string text)
    {
        // Without a '%' (or a '+' standing for a space) only the raw secret could match, and that is masked already.
        if (text.IndexOf('%') < 0 && !(_hasSpace && text.Contains('+'))) return text;
        StringBuilder? sb = null;
        var copied = 0;
        for (var i = 0; i < text.Length;)
        {
            var end = MatchAt(text, i);
            if (end < 0) { i++; continue; }
            sb ??= new StringBuilder(text.Length);
            sb.Append(text, copied, i - copied).Append(Redactor.Mask);
            i = copied = end;
        }
        return sb is null ? text : sb.Append(text, copied, text.Length - copied).ToString();
    }

    /// <summary>Where the secret matched from <paramref name="t"/> ends, or -1.</summary>
    private int MatchAt(string text, int t)
    {
        for (var c = 0; c < _characters.Length; c++)
        {
            if (t >= text.Length) return -1;
            if (text[t] == '%' && PercentBytesAt(text, t, _utf8[c]) is var next and > 0) t = next;
            else if (text[t] == '+' && _characters[c] == " ") t++;
            else if (string.CompareOrdinal(text, t, _characters[c], 0, _characters[c].Length) == 0) t += _characters[c].Length;
            else return -1;
        }
        return t;
    }

    /// <summary>Where <paramref name="bytes"/> written as <c>%XX</c> each (either hex case) from <paramref name="t"/> end, or -1.</summary>
    private static int PercentBytesAt(string text, int t, byte[] bytes)
    {
        foreach (var b in bytes)
        {
            if (t + 2 >= text.Length || text[t] != '%') return -1;
            if (!byte.TryParse(text.AsSpan(t + 1, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out var x) || x != b) return -1;
            t += 3;
        }
        return t;
    }
}
