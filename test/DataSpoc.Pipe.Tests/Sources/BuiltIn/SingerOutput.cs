using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Singer;
using Xunit;

namespace DataSpoc.Pipe.Tests.Sources.BuiltIn;

/// <summary>
/// A tap's stdout parsed and checked as Singer: every line a JSON object with a known type, every RECORD after
/// its stream's SCHEMA, every STATE an object, and every record's values of the types its schema declares.
/// </summary>
public sealed class SingerOutput
{
    public List<JsonObject> Messages { get; } = [];
    public List<string> Lines { get; } = [];
    public Dictionary<string, JsonObject> Schemas { get; } = new();
    public Dictionary<string, List<string>> KeyProperties { get; } = new();

    public IEnumerable<JsonObject> Records(string stream) =>
        Messages.Where(m => (string)m["type"]! == "RECORD" && (string)m["stream"]! == stream).Select(m => m["record"]!.AsObject());

    public IEnumerable<string> RecordStreams => Messages.Where(m => (string)m["type"]! == "RECORD").Select(m => (string)m["stream"]!).Distinct();

    public JsonObject? LastState => Messages.LastOrDefault(m => (string)m["type"]! == "STATE")?["value"]?.AsObject();

    /// <summary>Compact JSON without escaping non-ASCII text, for readable comparisons.</summary>
    /// <summary>A JSON number's text as digits times 10^-scale (<c>1.5e-3</c> -> 15, 4).</summary>
    private static (System.Numerics.BigInteger Digits, int Scale) Exact(string number)
    {
        var e = number.IndexOfAny(['e', 'E']);
        var exponent = e < 0 ? 0 : int.Parse(number[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        var mantissa = e < 0 ? number : number[..e];
        var point = mantissa.IndexOf('.');
        var scale = (point < 0 ? 0 : mantissa.Length - point - 1) - exponent;
        var digits = System.Numerics.BigInteger.Parse(mantissa.Replace(".", "", StringComparison.Ordinal), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        return scale >= 0 ? (digits, scale) : (digits * System.Numerics.BigInteger.Pow(10, -scale), 0);
    }

    public static string Json(JsonNode? node) => node?.ToJsonString(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) ?? "null";

    public static SingerOutput Parse(byte[] utf8)
    {
        // First the project's own Singer reader, as the pipeline runner reads taps: protocol errors throw with the line.
        var check = new ProtocolCheck();
        using (var singerLines = new SingerLineReader(new MemoryStream(utf8)))
            new SingerMessageReader(check).ReadAll(singerLines, CancellationToken.None);
        var output = new SingerOutput();
        var text = Encoding.UTF8.GetString(utf8);
        var lines = text.Split('\n');
        Assert.True(text.Length == 0 || text.EndsWith('\n'), "output must end with a newline");
        for (var i = 0; i < lines.Length; i++)
        {
            if (i == lines.Length - 1 && lines[i].Length == 0) break;
            var line = i + 1;
            JsonObject message;
            try { message = JsonNode.Parse(lines[i])!.AsObject(); }
            catch (JsonException) when (NamedFloatLiterals.Quote(Encoding.UTF8.GetBytes(lines[i])) is { } quoted)
            {
                // NaN / Infinity printed as Python prints them: read as the engine reads them, quoted.
                message = JsonNode.Parse(quoted.Line)!.AsObject();
            }
            catch (Exception e) { throw new Xunit.Sdk.XunitException($"line {line} is not a JSON object: {e.Message}: {lines[i]}"); }
            output.Messages.Add(message);
            output.Lines.Add(lines[i]);
            var type = (string?)message["type"] ?? throw new Xunit.Sdk.XunitException($"line {line} has no type");
            switch (type)
            {
                case "SCHEMA":
                    var stream = (string)message["stream"]!;
                    var schema = message["schema"] as JsonObject ?? throw new Xunit.Sdk.XunitException($"line {line}: SCHEMA without schema object");
                    Assert.True(message["key_properties"] is JsonArray, $"line {line}: SCHEMA without key_properties array");
                    output.Schemas[stream] = schema;
                    output.KeyProperties[stream] = message["key_properties"]!.AsArray().Select(k => (string)k!).ToList();
                    foreach (var key in output.KeyProperties[stream])
                        Assert.True(schema["properties"]?[key] is not null, $"line {line}: key property {key} is not in the schema");
                    break;
                case "RECORD":
                    var recordStream = (string)message["stream"]!;
                    if (!output.Schemas.TryGetValue(recordStream, out var recordSchema))
                        throw new Xunit.Sdk.XunitException($"line {line}: RECORD of stream {recordStream} before its SCHEMA");
                    var record = message["record"] as JsonObject ?? throw new Xunit.Sdk.XunitException($"line {line}: RECORD without record object");
                    Conforms(record, recordSchema, $"line {line} stream {recordStream}");
                    break;
                case "STATE":
                    Assert.True(message["value"] is JsonObject, $"line {line}: STATE value must be an object");
                    break;
                case "ACTIVATE_VERSION":
                    break;
                default:
                    throw new Xunit.Sdk.XunitException($"line {line}: unknown message type {type}");
            }
        }
        return output;
    }

    /// <summary>Checks a value against a JSON Schema subset: type (with null), format date/date-time/time/uuid, properties, items, multipleOf.</summary>
    public static void Conforms(JsonNode? value, JsonNode? schema, string where)
    {
        if (schema is not JsonObject s || s.Count == 0) return;
        var types = s["type"] switch
        {
            JsonArray a => a.Select(t => (string)t!).ToList(),
            JsonValue v => [(string)v!],
            _ => s["properties"] is JsonObject ? ["object"] : null,
        };
        if (types is null) return;
        if (value is null)
        {
            Assert.True(types.Contains("null"), $"{where}: null where the schema does not allow it");
            return;
        }
        var kind = value.GetValueKind();
        var ok = kind switch
        {
            // A bare NaN / Infinity as Python prints it, which the reader hands on quoted (NamedFloatLiterals).
            JsonValueKind.String => types.Contains("string") || (types.Contains("number") && (string)value! is "NaN" or "Infinity" or "-Infinity"),
            JsonValueKind.True or JsonValueKind.False => types.Contains("boolean"),
            JsonValueKind.Number => types.Contains("number") || (types.Contains("integer") && value.AsValue().TryGetValue(out long _)),
            JsonValueKind.Object => types.Contains("object"),
            JsonValueKind.Array => types.Contains("array"),
            _ => false,
        };
        Assert.True(ok, $"{where}: value {value.ToJsonString()} is not of type {string.Join("|", types)}");
        if (kind == JsonValueKind.String && s["format"] is JsonValue f)
        {
            var text = (string)value!;
            var valid = (string)f! switch
            {
                "date-time" => DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out _),
                "date" => DateOnly.TryParseExact(text, "yyyy-MM-dd", out _),
                "time" => TimeOnly.TryParse(text, CultureInfo.InvariantCulture, out _),
                "uuid" => Guid.TryParse(text, out _),
                _ => true,
            };
            Assert.True(valid, $"{where}: '{text}' is not a valid {f}");
        }
        if (kind == JsonValueKind.Number && s["multipleOf"] is JsonValue step)
        {
            // Exactly, in big integers: a step of 10^-29 or finer, and values of up to 38 digits, are past System.Decimal.
            var (d, m) = (Exact(value.ToJsonString()), Exact(step.ToJsonString()));
            var scale = Math.Max(d.Scale, m.Scale);
            Assert.True(d.Digits * System.Numerics.BigInteger.Pow(10, scale - d.Scale) % (m.Digits * System.Numerics.BigInteger.Pow(10, scale - m.Scale)) == 0,
                $"{where}: {value.ToJsonString()} is not a multiple of {step.ToJsonString()}");
        }
        if (kind == JsonValueKind.Object && s["properties"] is JsonObject props)
            foreach (var (name, sub) in value.AsObject())
            {
                Assert.True(props.ContainsKey(name), $"{where}: property {name} is not in the schema");
                Conforms(sub, props[name], $"{where}.{name}");
            }
        if (kind == JsonValueKind.Array && s["items"] is JsonObject items)
            foreach (var item in value.AsArray()) Conforms(item, items, $"{where}[]");
    }

    /// <summary>What the runner would enforce on top of the reader: a RECORD needs its stream's SCHEMA first, STATE is an object.</summary>
    private sealed class ProtocolCheck : ISingerHandler
    {
        private readonly Dictionary<string, JsonObject> _schemas = new();

        public void OnSchema(string stream, JsonElement schema, IReadOnlyList<string> keyProperties, long line)
            => _schemas[stream] = JsonNode.Parse(schema.GetRawText())!.AsObject();

        public void OnRecord(ReadOnlySpan<byte> streamUtf8, ref Utf8JsonReader record, ReadOnlySpan<byte> rawLine, long line)
        {
            var stream = Encoding.UTF8.GetString(streamUtf8);
            if (!_schemas.TryGetValue(stream, out var schema)) throw new Xunit.Sdk.XunitException($"line {line}: RECORD of stream {stream} before its SCHEMA");
            Conforms(JsonNode.Parse(ref record), schema, $"line {line} stream {stream}");
        }

        public void OnState(SingerState state, long line) => Assert.True(JsonNode.Parse(state.Text) is JsonObject, $"line {line}: STATE value must be an object");

        public void OnActivateVersion(string stream, long version, long line) => Assert.True(version > 0, $"line {line}: ACTIVATE_VERSION without a positive version");

        public void OnUnknown(string type, long line) => throw new Xunit.Sdk.XunitException($"line {line}: unknown message type {type}");
    }
}
