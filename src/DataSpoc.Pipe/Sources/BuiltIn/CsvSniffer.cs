namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// Guesses a delimited file's dialect from its first rows the way DuckDB's <c>read_csv</c> sniffer does: the delimiter
/// that splits the most rows into the same number (more than one) of fields, and a header when the first row does not
/// fit the types of the rows below it (or when every column is text).
/// </summary>
internal static class CsvSniffer
{
    /// <summary>Characters the text sample holds: enough for a few hundred rows of a usual file.</summary>
    public const int SampleChars = 1 << 16;

    /// <summary>Candidates in order of preference when two split the sample equally well.</summary>
    private static readonly char[] Delimiters = [',', '|', ';', '\t'];

    private const int SampleRows = 100;

    /// <summary>
    /// The delimiter for a text sample (<paramref name="complete"/>: the sample is the whole file); lines starting with
    /// <paramref name="comment"/> are not rows, as the row reader skips them.
    /// </summary>
    public static char Delimiter(ReadOnlySpan<char> sample, char? quote, char? comment, bool complete)
    {
        var best = ',';
        (int Rows, int Columns) bestScore = (0, 0);
        Span<int> counts = stackalloc int[SampleRows];
        foreach (var delimiter in Delimiters)
        {
            var rows = FieldCounts(sample, delimiter, quote, comment, complete, counts);
            if (rows == 0) continue;
            var (columns, consistent) = Mode(counts[..rows]);
            if (columns < 2) continue;
            if (consistent > bestScore.Rows || (consistent == bestScore.Rows && columns > bestScore.Columns))
            {
                best = delimiter;
                bestScore = (consistent, columns);
            }
        }
        return best;
    }

    /// <summary>
    /// Whether the first sampled row is a header: some column typed from the rows below it (not text) cannot hold
    /// the first row's cell, or every column is text.
    /// </summary>
    public static bool HasHeader(IReadOnlyList<string[]> rows)
    {
        if (rows.Count == 0) return true;
        var first = rows[0];
        var body = rows.Count > 1 ? rows.Skip(1) : rows;
        var allText = true;
        for (var c = 0; c < first.Length; c++)
        {
            var fit = TextColumnTypes.ColumnFit.All;
            var seen = false;
            foreach (var row in body)
            {
                if (c >= row.Length || row[c].Length == 0) continue;
                fit.Add(row[c]);
                seen = true;
            }
            var (type, _) = fit.Choose(seen);
            if (type == TextColumnType.String) continue;
            allText = false;
            if (first[c].Length == 0) continue;
            var withFirst = fit;
            withFirst.Add(first[c]);
            if (withFirst.Choose(true) != fit.Choose(true)) return true;
        }
        return allText;
    }

    /// <summary>
    /// Fields per row of the sample (quoted fields may hold delimiters and line breaks; a quote opens one only at a
    /// field's start, as <see cref="CsvRowReader"/> reads it); blank lines and comment lines are skipped.
    /// </summary>
    private static int FieldCounts(ReadOnlySpan<char> text, char delimiter, char? quote, char? comment, bool complete, Span<int> counts)
    {
        var rows = 0;
        var fields = 1;
        var inQuotes = false;
        var blank = true;
        var fieldStart = true;
        var rowStart = true;
        for (var i = 0; i < text.Length && rows < counts.Length; i++)
        {
            var c = text[i];
            if (rowStart && comment is { } commentCharacter && CsvRowReader.OpensCommentLine(text[i..], commentCharacter, delimiter) == true)
            {
                // The reader skips the whole line, whatever it holds.
                var lineEnd = text[i..].IndexOfAny('\n', '\r');
                if (lineEnd < 0) break;
                i += lineEnd;
                continue;
            }
            rowStart = false;
            if (inQuotes)
            {
                if (c == quote) inQuotes = false;
                continue;
            }
            if (c == quote && fieldStart) { inQuotes = true; blank = false; fieldStart = false; }
            else if (c == delimiter) { fields++; blank = false; fieldStart = true; }
            else if (c is '\n' or '\r')
            {
                if (!blank) counts[rows++] = fields;
                fields = 1;
                blank = true;
                fieldStart = true;
                rowStart = true;
            }
            else if (c != ' ') { blank = false; fieldStart = false; }
            else blank = false;
        }
        // A sample cut short ends in a partial row, which would not count its fields right.
        if (!blank && complete && rows < counts.Length) counts[rows++] = fields;
        return rows;
    }

    /// <summary>The most frequent field count and how many rows have it (ties: the larger count).</summary>
    private static (int Columns, int Rows) Mode(ReadOnlySpan<int> counts)
    {
        var best = (Columns: 0, Rows: 0);
        foreach (var candidate in counts)
        {
            var n = 0;
            foreach (var c in counts) if (c == candidate) n++;
            if (n > best.Rows || (n == best.Rows && candidate > best.Columns)) best = (candidate, n);
        }
        return best;
    }
}
