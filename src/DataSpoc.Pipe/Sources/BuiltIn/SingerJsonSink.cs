using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// A <see cref="RecordSink"/> that prints Singer JSON lines (UTF-8) to a stream: what <c>dataspoc-pipe tap</c>
/// writes, and how a typed source reaches any consumer that reads Singer. Values are written in the forms the lake
/// reads back to the same value: dates as <c>yyyy-MM-dd</c>, instants as <c>yyyy-MM-ddTHH:mm:ss.ffffffZ</c>,
/// times as <c>HH:mm:ss.ffffff</c>. NaN and the infinities of a number, flat or inside a list or object, print as the bare
/// words <c>NaN</c>, <c>Infinity</c> and <c>-Infinity</c>: not JSON, but what singer-python (simplejson) taps print and
/// what the engine reads back; a nested value handed over as JSON text carries them as strings (JSON has no other
/// way), which become bare words where the stream's schema declares a number (a string <c>"NaN"</c> of a text list stays
/// a string). Notices (<see cref="RecordSink.WriteNotice"/>) go to <paramref name="notices"/> as
/// <c>NOTICE ...</c> lines (a tap's stderr, where Singer taps log), or nowhere without one.
/// </summary>
internal sealed class SingerJsonSink(Stream output, TextWriter? notices = null) : RecordSink
{
    private readonly SingerWriter _writer = new(output);

    public override long Records => _writer.Records;

    public override RowWriter WriteSchema(string stream, JsonObject schema, IReadOnlyList<string> keyProperties, IReadOnlyList<string>? bookmarkProperties = null)
    {
        _writer.WriteSchema(stream, schema, keyProperties, bookmarkProperties);
        var properties = schema["properties"] as JsonObject;
        var names = properties?.Select(p => JsonEncodedText.Encode(p.Key)).ToArray() ?? [];
        var nested = properties?.Select(p => NestsNumber(p.Value) ? p.Value : null).ToArray() ?? [];
        return new Rows(_writer, JsonEncodedText.Encode(stream), names, nested);
    }

    public override void WriteState(JsonNode state) => _writer.WriteState(state);

    public override void WriteNotice(string notice) => notices?.WriteLine("NOTICE " + notice);

    public override void WriteActivateVersion(string stream, long version) => _writer.WriteActivateVersion(stream, version);

    public override ValueTask FlushIfFullAsync(CancellationToken cancellationToken) => _writer.FlushIfFullAsync(cancellationToken);

    public override ValueTask FlushAsync(CancellationToken cancellationToken) => _writer.FlushAsync(cancellationToken);

    /// <summary>A date as RECORD lines carry it (also what the engine sink shreds for a date it does not store itself).</summary>
    internal static void WriteDate(Utf8JsonWriter json, DateOnly value)
    {
        Span<char> text = stackalloc char[10];
        value.TryFormat(text, out var written, "yyyy-MM-dd", CultureInfo.InvariantCulture);
        json.WriteStringValue(text[..written]);
    }

    /// <summary>An instant as RECORD lines carry it: UTC, to the microsecond.</summary>
    internal static void WriteTimestamp(Utf8JsonWriter json, DateTime utc)
    {
        Span<char> text = stackalloc char[27];
        TextColumnTypes.FormatUtc(utc.Ticks, text);
        json.WriteStringValue(text);
    }

    /// <summary>
    /// A finite double as RECORD lines carry it: its shortest round-trip form, but -0.0 as <c>-0.0</c>, not the
    /// <c>-0</c> the JSON writer prints, which Python's json (every singer-python target) reads as the integer 0, sign
    /// lost. Other whole doubles stay <c>1</c>, not <c>1.0</c>: read as the int 1, they still equal the double.
    /// </summary>
    internal static void WriteDouble(Utf8JsonWriter json, double value)
    {
        if (value == 0 && double.IsNegative(value)) json.WriteRawValue("-0.0"u8, skipInputValidation: true);
        else json.WriteNumberValue(value);
    }

    /// <summary>A time of day as RECORD lines carry it, to the microsecond.</summary>
    internal static void WriteTime(Utf8JsonWriter json, TimeOnly value)
    {
        Span<char> text = stackalloc char[15];
        value.TryFormat(text, out var written, "HH:mm:ss.ffffff", CultureInfo.InvariantCulture);
        json.WriteStringValue(text[..written]);
    }

    /// <summary>Whether a property's schema is a list or object with a number somewhere inside (so its JSON text may carry named floats).</summary>
    private static bool NestsNumber(JsonNode? schema) =>
        schema is JsonObject o && ((o["items"] is { } items && (IsNumber(items) || NestsNumber(items)))
                                   || (o["properties"] is JsonObject properties && properties.Any(p => IsNumber(p.Value) || NestsNumber(p.Value))));

    private static bool IsNumber(JsonNode? schema) => schema?["type"] switch
    {
        JsonValue v => v.TryGetValue<string>(out var t) && t == "number",
        JsonArray a => a.Any(t => t is JsonValue v && v.TryGetValue<string>(out var s) && s == "number"),
        _ => false,
    };

