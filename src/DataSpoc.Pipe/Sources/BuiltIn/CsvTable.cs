using System.Text.Json;
using System.Text.Json.Nodes;
using nietras.SeparatedValues;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>One column of a delimited-text stream: its name, its encoded JSON property name and its type.</summary>
internal sealed record TextColumn(string Name, TextColumnType Type)
{
    public JsonEncodedText Property { get; } = JsonEncodedText.Encode(Name);
}

/// <summary>
/// Reads delimited text files into one Singer stream: infers (or takes declared) column types from a sample of
/// every file, then writes each row as a typed RECORD. Files of one stream may order their columns differently;
/// columns are matched by header name.
/// </summary>
internal sealed class CsvTable(string tap, CsvFormat format, int sampleRows)
{
    /// <summary>Samples the files and returns the stream's columns, in first-seen order.</summary>
    public async Task<List<TextColumn>> InferAsync(IReadOnlyList<SourceFile> files, IReadOnlyDictionary<string, TextColumnType> declared, CancellationToken cancellationToken)
    {
        var order = new List<string>();
        var fits = new Dictionary<string, TextColumnTypes.Fits>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in files)
        {
            await using var bytes = await file.Open(cancellationToken).ConfigureAwait(false);
            using var reader = OpenReader(bytes, file);
            string[]? names = format.Header ? FileColumns(reader, file) : null;
            if (names is not null) AddColumns(names);
            var rows = 0;
            while (rows < sampleRows && Next(reader, file))
            {
                cancellationToken.ThrowIfCancellationRequested();
                Sample(reader.Current, ref names);
                rows++;
            }
        }
        foreach (var name in declared.Keys)
            if (!fits.ContainsKey(name))
                throw new TapException($"{tap} tap: a type is declared for column '{name}', which no file of the stream has (columns: {string.Join(", ", order)})");
        return order.Select(n => new TextColumn(n, declared.TryGetValue(n, out var t) ? t : TextColumnTypes.Choose(fits[n], seen.Contains(n)))).ToList();

        void AddColumns(string[] names)
        {
            foreach (var n in names)
                if (fits.TryAdd(n, TextColumnTypes.Fits.All)) order.Add(n);
        }

        void Sample(SepReader.Row row, ref string[]? names)
        {
            if (names is null)
            {
                names = CsvFormat.PositionalNames(row.ColCount);
                AddColumns(names);
            }
            var count = Math.Min(row.ColCount, names.Length);
            for (var i = 0; i < count; i++)
            {
                var cell = row[i].Span;
                if (cell.IsEmpty) continue;
                seen.Add(names[i]);
                fits[names[i]] &= TextColumnTypes.FitsOf(cell);
            }
        }
    }

    /// <summary>Writes every row of one file as RECORDs of <paramref name="stream"/>.</summary>
    public async Task<long> EmitAsync(SourceFile file, JsonEncodedText stream, IReadOnlyList<TextColumn> columns, SingerWriter writer, CancellationToken cancellationToken)
    {
        await using var bytes = await file.Open(cancellationToken).ConfigureAwait(false);
        using var reader = OpenReader(bytes, file);
        int[]? map = format.Header ? Map(FileColumns(reader, file), columns) : null;
        long rows = 0;
        while (Next(reader, file))
        {
            map ??= Map(CsvFormat.PositionalNames(reader.Current.ColCount), columns);
            WriteRow(reader.Current, map, stream, columns, writer, file);
            rows++;
            if ((rows & 255) == 0) cancellationToken.ThrowIfCancellationRequested();
            await writer.FlushIfFullAsync(cancellationToken).ConfigureAwait(false);
        }
        return rows;
    }

    private void WriteRow(SepReader.Row row, int[] map, JsonEncodedText stream, IReadOnlyList<TextColumn> columns, SingerWriter writer, SourceFile file)
    {
        if (row.ColCount != map.Length && !(row.ColCount == 1 && row[0].Span.IsEmpty))
            throw new TapException($"{tap} tap: {file.Location} line {row.LineNumberFrom}: {row.ColCount} fields where the header has {map.Length}");
        var json = writer.BeginRecord(stream);
        for (var i = 0; i < map.Length; i++)
        {
            var column = columns[map[i]];
            var cell = i < row.ColCount ? row[i].Span : [];
            if (!TextColumnTypes.TryWrite(json, column.Property, column.Type, cell))
                throw new TapException($"{tap} tap: {file.Location} line {row.LineNumberFrom} column '{column.Name}': '{Shorten(cell)}' is not a valid {TextColumnTypes.Name(column.Type)}"
                    + " (declare the column's type under streams[].types, or raise sample_rows if it was inferred)");
        }
        writer.EndRecord();
    }

    private SepReader OpenReader(Stream bytes, SourceFile file)
    {
        try
        {
            return format.Open(bytes, file.Location);
        }
        catch (Exception e) when (e is not OperationCanceledException and not TapException)
        {
            throw new TapException($"{tap} tap: cannot read {file.Location}: {e.Message}", e);
        }
    }

    private bool Next(SepReader reader, SourceFile file)
    {
        try
        {
            return reader.MoveNext();
        }
        catch (Exception e) when (e is not OperationCanceledException and not TapException)
        {
            throw new TapException($"{tap} tap: cannot parse {file.Location}: {e.Message}", e);
        }
    }

    private string[] FileColumns(SepReader reader, SourceFile file)
    {
        var names = CsvFormat.HeaderNames(reader);
        var duplicate = names.GroupBy(n => n, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new TapException($"{tap} tap: {file.Location}: the header names column '{duplicate.Key}' more than once");
        return names;
    }

    private static int[] Map(string[] fileColumns, IReadOnlyList<TextColumn> columns)
    {
        var map = new int[fileColumns.Length];
        for (var i = 0; i < fileColumns.Length; i++)
        {
            map[i] = -1;
            for (var c = 0; c < columns.Count; c++)
                if (columns[c].Name == fileColumns[i]) { map[i] = c; break; }
            if (map[i] < 0) throw new InvalidOperationException($"column '{fileColumns[i]}' was not sampled");
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
