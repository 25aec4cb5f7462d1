using System.Text.Json;
using DataSpoc.Pipe.Parquet;
using ParquetSharp;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// Reads a local Parquet file's rows as JSON record objects, row group by row group (memory bounded by the cursors'
/// small batches, whatever the file's size), with the values the built-in parquet tap sends. Where rows must be JSON:
/// the merge re-shreds a rewritten file's rows with the run's writer (the one write path every file goes through), and
/// a BATCH message's Parquet files are read as records.
/// </summary>
internal static class ParquetRows
{
    /// <summary>A row as a JSON object, and its number in the file (from 0).</summary>
    public delegate void RowHandler(ReadOnlySpan<byte> json, long row);

    /// <summary>
    /// Calls <paramref name="onRow"/> for every row of the row groups <paramref name="readGroup"/> accepts (all when null),
    /// with only the top-level fields in <paramref name="fields"/> (all when null); absent fields are left out. A value
    /// that cannot be read is an <see cref="InvalidDataException"/> naming <paramref name="location"/> (the file's path
    /// when null), the row group, the row and the column. With <paramref name="namedFloatsAsStrings"/> NaN and the
    /// infinities, flat or in lists, are the strings a number column reads back as those doubles (see
    /// <see cref="JsonValueWriter.NamedFloatsAsStrings"/>); else null.
    /// </summary>
    public static void ForEach(string path, IReadOnlySet<string>? fields, Func<RowGroupReader, bool>? readGroup, RowHandler onRow,
        string? location = null, CancellationToken cancellationToken = default, bool namedFloatsAsStrings = false)
    {
        using var reader = new ParquetFileReader(path);
        using var metadata = reader.FileMetaData;
        var shapes = ParquetShape.Of(metadata.Schema).Where(s => fields is null || fields.Contains(s.Name)).ToList();
        var json = new JsonValueWriter { NamedFloatsAsStrings = namedFloatsAsStrings };
        long first = 0;
        for (var g = 0; g < metadata.NumRowGroups; g++)
        {
            using var rowGroup = reader.RowGroup(g);
            var rows = rowGroup.MetaData.NumRows;
            if (readGroup is not null && !readGroup(rowGroup)) { first += rows; continue; }
            var cursors = new ParquetLeafCursor[metadata.NumColumns];
            try
            {
                foreach (var shape in shapes)
                    foreach (var c in shape.Leaves)
                        cursors[c] = ParquetLeafCursor.Create(rowGroup.Column(c), metadata.Schema.Column(c));
                for (long row = 0; row < rows; row++)
                {
                    json.Reset();
                    json.Writer.WriteStartObject();
                    foreach (var shape in shapes)
                    {
                        json.Writer.WritePropertyName(shape.Property);
                        try { shape.Write(json, cursors); }
                        catch (Exception e) when (ParquetFailure.IsUnreadable(e))
                        {
                            throw new InvalidDataException($"{location ?? path} row group {g} row {row} column '{shape.Name}': {ParquetFailure.Reason(e)}", e);
                        }
                    }
                    json.Writer.WriteEndObject();
                    onRow(json.Written, first + row);
                    if ((row & 1023) == 0) cancellationToken.ThrowIfCancellationRequested();
                }
            }
            catch (ParquetException e)
            {
                // Opening a column chunk: its metadata or first page is damaged.
                throw new InvalidDataException($"{location ?? path} row group {g}: {ParquetFailure.Reason(e)}", e);
            }
            finally
            {
                foreach (var cursor in cursors) cursor?.Dispose();
            }
            first += rows;
        }
    }
}
