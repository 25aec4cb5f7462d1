using System.Text;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// How delimited text is read: delimiter, quoting, encoding and whether the first row is a header. A delimiter or
/// header left out of the config is sniffed per file (<see cref="CsvSniffer"/>), as DuckDB's <c>read_csv</c> does.
/// Rows are read by <see cref="CsvRowReader"/> (a quote only opens a quoted field at the field's start, as DuckDB reads
/// it); <c>quote</c> is one character (default <c>"</c>) or empty (no quoting), <c>escape</c> the character before a
/// quote inside a quoted field (default: the quote, written twice). <c>skip_rows</c> lines above the header and
/// lines starting with the <c>comment</c> character are not read.
/// The encoding decodes strictly: a byte that is not valid in it is an error, never a silent U+FFFD. With no
/// <c>encoding</c> configured (<see cref="EncodingDeclared"/> false), a file that starts with a UTF-16 byte order mark, or
/// whose start is plainly UTF-16 text without one (<see cref="Utf16ByNulBytes"/>), is read as UTF-16.
/// </summary>
internal sealed record CsvFormat(char? Delimiter, char? Quote, Encoding Encoding, bool? Header)
{
    public char? Escape { get; init; }

    public int SkipRows { get; init; }

    public char? Comment { get; init; }

    public bool Quoted => Quote is not null;

