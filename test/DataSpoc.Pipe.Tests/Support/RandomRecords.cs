using System.Globalization;
using System.Text;

namespace DataSpoc.Pipe.Tests.Support;

/// <summary>The JSON Schema types a generated property can have.</summary>
public enum RandomKind { Integer, Number, Decimal, Boolean, String, Date, DateTime, Time, JsonObject, JsonArray, Struct, List }

/// <summary>A generated schema property: a list has an <see cref="Element"/>, a struct its <see cref="Children"/>.</summary>
public sealed record RandomProperty(string Name, RandomKind Kind, bool Nullable, int Scale = 0, IReadOnlyList<RandomProperty>? Children = null, RandomProperty? Element = null);

/// <summary>How a record is written: compact, or as Python's <c>json.dumps</c> writes it (<c>", "</c> and <c>": "</c>, non-ASCII as <c>\uXXXX</c>).</summary>
public enum RandomStyle { Compact, Python }

/// <summary>
/// Seeded random Singer schemas over every column type and records for them: property order shuffled, properties
/// missing or undeclared, strings with escapes and unicode, numbers at the int64, decimal and double edges. The same
/// seed gives the same schemas and records, so a failure is reproduced from its seed alone.
/// </summary>
public sealed class RandomRecords(int seed)
{
    private readonly Random _random = new(seed);

    public int Seed { get; } = seed;

    private static readonly string[] Words = ["a", "b", "id", "name", "value", "x1", "ünï", "日本", "amount", "ts", "über_größe", "k"];

    private static readonly string[] StringPieces =
    [
        "plain", "", " ", "quote \" here", "back\\slash", "slash /", "tab\t", "new\nline", "cr\r", "\b\f", "\u0001\u001f", "\u007f",
        "café", "日本語", "😀", "Zoë \"Z\"", "\u2028\u2029", "﻿bom", "a\u0000b", "€", "ｆｕｌｌ", "𝄞 clef",
    ];

    private static readonly string[] IntegerEdges = ["0", "-0", "1", "-1", "9223372036854775807", "-9223372036854775808", "9223372036854775806", "-9223372036854775807", "2147483648", "-2147483649", "4294967296", "9007199254740993",
        // Refused or read exactly, never rounded: out of range, and whole numbers written with a fraction or exponent.
        "9223372036854775808", "-9223372036854775809", "1.0", "1e2", "-5.00E+1", "9007199254740993.0", "1.5", "1e19"];

    private static readonly string[] NumberEdges =
    [
        "0", "-0", "0.0", "-0.0", "1", "-1", "0.1", "1.5", "1e308", "1.7976931348623157e+308", "-1.7976931348623157e308", "5e-324", "4.9e-324",
        "2.2250738585072014e-308", "1E+10", "1e-07", "123456789012345678901234567890", "0.30000000000000004", "9007199254740993",
        "9223372036854775807", "-9223372036854775808", "1.0000000000000002", "3.141592653589793", "1e22", "1e23", "100", "12345.6789e-3",
    ];

    private static readonly string[] DateTimeForms =
    [
        "{0}T{1}Z", "{0}T{1}+00:00", "{0}T{1}.5Z", "{0}T{1}.123456Z", "{0}T{1}.123456789Z", "{0} {1}", "{0}T{1}-03:00", "{0}T{1}+05:30",
        "{0}T{1}.000001+14:00", "{0}T{1}", "{0}T{2}Z", "{0}T{1}-03:06:28", "{0} {1}.5+05:21:10",
    ];

    private static readonly RandomKind[] ScanKinds =
    [
        RandomKind.Integer, RandomKind.Number, RandomKind.Boolean, RandomKind.String, RandomKind.Date, RandomKind.DateTime, RandomKind.Time,
        RandomKind.Struct, RandomKind.List,
    ];

    public int Next(int max) => _random.Next(max);

    public bool Chance(double p) => _random.NextDouble() < p;

    public T Pick<T>(IReadOnlyList<T> items) => items[_random.Next(items.Count)];

    /// <summary>A schema of 1..<paramref name="maxProperties"/> properties, nested at most <paramref name="depth"/> levels.</summary>
    public List<RandomProperty> Schema(int maxProperties = 10, int depth = 2)
    {
        var count = 1 + _random.Next(maxProperties);
        var names = new HashSet<string>(StringComparer.Ordinal);
        var properties = new List<RandomProperty>();
        while (properties.Count < count)
        {
            var name = Pick(Words) + (Chance(0.7) ? "_" + _random.Next(100).ToString(CultureInfo.InvariantCulture) : "");
            if (names.Add(name)) properties.Add(Property(name, depth));
        }
        return properties;
    }

