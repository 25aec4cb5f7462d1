using System.Runtime.InteropServices;
using System.Text.Json;
using DataSpoc.Pipe.Parquet;
using DataSpoc.Pipe.Sources;

namespace DataSpoc.Pipe.Runs;

/// <summary>
/// One row's <see cref="RowWriter"/> calls, kept to be replayed: to the column batch once the row's partition is known
/// (a column's value picks it), and to the Singer printer when a rejected row is quarantined as its RECORD line.
/// Reused row after row; values are copied into buffers that grow once.
/// </summary>
internal sealed class RowRecording : RowWriter
{
    private enum Kind : byte { Null, Long, Double, Decimal, Bool, String, Utf8String, Date, Timestamp, Time, Base64, JsonUtf8, JsonChars }

    [StructLayout(LayoutKind.Auto)]
    private struct Entry
    {
        public int Property;
        public Kind Kind;
        public long Bits;
        public decimal Decimal;
        public int Start;
        public int Length;
    }

    private Entry[] _entries = new Entry[16];
    private int _count;
    private byte[] _bytes = new byte[1024];
    private int _byteCount;
    private char[] _chars = new char[256];
    private int _charCount;

    public void Clear()
    {
        _count = 0;
        _byteCount = 0;
        _charCount = 0;
    }

    public override void BeginRow() => Clear();
    public override void EndRow() { }
    public override void WriteJsonRow(ReadOnlySpan<byte> recordObject) => throw new NotSupportedException("a whole JSON record is not recorded");

    public override void Null(int property) => Add(property, Kind.Null, 0);
    public override void Long(int property, long value) => Add(property, Kind.Long, value);
    public override void Double(int property, double value) => Add(property, Kind.Double, BitConverter.DoubleToInt64Bits(value));
    public override void Bool(int property, bool value) => Add(property, Kind.Bool, value ? 1 : 0);
    public override void Date(int property, DateOnly value) => Add(property, Kind.Date, value.DayNumber);
    public override void Timestamp(int property, DateTime utc) => Add(property, Kind.Timestamp, utc.Ticks);
    public override void Time(int property, TimeOnly value) => Add(property, Kind.Time, value.Ticks);

    public override void Decimal(int property, decimal value)
    {
        Add(property, Kind.Decimal, 0);
        _entries[_count - 1].Decimal = value;
    }

    public override void String(int property, ReadOnlySpan<char> value) => AddChars(property, Kind.String, value);
    public override void Json(int property, ReadOnlySpan<char> value) => AddChars(property, Kind.JsonChars, value);
    public override void Utf8String(int property, ReadOnlySpan<byte> value) => AddBytes(property, Kind.Utf8String, value);
    public override void Base64(int property, ReadOnlySpan<byte> value) => AddBytes(property, Kind.Base64, value);
    public override void Json(int property, ReadOnlySpan<byte> value) => AddBytes(property, Kind.JsonUtf8, value);

    /// <summary>The recorded calls, in order, on <paramref name="target"/> (between its BeginRow and EndRow, which the caller makes).</summary>
    public void ReplayTo(RowWriter target)
    {
        for (var i = 0; i < _count; i++)
        {
            ref readonly var e = ref _entries[i];
            var p = e.Property;
            switch (e.Kind)
            {
                case Kind.Null: target.Null(p); break;
                case Kind.Long: target.Long(p, e.Bits); break;
                case Kind.Double: target.Double(p, BitConverter.Int64BitsToDouble(e.Bits)); break;
                case Kind.Decimal: target.Decimal(p, e.Decimal); break;
                case Kind.Bool: target.Bool(p, e.Bits != 0); break;
                case Kind.Date: target.Date(p, DateOnly.FromDayNumber((int)e.Bits)); break;
                case Kind.Timestamp: target.Timestamp(p, new DateTime(e.Bits, DateTimeKind.Utc)); break;
                case Kind.Time: target.Time(p, new TimeOnly(e.Bits)); break;
                case Kind.String: target.String(p, _chars.AsSpan(e.Start, e.Length)); break;
                case Kind.JsonChars: target.Json(p, _chars.AsSpan(e.Start, e.Length)); break;
                case Kind.Utf8String: target.Utf8String(p, _bytes.AsSpan(e.Start, e.Length)); break;
                case Kind.Base64: target.Base64(p, _bytes.AsSpan(e.Start, e.Length)); break;
                case Kind.JsonUtf8: target.Json(p, _bytes.AsSpan(e.Start, e.Length)); break;
            }
        }
    }

    /// <summary>
    /// The partition the row's <paramref name="property"/> picks, as the Singer reader finds it in a RECORD line: the date
    /// of a date or date-time value (or of a string holding one); none (null) when the value is missing, null or
    /// anything else (the shredder then reports a bad value itself).
    /// </summary>
    public Partition PartitionOf(int property)
    {
        for (var i = 0; i < _count; i++)
        {
            ref readonly var e = ref _entries[i];
            if (e.Property != property) continue;
            return e.Kind switch
            {
                Kind.Date => new Partition(DateOnly.FromDayNumber((int)e.Bits)),
                Kind.Timestamp => new Partition(DateOnly.FromDayNumber((int)(e.Bits / TimeSpan.TicksPerDay))),
                Kind.Utf8String => OfText(_bytes.AsSpan(e.Start, e.Length)),
                Kind.String => OfText(_chars.AsSpan(e.Start, e.Length)),
                Kind.JsonUtf8 => OfJsonString(_bytes.AsSpan(e.Start, e.Length)),
                Kind.JsonChars => OfJsonString(System.Text.Encoding.UTF8.GetBytes(_chars, e.Start, e.Length)),
                _ => new Partition(null),
            };
        }
        return new Partition(null);
    }

    private static Partition OfText(ReadOnlySpan<byte> utf8) => RunIngest.PartitionOfText(utf8) ?? new Partition(null);

    private static Partition OfText(ReadOnlySpan<char> text)
    {
        var length = System.Text.Encoding.UTF8.GetByteCount(text);
        Span<byte> utf8 = length <= 64 ? stackalloc byte[64] : new byte[length];
        return OfText(utf8[..System.Text.Encoding.UTF8.GetBytes(text, utf8)]);
    }

    private static Partition OfJsonString(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.String) return new Partition(null);
            return RunIngest.PartitionOfText(ref reader) ?? new Partition(null);
        }
        catch (JsonException)
        {
            return new Partition(null);
        }
    }

    private void Add(int property, Kind kind, long bits)
    {
        if (_count == _entries.Length) Array.Resize(ref _entries, _count * 2);
        _entries[_count++] = new Entry { Property = property, Kind = kind, Bits = bits };
    }

    private void AddChars(int property, Kind kind, ReadOnlySpan<char> value) =>
        AddSpan(property, kind, value, ref _chars, ref _charCount);

    private void AddBytes(int property, Kind kind, ReadOnlySpan<byte> value) =>
        AddSpan(property, kind, value, ref _bytes, ref _byteCount);

    /// <summary>An entry whose value is a copy of <paramref name="value"/> at the end of <paramref name="store"/>.</summary>
    private void AddSpan<T>(int property, Kind kind, ReadOnlySpan<T> value, ref T[] store, ref int used)
    {
        if (used + value.Length > store.Length) Array.Resize(ref store, Math.Max(store.Length * 2, used + value.Length));
        value.CopyTo(store.AsSpan(used));
        Add(property, kind, 0);
        _entries[_count - 1].Start = used;
        _entries[_count - 1].Length = value.Length;
        used += value.Length;
    }
}
