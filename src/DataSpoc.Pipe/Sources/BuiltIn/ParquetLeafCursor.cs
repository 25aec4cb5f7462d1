using System.Globalization;
using System.Numerics;
using System.Text.Json;
using ParquetSharp;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// Walks one leaf column of a row group entry by entry (definition level, repetition level, value), reading it in
/// small batches so memory stays bounded whatever the row group's size. Values are written straight to JSON.
/// </summary>
internal abstract class ParquetLeafCursor : IDisposable
{
    protected const int BatchSize = 4096;
    protected readonly short[] Defs = new short[BatchSize];
    protected readonly short[] Reps = new short[BatchSize];
    protected int Count;
    protected int Position;
    protected int ValuePosition;

    protected ParquetLeafCursor(short maxDef, short maxRep)
    {
        MaxDef = maxDef;
        MaxRep = maxRep;
    }

    public short MaxDef { get; }
    public short MaxRep { get; }

    public short PeekDef()
    {
        EnsureLoaded();
        return Count == 0 ? (short)0 : Defs[Position];
    }

    /// <summary>The repetition level of the next entry, or -1 at the end of the column chunk.</summary>
    public short PeekRep()
    {
        EnsureLoaded();
        return Count == 0 ? (short)-1 : Reps[Position];
    }

    /// <summary>Writes the current entry's value (it must be defined) and advances.</summary>
    public void WriteAndAdvance(Utf8JsonWriter json)
    {
        EnsureLoaded();
        WriteValue(json, ValuePosition);
        Skip();
    }

    /// <summary>Advances past the current entry.</summary>
    public void Skip()
    {
        EnsureLoaded();
        if (Count == 0) throw new InvalidDataException("column chunk ended before the row group's rows did");
        if (Defs[Position] == MaxDef) ValuePosition++;
        Position++;
    }

    private void EnsureLoaded()
    {
        if (Position < Count) return;
        if (MaxDef == 0) Array.Clear(Defs);
        if (MaxRep == 0) Array.Clear(Reps);
        Count = (int)Load();
        Position = 0;
        ValuePosition = 0;
    }

    protected abstract long Load();
    protected abstract void WriteValue(Utf8JsonWriter json, int index);
    public abstract void Dispose();

