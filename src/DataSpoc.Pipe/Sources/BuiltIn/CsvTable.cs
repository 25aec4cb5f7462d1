using System.Text.Json.Nodes;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// One column of a delimited-text stream: its name, its type and, for a date or date-time, the format its cells are
/// written in.
/// </summary>
internal sealed record TextColumn(string Name, TextColumnType Type, DateFormat Format = default);

/// <summary>
/// Reads delimited text files into one Singer stream: sniffs each file's delimiter and header (unless configured),
/// infers (or takes declared) column types from a sample of every file, then hands each row over as typed values
/// (each cell parsed once, straight into its column's type).
/// Files of one stream may order their columns differently; columns are matched by header name.
/// </summary>
internal sealed class CsvTable(string tap, CsvFormat format, int sampleRows)
{
    /// <summary>
    /// What was sniffed per file during inference, so that writing reads each file the same way; a sniffed escape is
    /// named (with the line it was sniffed from) after a quoting error.
    /// </summary>
    private readonly Dictionary<string, FileLayout> _layouts = new(StringComparer.Ordinal);

    private sealed record FileLayout(char Delimiter, char? Escape, bool Header, string[]? Names, string SniffedEscape = "");

    /// <summary>
    /// Samples the files and returns the stream's columns, in first-seen order; <paramref name="notice"/> hears of an
    /// inferred column whose values land rounded.
    /// </summary>
    public async Task<List<TextColumn>> InferAsync(IReadOnlyList<SourceFile> files, IReadOnlyDictionary<string, TextColumnType> declared, CancellationToken cancellationToken,
        Action<string>? notice = null)
    {
        var order = new List<string>();
        var fits = new Dictionary<string, TextColumnTypes.ColumnFit>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        // Where each column's first whole number that a DOUBLE rounds was sampled (file and line), for the notice.
        var firstRounded = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in files)
        {
            var (layout, rows, lines) = await SampleAsync(file, cancellationToken).ConfigureAwait(false);
            var names = layout.Names;
            if (names is not null) AddColumns(names);
            for (var r = layout.Header ? 1 : 0; r < rows.Count; r++)
            {
                var row = rows[r];
                if (names is null)
                {
                    names = UnnamedColumns(row.Length);
                    AddColumns(names);
                }
                var count = Math.Min(row.Length, names.Length);
                for (var i = 0; i < count; i++)
                {
                    if (row[i].Length == 0) continue;
                    seen.Add(names[i]);
                    var fit = fits[names[i]];
                    fit.Add(row[i]);
                    if (fit.RoundedWholes == 1) firstRounded.TryAdd(names[i], $"{file.Location} line {lines[r]}");
                    fits[names[i]] = fit;
                }
            }
        }
        foreach (var name in declared.Keys)
            if (!fits.ContainsKey(name))
                throw new TapException($"{tap} tap: a type is declared for column '{name}', which no file of the stream has (columns: {string.Join(", ", order)})");
        // DuckDB reads a whole file with one date format and one date-time format (ISO 8601 is always read): the first
        // column that needs one sets it, and a later column in another format is text.
        DateFormat? fileDate = null, fileDateTime = null;
        return order.Select(n =>
        {
            var (type, dateFormat) = fits[n].Choose(seen.Contains(n));
            if (type == TextColumnType.Date && !dateFormat.IsIso) (type, dateFormat) = OneFormat(ref fileDate, fits[n].Dates, fits[n].DateSeparator, type, dateFormat);
            if (type == TextColumnType.DateTime && !dateFormat.IsIso) (type, dateFormat) = OneFormat(ref fileDateTime, fits[n].DateTimes, fits[n].DateTimeSeparator, type, dateFormat);
            if (declared.TryGetValue(n, out var declaredType))
            {
                // A declared date keeps the format its cells were sampled in; other declared types need none.
                if (declaredType != type) dateFormat = declaredType == TextColumnType.Date && (fits[n].Types & TextColumnTypes.Fits.Date) != 0 ? DateFormat.First(fits[n].Dates, fits[n].DateSeparator)
                    : declaredType == TextColumnType.DateTime && (fits[n].Types & TextColumnTypes.Fits.DateTime) != 0 ? DateFormat.First(fits[n].DateTimes, fits[n].DateTimeSeparator)
                    : DateFormat.Iso;
                type = declaredType;
            }
            else if (type == TextColumnType.Number && fits[n].RoundedWholes > 0)
                notice?.Invoke(RoundedWholesNotice(n, fits[n], firstRounded[n]));
            return new TextColumn(n, type, dateFormat);
        }).ToList();