    private RandomProperty Property(string name, int depth)
    {
        // Decimal and JSON-text values always take the tokenizer path; kept rare so most records exercise the scan too.
        var kind = Chance(0.06) ? Pick(new[] { RandomKind.Decimal, RandomKind.JsonObject, RandomKind.JsonArray })
            : Pick(depth > 0 ? ScanKinds : ScanKinds[..^2]);
        var nullable = Chance(0.8);
        return kind switch
        {
            RandomKind.Decimal => new(name, kind, nullable, Scale: Pick(new[] { 0, 1, 2, 2, 3, 6 })),
            RandomKind.Struct => new(name, kind, nullable, Children: Schema(5, depth - 1)),
            RandomKind.List => new(name, kind, nullable, Element: Property("element", depth - 1)),
            _ => new(name, kind, nullable),
        };
    }

    /// <summary>The JSON Schema (an object with these properties).</summary>
    public static string SchemaJson(IReadOnlyList<RandomProperty> properties)
    {
        var json = new StringBuilder("{\"type\":\"object\",\"properties\":");
        PropertiesJson(json, properties);
        return json.Append('}').ToString();
    }

    private static void PropertiesJson(StringBuilder json, IReadOnlyList<RandomProperty> properties)
    {
        json.Append('{');
        for (var i = 0; i < properties.Count; i++)
        {
            if (i > 0) json.Append(',');
            WriteString(json, properties[i].Name, ensureAscii: false);
            json.Append(':');
            PropertySchema(json, properties[i]);
        }
        json.Append('}');
    }

    private static void PropertySchema(StringBuilder json, RandomProperty p)
    {
        string Type(string t) => p.Nullable ? $"[\"null\",\"{t}\"]" : $"\"{t}\"";
        switch (p.Kind)
        {
            case RandomKind.Integer: json.Append("{\"type\":").Append(Type("integer")).Append('}'); break;
            case RandomKind.Number: json.Append("{\"type\":").Append(Type("number")).Append('}'); break;
            case RandomKind.Decimal:
                var step = p.Scale == 0 ? "1" : "0." + new string('0', p.Scale - 1) + "1";
                json.Append("{\"type\":").Append(Type("number")).Append(",\"multipleOf\":").Append(step).Append('}');
                break;
            case RandomKind.Boolean: json.Append("{\"type\":").Append(Type("boolean")).Append('}'); break;
            case RandomKind.String: json.Append("{\"type\":").Append(Type("string")).Append('}'); break;
            case RandomKind.Date: json.Append("{\"type\":").Append(Type("string")).Append(",\"format\":\"date\"}"); break;
            case RandomKind.DateTime: json.Append("{\"type\":").Append(Type("string")).Append(",\"format\":\"date-time\"}"); break;
            case RandomKind.Time: json.Append("{\"type\":").Append(Type("string")).Append(",\"format\":\"time\"}"); break;
            case RandomKind.JsonObject: json.Append("{\"type\":").Append(Type("object")).Append('}'); break;
            case RandomKind.JsonArray: json.Append("{\"type\":").Append(Type("array")).Append('}'); break;
            case RandomKind.Struct:
                json.Append("{\"type\":").Append(Type("object")).Append(",\"properties\":");
                PropertiesJson(json, p.Children!);
                json.Append('}');
                break;
            case RandomKind.List:
                json.Append("{\"type\":").Append(Type("array")).Append(",\"items\":");
                PropertySchema(json, p.Element!);
                json.Append('}');
                break;
        }
    }

    /// <summary>
    /// A record for the schema: each property present with probability <paramref name="present"/> (null now and then),
    /// in schema order or shuffled, with an undeclared property now and then.
    /// </summary>
    public string Record(IReadOnlyList<RandomProperty> properties, RandomStyle style, double present = 0.85, double extra = 0.05)
    {
        var json = new StringBuilder();
        WriteObject(json, properties, style, present, extra);
        return json.ToString();
    }

    /// <summary>Names of undeclared properties: a few that recur (as a tap's extra fields do), one not ASCII.</summary>
    private static readonly string[] UndeclaredNames = ["undeclared_0", "undeclared_1", "undeclared_2", "undéclaré"];

