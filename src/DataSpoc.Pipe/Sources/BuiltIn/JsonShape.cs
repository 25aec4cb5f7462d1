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
                var text = Text(ref reader);
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
                    var name = Text(ref reader);
                    reader.Read();
                    if (!_properties.TryGetValue(name, out var child))
                    {
                        // The lake's columns need names (Parquet, Delta and Iceberg alike): refused here, where the line is known.
                        if (name.Length == 0) throw new ValueException("\"\"", "an empty key: a column needs a name (rename the key, or declare the stream's schema without it)");
                        _properties[name] = child = new JsonShape();
                        _order.Add(name);
                    }
                    try
                    {
                        child.Add(ref reader, named);
                    }
                    catch (ValueException e)
                    {
                        throw e.Within(name);
                    }
                }
                break;
            case JsonTokenType.StartArray:
                _array = true;
                _items ??= new JsonShape();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray) _items.Add(ref reader, named);
                break;
        }
    }

    /// <summary>
    /// The dotted path of the first key in the value the reader is on that the sample never showed where the sampled
    /// values were objects only (the lake stores them as a struct, which has no column for it, so its values would be
    /// dropped); null when there is none. Reads to the value's end unless it finds one.
    /// </summary>
    public string? UnseenKey(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.StartObject && IsOnly(objects: true) && _properties!.Count > 0)
        {
            var lookup = _properties.GetAlternateLookup<ReadOnlySpan<char>>();
            Span<char> buffer = stackalloc char[256];
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                JsonShape? child;
                if (!reader.ValueIsEscaped && !reader.HasValueSequence && reader.ValueSpan.Length <= buffer.Length)
                    lookup.TryGetValue(buffer[..System.Text.Encoding.UTF8.GetChars(reader.ValueSpan, buffer)], out child);
                else _properties.TryGetValue(Text(ref reader), out child);
                if (child is null) return Text(ref reader);
                reader.Read();
                if (child.UnseenKey(ref reader) is { } inner) return $"{NameOf(child)}.{inner}";
            }
            return null;
        }
        if (reader.TokenType == JsonTokenType.StartArray && IsOnly(objects: false))
        {
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                if (_items!.UnseenKey(ref reader) is { } inner) return inner;
            return null;
        }
        reader.Skip();
        return null;
    }

    private string NameOf(JsonShape child) => _order!.First(name => ReferenceEquals(_properties![name], child));

    /// <summary>Whether the sampled values were all objects (or all arrays), nulls aside: a struct (or a list), not JSON text.</summary>
    private bool IsOnly(bool objects) =>
        !_boolean && !_integer && !_wholeBeyondInt64 && !_number && _strings == 0 && (objects ? _object && !_array : _array && !_object);

    /// <summary>A string or key's text; one that is no text (a lone surrogate escape such as <c>\ud800</c>, bytes that are not UTF-8) is a <see cref="ValueException"/>.</summary>
    private static string Text(ref Utf8JsonReader reader)
    {
        try
        {
            return reader.GetString()!;
        }
        catch (InvalidOperationException e)
        {
            throw new ValueException("", $"not valid text ({e.Message.TrimEnd('.')}): a lone surrogate escape such as \\ud800, or bytes that are not UTF-8");
        }
    }

    /// <summary>A sampled value the lake cannot take, with the dotted path of its key (empty for the record itself).</summary>
    public sealed class ValueException(string path, string reason) : Exception(reason)
    {
        public string Path { get; } = path;

        public ValueException Within(string key) => new(Path.Length == 0 ? key : $"{key}.{Path}", Message);
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
