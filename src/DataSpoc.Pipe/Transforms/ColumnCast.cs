using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DataSpoc.Pipe.Transforms;

/// <summary>
/// The <c>cast:</c> targets, their JSON schema, and value conversion. A value that cannot be converted is left as it
/// is, so the Parquet shredder rejects it under the pipeline's <c>on_invalid_record</c> policy with the field named.
/// </summary>
internal static class ColumnCast
{
    public static readonly string[] Targets = ["integer", "number", "string", "boolean", "date", "date-time"];

    public static JsonObject SchemaFor(string target) => target switch
    {
        "date" or "date-time" => new JsonObject { ["type"] = new JsonArray("null", "string"), ["format"] = target },
        _ when DecimalScale(target) is { } scale => new JsonObject
        {
            ["type"] = new JsonArray("null", "number"),
            ["multipleOf"] = JsonValue.Create(JsonElement.Parse(scale == 0 ? "1" : "1e-" + scale.ToString(CultureInfo.InvariantCulture))),
        },
        _ => new JsonObject { ["type"] = new JsonArray("null", target) },
    };

    /// <summary>
    /// The type name of a computed decimal of <paramref name="scale"/> (<c>decimal(2)</c>): a <c>number</c> with
    /// <c>multipleOf</c> 10^-scale in the schema, a DECIMAL(38, scale) column.
    /// </summary>
    public static string DecimalType(int scale) => string.Create(CultureInfo.InvariantCulture, $"decimal({scale})");

    /// <summary>The scale of a <see cref="DecimalType"/> name, or null for any other type.</summary>
    public static int? DecimalScale(string? type) =>
        type is not null && type.StartsWith("decimal(", StringComparison.Ordinal) && type.EndsWith(')')
        && int.TryParse(type.AsSpan(8, type.Length - 9), NumberStyles.None, CultureInfo.InvariantCulture, out var scale) ? scale : null;

    /// <summary>
    /// The <c>cast:</c> of a value of a column of <paramref name="type"/> (null: a string, boolean, object or computed
    /// column), from its stored value (<see cref="StoredValue"/>); a value that does not convert is left as it is.
    /// </summary>
    public static JsonNode? Convert(JsonNode? value, string target, StoredType? type)
    {
        if (value is null) return null;
        if (target == "string") return JsonValue.Create(StoredValue.Text(value, type));
        return TryConvert(StoredValue.Of(value, type), target, out var converted) ? ToJson(converted) : value;
    }

    /// <summary>
    /// A non-string <c>cast:</c> of a value as expressions see it (<see cref="ClrValue"/>): long for integer, double for
    /// number, bool for boolean, <see cref="DateOnly"/> for date, a UTC <see cref="DateTime"/> for date-time; false when it
    /// does not convert (the value is then left as it is).
    /// </summary>
    public static bool TryConvert(object? clr, string target, out object? converted)
    {
        converted = target switch
        {
            "integer" => ToInteger(clr),
            "number" => ToNumber(clr),
            "boolean" => ToBoolean(clr),
            "date" => clr is string s ? ToDate(s) : null,
            "date-time" => clr is string s ? ToTimestamp(s) : null,
            _ => null,
        };
        return converted is not null;
    }