    private void WriteObject(StringBuilder json, IReadOnlyList<RandomProperty> properties, RandomStyle style, double present, double extra)
    {
        var chosen = properties.Where(_ => Chance(present)).ToList();
        if (Chance(0.25)) chosen = chosen.OrderBy(_ => _random.Next()).ToList();
        var members = chosen.Select(p => (p.Name, (RandomProperty?)p)).ToList();
        if (Chance(extra)) members.Insert(_random.Next(members.Count + 1), (Pick(UndeclaredNames), null));
        json.Append('{');
        for (var i = 0; i < members.Count; i++)
        {
            if (i > 0) json.Append(style == RandomStyle.Python ? ", " : ",");
            WriteString(json, members[i].Name, style == RandomStyle.Python);
            json.Append(style == RandomStyle.Python ? ": " : ":");
            if (members[i].Item2 is { } p) WriteValue(json, p, style, present, extra);
            else WriteAnyJson(json, style, 2);
        }
        json.Append('}');
    }

    private void WriteValue(StringBuilder json, RandomProperty p, RandomStyle style, double present, double extra)
    {
        if (Chance(p.Nullable ? 0.1 : 0.01))
        {
            json.Append("null");
            return;
        }
        var python = style == RandomStyle.Python;
        switch (p.Kind)
        {
            case RandomKind.Integer: json.Append(IntegerText()); break;
            case RandomKind.Number: json.Append(NumberText()); break;
            case RandomKind.Decimal: json.Append(DecimalText(p.Scale)); break;
            case RandomKind.Boolean: json.Append(Chance(0.5) ? "true" : "false"); break;
            case RandomKind.String: WriteString(json, StringText(), python, _random); break;
            case RandomKind.Date: WriteString(json, Chance(0.97) ? DateText() : Pick(new[] { "2024-02-30", "2024-1-5", DateText() + "T00:00:00Z", "" }), python); break;
            case RandomKind.DateTime: WriteString(json, Chance(0.97) ? DateTimeText() : Pick(new[] { "2024-01-01T24:00:00Z", "2024-01-01", "not a date", "2024-01-01T10:00:00+2", "2024-06-15T10:30:60Z", "2024-12-31T23:59:60Z", "2025-01-01T01:59:60.5+02:00", "2024-01-01T10:00:00-03:06:28.5", "2024-01-01T10:00:00-030628" }), python); break;
            case RandomKind.Time: WriteString(json, Chance(0.97) ? TimeText() : Pick(new[] { "24:00:00", "1:2", "10:60", "10:00:00Z", "10:30:60", "23:59:60", "00:59:60+01:00" }), python); break;
            case RandomKind.JsonObject: WriteAnyJson(json, style, 3, forceObject: true); break;
            case RandomKind.JsonArray: WriteAnyJson(json, style, 3, forceArray: true); break;
            case RandomKind.Struct: WriteObject(json, p.Children!, style, present, extra); break;
            case RandomKind.List:
                json.Append('[');
                var n = Pick(new[] { 0, 1, 2, 3, 5 });
                for (var i = 0; i < n; i++)
                {
                    if (i > 0) json.Append(python ? ", " : ",");
                    WriteValue(json, p.Element!, style, present, extra);
                }
                json.Append(']');
                break;
        }
    }

    public string IntegerText() => _random.Next(4) switch
    {
        0 => Pick(IntegerEdges),
        1 => _random.NextInt64(long.MinValue, long.MaxValue).ToString(CultureInfo.InvariantCulture),
        _ => _random.Next(-1000, 100000).ToString(CultureInfo.InvariantCulture),
    };

    public string NumberText()
    {
        switch (_random.Next(5))
        {
            case 0: return Pick(NumberEdges);
            case 1: return BitConverter.Int64BitsToDouble(_random.NextInt64()) is var d && double.IsFinite(d) ? d.ToString("R", CultureInfo.InvariantCulture).Replace("E+", "e+", StringComparison.Ordinal) : "1";
            case 2: return (_random.NextDouble() * 1000 - 500).ToString("R", CultureInfo.InvariantCulture);
            case 3: return _random.Next(-100000, 100000).ToString(CultureInfo.InvariantCulture);
            default: return (_random.Next(-99999, 99999) / 100.0).ToString("R", CultureInfo.InvariantCulture);
        }
    }

    public string DecimalText(int scale)
    {
        if (Chance(0.1)) return Pick(new[] { "0", "-0", "1", "-1", "0.0", "1e2", "99999999999999.99", "-99999999999999.99", "0.001", "12.345", "9999999999999999.99", "1.5e-1" });
        var digits = Math.Min(18 - scale, 1 + _random.Next(16));
        var text = new StringBuilder();
        if (Chance(0.3)) text.Append('-');
        text.Append((char)('1' + _random.Next(9)));
        for (var i = 1; i < digits; i++) text.Append((char)('0' + _random.Next(10)));
        if (scale > 0 && Chance(0.7))
        {
            text.Append('.');
            var fraction = 1 + _random.Next(scale);
            for (var i = 0; i < fraction; i++) text.Append((char)('0' + _random.Next(10)));
        }
        return text.ToString();
    }

