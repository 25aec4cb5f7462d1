using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using ParquetSharp;

namespace DataSpoc.Pipe.Parquet;

/// <summary>A column's smallest and largest value in Iceberg's binary single-value serialisation (Appendix D).</summary>
internal readonly record struct ValueBounds(byte[] Lower, byte[] Upper);

/// <summary>
/// Each column type's statistics in the forms the table formats need: the bounds of a row group (read from the Parquet
/// footer, so they describe exactly the bytes that landed, whatever wrote them) in Iceberg's single-value
/// serialisation, their order, and a bound as a value of Delta's stats JSON. Null and value counts are the footer's own
/// and the same for every type.
/// </summary>
internal abstract partial class ColumnType
{
    private static Dictionary<string, ColumnType>? _byIcebergName;

    /// <summary>
    /// The type of a column of a data file, from its Parquet physical and logical types (what <see cref="ParquetNode"/>
    /// writes); null for a column no type of ours writes, which then gets no bounds.
    /// </summary>
    public static ColumnType? OfParquet(ColumnDescriptor descriptor)
    {
        using var logical = descriptor.LogicalType;
        LeafKind? kind = (descriptor.PhysicalType, logical) switch
        {
            (PhysicalType.Boolean, _) => LeafKind.Boolean,
            (PhysicalType.Int32, DateLogicalType) => LeafKind.Date,
            (PhysicalType.Int64, TimestampLogicalType) => LeafKind.Timestamp,
            (PhysicalType.Int64, TimeLogicalType) => LeafKind.Time,
            (PhysicalType.Int64, NoneLogicalType or IntLogicalType) => LeafKind.Int64,
            (PhysicalType.Double, _) => LeafKind.Double,
            (PhysicalType.ByteArray, StringLogicalType) => LeafKind.String,
            (PhysicalType.ByteArray, JsonLogicalType) => LeafKind.Json,
            (PhysicalType.FixedLenByteArray, DecimalLogicalType) => LeafKind.Decimal,
            _ => null,
        };
        return kind is { } k ? Of(k) : null;
    }

    /// <summary>
    /// The type named <paramref name="icebergName"/> in an Iceberg schema (<see cref="IcebergName"/>); a string may be a
    /// JSON column too, whose statistics are a string's. Null for a decimal (its name carries the scale; it has no Delta
    /// statistics) and for a name no type has.
    /// </summary>
    public static ColumnType? OfIcebergName(string icebergName)
    {
        var table = _byIcebergName ??= ByKind
            .Where(t => t.Kind != LeafKind.Decimal)
            .GroupBy(t => t.IcebergName(new LeafNode("", true, t.Kind)), StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        return table.GetValueOrDefault(icebergName);
    }

    /// <summary>A row group's min and max as Iceberg bounds, or null when they cannot be expressed (a NaN).</summary>
    public virtual ValueBounds? IcebergBounds(Statistics statistics) => statistics switch
    {
        Statistics<bool> b => new ValueBounds([(byte)(b.Min ? 1 : 0)], [(byte)(b.Max ? 1 : 0)]),
        Statistics<int> i => new ValueBounds(Le32(i.Min), Le32(i.Max)),
        Statistics<long> l => new ValueBounds(Le64(l.Min), Le64(l.Max)),
        Statistics<double> d => double.IsNaN(d.Min) || double.IsNaN(d.Max) ? null : new ValueBounds(BitConverter.GetBytes(d.Min), BitConverter.GetBytes(d.Max)),
        Statistics<ByteArray> s => new ValueBounds(Copy(s.Min), Copy(s.Max)),
        _ => null,
    };

    /// <summary>Orders two Iceberg bounds of this type as Parquet's sort order does (signed numbers, unsigned bytes).</summary>
    public virtual int CompareBounds(byte[] a, byte[] b) => Storage switch
    {
        ValueStorage.Ints => BinaryPrimitives.ReadInt32LittleEndian(a).CompareTo(BinaryPrimitives.ReadInt32LittleEndian(b)),
        ValueStorage.Longs => BinaryPrimitives.ReadInt64LittleEndian(a).CompareTo(BinaryPrimitives.ReadInt64LittleEndian(b)),
        ValueStorage.Doubles => BitConverter.ToDouble(a).CompareTo(BitConverter.ToDouble(b)),
        _ => a.AsSpan().SequenceCompareTo(b),
    };

    /// <summary>
    /// An Iceberg bound as a value of Delta's stats JSON (<c>minValues</c> / <c>maxValues</c>), or null when Delta keeps
    /// none for the type; <paramref name="roundUp"/> for a maximum, where a lossy form must round away from the values.
    /// </summary>
    public virtual JsonNode? DeltaStatistic(byte[] bound, bool roundUp) => null;

    private static byte[] Le32(int v)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(b, v);
        return b;
    }

