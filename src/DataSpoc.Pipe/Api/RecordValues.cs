using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using DataSpoc.Pipe.Sources;

namespace DataSpoc.Pipe.Api;

/// <summary>
/// A code source's record (a <see cref="JsonObject"/>) as typed <see cref="RowWriter"/> calls: each property's value
/// in the form its JSON text means, so the lake holds what the record printed as Singer JSON would give. A number
/// goes as a long or a double when its text is exactly how that value prints, else as its JSON text (kept as written:
/// <c>1.50</c>, <c>1e2</c>); objects and arrays as their JSON text. A record with a property the schema does not declare
/// goes whole as JSON, so the property is dropped and counted as in a tap's run. A double (or float) that is NaN or an
/// infinity, which JSON text cannot hold, goes as that double: it lands as the Singer line's <c>NaN</c> would (the
/// decided type rules); inside an object or an array it is written as the string <c>"NaN"</c>, <c>"Infinity"</c>.
/// </summary>
internal sealed class RecordValues
{
    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true };
    /// <summary>
    /// A NaN or infinite double is printed as a quoted named literal (<c>"NaN"</c>) instead of the writer's exception:
    /// <see cref="WriteNumber"/> reads that back as the double, and nested it is the string every path reads as NaN.
    /// </summary>
    private static readonly JsonSerializerOptions NamedFloats = new() { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };
    private readonly ArrayBufferWriter<byte> _text = new(256);
    private readonly Utf8JsonWriter _json;
    private byte[] _string = new byte[256];

    public RecordValues() => _json = new Utf8JsonWriter(_text, Options);

    /// <summary>The schema's properties by name, with their position (a <see cref="RowWriter"/>'s property index).</summary>
    public static Dictionary<string, int> PropertiesOf(JsonObject schema) =>
        (schema["properties"] as JsonObject)?.Select((p, i) => (p.Key, i)).ToDictionary(p => p.Key, p => p.i, StringComparer.Ordinal)
        ?? new Dictionary<string, int>(StringComparer.Ordinal);

    /// <summary>The property whose value is being written, while a record is (null before its values and for a record written whole).</summary>
    public string? Field { get; private set; }

    public void Write(RowWriter rows, Dictionary<string, int> properties, JsonObject record)
    {
        Field = null;
        foreach (var (name, _) in record)
        {
            if (properties.ContainsKey(name)) continue;
            rows.WriteJsonRow(Text(record));
            return;
        }
        rows.BeginRow();
        foreach (var (name, value) in record)
        {
            Field = name;
            WriteValue(rows, properties[name], value);
        }
        Field = null;
        rows.EndRow();
    }

    private void WriteValue(RowWriter rows, int property, JsonNode? value)
    {
        if (value is null)
        {
            rows.Null(property);
            return;
        }
        switch (value.GetValueKind())
        {
            case JsonValueKind.True: rows.Bool(property, true); return;
            case JsonValueKind.False: rows.Bool(property, false); return;
            case JsonValueKind.Null: rows.Null(property); return;
            case JsonValueKind.String when value is JsonValue v && v.TryGetValue<string>(out var s):
                rows.String(property, s);
                return;
            case JsonValueKind.String:
                rows.Utf8String(property, StringOf(Text(value)));
                return;
            case JsonValueKind.Number:
                WriteNumber(rows, property, Text(value));
                return;
            default:
                rows.Json(property, Text(value));
                return;
        }
    }

    /// <summary>
    /// A long or a double when the text is exactly how the JSON writer prints that value, else the text as written; a
    /// quoted text is a NaN or infinite double's named literal (<see cref="NamedFloats"/>).
    /// </summary>
    private void WriteNumber(RowWriter rows, int property, ReadOnlySpan<byte> text)
    {
        if (text[0] == (byte)'"')
        {
            rows.Double(property, double.Parse(StringOf(text), CultureInfo.InvariantCulture));
            return;
        }
        if (Utf8Parser.TryParse(text, out long l, out var used) && used == text.Length && Prints(text, l, 0, isLong: true))
        {
            rows.Long(property, l);
            return;
        }
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) && Prints(text, 0, d, isLong: false))
        {
            rows.Double(property, d);
            return;
        }
        rows.Json(property, text);
    }

    private readonly ArrayBufferWriter<byte> _printed = new(64);
    private Utf8JsonWriter? _printer;

    private bool Prints(ReadOnlySpan<byte> text, long l, double d, bool isLong)
    {
        _printed.ResetWrittenCount();
        if (_printer is null) _printer = new Utf8JsonWriter(_printed, Options);
        else _printer.Reset();
        if (isLong) _printer.WriteNumberValue(l);
        else _printer.WriteNumberValue(d);
        _printer.Flush();
        return _printed.WrittenSpan.SequenceEqual(text);
    }

    /// <summary>The value's JSON text (valid until the next call).</summary>
    private ReadOnlySpan<byte> Text(JsonNode value)
    {
        _text.ResetWrittenCount();
        _json.Reset();
        value.WriteTo(_json, NamedFloats);
        _json.Flush();
        return _text.WrittenSpan;
    }

    /// <summary>The unescaped UTF-8 of a JSON string's text.</summary>
    private ReadOnlySpan<byte> StringOf(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        reader.Read();
        if (_string.Length < json.Length) _string = new byte[json.Length * 2];
        return _string.AsSpan(0, reader.CopyString(_string));
    }
}