    static CsvFormat() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    /// <summary>UTF-8 that throws on invalid bytes; its preamble makes a reader skip a leading byte order mark.</summary>
    private static readonly Encoding StrictUtf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: true, throwOnInvalidBytes: true);

    /// <summary>UTF-16 that throws on invalid bytes (a lone surrogate); its preamble makes a reader skip the byte order mark.</summary>
    private static readonly Encoding StrictUtf16 = new UnicodeEncoding(bigEndian: false, byteOrderMark: true, throwOnInvalidBytes: true);
    private static readonly Encoding StrictUtf16BigEndian = new UnicodeEncoding(bigEndian: true, byteOrderMark: true, throwOnInvalidBytes: true);

    /// <summary>Whether <c>encoding</c> was configured; if not, a UTF-16 byte order mark or UTF-16's NUL bytes decide.</summary>
    public bool EncodingDeclared { get; init; }

    /// <summary>The tap whose config this is, for errors.</summary>
    public string Tap { get; init; } = "csv";

    /// <summary>Bytes read ahead at the start of a file for its byte order mark and to tell UTF-16 text by its NUL bytes.</summary>
    public const int StartBytes = 4096;

    public static CsvFormat Default { get; } = new(',', '"', StrictUtf8, true);

    /// <summary>The config keys <see cref="From"/> reads.</summary>
    public static readonly string[] ConfigKeys = ["delimiter", "quote", "escape", "skip_rows", "comment", "encoding", "header"];

    public static CsvFormat From(TapConfig config, string tap)
    {
        var delimiterText = config.String("delimiter");
        if (delimiterText is "\\t" or "tab") delimiterText = "\t";
        if (delimiterText is "auto") delimiterText = null;
        if (delimiterText is not null && delimiterText.Length != 1) throw TapException.Configuration($"{tap} tap: config key 'delimiter' must be one character (got {delimiterText.Length})");
        var quote = config.Json.ContainsKey("quote") ? config.String("quote") ?? "" : "\"";
        if (quote.Length > 1) throw TapException.Configuration($"{tap} tap: config key 'quote' must be one character, or '' (no quoting)");
        var skipRows = config.Int("skip_rows") ?? 0;
        if (skipRows < 0) throw config.Wrong("skip_rows", "0 or more");
        var encoding = config.String("encoding");
        var format = new CsvFormat(delimiterText?[0], quote.Length == 1 ? quote[0] : null, EncodingNamed(encoding ?? "utf-8", tap), config.Bool("header"))
        {
            EncodingDeclared = encoding is not null,
            Tap = tap,
            Escape = OneCharacter(config, "escape", tap),
            SkipRows = skipRows,
            Comment = OneCharacter(config, "comment", tap),
        };
        format.RefuseCollidingCharacters();
        return format;
    }

    /// <summary>
    /// Fails when two of the characters that structure a file are the same (a comment character equal to the quote
    /// would silently drop every row starting with a quoted field) or one is a line break. An escape equal to the
    /// quote is the default (the quote written twice).
    /// </summary>
    private void RefuseCollidingCharacters()
    {
        (string Key, char? Value)[] keys = [("delimiter", Delimiter), ("quote", Quote), ("escape", Escape == Quote ? null : Escape), ("comment", Comment)];
        foreach (var (key, value) in keys)
        {
            var other = keys.FirstOrDefault(k => k.Key != key && k.Value is not null && k.Value == value);
            if (value is '\n' or '\r' || other.Key is not null)
                throw TapException.Configuration($"{Tap} tap: config keys quote, escape, comment and delimiter must differ; none may be a line break (" +
                    (other.Key is null ? $"{key} is {Shown(value!.Value)}" : $"{key} and {other.Key} are both {Shown(value!.Value)}") + ")");
        }

        static string Shown(char c) => c switch { '\n' => "\\n", '\r' => "\\r", '\t' => "\\t", _ => $"'{c}'" };
    }

    private static char? OneCharacter(TapConfig config, string key, string tap)
    {
        var text = config.String(key);
        if (string.IsNullOrEmpty(text)) return null;
        if (text.Length != 1) throw TapException.Configuration($"{tap} tap: config key '{key}' must be one character (got '{text}')");
        return text[0];
    }

    /// <summary>The strict decoder for an encoding name: utf-8 (default), latin-1 / iso-8859-1, windows-1252, utf-16, or another code page .NET knows.</summary>
    private static Encoding EncodingNamed(string name, string tap)
    {
        var key = name.Replace("-", "", StringComparison.Ordinal).Replace("_", "", StringComparison.Ordinal).ToLowerInvariant();
        if (key is "utf8") return StrictUtf8;
        if (key is "latin1" or "iso88591" or "l1") return Latin1WithoutControls.Instance;
        if (key is "utf16" or "utf16le") return StrictUtf16;
        if (key is "utf16be") return StrictUtf16BigEndian;
        if (key is "cp1252") name = "windows-1252";
        try
        {
            return Encoding.GetEncoding(name, EncoderFallback.ExceptionFallback, DecoderFallback.ExceptionFallback);
        }
        catch (ArgumentException)
        {
            throw TapException.Configuration($"{tap} tap: config key 'encoding' names an unknown encoding '{name}' (use utf-8, latin-1, windows-1252 or utf-16)");
        }
    }

    /// <summary>An encoding's name as a user writes it in <c>encoding:</c>.</summary>
    public static string NameOf(Encoding encoding) => encoding is UTF8Encoding ? "utf-8" : encoding.CodePage == 28591 ? "latin-1" : encoding.WebName.ToLowerInvariant();

    /// <summary>
    /// The encoding a file that starts with <paramref name="start"/> is decoded with: the configured one, or, with none
    /// configured, strict UTF-16 when the file starts with its byte order mark (FF FE little-endian, FE FF big-endian)
    /// or its first bytes are plainly UTF-16 text without one.
    /// </summary>
    public Encoding EncodingOf(ReadOnlySpan<byte> start)
    {
        if (EncodingDeclared) return Encoding;
        if (start.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE])) return StrictUtf16;
        if (start.StartsWith((ReadOnlySpan<byte>)[0xFE, 0xFF])) return StrictUtf16BigEndian;
        return Utf16ByNulBytes(start) ?? Encoding;
    }

    /// <summary>
    /// UTF-16 (little- or big-endian) when the first <see cref="StartBytes"/> bytes of a file without a byte order mark
    /// are plainly UTF-16 text: at least three quarters of their 2-byte units are a Latin-1 text character (a NUL byte
    /// and a byte that is neither NUL nor a control other than tab, CR, LF) with the NUL on the same side, and no unit
    /// has its NUL on the other side. Such text read as utf-8 would hold a NUL between every two characters. Null when
    /// the bytes do not say so unambiguously (then <see cref="RefuseUtf16ReadAsBytes"/> names the encoding to set).
    /// </summary>
    private static Encoding? Utf16ByNulBytes(ReadOnlySpan<byte> start)
    {
        start = start[..(Math.Min(start.Length, StartBytes) & ~1)];
        int littleEndian = 0, bigEndian = 0;
        for (var i = 0; i < start.Length; i += 2)
        {
            byte first = start[i], second = start[i + 1];
            if (second == 0 && IsText(first)) littleEndian++;
            else if (first == 0 && IsText(second)) bigEndian++;
        }
        var units = start.Length / 2;
        if (units == 0 || Math.Min(littleEndian, bigEndian) > 0) return null;
        if (littleEndian * 4 >= units * 3) return StrictUtf16;
        if (bigEndian * 4 >= units * 3) return StrictUtf16BigEndian;
        return null;

        static bool IsText(byte b) => b is >= 0x20 and not (>= 0x7F and <= 0x9F) or (byte)'\t' or (byte)'\n' or (byte)'\r';
    }

    /// <summary>A file's decoded text (<paramref name="bytes"/> already decompressed: <see cref="SourceFile.OpenContentAsync"/>).</summary>
    public TextReader OpenText(Stream bytes, string location)
    {
        var start = new byte[StartBytes];
        var length = bytes.ReadAtLeast(start, start.Length, throwOnEndOfStream: false);
        var encoding = EncodingOf(start.AsSpan(0, length));
        RefuseUtf16ReadAsBytes(start.AsSpan(0, length), encoding, location);
        // No .NET byte-order-mark detection: it would switch to a decoder that replaces invalid bytes.
        return new StreamReader(new StartThenRest(start, length, bytes), encoding, detectEncodingFromByteOrderMarks: false, bufferSize: 1 << 16);
    }

    /// <summary>
    /// Fails when a file decoded with UTF-8 or a one-byte encoding is UTF-16 text: every other byte of its ASCII is
    /// NUL, which would land in every value. A stray NUL or two in a file is kept, as DuckDB keeps it.
    /// </summary>
    private void RefuseUtf16ReadAsBytes(ReadOnlySpan<byte> start, Encoding encoding, string location)
    {
        if (encoding is not UTF8Encoding && !encoding.IsSingleByte) return;
        var nuls = start.Count((byte)0);
        if (nuls < 2 || nuls * 4 < start.Length) return;
        var first = start.IndexOf((byte)0);
        var lineStart = start[..first].LastIndexOf((byte)'\n') + 1;
        var line = start[..first].Count((byte)'\n') + 1;
        var before = start[lineStart..first];
        if (lineStart == 0 && before.StartsWith(encoding.Preamble)) before = before[encoding.Preamble.Length..];
        int column;
        try
        {
            column = encoding.GetCharCount(before) + 1;
        }
        catch (DecoderFallbackException)
        {
            column = before.Length + 1;
        }
        // UTF-16 puts an ASCII character's NUL after it (little-endian) or before it (big-endian).
        var fix = first % 2 == 1 ? "utf-16le" : "utf-16be";
        throw new TapException($"{Tap} tap: {location} line {line} column {column}: encoding: NUL bytes ({nuls} of the first {start.Length}) in text read as {NameOf(encoding)}: " +
            $"the file looks like UTF-16 (set encoding: {fix})");
    }

    /// <summary>The bytes read ahead at the start of a file, then the rest of it.</summary>
    private sealed class StartThenRest(byte[] start, int length, Stream rest) : ReadOnlyStream
    {
        private int _at;

        public override int Read(Span<byte> buffer)
        {
            if (_at == length) return rest.Read(buffer);
            var count = Math.Min(buffer.Length, length - _at);
            start.AsSpan(_at, count).CopyTo(buffer);
            _at += count;
            return count;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        protected override void Dispose(bool disposing)
        {
            if (disposing) rest.Dispose();
            base.Dispose(disposing);
        }
    }

    /// <summary>
    /// ISO-8859-1 that refuses bytes 0x80-0x9F. Latin-1 reads them as C1 control characters, invisible in any value; a
    /// file holding them is in practice Windows-1252 (€, curly quotes), so they fail the run, as DuckDB's latin-1 does.
    /// </summary>
    internal sealed class Latin1WithoutControls() : Encoding(28591)
    {
        public static Latin1WithoutControls Instance { get; } = new();

        public static bool IsControl(byte b) => b is >= 0x80 and <= 0x9F;

        public override bool IsSingleByte => true;
        public override int GetByteCount(char[] chars, int index, int count) => Latin1.GetByteCount(chars, index, count);
        public override int GetBytes(char[] chars, int charIndex, int charCount, byte[] bytes, int byteIndex) => Latin1.GetBytes(chars, charIndex, charCount, bytes, byteIndex);
        public override int GetCharCount(byte[] bytes, int index, int count) => count;
        public override int GetCharCount(ReadOnlySpan<byte> bytes) => bytes.Length;
        public override int GetChars(byte[] bytes, int byteIndex, int byteCount, char[] chars, int charIndex) => GetChars(bytes.AsSpan(byteIndex, byteCount), chars.AsSpan(charIndex));
        public override int GetMaxByteCount(int charCount) => charCount;
        public override int GetMaxCharCount(int byteCount) => byteCount;

        public override int GetChars(ReadOnlySpan<byte> bytes, Span<char> chars)
        {
            var control = bytes.IndexOfAnyInRange((byte)0x80, (byte)0x9F);
            if (control >= 0) throw new DecoderFallbackException($"byte 0x{bytes[control]:X2} is a C1 control character in latin-1", [bytes[control]], control);
            return Latin1.GetChars(bytes, chars);
        }
    }

    /// <summary>Opens a row reader over a file with the given delimiter and escape (sniffed when not configured); every row, the header too, is read as data.</summary>
    public CsvRowReader Open(Stream bytes, string location, char delimiter, char? escape) =>
        new(OpenText(bytes, location), delimiter, Quote, escape, SkipRows, Comment);

    /// <summary>
    /// The column names of a header row, as DuckDB's <c>read_csv</c> names them: spaces around a name are trimmed (and
    /// quotes after such spaces removed: <c> "full name" </c> is <c>full name</c>); a repeated name gets <c>_1</c>,
    /// <c>_2</c>, …, repeats found ignoring case (<c>name,Name</c> gives <c>name</c>, <c>Name_1</c>: Parquet readers take
    /// names that differ only in case for one column). Blank names become <c>col_N</c>.
    /// </summary>
    public static string[] HeaderNames(IReadOnlyList<string> cells, bool quoted = true)
    {
        var names = new string[cells.Count];
        var used = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < names.Length; i++)
        {
            var cell = cells[i].Trim(' ');
            if (quoted && cell is ['"', .., '"'] && cell.Length >= 2) cell = cell[1..^1].Replace("\"\"", "\"", StringComparison.Ordinal).Trim(' ');
            var name = string.IsNullOrWhiteSpace(cell) ? $"col_{i + 1}" : cell;
            var unique = name;
            for (var n = 1; !used.Add(unique); n++) unique = $"{name}_{n}";
            names[i] = unique;
        }
        return names;
    }

    /// <summary>Column names for a file declared (<c>header: false</c>) to have no header: <c>col_1</c>, <c>col_2</c>, …</summary>
    public static string[] PositionalNames(int count) => Enumerable.Range(1, count).Select(i => $"col_{i}").ToArray();

    /// <summary>Column names for a file sniffed to have no header, as DuckDB names them: <c>column0</c>, … (<c>column00</c>, … from 10 columns).</summary>
    public static string[] SniffedNames(int count)
    {
        var digits = (Math.Max(count, 1) - 1).ToString(System.Globalization.CultureInfo.InvariantCulture).Length;
        return Enumerable.Range(0, count).Select(i => "column" + i.ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(digits, '0')).ToArray();
    }
}
