using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Parquet;

namespace DataSpoc.Pipe.Transforms;

/// <summary>The type a top-level tap column stores its values as, and a decimal's scale.</summary>
internal readonly record struct StoredType(LeafKind Kind, int Scale);

/// <summary>
/// A tap column's value as the lake stores it: what <c>filter</c>, <c>compute</c>, <c>hash</c> and <c>cast</c> see, so
/// one stored value gives one result whichever way it came (a Singer tap's text, a built-in tap's typed row, a
/// <c>parquet</c> tap re-reading the lake). A tap may spell one value several ways (<c>1.50</c> and <c>1.5</c>,
/// <c>53.0</c> in an integer column, <c>2024-03-05T23:30:00-05:00</c> and <c>2024-03-06T04:30:00Z</c>, the string
/// <c>"Infinity"</c> in a number column); the map sees the one value the column keeps:
/// an integer column's long, a number column's double (NaN and the infinities included), a decimal column's digits at
/// its scale (the text <c>1.50</c> for <c>multipleOf: 0.01</c>; expressions read them exactly, <see cref="ExactDecimal"/>), a date-time as the UTC
/// text <c>yyyy-MM-ddTHH:mm:ss.ffffffZ</c>, a date as <c>yyyy-MM-dd</c>, a time as <c>HH:mm:ss.ffffff</c>. Strings,
/// booleans and JSON text are what they are. A value the column does not take stays as the tap wrote it (the column
/// rejects it by name afterwards, unless the map removes it).
/// </summary>
internal static class StoredValue
{
    /// <summary>
    /// The stored type of each top-level column of <paramref name="schema"/> whose values have more than one spelling:
    /// integer, number, decimal, date-time, date and time columns (a property whose schema does not map is left out:
    /// the writer reports it).
    /// </summary>
    public static Dictionary<string, StoredType> TypesOf(JsonObject schema)
    {
        var types = new Dictionary<string, StoredType>(StringComparer.Ordinal);
        if (schema["properties"] is not JsonObject properties) return types;
        foreach (var (name, property) in properties)
        {
            LeafNode? leaf;
            try
            {
                var one = new JsonObject { ["properties"] = new JsonObject { ["c"] = property?.DeepClone() } };
                leaf = ColumnSchema.FromJsonSchema(JsonElement.Parse(one.ToJsonString())).Root.Children[0] as LeafNode;
            }
            catch (SchemaException)
            {
                continue;
            }
            if (leaf is { Kind: LeafKind.Int64 or LeafKind.Double or LeafKind.Decimal or LeafKind.Timestamp or LeafKind.Date or LeafKind.Time })
                types[name] = new StoredType(leaf.Kind, leaf.Scale);
        }
        return types;
    }

    /// <summary>
    /// A value as expressions see it (see <see cref="ColumnCast.ClrValue"/>) in a column of <paramref name="type"/>.
    /// </summary>
    public static object? Of(object? clr, StoredType type)
    {
        switch (type.Kind)
        {
            case LeafKind.Int64:
                return clr is double d && double.IsFinite(d) && Math.Floor(d) == d && Math.Abs(d) < 9.2e18 ? (long)d : clr;
            case LeafKind.Double or LeafKind.Decimal:
                return clr switch
                {
                    // A number column stores the double, rounded beyond 2^53; a decimal column holds the exact digits.
                    long l when type.Kind == LeafKind.Double || Math.Abs(l) < 9007199254740992L => (double)l,
                    string s when type.Kind == LeafKind.Double && NamedFloatLiterals.Parse(Encoding.UTF8.GetBytes(s)) is { } named => named,
                    _ => clr,
                };
            case LeafKind.Timestamp when clr is string s && TemporalParser.TryParseTimestampMicros(Encoding.UTF8.GetBytes(s), out var micros):
                return DateTime.UnixEpoch.AddTicks(micros * TimeSpan.TicksPerMicrosecond).ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
            case LeafKind.Date when clr is string s && TemporalParser.TryParseDateDays(Encoding.UTF8.GetBytes(s), out var days):
                return DateOnly.FromDayNumber(EpochDay + days).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
            case LeafKind.Time when clr is string s && TemporalParser.TryParseTimeMicros(Encoding.UTF8.GetBytes(s), out var micros) && micros < 86_400_000_000:
                return TimeOnly.FromTimeSpan(TimeSpan.FromTicks(micros * TimeSpan.TicksPerMicrosecond)).ToString("HH:mm:ss.ffffff", CultureInfo.InvariantCulture);
            default:
                return clr;
        }
    }

    /// <summary>
    /// The text <c>hash:</c> and <c>cast: string</c> take of a value in a column of <paramref name="type"/>: the stored
    /// value's (numbers in their shortest round-trip form, <c>1.5</c>, <c>-0</c>, <c>1E+20</c>, <c>NaN</c>; a decimal's
    /// digits at the column's scale), or, for a value the column does not take, the tap's own text.
    /// </summary>
    /// <param name="clr">The value as <see cref="ColumnCast.ClrValue"/> reads it.</param>
    /// <param name="numberText">The JSON number's text, when the value is one.</param>
    /// <param name="rawText">The tap's text of the value (<see cref="ColumnCast.Text"/>).</param>
    /// <param name="type">The column's stored type.</param>
    public static string Text(object? clr, string? numberText, string rawText, StoredType type)
    {
        if (type.Kind == LeafKind.Decimal) return numberText is not null && AtScale(numberText, type.Scale) is { } digits ? digits : rawText;
        var stored = Of(clr, type);
        return stored switch
        {
            long l when type.Kind == LeafKind.Int64 => l.ToString(CultureInfo.InvariantCulture),
            double d when type.Kind == LeafKind.Double => d.ToString("R", CultureInfo.InvariantCulture),
            string s when type.Kind is LeafKind.Timestamp or LeafKind.Date or LeafKind.Time && !ReferenceEquals(s, clr) => s,
            _ => rawText,
        };
    }

