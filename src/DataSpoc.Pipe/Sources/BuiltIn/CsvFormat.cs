using System.IO.Compression;
using System.Text;
using nietras.SeparatedValues;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// How delimited text is read: delimiter, quoting, encoding and whether the first row is a header.
/// Parsing is Sep's (measured about 2x Sylvan.Data.Csv on 1M rows); Sep quotes only with <c>"</c>, so
/// <c>quote</c> may be <c>"</c> (default) or empty (no quoting).
/// </summary>
internal sealed record CsvFormat(char Delimiter, bool Quoted, Encoding Encoding, bool Header)
{
    static CsvFormat() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    public static CsvFormat Default { get; } = new(',', true, new UTF8Encoding(false), true);

    public static CsvFormat From(TapConfig config, string tap)
    {
        var delimiterText = config.String("delimiter") ?? ",";
        if (delimiterText is "\\t" or "tab") delimiterText = "\t";
        if (delimiterText.Length != 1) throw new TapException($"{tap} tap: config key 'delimiter' must be one character (got {delimiterText.Length})");
        var quote = config.Json.ContainsKey("quote") ? config.String("quote") ?? "" : "\"";
        if (quote is not ("\"" or "")) throw new TapException($"{tap} tap: config key 'quote' must be '\"' or '' (no quoting)");
        Encoding encoding;
        var encodingName = config.String("encoding") ?? "utf-8";
        try
        {
            encoding = encodingName.Replace("-", "", StringComparison.Ordinal).Equals("utf8", StringComparison.OrdinalIgnoreCase) ? new UTF8Encoding(false) : Encoding.GetEncoding(encodingName);
        }
        catch (ArgumentException)
        {
            throw new TapException($"{tap} tap: config key 'encoding' names an unknown encoding '{encodingName}'");
        }
        return new CsvFormat(delimiterText[0], quote.Length == 1, encoding, config.Bool("header") ?? true);
    }

    /// <summary>Opens a Sep reader over a file's bytes (gunzipped when the name ends in <c>.gz</c>).</summary>
    public SepReader Open(Stream bytes, string location)
    {
        if (location.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)) bytes = new GZipStream(bytes, CompressionMode.Decompress);
        var text = new StreamReader(bytes, Encoding, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
        return Sep.New(Delimiter).Reader(o => o with
        {
            HasHeader = Header,
            Unescape = Quoted,
            DisableQuotesParsing = !Quoted,
            DisableColCountCheck = true,
        }).From(text);
    }

    /// <summary>The column names of a file's header row (blank names become <c>col_N</c>).</summary>
    public static string[] HeaderNames(SepReader reader)
    {
        var names = reader.Header.ColNames.ToArray();
        for (var i = 0; i < names.Length; i++)
            if (string.IsNullOrWhiteSpace(names[i])) names[i] = $"col_{i + 1}";
        return names;
    }

    /// <summary>Column names for a file without a header: <c>col_1</c>, <c>col_2</c>, …</summary>
    public static string[] PositionalNames(int count) => Enumerable.Range(1, count).Select(i => $"col_{i}").ToArray();
}
