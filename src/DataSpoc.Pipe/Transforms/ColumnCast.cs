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
        _ => new JsonObject { ["type"] = new JsonArray("null", target) },
    };

    public static JsonNode? Convert(JsonNode? value, string target)
    {
        if (value is null) return null;
        var clr = ClrValue(value);
        return target switch
        {
            "string" => JsonValue.Create(Text(value)),
            "integer" => ToInteger(clr) is { } l ? JsonValue.Create(l) : value,
            "number" => ToNumber(clr) is { } d ? JsonValue.Create(d) : value,
            "boolean" => ToBoolean(clr) is { } b ? JsonValue.Create(b) : value,
            "date" => clr is string s && ToDate(s) is { } date ? JsonValue.Create(date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)) : value,
            "date-time" => clr is string s && ToTimestamp(s) is { } ts ? JsonValue.Create(ts.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture)) : value,
            _ => value,
        };
    }

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
    public static JsonNode? FromClr(object? value, string type)
    {
        switch (value)
        {
            case null: return null;
            case string s: return type == "string" ? JsonValue.Create(s) : Convert(JsonValue.Create(s), type);
            case bool b: return type == "string" ? JsonValue.Create(b ? "true" : "false") : JsonValue.Create(b);
            case char c: return JsonValue.Create(c.ToString());
            case DateTime dt: return JsonValue.Create(dt.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture));
            case sbyte or byte or short or ushort or int or uint or long:
                var l = System.Convert.ToInt64(value, CultureInfo.InvariantCulture);
                return type switch { "string" => JsonValue.Create(l.ToString(CultureInfo.InvariantCulture)), "number" => JsonValue.Create((double)l), _ => JsonValue.Create(l) };
            case ulong or float or double or decimal:
                var d = System.Convert.ToDouble(value, CultureInfo.InvariantCulture);
                if (type == "string") return JsonValue.Create(d.ToString("R", CultureInfo.InvariantCulture));
                if (type == "integer" && ToInteger(d) is { } whole) return JsonValue.Create(whole);
                return double.IsFinite(d) ? JsonValue.Create(d) : null;
            default:
                return JsonValue.Create(System.Convert.ToString(value, CultureInfo.InvariantCulture));
        }
    }

    private static long? ToInteger(object? v) => v switch
    {
        long l => l,
        double d when double.IsFinite(d) && Math.Floor(d) == d && Math.Abs(d) < 9.2e18 => (long)d,
        bool b => b ? 1 : 0,
        string s when long.TryParse(s.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l) => l,
        string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => ToInteger(d),
        _ => null,
    };

    private static double? ToNumber(object? v) => v switch
    {
        long l => l,
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
        string s => s.Trim().ToLowerInvariant() switch
        {
            "true" or "t" or "yes" or "y" or "1" => true,
            "false" or "f" or "no" or "n" or "0" => false,
            _ => null,
        },
        _ => null,
    };

    private static DateOnly? ToDate(string s)
    {
        s = s.Trim();
        if (DateOnly.TryParseExact(s, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d)) return d;
        return ToTimestamp(s) is { } ts ? DateOnly.FromDateTime(ts) : null;
    }

    private static DateTime? ToTimestamp(string s) =>
        DateTimeOffset.TryParse(s.Trim(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var ts) ? ts.UtcDateTime : null;
}
