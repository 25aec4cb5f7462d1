using System.Globalization;
using System.Numerics;
using System.Text.Json;
using ParquetSharp;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// Walks one leaf column of a row group entry by entry (definition level, repetition level, value), reading it in
/// small batches so memory stays bounded whatever the row group's size. Values are handed to a <see cref="RowWriter"/>
/// as typed values, each in the form the value's Singer JSON text would be read back as (a float as the double its
/// shortest text parses to, instants and times to the microsecond).
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

    /// <summary>
    /// Values read so far whose digits past the microsecond were dropped (a nanosecond timestamp or time, Spark's INT96
    /// timestamps): the lake's instants and times hold microseconds. The parquet tap says so in the run log.
    /// </summary>
    public long SubMicrosecondValues => _subMicrosecond;
    private long _subMicrosecond;

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

    /// <summary>Writes the current entry's value (it must be defined) as <paramref name="property"/> and advances.</summary>
    public void WriteAndAdvance(RowWriter row, int property)
    {
        EnsureLoaded();
        WriteValue(row, property, ValuePosition);
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
    protected abstract void WriteValue(RowWriter row, int property, int index);
    public abstract void Dispose();

    /// <summary>A cursor for a column, choosing how values are handed over from its physical and logical type.</summary>
    public static ParquetLeafCursor Create(ColumnReader reader, ColumnDescriptor column)
    {
        var logical = column.LogicalType;
        var converted = column.SchemaNode.ConvertedType;
        short def = column.MaxDefinitionLevel, rep = column.MaxRepetitionLevel;
        switch (reader)
        {
            case ColumnReader<bool> r: return new Cursor<bool>(r, def, rep, (w, p, v) => w.Bool(p, v));
            case ColumnReader<int> r:
                return logical switch
                {
                    DateLogicalType => new Cursor<int>(r, def, rep, (w, p, v) => w.Date(p, Date(v))),
                    DecimalLogicalType d => new Cursor<int>(r, def, rep, (w, p, v) => w.Decimal(p, ScaledDecimal(v, d.Scale))),
                    TimeLogicalType => new Cursor<int>(r, def, rep, (w, p, v) => w.Time(p, Time(Ticks(v, TimeUnit.Millis)))),
                    IntLogicalType { IsSigned: false } => new Cursor<int>(r, def, rep, (w, p, v) => w.Long(p, (uint)v)),
                    _ when converted == ParquetSharp.Schema.ConvertedType.Date => new Cursor<int>(r, def, rep, (w, p, v) => w.Date(p, Date(v))),
                    _ => new Cursor<int>(r, def, rep, (w, p, v) => w.Long(p, v)),
                };
            case ColumnReader<long> r when logical is TimestampLogicalType { TimeUnit: TimeUnit.Nanos } or TimeLogicalType { TimeUnit: TimeUnit.Nanos }:
            {
                Cursor<long>? nanos = null;
                nanos = logical is TimestampLogicalType
                    ? new Cursor<long>(r, def, rep, (w, p, v) => { CountSubMicrosecond(nanos!, v); w.Timestamp(p, Timestamp(v / 100)); })
                    : new Cursor<long>(r, def, rep, (w, p, v) => { CountSubMicrosecond(nanos!, v); w.Time(p, Time(v / 100)); });
                return nanos;
            }
            case ColumnReader<long> r:
                return logical switch
                {
                    TimestampLogicalType t => new Cursor<long>(r, def, rep, (w, p, v) => w.Timestamp(p, Timestamp(Ticks(v, t.TimeUnit)))),
                    DecimalLogicalType d => new Cursor<long>(r, def, rep, (w, p, v) => w.Decimal(p, ScaledDecimal(v, d.Scale))),
                    TimeLogicalType t => new Cursor<long>(r, def, rep, (w, p, v) => w.Time(p, Time(Ticks(v, t.TimeUnit)))),
                    IntLogicalType { IsSigned: false } => new Cursor<long>(r, def, rep, (w, p, v) => UnsignedLong(w, p, (ulong)v)),
                    _ when converted == ParquetSharp.Schema.ConvertedType.TimestampMicros => new Cursor<long>(r, def, rep, (w, p, v) => w.Timestamp(p, Timestamp(Ticks(v, TimeUnit.Micros)))),
                    _ when converted == ParquetSharp.Schema.ConvertedType.TimestampMillis => new Cursor<long>(r, def, rep, (w, p, v) => w.Timestamp(p, Timestamp(Ticks(v, TimeUnit.Millis)))),
                    _ => new Cursor<long>(r, def, rep, (w, p, v) => w.Long(p, v)),
                };
            case ColumnReader<Int96> r:
            {
                Cursor<Int96>? int96 = null;
                int96 = new Cursor<Int96>(r, def, rep, (w, p, v) =>
                {
                    var nanos = (long)(uint)v.A | ((long)v.B << 32);
                    CountSubMicrosecond(int96!, nanos);
                    w.Timestamp(p, Timestamp(Scaled(v.C - 2440588L, TimeSpan.TicksPerDay, "days") + nanos / 100));
                });
                return int96;
            }
            case ColumnReader<float> r: return new Cursor<float>(r, def, rep, (w, p, v) => w.Double(p, float.IsFinite(v) ? AsJsonDouble(v) : v));
            case ColumnReader<double> r: return new Cursor<double>(r, def, rep, (w, p, v) => w.Double(p, v));
            case ColumnReader<ByteArray> r:
                return logical switch
                {
                    StringLogicalType or EnumLogicalType => new Cursor<ByteArray>(r, def, rep, (w, p, v) => w.Utf8String(p, Utf8(Bytes(v)))),
                    JsonLogicalType => new Cursor<ByteArray>(r, def, rep, (w, p, v) => w.Json(p, JsonText(Bytes(v)))),
                    DecimalLogicalType d => new Cursor<ByteArray>(r, def, rep, (w, p, v) => BigEndianDecimal(w, p, Bytes(v), d.Scale)),
                    _ when converted is ParquetSharp.Schema.ConvertedType.UTF8 or ParquetSharp.Schema.ConvertedType.Enum => new Cursor<ByteArray>(r, def, rep, (w, p, v) => w.Utf8String(p, Utf8(Bytes(v)))),
                    _ when converted is ParquetSharp.Schema.ConvertedType.Json => new Cursor<ByteArray>(r, def, rep, (w, p, v) => w.Json(p, JsonText(Bytes(v)))),
                    _ => new Cursor<ByteArray>(r, def, rep, (w, p, v) => w.Base64(p, Bytes(v))),
                };
            case ColumnReader<FixedLenByteArray> r:
                var length = column.TypeLength;
                return logical switch
                {
                    UuidLogicalType => new Cursor<FixedLenByteArray>(r, def, rep, (w, p, v) => Uuid(w, p, new Guid(Bytes(v, length), bigEndian: true))),
                    DecimalLogicalType d => new Cursor<FixedLenByteArray>(r, def, rep, (w, p, v) => BigEndianDecimal(w, p, Bytes(v, length), d.Scale)),
                    Float16LogicalType => new Cursor<FixedLenByteArray>(r, def, rep, (w, p, v) =>
                    {
                        w.Double(p, (double)BitConverter.ToHalf(Bytes(v, 2)));
                    }),
                    _ when converted == ParquetSharp.Schema.ConvertedType.Interval && length == 12 => new Cursor<FixedLenByteArray>(r, def, rep, (w, p, v) => Interval(w, p, Bytes(v, 12))),
                    _ => new Cursor<FixedLenByteArray>(r, def, rep, (w, p, v) => w.Base64(p, Bytes(v, length))),
                };
            default:
                throw new NotSupportedException($"physical type {column.PhysicalType}");
        }
    }

    /// <summary>
    /// A float as the double its shortest text reads back as (1.1f is 1.1, not 1.100000023841858): the value a float
    /// has had in the lake since floats went through Singer JSON.
    /// </summary>
    private static double AsJsonDouble(float value)
    {
        Span<byte> text = stackalloc byte[32];
        value.TryFormat(text, out var written, provider: CultureInfo.InvariantCulture);
        return double.Parse(text[..written], NumberStyles.Float, CultureInfo.InvariantCulture);
    }

    /// <summary>An unsigned 64-bit value; one beyond a long goes as its digits, which an integer column refuses as the JSON path does.</summary>
    private static void UnsignedLong(RowWriter row, int property, ulong value)
    {
        if (value <= long.MaxValue)
        {
            row.Long(property, (long)value);
            return;
        }
        Span<byte> digits = stackalloc byte[20];
        value.TryFormat(digits, out var written, provider: CultureInfo.InvariantCulture);
        row.Json(property, digits[..written]);
    }

    private static void CountSubMicrosecond(ParquetLeafCursor cursor, long nanoseconds)
    {
        if (nanoseconds % 1000 != 0) cursor._subMicrosecond++;
    }

    /// <summary>
    /// Parquet's INTERVAL (three little-endian unsigned 32-bit numbers: months, days, milliseconds) as the text DuckDB
    /// prints for it (<c>1 year 2 months 3 days 04:05:06.007</c>, <c>00:00:00</c> when zero), which DuckDB and PostgreSQL
    /// both read back with <c>::INTERVAL</c>; its raw bytes mean nothing to a reader.
    /// </summary>
    internal static string IntervalText(ReadOnlySpan<byte> bytes)
    {
        var months = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(bytes);
        var days = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(bytes[4..]);
        var millis = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]);
        var text = new System.Text.StringBuilder();
        void Part(long n, string unit)
        {
            if (n == 0) return;
            if (text.Length > 0) text.Append(' ');
            text.Append(n.ToString(CultureInfo.InvariantCulture)).Append(' ').Append(unit).Append(n == 1 ? "" : "s");
        }
        Part(months / 12, "year");
        Part(months % 12, "month");
        Part(days, "day");
        if (millis != 0 || text.Length == 0)
        {
            if (text.Length > 0) text.Append(' ');
            var seconds = millis / 1000;
            text.Append(CultureInfo.InvariantCulture, $"{seconds / 3600:00}:{seconds / 60 % 60:00}:{seconds % 60:00}");
            if (millis % 1000 != 0) text.Append('.').Append((millis % 1000).ToString("000", CultureInfo.InvariantCulture).TrimEnd('0'));
        }
        return text.ToString();
    }

    private static void Interval(RowWriter row, int property, ReadOnlySpan<byte> bytes) => row.String(property, IntervalText(bytes));

    private static void Uuid(RowWriter row, int property, Guid value)
    {
        Span<char> text = stackalloc char[36];
        value.TryFormat(text, out var written);
        row.String(property, text[..written]);
    }

    private static ReadOnlySpan<byte> Utf8(ReadOnlySpan<byte> value) =>
        System.Text.Unicode.Utf8.IsValid(value) ? value : throw new InvalidDataException("the string is not valid UTF-8");

    /// <summary>A JSON column's value, checked to be one JSON value (a JsonException names what is wrong).</summary>
    private static ReadOnlySpan<byte> JsonText(ReadOnlySpan<byte> value)
    {
        var reader = new Utf8JsonReader(value);
        if (!reader.Read()) throw new InvalidDataException("the JSON value is empty");
        reader.Skip();
        if (reader.Read()) throw new InvalidDataException("the JSON value is followed by more text");
        return value;
    }

    // DuckDB writes a DATE or TIMESTAMP 'infinity' / '-infinity' as the type's largest / smallest integer; the lake's
    // dates and instants end at the years 1 and 9999 (as .NET's), so such a value, and any other beyond them, fails
    // naming its row and column (the tap's caller adds them) rather than wrapping round to another plausible date.
    private const string OutsideLakeYears = "is outside the years 1 to 9999 the lake's dates and timestamps hold (DuckDB writes 'infinity' and '-infinity' as the type's extreme integers)";

    private static DateOnly Date(int daysSinceEpoch)
    {
        var dayNumber = 719162L + daysSinceEpoch;
        return dayNumber is >= 0 and <= 3652058 ? DateOnly.FromDayNumber((int)dayNumber)
            : throw new InvalidDataException($"the date {daysSinceEpoch} days from 1970-01-01 {OutsideLakeYears}");
    }

    private static DateTime Timestamp(long ticksSinceEpoch) =>
        ticksSinceEpoch >= DateTime.MinValue.Ticks - DateTime.UnixEpoch.Ticks && ticksSinceEpoch <= DateTime.MaxValue.Ticks - DateTime.UnixEpoch.Ticks
            ? new(DateTime.UnixEpoch.Ticks + ticksSinceEpoch, DateTimeKind.Utc)
            : throw new InvalidDataException($"the timestamp {ticksSinceEpoch / 10} microseconds from 1970-01-01 {OutsideLakeYears}");

    /// <summary>A time of day; ticks finer than a microsecond are dropped, as a time's text has six fraction digits.</summary>
    private static TimeOnly Time(long ticksSinceMidnight) =>
        ticksSinceMidnight is >= 0 and < TimeSpan.TicksPerDay ? new(ticksSinceMidnight - ticksSinceMidnight % 10)
            : throw new InvalidDataException(ticksSinceMidnight == TimeSpan.TicksPerDay
                ? "the time 24:00:00 is not a time of day the lake holds (its times end at 23:59:59.999999)"
                : $"the time {ticksSinceMidnight / 10} microseconds after midnight is not a time of day");

    /// <summary>A value in ticks (100 ns); one too large for ticks fails as out of range rather than wrapping round.</summary>
    private static long Ticks(long value, TimeUnit unit) => unit switch
    {
        TimeUnit.Millis => Scaled(value, TimeSpan.TicksPerMillisecond, "milliseconds"),
        TimeUnit.Micros => Scaled(value, 10, "microseconds"),
        _ => value / 100,
    };

    private static long Scaled(long value, long ticksPerUnit, string unit) =>
        value >= long.MinValue / ticksPerUnit && value <= long.MaxValue / ticksPerUnit ? value * ticksPerUnit
            : throw new InvalidDataException($"the value {value} {unit} from 1970-01-01 {OutsideLakeYears}");

    private static decimal ScaledDecimal(long unscaled, int scale)
    {
        var magnitude = unscaled == long.MinValue ? (ulong)long.MaxValue + 1 : (ulong)Math.Abs(unscaled);
        return new decimal((int)(uint)magnitude, (int)(uint)(magnitude >> 32), 0, unscaled < 0, (byte)scale);
    }

    private static readonly BigInteger DecimalMantissaLimit = BigInteger.One << 96;

    /// <summary>
    /// A DECIMAL stored as big-endian bytes: the <see cref="decimal"/> of the same digits and scale while one holds them
    /// (a 96-bit mantissa, at most 28 places); beyond (DECIMAL(38, s) holds 38 digits and 38 places) its exact digits as
    /// JSON number text, which a decimal column reads exactly.
    /// </summary>
    private static void BigEndianDecimal(RowWriter row, int property, ReadOnlySpan<byte> bytes, int scale)
    {
        var unscaled = new BigInteger(bytes, isUnsigned: false, isBigEndian: true);
        var magnitude = BigInteger.Abs(unscaled);
        if (magnitude < DecimalMantissaLimit && scale <= 28)
        {
            var bits = (UInt128)magnitude;
            row.Decimal(property, new decimal((int)(uint)bits, (int)(uint)(bits >> 32), (int)(uint)(bits >> 64), unscaled.Sign < 0, (byte)scale));
            return;
        }
        row.Json(property, Parquet.DecimalWriter.Text(unscaled, scale));
    }

    private static unsafe ReadOnlySpan<byte> Bytes(ByteArray value) => new((void*)value.Pointer, value.Length);

    private static unsafe ReadOnlySpan<byte> Bytes(FixedLenByteArray value, int length) => new((void*)value.Pointer, length);

    private delegate void ValueWrite<T>(RowWriter row, int property, T value);

    private sealed class Cursor<T>(ColumnReader<T> reader, short maxDef, short maxRep, ValueWrite<T> write) : ParquetLeafCursor(maxDef, maxRep)
        where T : unmanaged
    {
        // Byte-array values point into the reader's page buffer, valid until the next ReadBatch: they are written before it.
        private readonly T[] _values = new T[BatchSize];

        protected override long Load() => reader.HasNext ? reader.ReadBatch(BatchSize, Defs, Reps, _values, out _) : 0;

        protected override void WriteValue(RowWriter row, int property, int index) => write(row, property, _values[index]);

        public override void Dispose() => reader.Dispose();
    }
}