        static (TextColumnType, DateFormat) OneFormat(ref DateFormat? chosen, DateOrders fits, char separator, TextColumnType type, DateFormat preferred)
        {
            chosen ??= preferred;
            return chosen.Value.Separator == separator && fits.HasFlag(chosen.Value.Order) ? (type, chosen.Value) : (TextColumnType.String, DateFormat.Iso);
        }

        static string RoundedWholesNotice(string column, TextColumnTypes.ColumnFit fit, string firstAt) =>
            $"column '{column}' lands as DOUBLE (" + (fit.WholeBeyondDecimal
                ? $"it holds whole numbers of more than {TextColumnTypes.MaxWholeDigits} digits, beyond DECIMAL({TextColumnTypes.MaxWholeDigits},0)"
                : "it holds whole numbers and decimals") +
            $"): {fit.RoundedWholes} sampled whole number(s) past 2^53 are rounded to about 17 digits, the first at {firstAt}: " +
            $"{fit.FirstRoundedWhole} lands as {TextColumnTypes.AsDouble(fit.FirstRoundedWhole!)} (declare it string under streams[].types to keep every digit)";

        void AddColumns(string[] names)
        {
            foreach (var n in names)
                if (fits.TryAdd(n, TextColumnTypes.ColumnFit.All)) order.Add(n);
        }
    }

    /// <summary>
    /// Sniffs a file's delimiter (from its first characters), escape and header (from its first rows), and returns
    /// those rows.
    /// </summary>
    private async Task<(FileLayout Layout, List<string[]> Rows, List<long> Lines)> SampleAsync(SourceFile file, CancellationToken cancellationToken)
    {
        try
        {
            var delimiter = format.Delimiter ?? await SniffDelimiterAsync(file, cancellationToken).ConfigureAwait(false);
            var escape = format.Escape;
            var sniffedEscape = "";
            List<string[]> rows;
            List<long> lines;
            try
            {
                (rows, lines) = await SampleRowsAsync(file, delimiter, escape, sniffedEscape, cancellationToken).ConfigureAwait(false);
            }
            catch (TapException e) when (e.InnerException is CsvSyntaxException { EscapedQuote: true } syntax && escape is null)
            {
                // As DuckDB's sniffer: a sample that fails to read where a quoted field holds \" is read with \ as the
                // escape, which then holds for the whole file.
                escape = '\\';
                sniffedEscape = $" (the escape \\ was sniffed from line {syntax.EscapedQuoteLine}, where a quoted field holds \\\"; set escape: \"\\\"\" if quotes are only written twice)";
                (rows, lines) = await SampleRowsAsync(file, delimiter, escape, sniffedEscape, cancellationToken).ConfigureAwait(false);
            }
            var header = format.Header ?? CsvSniffer.HasHeader(rows);
            var layout = new FileLayout(delimiter, escape, header, header ? CsvFormat.HeaderNames(rows.Count > 0 ? rows[0] : [], format.Quoted) : null, sniffedEscape);
            _layouts[file.Location] = layout;
            return (layout, rows, lines);
        }
        catch (System.Text.DecoderFallbackException)
        {
            throw await EncodingErrorAsync(file, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Characters of text the sample of one file holds at most (past the header and one row): its rows are kept as
    /// strings until the types are chosen, so 20,480 rows of long text would otherwise take gigabytes.
    /// </summary>
    internal const long SampleChars = 1 << 24;

    /// <summary>
    /// The first rows of a file (up to <c>sampleRows</c> and the header, and up to <see cref="SampleChars"/>), blank
    /// lines left out, and the line each starts on.
    /// </summary>
    private async Task<(List<string[]> Rows, List<long> Lines)> SampleRowsAsync(SourceFile file, char delimiter, char? escape, string sniffedEscape, CancellationToken cancellationToken)
    {
        var rows = new List<string[]>();
        var lines = new List<long>();
        long chars = 0;
        await using var bytes = await file.OpenContentAsync(cancellationToken).ConfigureAwait(false);
        using var reader = OpenReader(bytes, file, delimiter, escape);
        while (rows.Count <= sampleRows && (chars < SampleChars || rows.Count < 2) && Next(reader, file, sniffedEscape))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var cells = new string[reader.ColCount];
            for (var i = 0; i < cells.Length; i++) chars += (cells[i] = reader[i].ToString()).Length;
            // A blank line is no row (as the reader reports it: one empty field).
            if (cells is [""]) continue;
            rows.Add(cells);
            lines.Add(reader.LineNumberFrom);
        }
        return (rows, lines);
    }

    private async Task<char> SniffDelimiterAsync(SourceFile file, CancellationToken cancellationToken)
    {
        await using var bytes = await file.OpenContentAsync(cancellationToken).ConfigureAwait(false);
        using var text = OpenText(bytes, file);
        // The lines skip_rows skips are no rows (a title or report block is often split by another character);
        // TextReader ends a line at \n, \r\n or a lone \r, as the row reader does.
        for (var skipped = 0; skipped < format.SkipRows; skipped++)
            if (await text.ReadLineAsync(cancellationToken).ConfigureAwait(false) is null) break;
        var sample = new char[CsvSniffer.SampleChars];
        var length = 0;
        int read;
        while (length < sample.Length && (read = await text.ReadAsync(sample.AsMemory(length), cancellationToken).ConfigureAwait(false)) > 0) length += read;
        return CsvSniffer.Delimiter(sample.AsSpan(0, length), format.Quote, format.Comment, complete: length < sample.Length);
    }

    /// <summary>Names for the columns of a file without a header.</summary>
    private string[] UnnamedColumns(int count) => format.Header == false ? CsvFormat.PositionalNames(count) : CsvFormat.SniffedNames(count);

    /// <summary>
    /// The columns of <paramref name="stream"/> that are read: those the catalog selects (<c>source.select</c>), and the
    /// key columns whatever it says. None is an error naming the stream and its columns.
    /// </summary>
    public List<TextColumn> Extracted(List<TextColumn> columns, string stream, IReadOnlyList<string> keyProperties, TapCatalog selection)
    {
        var kept = columns.Where(c => selection.Extracts(stream, c.Name, keyProperties)).ToList();
        if (kept.Count == 0 && columns.Count > 0)
            throw new TapException($"{tap} tap: stream '{stream}': the catalog selects none of its columns ({string.Join(", ", columns.Select(c => c.Name))}): select at least one");
        return kept;
    }

    /// <summary>
    /// Writes every row of one file to <paramref name="rows"/>, the writer of a stream whose schema is
    /// <see cref="Schema"/> of <paramref name="columns"/> (so a column's index is its property index). The cells of
    /// <paramref name="leftOut"/> columns (the catalog does not select them) are skipped, not even parsed.
    /// </summary>
    public async Task<long> EmitAsync(string stream, SourceFile file, RowWriter rows, IReadOnlyList<TextColumn> columns, RecordSink sink, CancellationToken cancellationToken,
        IReadOnlyCollection<string>? leftOut = null)
    {
        // Per column: date-times and times whose digits past the microsecond were cut, which the run log names.
        var cut = new long[columns.Count];
        try
        {
            if (!_layouts.TryGetValue(file.Location, out var layout)) layout = (await SampleAsync(file, cancellationToken).ConfigureAwait(false)).Layout;
            await using var bytes = await file.OpenContentAsync(cancellationToken).ConfigureAwait(false);
            using var reader = OpenReader(bytes, file, layout.Delimiter, layout.Escape);
            var headerPending = layout.Header;
            int[]? map = null;
            long count = 0;
            while (Next(reader, file, layout.SniffedEscape))
            {
                if (headerPending)
                {
                    // The header row (the first non-blank one) names the columns; it was read and checked when sampling.
                    if (reader.ColCount == 1 && reader[0].IsEmpty) continue;
                    headerPending = false;
                    map = Map(layout.Names!, columns, leftOut);
                    continue;
                }
                map ??= Map(UnnamedColumns(reader.ColCount), columns, leftOut);
                if (!WriteRow(reader, map, rows, columns, file, cut)) continue;
                count++;
                if ((count & 255) == 0) cancellationToken.ThrowIfCancellationRequested();
                await sink.FlushIfFullAsync(cancellationToken).ConfigureAwait(false);
            }
            for (var c = 0; c < cut.Length; c++)
                if (cut[c] > 0) sink.WriteNotice(Parquet.TemporalParser.CutToMicrosecondNotice(stream, file.Location, columns[c].Name, cut[c]));
            return count;
        }
        catch (System.Text.DecoderFallbackException)
        {
            throw await EncodingErrorAsync(file, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Writes one row; a blank line (of a file with more than one column) is no row.</summary>
    private bool WriteRow(CsvRowReader row, int[] map, RowWriter rows, IReadOnlyList<TextColumn> columns, SourceFile file, long[] cut)
    {
        if (row.ColCount == 1 && row[0].IsEmpty && map.Length != 1) return false;
        if (row.ColCount != map.Length)
            throw new TapException($"{tap} tap: {file.Location} line {row.LineNumberFrom}: {row.ColCount} fields where the header has {map.Length}{FieldCountCause(row, map.Length)}");
        rows.BeginRow();
        for (var i = 0; i < map.Length; i++)
        {
            if (map[i] < 0) continue;
            var column = columns[map[i]];
            var cell = row[i];
            if (!TextColumnTypes.TryWrite(rows, map[i], column.Type, cell, column.Format, out var cutDigits))
                throw new TapException($"{tap} tap: {file.Location} line {row.LineNumberFrom} column '{column.Name}': '{Shorten(cell)}' is not a valid {TextColumnTypes.Name(column.Type)}"
                    + (column.Format.IsIso ? "" : $" in the format {column.Format}")
                    + " (declare the column's type under streams[].types, or raise sample_rows if it was inferred)");
            if (cutDigits) cut[map[i]]++;
        }
        rows.EndRow();
        return true;
    }

    /// <summary>
    /// The place of the first byte that is not valid in the file's encoding, found by decoding the file again one
    /// byte at a time (only after decoding failed, so the fast path pays nothing for it).
    /// </summary>
    private async Task<TapException> EncodingErrorAsync(SourceFile file, CancellationToken cancellationToken)
    {
        await using var bytes = await file.OpenContentAsync(cancellationToken).ConfigureAwait(false);
        var buffer = new byte[1 << 16];
        var read = await bytes.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        var encoding = format.EncodingOf(buffer.AsSpan(0, read));
        var name = CsvFormat.NameOf(encoding);
        var hint = $"(set encoding: in the tap config to the file's encoding, e.g. \"encoding\": \"windows-1252\", \"latin-1\" or \"utf-16\"; it is {name})";
        var decoder = encoding.GetDecoder();
        var chars = new char[4];
        var pending = new List<byte>(4);
        long line = 1, column = 1;
        var afterCr = false;
        // A byte order mark is skipped by the reader, so it takes no column.
        var start = buffer.AsSpan(0, read).StartsWith(encoding.Preamble) ? encoding.Preamble.Length : 0;
        for (; read > 0; read = await bytes.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false), start = 0)
        {
            for (var i = start; i < read; i++)
            {
                pending.Add(buffer[i]);
                int produced;
                try
                {
                    produced = decoder.GetChars(buffer, i, 1, chars, 0, flush: false);
                }
                catch (System.Text.DecoderFallbackException e)
                {
                    return Located(line, column, e.BytesUnknown is { Length: > 0 } unknown ? [.. unknown] : pending);
                }
                if (produced == 0) continue;
                pending.Clear();
                // Lines end as the row reader ends them (\n, \r\n or a lone \r) and columns count UTF-16 units, as its errors do.
                for (var k = 0; k < produced; k++)
                {
                    if (chars[k] == '\r' || (chars[k] == '\n' && !afterCr)) { line++; column = 1; }
                    else if (chars[k] != '\n') column++;
                    afterCr = chars[k] == '\r';
                }
            }
        }
        try
        {
            decoder.GetChars([], 0, 0, chars, 0, flush: true);
        }
        catch (System.Text.DecoderFallbackException e)
        {
            return Located(line, column, e.BytesUnknown is { Length: > 0 } unknown ? [.. unknown] : pending);
        }
        return new TapException($"{tap} tap: {file.Location}: encoding: the file is not valid {name} {hint}");

        TapException Located(long atLine, long atColumn, List<byte> sequence) =>
            new($"{tap} tap: {file.Location} line {atLine} column {atColumn}: encoding: " + (encoding is CsvFormat.Latin1WithoutControls && sequence is [var control] && CsvFormat.Latin1WithoutControls.IsControl(control)
                // Latin-1 maps these bytes to invisible C1 controls; the Windows-1252 superset maps them to €, “, ” and the like.
                ? $"byte 0x{control:X2} is a C1 control character in latin-1, not text: the file is probably windows-1252 (set encoding: windows-1252)"
                : $"bytes {string.Join(" ", sequence.Select(b => $"0x{b:X2}"))} are not valid {name} {hint}"));
    }

    private TextReader OpenText(Stream bytes, SourceFile file)
    {
        try
        {
            return format.OpenText(bytes, file.Location);
        }
        // A damaged gzip file's error names it already.
        catch (Exception e) when (e is not OperationCanceledException and not TapException and not InvalidDataException)
        {
            throw new TapException($"{tap} tap: cannot read {file.Location}: {e.Message}", e);
        }
    }

    private CsvRowReader OpenReader(Stream bytes, SourceFile file, char delimiter, char? escape)
    {
        try
        {
            return format.Open(bytes, file.Location, delimiter, escape);
        }
        catch (Exception e) when (e is not OperationCanceledException and not TapException and not System.Text.DecoderFallbackException and not InvalidDataException)
        {
            throw new TapException($"{tap} tap: cannot read {file.Location}: {e.Message}", e);
        }
    }

    private bool Next(CsvRowReader reader, SourceFile file, string sniffedEscape)
    {
        try
        {
            return reader.MoveNext();
        }
        catch (CsvSyntaxException e)
        {
            throw new TapException($"{tap} tap: {file.Location} {e.Message}{sniffedEscape}", e);
        }
        catch (Exception e) when (e is not OperationCanceledException and not TapException and not System.Text.DecoderFallbackException)
        {
            throw new TapException($"{tap} tap: cannot parse {file.Location}: {e.Message}", e);
        }
    }

    /// <summary>The likely cause of a row's wrong field count, when its fields show one: a quote, or lines above the header.</summary>
    private string FieldCountCause(CsvRowReader row, int headerFields)
    {
        if (row.HasQuotedField && row.LineNumberTo > row.LineNumberFrom)
            return $" (a quoted field runs from line {row.LineNumberFrom} to line {row.LineNumberTo}: a stray quote? set quote: \"\" if the file does not quote fields)";
        for (var i = 0; i < row.ColCount; i++)
        {
            var field = row[i].TrimStart(' ');
            if (field.Length > 0 && field[0] is '\'' or '"' && field[0] != format.Quote)
                return $" (field {i + 1} starts with {field[0]}: is it the file's quote? set quote: \"{(field[0] == '"' ? "\\\"" : field[0])}\")";
        }
        if (headerFields == 1 && row.ColCount > 1)
            return " (the header has 1 field: a title or comment line above it? set skip_rows: or comment: in the tap config)";
        return "";
    }

    /// <summary>For each of a file's columns, its index in <paramref name="columns"/>, or -1 for one <paramref name="leftOut"/>.</summary>
    private static int[] Map(string[] fileColumns, IReadOnlyList<TextColumn> columns, IReadOnlyCollection<string>? leftOut)
    {
        var map = new int[fileColumns.Length];
        for (var i = 0; i < fileColumns.Length; i++)
        {
            map[i] = -1;
            for (var c = 0; c < columns.Count; c++)
                if (columns[c].Name == fileColumns[i]) { map[i] = c; break; }
            if (map[i] < 0 && leftOut?.Contains(fileColumns[i]) != true) throw new InvalidOperationException($"column '{fileColumns[i]}' was not sampled");
        }
        return map;
    }

    private static string Shorten(ReadOnlySpan<char> cell) => cell.Length <= 60 ? cell.ToString() : cell[..60].ToString() + "…";

    /// <summary>The stream's JSON Schema.</summary>
    public static JsonObject Schema(IReadOnlyList<TextColumn> columns)
    {
        var properties = new JsonObject();
        foreach (var c in columns) properties[c.Name] = TextColumnTypes.Schema(c.Type);
        return new JsonObject { ["type"] = "object", ["properties"] = properties };
    }
}