    private static byte[] Le64(long v)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(b, v);
        return b;
    }

    private static byte[] Copy(ByteArray value)
    {
        var bytes = new byte[value.Length];
        if (value.Length > 0) Marshal.Copy(value.Pointer, bytes, 0, value.Length);
        return bytes;
    }

    private sealed partial class Int64Type
    {
        public override JsonNode? DeltaStatistic(byte[] bound, bool roundUp) => BinaryPrimitives.ReadInt64LittleEndian(bound);
    }

    private sealed partial class DoubleType
    {
        public override JsonNode? DeltaStatistic(byte[] bound, bool roundUp)
        {
            var d = BitConverter.ToDouble(bound);
            return double.IsFinite(d) ? d : null;
        }
    }

    /// <summary>Bounds in the fewest bytes of big-endian two's complement; Delta statistics are left out.</summary>
    private sealed partial class DecimalType
    {
        public override ValueBounds? IcebergBounds(Statistics statistics) => statistics is Statistics<FixedLenByteArray> f
            ? new ValueBounds(MinimalTwosComplement(f.Min), MinimalTwosComplement(f.Max))
            : null;

        public override int CompareBounds(byte[] a, byte[] b) =>
            new System.Numerics.BigInteger(a, isUnsigned: false, isBigEndian: true).CompareTo(new System.Numerics.BigInteger(b, isUnsigned: false, isBigEndian: true));

        /// <summary>A 16-byte big-endian two's-complement value in the fewest bytes (Appendix D's decimal serialisation).</summary>
        private static byte[] MinimalTwosComplement(FixedLenByteArray value)
        {
            var bigEndian = new byte[16];
            Marshal.Copy(value.Pointer, bigEndian, 0, bigEndian.Length);
            var start = 0;
            while (start < bigEndian.Length - 1
                   && ((bigEndian[start] == 0x00 && (bigEndian[start + 1] & 0x80) == 0) || (bigEndian[start] == 0xFF && (bigEndian[start + 1] & 0x80) != 0)))
                start++;
            return bigEndian[start..];
        }
    }

    private sealed partial class StringType
    {
        public override JsonNode? DeltaStatistic(byte[] bound, bool roundUp) => System.Text.Encoding.UTF8.GetString(bound);
    }

    private sealed partial class JsonType
    {
        public override JsonNode? DeltaStatistic(byte[] bound, bool roundUp) => System.Text.Encoding.UTF8.GetString(bound);
    }

    /// <summary>A day count outside <see cref="DateOnly"/>'s years 1..9999 (no writer of ours makes one) has no Delta form and is left out.</summary>
    private sealed partial class DateType
    {
        public override JsonNode? DeltaStatistic(byte[] bound, bool roundUp)
        {
            var dayNumber = (long)EpochDayNumber + BinaryPrimitives.ReadInt32LittleEndian(bound);
            if (dayNumber < DateOnly.MinValue.DayNumber || dayNumber > DateOnly.MaxValue.DayNumber) return null;
            return DateOnly.FromDayNumber((int)dayNumber).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        }
    }

    /// <summary>
    /// Delta's timestamps have millisecond precision: a minimum is rounded down and a maximum up (a truncated maximum
    /// would let a reader skip a file holding the value). In integers: a double holds microseconds exactly only up to
    /// 2^53 (about year 2255), past which it rounds either way. A bound that has no millisecond on its side within
    /// years 1..9999 (a maximum in the last half-millisecond of 9999) is left out, as the protocol allows: clamping it
    /// to 23:59:59.999 would put the maximum below the value.
    /// </summary>
    private sealed partial class TimestampType
    {
        private static readonly long MinMillis = (DateTime.MinValue.Ticks - DateTime.UnixEpoch.Ticks) / TimeSpan.TicksPerMillisecond;
        private static readonly long MaxMillis = (DateTime.MaxValue.Ticks - DateTime.UnixEpoch.Ticks) / TimeSpan.TicksPerMillisecond;

        public override JsonNode? DeltaStatistic(byte[] bound, bool roundUp)
        {
            var micros = BinaryPrimitives.ReadInt64LittleEndian(bound);
            var millis = Math.DivRem(micros, 1000, out var remainder); // truncated towards zero
            if (remainder < 0 && !roundUp) millis--;
            else if (remainder > 0 && roundUp) millis++;
            if (millis < MinMillis || millis > MaxMillis) return null;
            return DateTime.UnixEpoch.AddTicks(millis * TimeSpan.TicksPerMillisecond).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        }
    }
}
