namespace DataSpoc.Pipe;

/// <summary>
/// <c>NaN</c>, <c>Infinity</c> and <c>-Infinity</c> as bare words in a line: what Python's <c>json.dumps</c> (and the
/// simplejson that singer-python taps print with) writes for <c>float('nan')</c> and the infinities, e.g. a tap built on
/// pandas, where NaN marks a missing value. They are not JSON, so <c>Utf8JsonReader</c> refuses them; a line that fails
/// to parse is read again from a copy with each such word (outside strings) quoted, and the positions of those quoted
/// tokens, published here for the reading thread, tell a number column to store the double the word names. Any other
/// column refuses one by name.
/// </summary>
internal static class NamedFloatLiterals
{
    [ThreadStatic] private static Rewrite? t_current;

    /// <summary>The line being read again on this thread, while it is; null otherwise (almost always).</summary>
    public static Rewrite? Current => t_current;

    /// <summary>A line with its named floats quoted: the copy the reader parses, where they are, and the line as it came.</summary>
    public sealed class Rewrite(byte[] line, int length, List<(int Start, double Value)> words, byte[] original)
    {
        public ReadOnlySpan<byte> Line => line.AsSpan(0, length);

        /// <summary>The line as the tap wrote it (what a quarantine file keeps).</summary>
        public ReadOnlySpan<byte> Original => original;

        /// <summary>Where the reader's positions start in <see cref="Line"/> (a record parsed from its own offset).</summary>
        public int Offset { get; set; }

        /// <summary>The double of the quoted word whose token starts at <paramref name="tokenStart"/> of the reader, if it is one.</summary>
        public bool TryGet(long tokenStart, out double value)
        {
            foreach (var (start, v) in words)
                if (start == tokenStart + Offset) { value = v; return true; }
            value = 0;
            return false;
        }

        /// <summary>
        /// The bytes of <see cref="Original"/> that <c>Line[start..end]</c> was made from (a value whose tokens are all
        /// within it), and whether a quoted word is among them: each word quoted before a position moved it by two.
        /// </summary>
        public ReadOnlySpan<byte> OriginalOf(int start, int end, out bool hasWords)
        {
            int before = 0, within = 0;
            foreach (var (s, _) in words)
            {
                if (s < start) before++;
                else if (s < end) within++;
            }
            hasWords = within > 0;
            return original.AsSpan(start - 2 * before, end - start - 2 * within);
        }

        /// <summary>The word of a quoted token between two reader positions, for an error: "NaN", "Infinity" or "-Infinity".</summary>
        public string? FirstWithin(long from, long to)
        {
            foreach (var (start, v) in words)
                if (start >= from + Offset && start < to + Offset) return Word(v);
            return null;
        }
    }

    public delegate void LineReader(ReadOnlySpan<byte> line);

    /// <summary>The NaN Python's float('nan') is, and PostgreSQL's: the sign bit clear (.NET's double.NaN has it set, which readers print as -nan).</summary>
    public static readonly double PythonNaN = BitConverter.Int64BitsToDouble(0x7FF8_0000_0000_0000);

    public static string Word(double value) => double.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";

    /// <summary>
    /// Reads <paramref name="line"/> again through <paramref name="read"/> with its named floats quoted, when it has any;
    /// false (nothing read) when it has none, so the caller reports its first error.
    /// </summary>
    public static bool TryReadAgain(ReadOnlySpan<byte> line, LineReader read)
    {
        if (Quote(line) is not { } rewrite) return false;
        var outer = t_current;
        t_current = rewrite;
        try
        {
            read(rewrite.Line);
        }
        finally
        {
            t_current = outer;
        }
        return true;
    }

    /// <summary>The line with each bare NaN, Infinity and -Infinity that stands where a value does quoted; null when there is none.</summary>
    internal static Rewrite? Quote(ReadOnlySpan<byte> line)
    {
        List<(int Start, double Value)>? words = null;
        var output = Array.Empty<byte>();
        var written = 0;
        var copied = 0;
        var inString = false;
        byte previous = 0; // the last byte outside strings that is not white space
        for (var i = 0; i < line.Length; i++)
        {
            var b = line[i];
            if (inString)
            {
                if (b == '\\') i++;
                else if (b == '"') { inString = false; previous = b; }
                continue;
            }
            if (b == '"') { inString = true; continue; }
            if (b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') continue;
            var value = 0.0;
            var length = previous is (byte)':' or (byte)',' or (byte)'[' ? WordAt(line[i..], out value) : 0;
            if (length > 0)
            {
                words ??= [];
                if (output.Length == 0) output = new byte[line.Length + 16];
                if (output.Length < written + (i - copied) + length + 2) Array.Resize(ref output, Math.Max(output.Length * 2, written + (i - copied) + length + 2));
                line[copied..i].CopyTo(output.AsSpan(written));
                written += i - copied;
                words.Add((written, value));
                output[written++] = (byte)'"';
                line.Slice(i, length).CopyTo(output.AsSpan(written));
                written += length;
                output[written++] = (byte)'"';
                copied = i + length;
                i += length - 1;
                previous = (byte)'"';
                continue;
            }
            previous = b;
        }
        if (words is null) return null;
        if (output.Length < written + line.Length - copied) Array.Resize(ref output, written + line.Length - copied);
        line[copied..].CopyTo(output.AsSpan(written));
        written += line.Length - copied;
        return new Rewrite(output, written, words, line.ToArray());
    }

    /// <summary>The double a whole text names: exactly <c>NaN</c>, <c>Infinity</c> or <c>-Infinity</c>; else null.</summary>
    public static double? Parse(ReadOnlySpan<byte> text) =>
        text.SequenceEqual("NaN"u8) ? PythonNaN
        : text.SequenceEqual("Infinity"u8) ? double.PositiveInfinity
        : text.SequenceEqual("-Infinity"u8) ? double.NegativeInfinity
        : null;

    /// <summary>
    /// The length of the named float at the start of <paramref name="text"/> when a delimiter (or the line's end) ends
    /// it, else 0. Only the next ten bytes are looked at: called at every value position of a line that failed to
    /// parse, a search to the line's end would make a hostile line of a million '[' quadratic (hours, not milliseconds).
    /// </summary>
    private static int WordAt(ReadOnlySpan<byte> text, out double value)
    {
        value = 0;
        if (text.IsEmpty || text[0] is not ((byte)'N' or (byte)'I' or (byte)'-')) return 0;
        var window = text[..Math.Min(text.Length, 10)];
        var length = window.IndexOfAny(",}] \t\r\n"u8);
        if (length < 0)
        {
            if (window.Length < text.Length) return 0;
            length = text.Length;
        }
        value = length is 3 or 8 or 9 && Parse(text[..length]) is { } named ? named : 0;
        return value == 0 ? 0 : length;
    }
}