    public string StringText()
    {
        var text = new StringBuilder();
        var pieces = _random.Next(4);
        for (var i = 0; i < pieces; i++) text.Append(Pick(StringPieces));
        if (Chance(0.1)) text.Append(new string('x', _random.Next(300)));
        return text.ToString();
    }

    public string DateText()
    {
        var day = DateOnly.FromDayNumber(Chance(0.1) ? Pick(new[] { 0, DateOnly.MaxValue.DayNumber, 719162, 738945 }) : _random.Next(690000, 750000));
        return day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
    }

    public string TimeText() => _random.Next(4) switch
    {
        0 => $"{_random.Next(24):00}:{_random.Next(60):00}",
        1 => $"{_random.Next(24):00}:{_random.Next(60):00}:{_random.Next(60):00}",
        2 => $"{_random.Next(24):00}:{_random.Next(60):00}:{_random.Next(60):00}.{_random.Next(1000000):000000}",
        _ => Pick(new[] { "00:00", "23:59:59.999999", "00:00:00.0000001", "12:00:00.5" }),
    };

    public string DateTimeText()
    {
        // Days away from the ends so that no offset moves the instant outside years 1..9999.
        var day = DateOnly.FromDayNumber(Chance(0.05) ? Pick(new[] { 1, DateOnly.MaxValue.DayNumber - 1, 719162 }) : _random.Next(690000, 750000));
        var clock = $"{_random.Next(24):00}:{_random.Next(60):00}:{_random.Next(60):00}";
        return string.Format(CultureInfo.InvariantCulture, Pick(DateTimeForms), day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), clock, clock[..5]);
    }

    /// <summary>Any JSON value (an object or array when asked), nested at most <paramref name="depth"/> levels.</summary>
    private void WriteAnyJson(StringBuilder json, RandomStyle style, int depth, bool forceObject = false, bool forceArray = false)
    {
        var python = style == RandomStyle.Python;
        var choice = forceObject ? 0 : forceArray ? 1 : _random.Next(depth > 0 ? 7 : 5) + 2;
        switch (choice)
        {
            case 0 or 7:
                json.Append('{');
                var members = depth > 0 ? _random.Next(4) : 0;
                for (var i = 0; i < members; i++)
                {
                    if (i > 0) json.Append(python ? ", " : ",");
                    WriteString(json, Pick(Words) + i.ToString(CultureInfo.InvariantCulture), python);
                    json.Append(python ? ": " : ":");
                    WriteAnyJson(json, style, depth - 1);
                }
                json.Append('}');
                break;
            case 1 or 8:
                json.Append('[');
                var items = depth > 0 ? _random.Next(4) : 0;
                for (var i = 0; i < items; i++)
                {
                    if (i > 0) json.Append(python ? ", " : ",");
                    WriteAnyJson(json, style, depth - 1);
                }
                json.Append(']');
                break;
            case 2: json.Append(IntegerText()); break;
            case 3: json.Append(NumberText()); break;
            case 4: WriteString(json, StringText(), python, _random); break;
            case 5: json.Append(Chance(0.5) ? "true" : "false"); break;
            default: json.Append("null"); break;
        }
    }

    /// <summary>A JSON string: escapes chosen at random among the valid ones; with <paramref name="ensureAscii"/> every non-ASCII character as <c>\uXXXX</c>.</summary>
    public static void WriteString(StringBuilder json, string value, bool ensureAscii, Random? random = null)
    {
        json.Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"': json.Append("\\\""); break;
                case '\\': json.Append("\\\\"); break;
                case '\n': json.Append("\\n"); break;
                case '\r': json.Append("\\r"); break;
                case '\t': json.Append("\\t"); break;
                case '\b': json.Append("\\b"); break;
                case '\f': json.Append("\\f"); break;
                case '/' when random?.Next(2) == 0: json.Append("\\/"); break;
                default:
                    // A surrogate is escaped only with its pair (ensureAscii): one escaped half would be a lone surrogate.
                    if (c < 0x20 || (ensureAscii && c > 0x7e) || (!char.IsSurrogate(c) && random?.Next(50) == 0)) json.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else json.Append(c);
                    break;
            }
        }
        json.Append('"');
    }
}
