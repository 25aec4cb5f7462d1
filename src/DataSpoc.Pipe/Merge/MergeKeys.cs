using System.Globalization;
using System.Text;
using Encoding = System.Text.Encoding;
using System.Text.Json;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Parquet;
using ParquetSharp;

namespace DataSpoc.Pipe.Merge;

/// <summary>
/// What the merge needs of a row: its key (the key columns' JSON values joined), its <c>order_by</c> value and whether
/// <c>_sdc_deleted_at</c> is set. Also the first key column's values as numbers or bytes, for skipping row groups whose
/// min/max statistics show they cannot hold an incoming key.
/// </summary>
internal sealed class MergeKeys
{
    private readonly byte[][] _keyNames;
    private readonly byte[]? _orderBy;
    private readonly byte[]? _deletedAt;
    private readonly string[] _keyValues;
    private readonly string _stream;
    /// <summary>Each key column's type in the stream's current SCHEMA: how a key value read from any file is compared.</summary>
    private readonly LeafKind[] _keyKinds;

    public MergeKeys(string stream, IReadOnlyList<string> keyProperties, ColumnSchema schema, MergeSettings settings)
    {
        if (keyProperties.Count == 0)
            throw new MergeException($"stream '{stream}' has no key_properties in its SCHEMA: write_mode merge needs a key to merge by " +
                "(set it in the tap's catalog, or use write_mode append)");
        foreach (var key in keyProperties)
            if (schema.Root.IndexOf(key) < 0)
                throw new MergeException($"stream '{stream}': key property '{key}' is not a column of its SCHEMA");
        if (settings.OrderBy is { } orderBy && schema.Root.IndexOf(orderBy) < 0)
            throw new MergeException($"stream '{stream}': merge.order_by column '{orderBy}' is not a column of its SCHEMA");
        Names = [.. keyProperties];
        _stream = stream;
        _keyKinds = [.. keyProperties.Select(k => schema.Root.Children[schema.Root.IndexOf(k)] is LeafNode leaf ? leaf.Kind : LeafKind.Json)];
        _keyNames = [.. keyProperties.Select(Encoding.UTF8.GetBytes)];
        _keyValues = new string[keyProperties.Count];
        _orderBy = settings.OrderBy is { } o ? Encoding.UTF8.GetBytes(o) : null;
        DeclaresDeletedAt = schema.Root.IndexOf(MergeSettings.DeletedAtColumn) >= 0;
        _deletedAt = DeclaresDeletedAt ? Encoding.UTF8.GetBytes(MergeSettings.DeletedAtColumn) : null;
        Fields = new HashSet<string>(keyProperties, StringComparer.Ordinal);
        if (settings.OrderBy is { } order) Fields.Add(order);
        if (_deletedAt is not null) Fields.Add(MergeSettings.DeletedAtColumn);
    }

    public string[] Names { get; }

    /// <summary>Whether the stream's SCHEMA has the <c>_sdc_deleted_at</c> column that marks a deleted row.</summary>
    public bool DeclaresDeletedAt { get; }

    /// <summary>The top-level columns a key pass reads.</summary>
    public HashSet<string> Fields { get; }

    /// <summary>
    /// One row's merge facts; <c>MissingKey</c>: the key column (of <see cref="Names"/>) that is null or absent in it, if
    /// any; <c>NaNKey</c>: the key column that is NaN, which equals no value and so can match no row.
    /// </summary>
    public readonly record struct Row(RowKey Key, OrderValue Order, bool Deleted, FirstKey First, string? MissingKey, string? NaNKey = null);

    /// <summary>
    /// Adds to <paramref name="nulls"/> (one count per key column of <see cref="Names"/>) how many rows of a row group
    /// hold no value in each key column, from its footer: a key column the file does not have (written before the
    /// column was) is null in every row, a flat one counts its nulls in its statistics. False, adding nothing, when a
    /// key column's footer cannot tell (written without statistics, nested): its rows are read to count them.
    /// </summary>
    public bool TryCountNullKeys(RowGroupReader group, long[] nulls)
    {
        var metadata = group.MetaData;
        var schema = metadata.Schema;
        Span<long> counted = stackalloc long[Names.Length];
        for (var k = 0; k < Names.Length; k++)
        {
            counted[k] = metadata.NumRows;
            for (var c = 0; c < schema.NumColumns; c++)
            {
                var column = schema.Column(c);
                using var path = column.Path;
                var names = path.ToDotVector();
                if (names[0] != Names[k]) continue;
                if (names.Length > 1 || column.MaxRepetitionLevel > 0) return false;
                using var chunk = metadata.GetColumnChunkMetaData(c);
                if (!chunk.IsStatsSet) return false;
                using var stats = chunk.Statistics;
                if (stats is null) return false;
                counted[k] = stats.NullCount;
                break;
            }
        }
        for (var k = 0; k < Names.Length; k++) nulls[k] += counted[k];
        return true;
    }

