using System.Text;
using System.Text.Json;

namespace DataSpoc.Pipe.Singer;

/// <summary>What the engine does with each Singer message. RECORD bodies arrive as a reader positioned on the object.</summary>
internal interface ISingerHandler
{
    void OnSchema(string stream, JsonElement schema, IReadOnlyList<string> keyProperties, long line);
    /// <summary><paramref name="record"/> is positioned on the record's StartObject; <paramref name="rawLine"/> is the whole message.</summary>
    void OnRecord(ReadOnlySpan<byte> streamUtf8, ref Utf8JsonReader record, ReadOnlySpan<byte> rawLine, long line);
    void OnState(JsonElement value, long line);
    void OnActivateVersion(string stream, long version, long line);
    void OnUnknown(string type, long line);
}

/// <summary>
/// Reads Singer messages line by line and hands them to a handler. RECORD lines, the hot path, are read with a
/// single <see cref="Utf8JsonReader"/> pass and no allocation; the rare SCHEMA/STATE lines use <see cref="JsonDocument"/>.
/// Anything that breaks the protocol throws <see cref="SingerProtocolException"/> naming the line.
/// </summary>
internal sealed class SingerMessageReader(ISingerHandler handler)
{
    private static readonly byte[] TypeKey = "type"u8.ToArray();
    private static readonly byte[] StreamKey = "stream"u8.ToArray();
    private static readonly byte[] RecordKey = "record"u8.ToArray();
    private static readonly byte[] RecordType = "RECORD"u8.ToArray();
    public const int MaxDepth = 200;
    private static readonly JsonReaderOptions Options = new() { MaxDepth = MaxDepth, CommentHandling = JsonCommentHandling.Disallow };
    private byte[] _stream = new byte[256];

    public void ReadAll(SingerLineReader lines, CancellationToken cancellationToken)
    {
        while (lines.TryReadLine(out var line))
        {
            if ((lines.LineNumber & 0x3FFF) == 0) cancellationToken.ThrowIfCancellationRequested();
            DispatchLine(line, lines.LineNumber, lines.LastLineUnterminated);
        }
    }

    /// <summary>Parses one line and hands its message to the handler; blank lines are skipped.</summary>
    public void DispatchLine(ReadOnlySpan<byte> line, long lineNumber, bool unterminated)
    {
        if (line.Trim(" \t"u8).IsEmpty) return;
        try
        {
            Dispatch(line, lineNumber);
        }
        catch (JsonException e)
        {
            var why = unterminated ? "the last line is truncated (no newline) and is not valid JSON" : "not valid JSON";
            throw new SingerProtocolException(lineNumber, $"{why}: {Clean(e.Message)}");
        }
        catch (ArgumentException e) when (e is not ArgumentNullException)
        {
            throw new SingerProtocolException(lineNumber, $"not valid JSON or UTF-8: {e.Message}");
        }
    }

    private static string Clean(string message)
    {
        var i = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return i > 0 ? message[..i] : message;
    }