    /// <summary>
    /// <paramref name="value"/> (JSON text) with each string <c>"NaN"</c>, <c>"Infinity"</c> and <c>"-Infinity"</c> that
    /// stands where <paramref name="schema"/> declares a number written as the bare word; null when it has none.
    /// </summary>
    internal static byte[]? BareNamedFloats(ReadOnlySpan<byte> value, JsonNode schema)
    {
        // Cheap test first: almost every value has no such string.
        if (value.IndexOf("\"NaN\""u8) < 0 && value.IndexOf("Infinity\""u8) < 0) return null;
        var hits = new List<(int Start, int Length, double Value)>();
        var reader = new Utf8JsonReader(value, new JsonReaderOptions { MaxDepth = 256 });
        if (!reader.Read()) return null;
        CollectNamedFloats(ref reader, schema, hits);
        if (hits.Count == 0) return null;
        var output = new List<byte>(value.Length);
        var copied = 0;
        foreach (var (start, length, named) in hits)
        {
            output.AddRange(value[copied..start]);
            output.AddRange(System.Text.Encoding.ASCII.GetBytes(NamedFloatLiterals.Word(named)));
            copied = start + length;
        }
        output.AddRange(value[copied..]);
        return [.. output];
    }

    private static void CollectNamedFloats(ref Utf8JsonReader reader, JsonNode? schema, List<(int Start, int Length, double Value)> hits)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.StartArray:
                var items = schema?["items"];
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray) CollectNamedFloats(ref reader, items, hits);
                break;
            case JsonTokenType.StartObject:
                var properties = schema?["properties"] as JsonObject;
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var property = properties is null ? null : properties[reader.GetString()!];
                    reader.Read();
                    CollectNamedFloats(ref reader, property, hits);
                }
                break;
            case JsonTokenType.String when !reader.ValueIsEscaped && IsNumber(schema) && NamedFloatLiterals.Parse(reader.ValueSpan) is { } named:
                hits.Add(((int)reader.TokenStartIndex, reader.ValueSpan.Length + 2, named));
                break;
        }
    }

    private sealed class Rows(SingerWriter writer, JsonEncodedText stream, JsonEncodedText[] names, JsonNode?[] nestedNumbers) : RowWriter
    {
        private Utf8JsonWriter? _json;

        private Utf8JsonWriter Current => _json ?? throw new InvalidOperationException("a value outside BeginRow/EndRow");

        public override void BeginRow() => _json = writer.BeginRecord(stream);

        public override void EndRow()
        {
            _ = Current;
            writer.EndRecord();
            _json = null;
        }

        public override void WriteJsonRow(ReadOnlySpan<byte> recordObject) => writer.WriteRawRecord(stream, recordObject);

        public override void Null(int property) => Current.WriteNull(names[property]);
        public override void Long(int property, long value) => Current.WriteNumber(names[property], value);
        public override void Double(int property, double value)
        {
            Current.WritePropertyName(names[property]);
            if (double.IsFinite(value)) WriteDouble(Current, value);
            // Not JSON, but what Python's json.dumps (and so a singer-python tap) prints, and what the engine reads back.
            else Current.WriteRawValue(NamedFloatLiterals.Word(value), skipInputValidation: true);
        }
        public override void Decimal(int property, decimal value) => Current.WriteNumber(names[property], value);
        public override void Bool(int property, bool value) => Current.WriteBoolean(names[property], value);
        public override void String(int property, ReadOnlySpan<char> value) => Current.WriteString(names[property], value);
        public override void Utf8String(int property, ReadOnlySpan<byte> value) => Current.WriteString(names[property], value);

        public override void Date(int property, DateOnly value)
        {
            Current.WritePropertyName(names[property]);
            WriteDate(Current, value);
        }

        public override void Timestamp(int property, DateTime utc)
        {
            Current.WritePropertyName(names[property]);
            WriteTimestamp(Current, utc);
        }

        public override void Time(int property, TimeOnly value)
        {
            Current.WritePropertyName(names[property]);
            WriteTime(Current, value);
        }

        public override void Base64(int property, ReadOnlySpan<byte> value) => Current.WriteBase64String(names[property], value);

        public override void Json(int property, ReadOnlySpan<byte> value)
        {
            Current.WritePropertyName(names[property]);
            Current.WriteRawValue(nestedNumbers[property] is { } schema && BareNamedFloats(value, schema) is { } bare ? bare : value, skipInputValidation: true);
        }

        public override void Json(int property, ReadOnlySpan<char> value)
        {
            if (nestedNumbers[property] is not null && (value.Contains("\"NaN\"", StringComparison.Ordinal) || value.Contains("Infinity\"", StringComparison.Ordinal)))
            {
                Json(property, System.Text.Encoding.UTF8.GetBytes(value.ToString()));
                return;
            }
            Current.WritePropertyName(names[property]);
            Current.WriteRawValue(value, skipInputValidation: true);
        }
    }
}