    public Row Read(ReadOnlySpan<byte> json)
    {
        Array.Fill(_keyValues, "null");
        long? wholeKey = null;
        var order = OrderValue.Null;
        var deleted = false;
        var first = FirstKey.None;
        var present = 0;
        string? nanKey = null;
        var reader = new Utf8JsonReader(json);
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var k = -1;
            for (var i = 0; i < _keyNames.Length; i++)
                if (reader.ValueTextEquals(_keyNames[i])) { k = i; break; }
            var isOrder = _orderBy is not null && reader.ValueTextEquals(_orderBy);
            var isDeleted = _deletedAt is not null && reader.ValueTextEquals(_deletedAt);
            reader.Read();
            var start = (int)reader.TokenStartIndex;
            if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray) reader.Skip();
            var raw = json[start..(int)reader.BytesConsumed];
            if (k >= 0)
            {
                if (reader.TokenType != JsonTokenType.Null) present |= 1 << Math.Min(k, 30);
                if (_keyKinds[k] == LeafKind.String && reader.TokenType is JsonTokenType.Number or JsonTokenType.True or JsonTokenType.False)
                {
                    // The column became a string (the widest type): a file written before holds the number as it was, and
                    // the string column holds its JSON text, so the number 1 and the string "1" are one key (a double
                    // in plain digits, as the rewrite stores it: 1E+20 is "100000000000000000000").
                    var text = reader.TokenType == JsonTokenType.Number ? DoubleText.PlainText(raw) : Encoding.UTF8.GetString(raw);
                    if (k == 0) first = new FirstKey(false, 0, Encoding.UTF8.GetBytes(text));
                    _keyValues[k] = "\"" + text + "\"";
                }
                else
                {
                    if (reader.TokenType == JsonTokenType.String && _keyKinds[k] is LeafKind.Int64 or LeafKind.Double or LeafKind.Decimal or LeafKind.Boolean)
                    {
                        // Rows carry NaN and the infinities of a number column as strings (ParquetRows' named floats).
                        if (_keyKinds[k] == LeafKind.Double && NamedFloatLiterals.Parse(reader.ValueSpan) is { } named)
                        {
                            if (double.IsNaN(named)) nanKey ??= Names[k];
                        }
                        else throw new MergeException($"stream '{_stream}': key property '{Names[k]}' holds the string {Encoding.UTF8.GetString(raw)} in a file of " +
                            $"the table, but the stream's SCHEMA now declares it {_keyKinds[k].ToString().ToLowerInvariant()}: a string key cannot be matched with " +
                            "such a key (only a number becoming a string is a widening); run --full to rewrite the table in one type, or declare the key a string");
                    }
                    if (reader.TokenType == JsonTokenType.Number)
                    {
                        var (wholeNumber, text) = NumberKey(ref reader, raw);
                        if (k == 0) first = wholeNumber is { } l ? new FirstKey(true, l, null) : FirstKey.None;
                        // A single whole-number key (the usual id) is kept as a number: no string per key in memory.
                        if (_keyNames.Length == 1 && wholeNumber is { } w) wholeKey = w;
                        else _keyValues[k] = text ?? wholeNumber!.Value.ToString(CultureInfo.InvariantCulture);
                    }
                    else
                    {
                        if (k == 0) first = FirstKey.Of(ref reader);
                        _keyValues[k] = Encoding.UTF8.GetString(raw);
                    }
                }
            }
            if (isOrder) order = OrderValue.Of(ref reader);
            if (isDeleted) deleted = reader.TokenType != JsonTokenType.Null;
        }
        var key = wholeKey is { } whole ? new RowKey(whole, null) : new RowKey(0, _keyValues.Length == 1 ? _keyValues[0] : string.Join('\u0001', _keyValues));
        string? missing = null;
        for (var i = 0; i < Math.Min(_keyNames.Length, 31) && missing is null; i++)
            if ((present & (1 << i)) == 0) missing = Names[i];
        return new Row(key, order, deleted, first, missing, nanKey);
    }

    /// <summary>
    /// A number key as its value, whatever its text, since equal numbers are one key (as SQL compares them): a whole
    /// number within a long as that long (<c>2</c>, <c>2.000</c>, <c>-0.0</c> is 0), any other as one text per value
    /// (<c>1.5</c>, <c>1.50</c> and <c>1.500</c> are one key: a decimal column's values before and after its SCHEMA changed
    /// the scale, or a double's; DuckDB: <c>1.50 = 1.500</c>).
    /// </summary>
    private static (long? Whole, string? Text) NumberKey(ref Utf8JsonReader reader, ReadOnlySpan<byte> raw)
    {
        if (reader.TryGetInt64(out var plain)) return (plain, null);
        DecimalText.TryParse(raw, out var number);
        if (number.Digits == 0) return (0, null);
        var text = new StringBuilder(number.Digits + 8);
        if (number.Negative) text.Append('-');
        for (var d = 0; d < number.Digits; d++) text.Append((char)('0' + number.Digit(d)));
        // Whole: its plain digits (a long when it fits); else the digits and the power of ten, ±0.d₁…dₙ × 10^Scale.
        if (number.Scale >= number.Digits && number.Scale <= LeafNode.DecimalPrecision + 1)
        {
            text.Append('0', (int)(number.Scale - number.Digits));
            return long.TryParse(text.ToString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var whole) ? (whole, null) : (null, text.ToString());
        }
        return (null, text.Append('e').Append(number.Scale).ToString());
    }
}

