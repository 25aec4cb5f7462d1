using System.Text.Json.Serialization;
using DataSpoc.Pipe.Parquet;
using ParquetSharp;

namespace DataSpoc.Pipe.Tables;

/// <summary>
/// What the table metadata says about one data file: where it is, its size, rows, partition date and per-column
/// statistics. Read from the finished file's footer (ParquetSharp row-group statistics), so it describes exactly the
/// bytes that land, whatever wrote them.
/// </summary>
public sealed class DataFileFacts
{
    /// <summary>The key in the bucket (the commit plan's final key).</summary>
    [JsonPropertyName("key")] public string Key { get; set; } = "";
    [JsonPropertyName("bytes")] public long Bytes { get; set; }
    [JsonPropertyName("records")] public long Records { get; set; }
    /// <summary>The partition's UTC date (<c>dt=</c>), null for the null partition or an unpartitioned table.</summary>
    [JsonPropertyName("partition_date")] public DateOnly? PartitionDate { get; set; }
    [JsonPropertyName("columns")] public List<ColumnFacts> Columns { get; set; } = [];
    /// <summary>The Delta <c>add</c> action's stats JSON, computed before the commit (<see cref="TableFormatCommitter.Prepare"/>).</summary>
    [JsonPropertyName("delta_stats")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? DeltaStats { get; set; }
}

/// <summary>One top-level-path column's statistics; bounds in Iceberg's binary single-value serialisation.</summary>
public sealed class ColumnFacts
{
    [JsonPropertyName("field_id")] public int FieldId { get; set; }
    [JsonPropertyName("name")] public string Name { get; set; } = "";
    [JsonPropertyName("values")] public long Values { get; set; }
    [JsonPropertyName("nulls")] public long? Nulls { get; set; }
    [JsonPropertyName("size")] public long Size { get; set; }
    [JsonPropertyName("lower")] public byte[]? Lower { get; set; }
    [JsonPropertyName("upper")] public byte[]? Upper { get; set; }
    /// <summary>
    /// A top-level floating-point column holds a NaN. Parquet's statistics leave NaN out of min and max, while an engine
    /// that orders NaN above every number (Spark, Delta's data skipping) would take such a max as the file's greatest
    /// value and skip the file for <c>x &gt; max</c>, though its NaN rows match there: the Delta max is left out then.
    /// </summary>
    [JsonPropertyName("has_nan")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public bool HasNaN { get; set; }
}

internal static class DataFileFooter
{
    /// <summary>
    /// Reads <paramref name="localPath"/>'s footer. Columns inside a list get no metrics (their value counts are not row
    /// counts); columns without a field id are skipped for Iceberg but keep their name for Delta.
    /// </summary>
    public static DataFileFacts Read(string localPath, string key, DateOnly? partitionDate)
    {
        using var reader = new ParquetFileReader(localPath);
        using var meta = reader.FileMetaData;
        var facts = new DataFileFacts
        {
            Key = key,
            Bytes = new FileInfo(localPath).Length,
            Records = meta.NumRows,
            PartitionDate = partitionDate,
        };
        var schema = meta.Schema;
        var columns = new ColumnFacts?[meta.NumColumns];
        var types = new ColumnType?[meta.NumColumns];
        var boundsValid = new bool[meta.NumColumns];
        var floating = new bool[meta.NumColumns];
        for (var c = 0; c < meta.NumColumns; c++)
        {
            var descriptor = schema.Column(c);
            if (descriptor.MaxRepetitionLevel > 0) continue;
            using var node = descriptor.SchemaNode;
            columns[c] = new ColumnFacts { FieldId = node.FieldId, Name = string.Join('.', descriptor.Path.ToDotVector()), Nulls = 0 };
            types[c] = ColumnType.OfParquet(descriptor);
            var path = descriptor.Path.ToDotVector();
            floating[c] = path.Length == 1 && descriptor.PhysicalType is PhysicalType.Double or PhysicalType.Float;
            boundsValid[c] = types[c] is not null;
        }
        for (var g = 0; g < meta.NumRowGroups; g++)
        {
            using var rowGroup = reader.RowGroup(g);
            var groupMeta = rowGroup.MetaData;
            for (var c = 0; c < meta.NumColumns; c++)
            {
                using var chunk = groupMeta.GetColumnChunkMetaData(c);
                if (columns[c] is not { } column) continue;
                column.Values += chunk.NumValues;
                column.Size += chunk.TotalCompressedSize;
                using var stats = chunk.IsStatsSet ? chunk.Statistics : null;
                if (stats is null) { column.Nulls = null; boundsValid[c] = false; continue; }
                column.Nulls = column.Nulls is { } n ? n + stats.NullCount : null;
                if (!stats.HasMinMax) { if (stats.NullCount != chunk.NumValues) boundsValid[c] = false; continue; }
                if (!boundsValid[c] || types[c] is not { } type) continue;
                if (type.IcebergBounds(stats) is not { } bounds) { boundsValid[c] = false; continue; }
                if (floating[c] && !column.HasNaN) column.HasNaN = HoldsNaN(rowGroup, c);
                if (column.Lower is null || type.CompareBounds(bounds.Lower, column.Lower) < 0) column.Lower = bounds.Lower;
                if (column.Upper is null || type.CompareBounds(bounds.Upper, column.Upper) > 0) column.Upper = bounds.Upper;
            }
        }
        for (var c = 0; c < meta.NumColumns; c++)
        {
            if (columns[c] is not { } column) continue;
            if (!boundsValid[c]) column.Lower = column.Upper = null;
            facts.Columns.Add(column);
        }
        return facts;
    }

    /// <summary>
    /// Whether a row group's top-level float or double column holds a NaN (read whole: the footer cannot tell), through
    /// the physical reader: the logical one is made by reflection, which a Native AOT build does not carry.
    /// </summary>
    private static bool HoldsNaN(RowGroupReader rowGroup, int column)
    {
        using var reader = rowGroup.Column(column);
        return reader switch
        {
            ColumnReader<double> doubles => Any(doubles, double.IsNaN),
            ColumnReader<float> floats => Any(floats, float.IsNaN),
            _ => false,
        };

        static bool Any<T>(ColumnReader<T> reader, Func<T, bool> isNaN) where T : unmanaged
        {
            const int batch = 65_536;
            var values = new T[batch];
            var levels = new short[batch];
            while (reader.HasNext)
            {
                if (reader.ReadBatch(batch, levels, default, values, out var read) == 0) break;
                for (var i = 0; i < read; i++) if (isNaN(values[i])) return true;
            }
            return false;
        }
    }
}