    private void Dispatch(ReadOnlySpan<byte> line, long lineNumber)
    {
        var r = new Utf8JsonReader(line, Options);
        if (!r.Read() || r.TokenType != JsonTokenType.StartObject)
            throw new SingerProtocolException(lineNumber, "a Singer message must be a JSON object");
        var isRecord = false;
        var typeSeen = false;
        var streamLength = -1;
        var recordStart = -1;
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            if (r.ValueTextEquals(TypeKey))
            {
                r.Read();
                if (r.TokenType != JsonTokenType.String) throw new SingerProtocolException(lineNumber, "\"type\" must be a string");
                typeSeen = true;
                if (!r.ValueTextEquals(RecordType))
                {
                    DispatchOther(line, lineNumber);
                    return;
                }
                isRecord = true;
            }
            else if (r.ValueTextEquals(StreamKey))
            {
                r.Read();
                if (r.TokenType != JsonTokenType.String) throw new SingerProtocolException(lineNumber, "\"stream\" must be a string");
                streamLength = CopyStream(ref r);
            }
            else if (r.ValueTextEquals(RecordKey))
            {
                r.Read();
                if (isRecord && streamLength >= 0)
                {
                    if (r.TokenType != JsonTokenType.StartObject)
                        throw new SingerProtocolException(lineNumber, $"\"record\" must be an object, got {Parquet.RecordShredder.Describe(r.TokenType)}", Stream(streamLength));
                    handler.OnRecord(_stream.AsSpan(0, streamLength), ref r, line, lineNumber);
                    FinishLine(ref r, lineNumber);
                    return;
                }
                recordStart = (int)r.TokenStartIndex;
                r.Skip();
            }
            else
            {
                r.Read();
                r.Skip();
            }
        }
        if (!typeSeen) throw new SingerProtocolException(lineNumber, "the message has no \"type\"");
        if (streamLength < 0) throw new SingerProtocolException(lineNumber, "RECORD message has no \"stream\"");
        if (recordStart < 0) throw new SingerProtocolException(lineNumber, "RECORD message has no \"record\"", Stream(streamLength));
        // "record" came before "type"/"stream": parse it now from where it starts.
        var again = new Utf8JsonReader(line[recordStart..], Options);
        again.Read();
        if (again.TokenType != JsonTokenType.StartObject)
            throw new SingerProtocolException(lineNumber, "\"record\" must be an object", Stream(streamLength));
        handler.OnRecord(_stream.AsSpan(0, streamLength), ref again, line, lineNumber);
    }

    /// <summary>After the record: the rest of the line must still be valid JSON (a truncated line must not pass).</summary>
    private static void FinishLine(ref Utf8JsonReader r, long lineNumber)
    {
        while (r.Read())
        {
            if (r.TokenType == JsonTokenType.PropertyName) { r.Read(); r.Skip(); }
        }
        if (r.CurrentDepth != 0 || r.TokenType != JsonTokenType.EndObject)
            throw new SingerProtocolException(lineNumber, "the message is not a complete JSON object");
    }

    private int CopyStream(ref Utf8JsonReader r)
    {
        var max = r.HasValueSequence ? (int)r.ValueSequence.Length : r.ValueSpan.Length;
        if (_stream.Length < max) _stream = new byte[Math.Max(max, _stream.Length * 2)];
        if (!r.ValueIsEscaped && !r.HasValueSequence)
        {
            r.ValueSpan.CopyTo(_stream);
            return r.ValueSpan.Length;
        }
        return r.CopyString(_stream);
    }

    private string Stream(int length) => Encoding.UTF8.GetString(_stream, 0, length);

    private void DispatchOther(ReadOnlySpan<byte> line, long lineNumber)
    {
        using var doc = JsonDocument.Parse(line.ToArray(), new JsonDocumentOptions { MaxDepth = MaxDepth });
        var root = doc.RootElement;
        var type = root.GetProperty("type").GetString()!;
        switch (type)
        {
            case "SCHEMA":
            {
                var stream = RequiredString(root, "stream", lineNumber, type);
                if (!root.TryGetProperty("schema", out var schema))
                    throw new SingerProtocolException(lineNumber, "SCHEMA message has no \"schema\"", stream);
                var keys = new List<string>();
                if (root.TryGetProperty("key_properties", out var kp) && kp.ValueKind == JsonValueKind.Array)
                    foreach (var k in kp.EnumerateArray())
                        if (k.ValueKind == JsonValueKind.String) keys.Add(k.GetString()!);
                handler.OnSchema(stream, schema.Clone(), keys, lineNumber);
                break;
            }
            case "STATE":
                if (!root.TryGetProperty("value", out var value))
                    throw new SingerProtocolException(lineNumber, "STATE message has no \"value\"");
                handler.OnState(value.Clone(), lineNumber);
                break;
            case "ACTIVATE_VERSION":
            {
                var stream = RequiredString(root, "stream", lineNumber, type);
                if (!root.TryGetProperty("version", out var v) || !v.TryGetInt64(out var version))
                    throw new SingerProtocolException(lineNumber, "ACTIVATE_VERSION message has no integer \"version\"", stream);
                handler.OnActivateVersion(stream, version, lineNumber);
                break;
            }
            default:
                handler.OnUnknown(type, lineNumber);
                break;
        }
    }

    private static string RequiredString(JsonElement root, string key, long line, string type)
    {
        if (!root.TryGetProperty(key, out var v) || v.ValueKind != JsonValueKind.String)
            throw new SingerProtocolException(line, $"{type} message has no \"{key}\" string");
        return v.GetString()!;
    }
}