/// <summary>A row's key: a single whole-number key as its value, any other as its JSON values joined.</summary>
internal readonly record struct RowKey(long Number, string? Text);

/// <summary>A value of the <c>order_by</c> column: null sorts first, numbers by value, strings (ISO dates sort as text) ordinally.</summary>
internal readonly record struct OrderValue(bool IsNull, double Number, string? Text) : IComparable<OrderValue>
{
    public static OrderValue Null => new(true, 0, null);

    public static OrderValue Of(ref Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.Number => new(false, reader.GetDouble(), null),
        JsonTokenType.String => new(false, 0, reader.GetString()),
        JsonTokenType.True => new(false, 1, null),
        JsonTokenType.False => new(false, 0, null),
        _ => Null,
    };

    public int CompareTo(OrderValue other)
    {
        if (IsNull || other.IsNull) return IsNull == other.IsNull ? 0 : IsNull ? -1 : 1;
        if (Text is not null || other.Text is not null) return string.CompareOrdinal(Text ?? "", other.Text ?? "");
        return Number.CompareTo(other.Number);
    }
}

/// <summary>The first key column's value as a whole number or as UTF-8 bytes (strings), or neither.</summary>
internal readonly record struct FirstKey(bool IsLong, long Long, byte[]? Bytes)
{
    public static FirstKey None => new(false, 0, null);

    public static FirstKey Of(ref Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.Number when reader.TryGetInt64(out var l) => new(true, l, null),
        JsonTokenType.String => new(false, 0, Encoding.UTF8.GetBytes(reader.GetString()!)),
        _ => None,
    };
}

/// <summary>
/// The incoming first-key values, sorted, to tell from a row group's min/max statistics whether it may hold an incoming
/// key. Only plain integer columns (against whole-number keys) and string columns (against string keys) are used; any
/// other column, or a key that is neither, reads every row group.
/// </summary>
internal sealed class KeyRanges
{
    private readonly long[]? _longs;
    private readonly byte[][]? _strings;

    public KeyRanges(IEnumerable<FirstKey> keys)
    {
        var list = keys.ToList();
        if (list.Count > 0 && list.All(k => k.IsLong)) _longs = [.. list.Select(k => k.Long).Order()];
        else if (list.Count > 0 && list.All(k => k.Bytes is not null))
        {
            _strings = [.. list.Select(k => k.Bytes!)];
            Array.Sort(_strings, (a, b) => a.AsSpan().SequenceCompareTo(b));
        }
    }

    /// <summary>False only when the group's statistics of <paramref name="keyColumn"/> prove no incoming key is in it.</summary>
    public bool MayHold(RowGroupReader group, string keyColumn)
    {
        if (_longs is null && _strings is null) return true;
        var metadata = group.MetaData;
        var schema = metadata.Schema;
        for (var c = 0; c < schema.NumColumns; c++)
        {
            var column = schema.Column(c);
            if (column.MaxRepetitionLevel > 0 || column.Path.ToDotString() != keyColumn) continue;
            using var logical = column.LogicalType;
            using var chunk = metadata.GetColumnChunkMetaData(c);
            if (!chunk.IsStatsSet) return true;
            using var stats = chunk.Statistics;
            if (stats is null || !stats.HasMinMax) return stats is null || stats.NullCount != chunk.NumValues;
            switch (stats)
            {
                case Statistics<long> l when _longs is not null && logical is NoneLogicalType or IntLogicalType: return AnyIn(_longs, l.Min, l.Max);
                case Statistics<int> i when _longs is not null && logical is NoneLogicalType or IntLogicalType: return AnyIn(_longs, i.Min, i.Max);
                case Statistics<ByteArray> s when _strings is not null && logical is StringLogicalType: return AnyIn(_strings, Bytes(s.Min), Bytes(s.Max));
                default: return true;
            }
        }
        return true;
    }

    private static bool AnyIn(long[] sorted, long min, long max)
    {
        var at = Array.BinarySearch(sorted, min);
        if (at < 0) at = ~at;
        return at < sorted.Length && sorted[at] <= max;
    }

    private static bool AnyIn(byte[][] sorted, byte[] min, byte[] max)
    {
        int lo = 0, hi = sorted.Length;
        while (lo < hi)
        {
            var mid = (lo + hi) / 2;
            if (sorted[mid].AsSpan().SequenceCompareTo(min) < 0) lo = mid + 1; else hi = mid;
        }
        return lo < sorted.Length && sorted[lo].AsSpan().SequenceCompareTo(max) <= 0;
    }

    private static byte[] Bytes(ByteArray value)
    {
        var bytes = new byte[value.Length];
        if (value.Length > 0) System.Runtime.InteropServices.Marshal.Copy(value.Pointer, bytes, 0, value.Length);
        return bytes;
    }
}

/// <summary>A merge that cannot be done as configured (no key, an unknown column, a row that does not fit).</summary>
public sealed class MergeException(string message, Exception? inner = null) : PipeException(message, inner);
