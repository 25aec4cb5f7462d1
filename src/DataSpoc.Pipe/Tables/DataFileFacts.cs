using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json.Serialization;
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
        var boundsValid = new bool[meta.NumColumns];
        for (var c = 0; c < meta.NumColumns; c++)
        {
            var descriptor = schema.Column(c);
            if (descriptor.MaxRepetitionLevel > 0) continue;
            using var node = descriptor.SchemaNode;
            columns[c] = new ColumnFacts { FieldId = node.FieldId, Name = string.Join('.', descriptor.Path.ToDotVector()), Nulls = 0 };
            boundsValid[c] = true;
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
                if (!boundsValid[c]) continue;
                var descriptor = schema.Column(c);
                if (Bounds(stats, descriptor) is not { } bounds) { boundsValid[c] = false; continue; }
                if (column.Lower is null || Compare(descriptor, bounds.Lower, column.Lower) < 0) column.Lower = bounds.Lower;
                if (column.Upper is null || Compare(descriptor, bounds.Upper, column.Upper) > 0) column.Upper = bounds.Upper;
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

    private sealed record Bound(byte[] Lower, byte[] Upper);

    /// <summary>Min and max in Iceberg's binary single-value serialisation (Appendix D), or null when not representable.</summary>
    private static Bound? Bounds(Statistics stats, ColumnDescriptor descriptor)
    {
        using var logical = descriptor.LogicalType;
        switch (stats)
        {
            case Statistics<bool> b: return new Bound([(byte)(b.Min ? 1 : 0)], [(byte)(b.Max ? 1 : 0)]);
            case Statistics<int> i: return new Bound(Le32(i.Min), Le32(i.Max));
            case Statistics<long> l: return new Bound(Le64(l.Min), Le64(l.Max));
            case Statistics<double> d:
                return double.IsNaN(d.Min) || double.IsNaN(d.Max) ? null : new Bound(BitConverter.GetBytes(d.Min), BitConverter.GetBytes(d.Max));
            case Statistics<ByteArray> s: return new Bound(Copy(s.Min), Copy(s.Max));
            case Statistics<FixedLenByteArray> f when logical is DecimalLogicalType:
                return new Bound(MinimalTwosComplement(Copy(f.Min, descriptor.TypeLength)), MinimalTwosComplement(Copy(f.Max, descriptor.TypeLength)));
            default: return null;
        }
    }

    private static byte[] Le32(int v) { var b = new byte[4]; BinaryPrimitives.WriteInt32LittleEndian(b, v); return b; }
    private static byte[] Le64(long v) { var b = new byte[8]; BinaryPrimitives.WriteInt64LittleEndian(b, v); return b; }

    private static byte[] Copy(ByteArray value)
    {
        var bytes = new byte[value.Length];
        if (value.Length > 0) Marshal.Copy(value.Pointer, bytes, 0, value.Length);
        return bytes;
    }

    private static byte[] Copy(FixedLenByteArray value, int length)
    {
        var bytes = new byte[length];
        Marshal.Copy(value.Pointer, bytes, 0, length);
        return bytes;
    }

    /// <summary>A big-endian two's-complement integer in the fewest bytes (Appendix D's decimal serialisation).</summary>
    private static byte[] MinimalTwosComplement(byte[] bigEndian)
    {
        var start = 0;
        while (start < bigEndian.Length - 1
               && ((bigEndian[start] == 0x00 && (bigEndian[start + 1] & 0x80) == 0) || (bigEndian[start] == 0xFF && (bigEndian[start + 1] & 0x80) != 0)))
            start++;
        return bigEndian[start..];
    }

    /// <summary>Orders two bounds of a column as its Parquet sort order does (signed numbers, unsigned bytes).</summary>
    private static int Compare(ColumnDescriptor descriptor, byte[] a, byte[] b)
    {
        switch (descriptor.PhysicalType)
        {
            case PhysicalType.Int32: return BinaryPrimitives.ReadInt32LittleEndian(a).CompareTo(BinaryPrimitives.ReadInt32LittleEndian(b));
            case PhysicalType.Int64: return BinaryPrimitives.ReadInt64LittleEndian(a).CompareTo(BinaryPrimitives.ReadInt64LittleEndian(b));
            case PhysicalType.Double: return BitConverter.ToDouble(a).CompareTo(BitConverter.ToDouble(b));
            case PhysicalType.Boolean: return a[0].CompareTo(b[0]);
            case PhysicalType.FixedLenByteArray: return new System.Numerics.BigInteger(a, isUnsigned: false, isBigEndian: true).CompareTo(new System.Numerics.BigInteger(b, isUnsigned: false, isBigEndian: true));
            default: return a.AsSpan().SequenceCompareTo(b);
        }
    }
}