    /// <summary>A cursor for a column, choosing how values become JSON from its physical and logical type.</summary>
    public static ParquetLeafCursor Create(ColumnReader reader, ColumnDescriptor column)
    {
        var logical = column.LogicalType;
        var converted = column.SchemaNode.ConvertedType;
        short def = column.MaxDefinitionLevel, rep = column.MaxRepetitionLevel;
        switch (reader)
        {
            case ColumnReader<bool> r: return new Cursor<bool>(r, def, rep, (j, v) => j.WriteBooleanValue(v));
            case ColumnReader<int> r:
                return logical switch
                {
                    DateLogicalType => new Cursor<int>(r, def, rep, (j, v) => j.WriteStringValue(DateOnly.FromDayNumber(719162 + v).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture))),
                    DecimalLogicalType d => new Cursor<int>(r, def, rep, (j, v) => j.WriteNumberValue(ScaledDecimal(v, d.Scale))),
                    TimeLogicalType => new Cursor<int>(r, def, rep, (j, v) => j.WriteStringValue(Time(TimeSpan.FromMilliseconds(v)))),
                    IntLogicalType { IsSigned: false } => new Cursor<int>(r, def, rep, (j, v) => j.WriteNumberValue((uint)v)),
                    _ when converted == ParquetSharp.Schema.ConvertedType.Date => new Cursor<int>(r, def, rep, (j, v) => j.WriteStringValue(DateOnly.FromDayNumber(719162 + v).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture))),
                    _ => new Cursor<int>(r, def, rep, (j, v) => j.WriteNumberValue(v)),
                };
            case ColumnReader<long> r:
                return logical switch
                {
                    TimestampLogicalType t => new Cursor<long>(r, def, rep, (j, v) => j.WriteStringValue(Timestamp(Ticks(v, t.TimeUnit)))),
                    DecimalLogicalType d => new Cursor<long>(r, def, rep, (j, v) => j.WriteNumberValue(ScaledDecimal(v, d.Scale))),
                    TimeLogicalType t => new Cursor<long>(r, def, rep, (j, v) => j.WriteStringValue(Time(TimeSpan.FromTicks(Ticks(v, t.TimeUnit))))),
                    IntLogicalType { IsSigned: false } => new Cursor<long>(r, def, rep, (j, v) => j.WriteNumberValue((ulong)v)),
                    _ when converted == ParquetSharp.Schema.ConvertedType.TimestampMicros => new Cursor<long>(r, def, rep, (j, v) => j.WriteStringValue(Timestamp(v * 10))),
                    _ when converted == ParquetSharp.Schema.ConvertedType.TimestampMillis => new Cursor<long>(r, def, rep, (j, v) => j.WriteStringValue(Timestamp(v * 10_000))),
                    _ => new Cursor<long>(r, def, rep, (j, v) => j.WriteNumberValue(v)),
                };
            case ColumnReader<Int96> r:
                return new Cursor<Int96>(r, def, rep, (j, v) =>
                {
                    var nanos = (long)(uint)v.A | ((long)v.B << 32);
                    j.WriteStringValue(Timestamp((v.C - 2440588L) * TimeSpan.TicksPerDay + nanos / 100));
                });
            case ColumnReader<float> r: return new Cursor<float>(r, def, rep, (j, v) => { if (float.IsFinite(v)) j.WriteNumberValue(v); else j.WriteNullValue(); });
            case ColumnReader<double> r: return new Cursor<double>(r, def, rep, (j, v) => { if (double.IsFinite(v)) j.WriteNumberValue(v); else j.WriteNullValue(); });
            case ColumnReader<ByteArray> r:
                return logical switch
                {
                    StringLogicalType or EnumLogicalType => new Cursor<ByteArray>(r, def, rep, (j, v) => j.WriteStringValue(Bytes(v))),
                    JsonLogicalType => new Cursor<ByteArray>(r, def, rep, (j, v) => j.WriteRawValue(Bytes(v))),
                    DecimalLogicalType d => new Cursor<ByteArray>(r, def, rep, (j, v) => j.WriteNumberValue(BigEndianDecimal(Bytes(v), d.Scale))),
                    _ when converted is ParquetSharp.Schema.ConvertedType.UTF8 or ParquetSharp.Schema.ConvertedType.Enum => new Cursor<ByteArray>(r, def, rep, (j, v) => j.WriteStringValue(Bytes(v))),
                    _ when converted is ParquetSharp.Schema.ConvertedType.Json => new Cursor<ByteArray>(r, def, rep, (j, v) => j.WriteRawValue(Bytes(v))),
                    _ => new Cursor<ByteArray>(r, def, rep, (j, v) => j.WriteBase64StringValue(Bytes(v))),
                };
            case ColumnReader<FixedLenByteArray> r:
                var length = column.TypeLength;
                return logical switch
                {
                    UuidLogicalType => new Cursor<FixedLenByteArray>(r, def, rep, (j, v) => j.WriteStringValue(new Guid(Bytes(v, length), bigEndian: true))),
                    DecimalLogicalType d => new Cursor<FixedLenByteArray>(r, def, rep, (j, v) => j.WriteNumberValue(BigEndianDecimal(Bytes(v, length), d.Scale))),
                    Float16LogicalType => new Cursor<FixedLenByteArray>(r, def, rep, (j, v) =>
                    {
                        var h = (double)BitConverter.ToHalf(Bytes(v, 2));
                        if (double.IsFinite(h)) j.WriteNumberValue(h); else j.WriteNullValue();
                    }),
                    _ => new Cursor<FixedLenByteArray>(r, def, rep, (j, v) => j.WriteBase64StringValue(Bytes(v, length))),
                };
            default:
                throw new NotSupportedException($"physical type {column.PhysicalType}");
        }
    }

    private static long Ticks(long value, TimeUnit unit) => unit switch
    {
        TimeUnit.Millis => value * TimeSpan.TicksPerMillisecond,
        TimeUnit.Micros => value * 10,
        _ => value / 100,
    };

    private static string Timestamp(long ticksSinceEpoch)
        => new DateTime(DateTime.UnixEpoch.Ticks + ticksSinceEpoch, DateTimeKind.Utc).ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    private static string Time(TimeSpan sinceMidnight) => TimeOnly.FromTimeSpan(sinceMidnight).ToString("HH:mm:ss.ffffff", CultureInfo.InvariantCulture);

    private static decimal ScaledDecimal(long unscaled, int scale)
    {
        var magnitude = unscaled == long.MinValue ? (ulong)long.MaxValue + 1 : (ulong)Math.Abs(unscaled);
        return new decimal((int)(uint)magnitude, (int)(uint)(magnitude >> 32), 0, unscaled < 0, (byte)scale);
    }

    private static decimal BigEndianDecimal(ReadOnlySpan<byte> bytes, int scale)
    {
        var unscaled = new BigInteger(bytes, isUnsigned: false, isBigEndian: true);
        // decimal holds 96 bits: values beyond (about 28 digits) cannot be represented exactly.
        if (BigInteger.Abs(unscaled) > new BigInteger(decimal.MaxValue)) throw new OverflowException($"decimal value with {unscaled.ToString(CultureInfo.InvariantCulture).Length} digits does not fit");
        return (decimal)unscaled / Pow10(scale);
    }

    private static decimal Pow10(int scale)
    {
        var p = 1m;
        for (var i = 0; i < scale; i++) p *= 10;
        return p;
    }

    private static unsafe ReadOnlySpan<byte> Bytes(ByteArray value) => new((void*)value.Pointer, value.Length);

    private static unsafe ReadOnlySpan<byte> Bytes(FixedLenByteArray value, int length) => new((void*)value.Pointer, length);

    private sealed class Cursor<T>(ColumnReader<T> reader, short maxDef, short maxRep, Action<Utf8JsonWriter, T> write) : ParquetLeafCursor(maxDef, maxRep)
        where T : unmanaged
    {
        // Byte-array values point into the reader's page buffer, valid until the next ReadBatch: they are written before it.
        private readonly T[] _values = new T[BatchSize];

        protected override long Load() => reader.HasNext ? reader.ReadBatch(BatchSize, Defs, Reps, _values, out _) : 0;

        protected override void WriteValue(Utf8JsonWriter json, int index) => write(json, _values[index]);

        public override void Dispose() => reader.Dispose();
    }
}
