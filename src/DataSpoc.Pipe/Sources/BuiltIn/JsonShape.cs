using System.Text.Json;
using System.Text.Json.Nodes;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// The JSON Schema inferred from sampled JSON values: scalars by kind (integer widens to number; whole numbers beyond a
/// 64-bit integer, up to 38 digits, make a DECIMAL(38,0) column, <c>multipleOf: 1</c>, so they land exact as DuckDB's
/// <c>read_json</c> keeps them as HUGEINT, not rounded to a double), strings that are all
/// dates or date-times get that <c>format</c>, objects become <c>object</c> with merged <c>properties</c> (in first-seen
/// order), arrays become <c>array</c> with merged <c>items</c>. Every property is nullable, since it may be absent.
/// </summary>
internal sealed class JsonShape
{
    private bool _boolean, _integer, _wholeBeyondInt64, _number, _object, _array;
    private long _strings, _dates, _dateTimes;
    private Dictionary<string, JsonShape>? _properties;
    private List<string>? _order;
    private JsonShape? _items;

    /// <summary>
    /// Adds the value the reader is positioned on (reading to its end). Over a line whose bare NaN / Infinity were
    /// quoted (<paramref name="named"/>), those strings count as numbers.
    /// </summary>
    public void Add(ref Utf8JsonReader reader, NamedFloatLiterals.Rewrite? named = null)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null: break;
            case JsonTokenType.True or JsonTokenType.False: _boolean = true; break;
            case JsonTokenType.Number:
                if (reader.TryGetInt64(out _)) _integer = true;
                else if (IsWholeOfAtMost38Digits(reader.ValueSpan)) _wholeBeyondInt64 = true;
                else _number = true;
                break;
            case JsonTokenType.String when named is not null && named.TryGet(reader.TokenStartIndex, out _):
                _number = true;
                break;
            case JsonTokenType.String:
                _strings++;
                var text = reader.GetString()!;
                // Records pass through unchanged, so only ISO 8601 text (what the Parquet side reads) makes a date column.
                if (TextColumnTypes.TryDate(text, out _)) _dates++;
                else if (text.Length > 10 && text[10] == 'T' && TextColumnTypes.TryDateTime(text, out _)) _dateTimes++;
                break;
            case JsonTokenType.StartObject:
                _object = true;
                _properties ??= new(StringComparer.Ordinal);
                _order ??= [];
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var name = reader.GetString()!;
                    reader.Read();
                    if (!_properties.TryGetValue(name, out var child))
                    {
                        _properties[name] = child = new JsonShape();
                        _order.Add(name);
                    }
                    child.Add(ref reader, named);
                }
                break;
            case JsonTokenType.StartArray:
                _array = true;
                _items ??= new JsonShape();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray) _items.Add(ref reader, named);
                break;
        }
    }

    /// <summary>A JSON number written without fraction or exponent, of at most 38 digits (what DECIMAL(38,0) holds).</summary>
    private static bool IsWholeOfAtMost38Digits(ReadOnlySpan<byte> number)
    {
        var digits = number.Length > 0 && number[0] == '-' ? number[1..] : number;
        return digits.Length is > 0 and <= 38 && !digits.ContainsAnyExceptInRange((byte)'0', (byte)'9');
    }

    /// <summary>The property names of an object shape, in first-seen order.</summary>
    public IReadOnlyList<string> PropertyNames => _order ?? [];

    public JsonObject ToSchema()
    {
        var types = new JsonArray("null");
        var schema = new JsonObject { ["type"] = types };
        if (_boolean) types.Add((JsonNode)"boolean");
        if (_number) types.Add((JsonNode)"number");
        else if (_wholeBeyondInt64)
        {
            types.Add((JsonNode)"number");
            schema["multipleOf"] = 1;
        }
        else if (_integer) types.Add((JsonNode)"integer");
        if (_strings > 0)
        {
            types.Add((JsonNode)"string");
            if (_dates == _strings) schema["format"] = "date";
            else if (_dateTimes == _strings) schema["format"] = "date-time";
        }
        if (_object)
        {
            types.Add((JsonNode)"object");
            var properties = new JsonObject();
            foreach (var name in _order!) properties[name] = _properties![name].ToSchema();
            schema["properties"] = properties;
        }
        if (_array)
        {
            types.Add((JsonNode)"array");
            schema["items"] = _items!.ToSchema();
        }
        return schema;
    }
}
