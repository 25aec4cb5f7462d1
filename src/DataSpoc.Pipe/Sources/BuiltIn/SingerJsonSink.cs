using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// A <see cref="RecordSink"/> that prints Singer JSON lines (UTF-8) to a stream: what <c>dataspoc-pipe tap</c>
/// writes, and how a typed source reaches any consumer that reads Singer. Values are written in the forms the lake
/// reads back to the same value: dates as <c>yyyy-MM-dd</c>, instants as <c>yyyy-MM-ddTHH:mm:ss.ffffffZ</c>,
/// times as <c>HH:mm:ss.ffffff</c>. Notices (<see cref="RecordSink.WriteNotice"/>) go to <paramref name="notices"/> as
/// <c>NOTICE ...</c> lines (a tap's stderr, where Singer taps log), or nowhere without one.
/// </summary>
internal sealed class SingerJsonSink(Stream output, TextWriter? notices = null) : RecordSink
{
    private readonly SingerWriter _writer = new(output);

    public override long Records => _writer.Records;

    public override RowWriter WriteSchema(string stream, JsonObject schema, IReadOnlyList<string> keyProperties, IReadOnlyList<string>? bookmarkProperties = null)
    {
        _writer.WriteSchema(stream, schema, keyProperties, bookmarkProperties);
        var names = (schema["properties"] as JsonObject)?.Select(p => JsonEncodedText.Encode(p.Key)).ToArray() ?? [];
        return new Rows(_writer, JsonEncodedText.Encode(stream), names);
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

    /// <summary>A time of day as RECORD lines carry it, to the microsecond.</summary>
    internal static void WriteTime(Utf8JsonWriter json, TimeOnly value)
    {
        Span<char> text = stackalloc char[15];
        value.TryFormat(text, out var written, "HH:mm:ss.ffffff", CultureInfo.InvariantCulture);
        json.WriteStringValue(text[..written]);
    }

    private sealed class Rows(SingerWriter writer, JsonEncodedText stream, JsonEncodedText[] names) : RowWriter
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
            if (double.IsFinite(value)) Current.WriteNumber(names[property], value);
            else
            {
                // Not JSON, but what Python's json.dumps (and so a singer-python tap) prints, and what the engine reads back.
                Current.WritePropertyName(names[property]);
                Current.WriteRawValue(NamedFloatLiterals.Word(value), skipInputValidation: true);
            }
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
            Current.WriteRawValue(value, skipInputValidation: true);
        }

        public override void Json(int property, ReadOnlySpan<char> value)
        {
            Current.WritePropertyName(names[property]);
            Current.WriteRawValue(value, skipInputValidation: true);
        }
    }
}