    /// <summary>
    /// A map value as the JSON record holds it: strings, longs, doubles and booleans as themselves, dates as
    /// <c>yyyy-MM-dd</c> and date-times as <c>yyyy-MM-ddTHH:mm:ss.ffffffZ</c> text.
    /// </summary>
    public static JsonNode? ToJson(object? value) => value switch
    {
        null => null,
        string s => JsonValue.Create(s),
        long l => JsonValue.Create(l),
        double d => JsonValue.Create(d),
        bool b => JsonValue.Create(b),
        DateOnly date => JsonValue.Create(date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)),
        DateTime ts => JsonValue.Create(ts.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture)),
        // Its digits as the JSON number's text: the decimal column reads them exactly (System.Decimal holds fewer).
        ExactDecimal d => JsonValue.Create(JsonElement.Parse(d.ToString())),
        _ => throw new ArgumentException($"not a map value: {value.GetType()}", nameof(value)),
    };

    /// <summary>A JSON value as the CLR value expressions see: long, double, string, bool, null; objects and arrays as JSON text.</summary>
    public static object? ClrValue(JsonNode? node)
    {
        switch (node)
        {
            case null: return null;
            case JsonValue v:
                switch (v.GetValueKind())
                {
                    case JsonValueKind.String: return v.GetValue<string>();
                    case JsonValueKind.True: return true;
                    case JsonValueKind.False: return false;
                    case JsonValueKind.Null: return null;
                    case JsonValueKind.Number:
                        if (v.TryGetValue<long>(out var l)) return l;
                        if (v.TryGetValue<JsonElement>(out var e) && e.TryGetInt64(out l)) return l;
                        if (v.TryGetValue<double>(out var d)) return d;
                        return e.GetDouble();
                }
                return v.ToJsonString();
            default: return node.ToJsonString();
        }
    }

    /// <summary>A value's text: strings as they are, everything else as compact JSON (<c>42</c>, <c>true</c>, <c>{"a":1}</c>).</summary>
    public static string Text(JsonNode value) =>
        value is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : value.ToJsonString();

    /// <summary>The CLR result of an expression as JSON, shaped to the column's declared type where it converts cleanly.</summary>
    public static JsonNode? FromClr(object? value, string type) => ToJson(Shape(value, type));

    /// <summary>
    /// The CLR result of an expression shaped to the column's declared type where it converts cleanly, as a map value
    /// (see <see cref="ToJson"/>): what both the JSON and the typed path store for a computed column.
    /// </summary>
    public static object? Shape(object? value, string type)
    {
        if (DecimalScale(type) is { } scale) return ShapeDecimal(value, scale);
        switch (value)
        {
            case null: return null;
            case ExactDecimal x:
                return type switch
                {
                    "string" => x.ToString(),
                    "integer" when ToInteger(x) is { } integer => integer,
                    _ => x.ToDouble(),
                };
            case string s: return type == "string" || !TryConvert(s, type, out var converted) ? s : converted;
            case bool b: return type == "string" ? (b ? "true" : "false") : b;
            case char c: return c.ToString();
            case DateTime dt: return dt.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
            case sbyte or byte or short or ushort or int or uint or long:
                var l = System.Convert.ToInt64(value, CultureInfo.InvariantCulture);
                return type switch { "string" => l.ToString(CultureInfo.InvariantCulture), "number" => (double)l, _ => l };
            case ulong or float or double or decimal:
                var d = System.Convert.ToDouble(value, CultureInfo.InvariantCulture);
                if (type == "string") return d.ToString("R", CultureInfo.InvariantCulture);
                if (type == "integer" && ToInteger(d) is { } whole) return whole;
                return double.IsFinite(d) ? d : null;
            default:
                return System.Convert.ToString(value, CultureInfo.InvariantCulture);
        }
    }

    /// <summary>
    /// A value for a computed decimal column of <paramref name="scale"/>: a decimal or whole number at that scale; what
    /// is not one exactly (a double, a decimal with more decimals, one beyond 38 digits) is left as it is, and the
    /// column takes it only if its digits fit (else the record is invalid, named by the column).
    /// </summary>
    private static object? ShapeDecimal(object? value, int scale)
    {
        try
        {
            return value switch
            {
                ExactDecimal d when d.Scale <= scale => d.AtScale(scale),
                ExactDecimal d when d.Round(scale) is var r && r.CompareTo(d) == 0 => r,
                long l => ExactDecimal.FromLong(l).AtScale(scale),
                int i => ExactDecimal.FromLong(i).AtScale(scale),
                _ => Shape(value, "number"),
            };
        }
        catch (OverflowException)
        {
            return value;
        }
    }

    private static long? ToInteger(object? v) => v switch
    {
        long l => l,
        ExactDecimal d => d.TryWhole(out var whole) ? whole : null,
        double d when double.IsFinite(d) && Math.Floor(d) == d && Math.Abs(d) < 9.2e18 => (long)d,
        bool b => b ? 1 : 0,
        string s when long.TryParse(s.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l) => l,
        string s => WholeText(s.Trim()),
        _ => null,
    };

    /// <summary>
    /// The whole number a text with a fraction or an exponent is exactly (<c>9007199254740993.0</c>, <c>12e2</c>), read
    /// digit by digit, as DuckDB casts text to BIGINT (through a double it landed 9007199254740992); null for one with a
    /// fraction that is not zero or beyond 64 bits.
    /// </summary>
    private static long? WholeText(string s) =>
        StoredValue.AtScale(s.StartsWith('+') ? s[1..] : s, 0) is { } digits
        && long.TryParse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l) ? l : null;

    private static double? ToNumber(object? v) => v switch
    {
        long l => l,
        ExactDecimal d => d.ToDouble(),
        double d => d,
        bool b => b ? 1 : 0,
        string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) => d,
        _ => null,
    };

    private static bool? ToBoolean(object? v) => v switch
    {
        bool b => b,
        long l when l is 0 or 1 => l == 1,
        double d when d is 0 or 1 => d == 1,
        ExactDecimal d when d.Unscaled == 0 || d.CompareTo(ExactDecimal.FromLong(1)) == 0 => d.Unscaled != 0,
        string s => s.Trim().ToLowerInvariant() switch
        {
            "true" or "t" or "yes" or "y" or "1" => true,
            "false" or "f" or "no" or "n" or "0" => false,
            _ => null,
        },
        _ => null,
    };

    // A cast to date or date-time takes exactly what a declared `format: date` / `format: date-time` column takes
    // (TemporalParser, README "Types"): ISO 8601 only. DateTimeOffset.TryParse guessed ("03:04:05" was today, "1.5"
    // the 5th of January of this year, "5/6/7" 2007-05-06); anything else is left as it is, and the column refuses it
    // by name under on_invalid_record.

    /// <summary>A <c>YYYY-MM-DD</c> date, or the calendar date of a date-time as written (its offset not applied), as a <c>format: date</c> column takes it.</summary>
    private static DateOnly? ToDate(string s) =>
        Parquet.TemporalParser.TryParseDateDays(System.Text.Encoding.UTF8.GetBytes(s), out var days) ? DateOnly.FromDayNumber(EpochDay + days) : null;

    /// <summary>
    /// A date-time (or a bare date, midnight) as a <c>format: date-time</c> column takes it: the UTC instant. Text with
    /// digits past the microsecond is left as it is: the date-time column cuts it to the same instant and counts it for
    /// the run log's notice.
    /// </summary>
    private static DateTime? ToTimestamp(string s) =>
        Parquet.TemporalParser.TryParseTimestampMicros(System.Text.Encoding.UTF8.GetBytes(s), out var micros, out var cutDigits) && !cutDigits
            ? DateTime.UnixEpoch.AddTicks(micros * TimeSpan.TicksPerMicrosecond) : null;

    private static readonly int EpochDay = DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber;
}
