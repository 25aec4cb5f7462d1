using System.Text;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// How delimited text is read: delimiter, quoting, encoding and whether the first row is a header. A delimiter or
/// header left out of the config is sniffed per file (<see cref="CsvSniffer"/>), as DuckDB's <c>read_csv</c> does.
/// Rows are read by <see cref="CsvRowReader"/> (a quote only opens a quoted field at the field's start, as DuckDB reads
/// it); <c>quote</c> is one character (default <c>"</c>) or empty (no quoting), <c>escape</c> the character before a
/// quote inside a quoted field (default: the quote, written twice). <c>skip_rows</c> lines above the header and
/// lines starting with the <c>comment</c> character are not read.
/// The encoding decodes strictly: a byte that is not valid in it is an error, never a silent U+FFFD.
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

    public static CsvFormat Default { get; } = new(',', '"', StrictUtf8, true);

    public static CsvFormat From(TapConfig config, string tap)
    {
        var delimiterText = config.String("delimiter");
        if (delimiterText is "\\t" or "tab") delimiterText = "\t";
        if (delimiterText is "auto") delimiterText = null;
        if (delimiterText is not null && delimiterText.Length != 1) throw new TapException($"{tap} tap: config key 'delimiter' must be one character (got {delimiterText.Length})");
        var quote = config.Json.ContainsKey("quote") ? config.String("quote") ?? "" : "\"";
        if (quote.Length > 1) throw new TapException($"{tap} tap: config key 'quote' must be one character, or '' (no quoting)");
        var skipRows = config.Int("skip_rows") ?? 0;
        if (skipRows < 0) throw config.Wrong("skip_rows", "0 or more");
        return new CsvFormat(delimiterText?[0], quote.Length == 1 ? quote[0] : null, EncodingNamed(config.String("encoding") ?? "utf-8", tap), config.Bool("header"))
        {
            Escape = OneCharacter(config, "escape", tap),
            SkipRows = skipRows,
            Comment = OneCharacter(config, "comment", tap),
        };
    }

    private static char? OneCharacter(TapConfig config, string key, string tap)
    {
        var text = config.String(key);
        if (string.IsNullOrEmpty(text)) return null;
        if (text.Length != 1) throw new TapException($"{tap} tap: config key '{key}' must be one character (got '{text}')");
        return text[0];
    }

    /// <summary>The strict decoder for an encoding name: utf-8 (default), latin-1 / iso-8859-1, windows-1252, or another code page .NET knows.</summary>
    private static Encoding EncodingNamed(string name, string tap)
    {
        var key = name.Replace("-", "", StringComparison.Ordinal).Replace("_", "", StringComparison.Ordinal).ToLowerInvariant();
        if (key is "utf8") return StrictUtf8;
        if (key is "latin1" or "iso88591" or "l1") return Encoding.Latin1;
        if (key is "cp1252") name = "windows-1252";
        try
        {
            return Encoding.GetEncoding(name, EncoderFallback.ExceptionFallback, DecoderFallback.ExceptionFallback);
        }
        catch (ArgumentException)
        {
            throw new TapException($"{tap} tap: config key 'encoding' names an unknown encoding '{name}' (use utf-8, latin-1 or windows-1252)");
        }
    }

    /// <summary>The encoding's name as a user writes it in <c>encoding:</c>.</summary>
    public string EncodingName => Encoding is UTF8Encoding ? "utf-8" : Encoding.CodePage == 28591 ? "latin-1" : Encoding.WebName;

    /// <summary>A file's decoded text (<paramref name="bytes"/> already decompressed: <see cref="SourceFile.OpenContentAsync"/>).</summary>
    public TextReader OpenText(Stream bytes, string location)
    {
        // No byte-order-mark detection: it would switch to a decoder that replaces invalid bytes.
        return new StreamReader(bytes, Encoding, detectEncodingFromByteOrderMarks: false, bufferSize: 1 << 16);
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