    /// <summary>A value of a JSON node as expressions see it in a column of <paramref name="type"/> (null: no declared type).</summary>
    public static object? Of(JsonNode? node, StoredType? type)
    {
        if (type is { Kind: LeafKind.Decimal } d && node is JsonValue v && v.GetValueKind() == JsonValueKind.Number
            && DecimalOf(Encoding.UTF8.GetBytes(v.ToJsonString()), d) is { } exact)
            return exact;
        var clr = ColumnCast.ClrValue(node);
        return type is { } t ? Of(clr, t) : clr;
    }

    /// <summary>
    /// A JSON number's value in a decimal column of <paramref name="type"/>: its exact digits at the column's scale
    /// (<see cref="ExactDecimal"/>), or null when the column does not take it (more decimals than the scale, more than
    /// 38 digits: the value stays as the tap wrote it and the column rejects it by name).
    /// </summary>
    public static ExactDecimal? DecimalOf(ReadOnlySpan<byte> number, StoredType type) => ExactDecimal.FromJsonNumber(number, type.Scale);

    /// <summary>The text of a JSON node for <c>hash:</c> and <c>cast: string</c> in a column of <paramref name="type"/> (null: no declared type).</summary>
    public static string Text(JsonNode node, StoredType? type)
    {
        var raw = ColumnCast.Text(node);
        if (type is not { } t) return raw;
        var numberText = node is JsonValue v && v.GetValueKind() == JsonValueKind.Number ? raw : null;
        return Text(ColumnCast.ClrValue(node), numberText, raw, t);
    }

    private static readonly int EpochDay = DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber;

    /// <summary>
    /// A text constant compared with a value of a date-time, date or time column (<paramref name="kind"/>), in the spelling
    /// the column stores (<c>yyyy-MM-ddTHH:mm:ss.ffffffZ</c>, <c>yyyy-MM-dd</c>, <c>HH:mm:ss.ffffff</c>) when it
    /// reads as one (<c>'2024-06-15T10:00:00+02:00'</c> is <c>2024-06-15T08:00:00.000000Z</c>, and as a date
    /// <c>2024-06-15</c>, its date as written; <c>'06:00'</c> is <c>06:00:00.000000</c>), so that the texts compare as the
    /// instants, dates or times of day do, as DuckDB casts the
    /// literal to the column's type (as written, <c>.000000Z</c> sorted below <c>Z</c> and <c>'06:00:00'</c> equalled no
    /// stored time); null otherwise.
    /// </summary>
    public static string? InStoredSpelling(string constant, LeafKind kind) =>
        Of((object)constant, new StoredType(kind, 0)) is string stored && !ReferenceEquals(stored, constant) ? stored : null;

    /// <summary>
    /// A JSON number's exact value written with <paramref name="scale"/> decimals (<c>1.5</c> at scale 2 is <c>1.50</c>,
    /// <c>-0</c> is <c>0.00</c>), as a DECIMAL(38, scale) column stores it; null when it has more decimals than the
    /// scale or more than 38 digits (the column rejects it).
    /// </summary>
    internal static string? AtScale(string text, int scale)
    {
        var negative = text.StartsWith('-');
        var body = negative ? text[1..] : text;
        var exponent = 0;
        var e = body.AsSpan().IndexOfAny('e', 'E');
        if (e >= 0)
        {
            if (!int.TryParse(body.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out exponent) || Math.Abs(exponent) > 1000) return null;
            body = body[..e];
        }
        var dot = body.IndexOf('.');
        var digits = dot < 0 ? body : string.Concat(body.AsSpan(0, dot), body.AsSpan(dot + 1));
        if (digits.Length == 0 || !digits.All(char.IsAsciiDigit)) return null;
        var point = (dot < 0 ? body.Length : dot) + exponent;
        if (point < 0) { digits = new string('0', -point) + digits; point = 0; }
        if (point > digits.Length) digits += new string('0', point - digits.Length);
        var whole = digits[..point].TrimStart('0');
        var fraction = digits[point..];
        if (fraction.Length > scale)
        {
            if (fraction.AsSpan(scale).ContainsAnyExcept('0')) return null;
            fraction = fraction[..scale];
        }
        else fraction = fraction.PadRight(scale, '0');
        if (whole.Length + scale > LeafNode.DecimalPrecision) return null;
        var zero = whole.Length == 0 && !fraction.AsSpan().ContainsAnyExcept('0');
        return (negative && !zero ? "-" : "") + (whole.Length == 0 ? "0" : whole) + (scale > 0 ? "." + fraction : "");
    }
}
