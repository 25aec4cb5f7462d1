using Parquet;
using Parquet.Schema;
using ParquetSharp;
using ParquetSharp.IO;

namespace DataSpoc.Pipe.Benchmarks;

/// <summary>ParquetSharp's dictionary settings compared (its default dictionary-encodes every column until the dictionary page passes 1 MB).</summary>
public enum DictionaryPolicy { LibraryDefault, SmallPageLimit, OffForHighCardinality }

/// <summary>Writes the narrow columns as one Parquet file with each library's lowest-level typed API.</summary>
public static class ParquetWriters
{
    /// <summary>Rows per row group for both libraries (large groups; bounded so a writer's buffers stay bounded).</summary>
    public const int RowGroupRows = 262_144;

    public static void WriteWithParquetSharp(NarrowColumns data, ParquetCodec codec, Stream output,
        DictionaryPolicy dictionary = DictionaryPolicy.LibraryDefault)
    {
        var columns = new Column[]
        {
            new Column<long?>("id"), new Column<string>("name"), new Column<string>("note"), new Column<double?>("amount"),
            new Column<bool?>("flag"), new Column<string>("status"),
            new Column<DateTime?>("created_at", LogicalType.Timestamp(isAdjustedToUtc: true, TimeUnit.Micros)),
            new Column<long?>("qty"),
        };
        using var builder = new WriterPropertiesBuilder();
        if (codec == ParquetCodec.Snappy) builder.Compression(ParquetSharp.Compression.Snappy);
        else builder.Compression(ParquetSharp.Compression.Zstd).CompressionLevel(codec == ParquetCodec.Zstd1 ? 1 : 3);
        switch (dictionary)
        {
            case DictionaryPolicy.SmallPageLimit:
                builder.DictionaryPagesizeLimit(64 * 1024);
                break;
            case DictionaryPolicy.OffForHighCardinality:
                // What a writer can decide from a sample of the first row group: these columns are ~all distinct.
                foreach (var column in new[] { "id", "amount", "created_at" }) builder.DisableDictionary(column);
                break;
        }
        using var properties = builder.Build();
        using var stream = new ManagedOutputStream(output, leaveOpen: true);
        using var writer = new ParquetFileWriter(stream, columns, properties);
        for (var start = 0; start < data.Rows; start += RowGroupRows)
        {
            var n = Math.Min(RowGroupRows, data.Rows - start);
            var present = data.AllPresent.AsSpan(start, n);
            using var rowGroup = writer.AppendRowGroup();
            using (var w = (ColumnWriter<long>)rowGroup.NextColumn()) w.WriteBatch(n, present, default, data.Id.AsSpan(start, n));
            WriteText(rowGroup, data.Name, start, n);
            WriteText(rowGroup, data.Note, start, n);
            using (var w = (ColumnWriter<double>)rowGroup.NextColumn()) w.WriteBatch(n, present, default, data.Amount.AsSpan(start, n));
            using (var w = (ColumnWriter<bool>)rowGroup.NextColumn()) w.WriteBatch(n, present, default, data.Flag.AsSpan(start, n));
            WriteText(rowGroup, data.Status, start, n);
            using (var w = (ColumnWriter<long>)rowGroup.NextColumn()) w.WriteBatch(n, present, default, data.CreatedAtMicros.AsSpan(start, n));
            using (var w = (ColumnWriter<long>)rowGroup.NextColumn()) w.WriteBatch(n, present, default, data.Qty.AsSpan(start, n));
        }
        writer.Close();
    }

    private static void WriteText(RowGroupWriter rowGroup, TextColumn column, int start, int n)
    {
        var first = column.NonNullBefore[start];
        var count = column.NonNullBefore[start + n] - first;
        using var w = (ColumnWriter<ByteArray>)rowGroup.NextColumn();
        w.WriteBatch(n, column.DefinitionLevels.AsSpan(start, n), default, column.ByteArrays.AsSpan(first, count));
    }

    private static readonly DataField IdField = new DataField<long?>("id");
    private static readonly DataField NameField = new DataField<string>("name", true);
    private static readonly DataField NoteField = new DataField<string>("note", true);
    private static readonly DataField AmountField = new DataField<double?>("amount");
    private static readonly DataField FlagField = new DataField<bool?>("flag");
    private static readonly DataField StatusField = new DataField<string>("status", true);
    private static readonly DataField CreatedAtField =
        new DateTimeDataField("created_at", DateTimeFormat.Timestamp, isAdjustedToUTC: true, unit: DateTimeTimeUnit.Micros, isNullable: true);
    private static readonly DataField QtyField = new DataField<long?>("qty");
    private static readonly ParquetSchema NetSchema =
        new(IdField, NameField, NoteField, AmountField, FlagField, StatusField, CreatedAtField, QtyField);

    public static async Task WriteWithParquetNetAsync(NarrowColumns data, ParquetCodec codec, Stream output)
    {
        var options = new ParquetOptions
        {
            CompressionMethod = codec == ParquetCodec.Snappy ? CompressionMethod.Snappy : CompressionMethod.Zstd,
            // Parquet.Net takes System.IO.Compression's levels: Fastest is zstd 1, Optimal zstd 3; its default,
            // SmallestSize, is zstd 19 (very slow).
            CompressionLevel = codec == ParquetCodec.Zstd1 ? System.IO.Compression.CompressionLevel.Fastest : System.IO.Compression.CompressionLevel.Optimal,
        };
        await using var writer = await ParquetWriter.CreateAsync(NetSchema, output, options);
        for (var start = 0; start < data.Rows; start += RowGroupRows)
        {
            var n = Math.Min(RowGroupRows, data.Rows - start);
            var present = data.AllPresentInt.AsMemory(start, n);
            using var rowGroup = writer.CreateRowGroup();
            await rowGroup.WriteAllPartsAsync<long>(IdField, data.Id.AsMemory(start, n), present, null, default);
            await WriteTextAsync(rowGroup, NameField, data.Name, start, n);
            await WriteTextAsync(rowGroup, NoteField, data.Note, start, n);
            await rowGroup.WriteAllPartsAsync<double>(AmountField, data.Amount.AsMemory(start, n), present, null, default);
            await rowGroup.WriteAllPartsAsync<bool>(FlagField, data.Flag.AsMemory(start, n), present, null, default);
            await WriteTextAsync(rowGroup, StatusField, data.Status, start, n);
            await rowGroup.WriteAllPartsAsync<DateTime>(CreatedAtField, data.CreatedAtUtc.AsMemory(start, n), present, null, default);
            await rowGroup.WriteAllPartsAsync<long>(QtyField, data.Qty.AsMemory(start, n), present, null, default);
            rowGroup.CompleteValidate();
        }
    }

    private static Task WriteTextAsync(ParquetRowGroupWriter rowGroup, DataField field, TextColumn column, int start, int n)
    {
        var first = column.NonNullBefore[start];
        var count = column.NonNullBefore[start + n] - first;
        return rowGroup.WriteAllPartsAsync<ReadOnlyMemory<char>>(field, column.Chars.AsMemory(first, count), column.DefinitionLevelsInt.AsMemory(start, n), null, default);
    }
}
