using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// Writes Singer messages (SCHEMA, RECORD, STATE) as UTF-8 JSON lines. Messages are buffered and handed to the
/// output in chunks of about 64 KiB, so a record costs no stream call; call <see cref="FlushIfFullAsync"/> after each.
/// </summary>
internal sealed class SingerWriter
{
    private const int ChunkBytes = 64 * 1024;
    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true };
    private static readonly JsonEncodedText TypeName = JsonEncodedText.Encode("type");
    private static readonly JsonEncodedText StreamName = JsonEncodedText.Encode("stream");
    private static readonly JsonEncodedText RecordName = JsonEncodedText.Encode("record");
    private static readonly JsonEncodedText RecordType = JsonEncodedText.Encode("RECORD");

    private readonly Stream _output;
    private readonly ArrayBufferWriter<byte> _buffer = new(ChunkBytes * 2);
    private readonly Utf8JsonWriter _json;

    public SingerWriter(Stream output)
    {
        _output = output;
        _json = new Utf8JsonWriter(_buffer, Options);
    }

    /// <summary>Records written so far (all streams).</summary>
    public long Records { get; private set; }

    public void WriteSchema(string stream, JsonObject schema, IReadOnlyList<string> keyProperties, IReadOnlyList<string>? bookmarkProperties = null)
    {
        _json.WriteStartObject();
        _json.WriteString(TypeName, "SCHEMA");
        _json.WriteString(StreamName, stream);
        _json.WritePropertyName("schema");
        schema.WriteTo(_json);
        _json.WriteStartArray("key_properties");
        foreach (var key in keyProperties) _json.WriteStringValue(key);
        _json.WriteEndArray();
        if (bookmarkProperties is { Count: > 0 })
        {
            _json.WriteStartArray("bookmark_properties");
            foreach (var key in bookmarkProperties) _json.WriteStringValue(key);
            _json.WriteEndArray();
        }
        _json.WriteEndObject();
        EndLine();
    }

    /// <summary>Starts a RECORD; the caller writes the record's properties on the returned writer, then calls <see cref="EndRecord"/>.</summary>
    public Utf8JsonWriter BeginRecord(JsonEncodedText stream)
    {
        _json.WriteStartObject();
        _json.WriteString(TypeName, RecordType);
        _json.WriteString(StreamName, stream);
        _json.WriteStartObject(RecordName);
        return _json;
    }

    public void EndRecord()
    {
        _json.WriteEndObject();
        _json.WriteEndObject();
        Records++;
        EndLine();
    }

    /// <summary>Writes a RECORD whose body is an already valid JSON object (passed through byte for byte).</summary>
    public void WriteRawRecord(JsonEncodedText stream, ReadOnlySpan<byte> record)
    {
        _json.WriteStartObject();
        _json.WriteString(TypeName, RecordType);
        _json.WriteString(StreamName, stream);
        _json.WritePropertyName(RecordName);
        _json.WriteRawValue(record, skipInputValidation: true);
        _json.WriteEndObject();
        Records++;
        EndLine();
    }

    public void WriteState(JsonNode state)
    {
        _json.WriteStartObject();
        _json.WriteString(TypeName, "STATE");
        _json.WritePropertyName("value");
        state.WriteTo(_json);
        _json.WriteEndObject();
        EndLine();
    }

    /// <summary>Singer's "rows of any other version are obsolete": the lake replaces the stream's table.</summary>
    public void WriteActivateVersion(string stream, long version)
    {
        _json.WriteStartObject();
        _json.WriteString(TypeName, "ACTIVATE_VERSION");
        _json.WriteString(StreamName, stream);
        _json.WriteNumber("version", version);
        _json.WriteEndObject();
        EndLine();
    }

    /// <summary>Hands buffered lines to the output once a chunk is full (cheap otherwise).</summary>
    public ValueTask FlushIfFullAsync(CancellationToken cancellationToken)
        => _buffer.WrittenCount >= ChunkBytes ? FlushAsync(cancellationToken) : ValueTask.CompletedTask;

    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        if (_buffer.WrittenCount == 0) return;
        await _output.WriteAsync(_buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
        _buffer.ResetWrittenCount();
        _json.Reset(_buffer);
    }

    private void EndLine()
    {
        _json.Flush();
        _buffer.GetSpan(1)[0] = (byte)'\n';
        _buffer.Advance(1);
        _json.Reset(_buffer);
    }
}
