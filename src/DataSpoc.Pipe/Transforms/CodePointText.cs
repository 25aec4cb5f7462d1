namespace DataSpoc.Pipe.Transforms;

/// <summary>
/// Text compared as DuckDB compares it: by Unicode code point (the order of its UTF-8 bytes), not by UTF-16 unit, so
/// an astral character (<c>😀</c>, U+1F600) sorts above every character of the Basic Multilingual Plane (<c>ｚ</c>,
/// U+FF5A), and <c>like</c>'s <c>_</c> matches one character, a surrogate pair included.
/// </summary>
internal static class CodePointText
{
    /// <summary>The order of <paramref name="a"/> and <paramref name="b"/> by code point (negative, 0, positive).</summary>
    public static int Compare(string a, string b)
    {
        var i = a.AsSpan().CommonPrefixLength(b);
        if (i == a.Length || i == b.Length) return a.Length.CompareTo(b.Length);
        return Rank(a[i]).CompareTo(Rank(b[i]));
    }

    /// <summary>
    /// A UTF-16 unit's place in code-point order where two strings first differ: surrogates (the astral characters)
    /// move above U+E000..U+FFFF, which UTF-16 puts above them.
    /// </summary>
    private static int Rank(char c) => c >= '\uE000' ? c - 0x800 : c >= '\uD800' ? c + 0x2000 : c;

    /// <summary>
    /// Whether <paramref name="value"/> matches the <c>like</c> <paramref name="pattern"/>: <c>%</c> any run of
    /// characters, <c>_</c> one character (a surrogate pair is one), <c>\</c> makes the next pattern character literal,
    /// every other character matches itself exactly (NCalc's rules, by character rather than UTF-16 unit).
    /// </summary>
    public static bool Like(string value, string pattern)
    {
        var (v, p) = (0, 0);
        var (starPattern, starValue) = (-1, -1);
        while (v < value.Length)
        {
            if (p < pattern.Length)
            {
                switch (pattern[p])
                {
                    case '%':
                        starPattern = p++;
                        starValue = v;
                        continue;
                    case '_':
                        v += Width(value, v);
                        p++;
                        continue;
                }
                var literal = pattern[p] == '\\' && p + 1 < pattern.Length ? p + 1 : p;
                if (value[v] == pattern[literal])
                {
                    v++;
                    p = literal + 1;
                    continue;
                }
            }
            if (starPattern < 0) return false;
            // The % takes one more character and the rest of the pattern is tried again after it.
            starValue += Width(value, starValue);
            (p, v) = (starPattern + 1, starValue);
        }
        while (p < pattern.Length && pattern[p] == '%') p++;
        return p == pattern.Length;
    }

    private static int Width(string s, int i) => char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]) ? 2 : 1;
}
