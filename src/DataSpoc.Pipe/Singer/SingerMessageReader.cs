using System.Text;
using System.Text.Json;

namespace DataSpoc.Pipe.Singer;

/// <summary>What the engine does with each Singer message. RECORD bodies arrive as a reader positioned on the object.</summary>
internal interface ISingerHandler
{
    void OnSchema(string stream, JsonElement schema, IReadOnlyList<string> keyProperties, long line);
    /// <summary><paramref name="record"/> is positioned on the record's StartObject; <paramref name="rawLine"/> is the whole message.</summary>
    void OnRecord(ReadOnlySpan<byte> streamUtf8, ref Utf8JsonReader record, ReadOnlySpan<byte> rawLine, long line);
    /// <summary>
    /// A parsing lane's run of RECORD lines, in input order. A handler may take them in one loop, scanning records in the
    /// canonical shape directly (<see cref="SingerEnvelope.TryCanonical"/>, then checking the rest of the line
    /// with <see cref="SingerEnvelope.IsCompleteAfterRecord"/>); each line it does not take must go to
    /// <paramref name="reader"/>'s <see cref="SingerMessageReader.DispatchLine"/>.
    /// </summary>
    void OnRecordLines(in RecordLines lines, SingerMessageReader reader)
    {
        for (var i = 0; i < lines.Count; i++) reader.DispatchLine(lines[i], lines.LineNumber(i), lines.Unterminated(i));
    }
    void OnState(SingerState state, long line);
    void OnActivateVersion(string stream, long version, long line);
    void OnUnknown(string type, long line);
    /// <summary>A BATCH message: the stream's records are in the files it names (a handler that does not read them counts it as unknown).</summary>
    void OnBatch(string stream, SingerBatch batch, long line) => OnUnknown("BATCH", line);
}

/// <summary>Lines of one buffer, each with its line number; the last one may lack its newline (the input ended).</summary>
internal readonly ref struct RecordLines
{
    private readonly byte[] _buffer;
    private readonly ReadOnlySpan<int> _starts;
    private readonly ReadOnlySpan<int> _lengths;
    private readonly ReadOnlySpan<long> _lineNumbers;
    private readonly bool _lastUnterminated;

    public RecordLines(byte[] buffer, ReadOnlySpan<int> starts, ReadOnlySpan<int> lengths, ReadOnlySpan<long> lineNumbers, bool lastUnterminated)
    {
        _buffer = buffer;
        _starts = starts;
        _lengths = lengths;
        _lineNumbers = lineNumbers;
        _lastUnterminated = lastUnterminated;
    }

    public int Count => _starts.Length;
    public ReadOnlySpan<byte> this[int i] => _buffer.AsSpan(_starts[i], _lengths[i]);
    public long LineNumber(int i) => _lineNumbers[i];
    public bool Unterminated(int i) => _lastUnterminated && i == _starts.Length - 1;
}

/// <summary>
/// Reads Singer messages line by line and hands them to a handler. RECORD lines arrive in runs
/// (<see cref="DispatchRecordLines"/>), which a handler may scan directly when they have the canonical shape
/// (<c>{"type": "RECORD", "stream": "…", "record": {…}…}</c> in that order, no escapes in "stream"); any other line is
/// read with a single <see cref="Utf8JsonReader"/> pass and no allocation. The rare SCHEMA/STATE lines use
/// <see cref="JsonDocument"/>.
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

    /// <summary>Hands a run of RECORD lines to the handler, which may take them in one loop (a parsing lane does).</summary>
    public void DispatchRecordLines(in RecordLines lines) => handler.OnRecordLines(lines, this);

    /// <summary>Parses one line and hands its message to the handler; blank lines are skipped.</summary>
    public void DispatchLine(ReadOnlySpan<byte> line, long lineNumber, bool unterminated)
    {
        if (line.IsEmpty || (line[0] is (byte)' ' or (byte)'\t' && line.Trim(" \t"u8).IsEmpty)) return;
        try
        {
            if (!TryDispatch(line, lineNumber, out var notJson)
                && (NamedFloatLiterals.Current is not null || !NamedFloatLiterals.TryReadAgain(line, quoted => Dispatch(quoted, lineNumber))))
                throw notJson!;
        }
        catch (JsonException e)
        {
            if (TooDeep(line) is var (type, stream))
                throw new SingerProtocolException(lineNumber,
                    $"the {type ?? "message"} nests deeper than {MaxDepth} JSON levels, the most a Singer message may nest"
                    + (type == "SCHEMA" ? " (a SCHEMA takes about two levels per level its records nest: \"properties\" and the property's schema, more with anyOf)" : ""),
                    stream);
            var why = unterminated ? "the last line is truncated (no newline) and is not valid JSON" : "not valid JSON";
            throw new SingerProtocolException(lineNumber, $"{why}: {Clean(e.Message)}");
        }
        catch (ArgumentException e) when (e is not ArgumentNullException)
        {
            throw new SingerProtocolException(lineNumber, $"not valid JSON or UTF-8: {e.Message}");
        }
        catch (InvalidOperationException e) when (e.Source?.StartsWith("System.Text.Json", StringComparison.Ordinal) == true)
        {
            // Text that is valid JSON but not valid Unicode (a lone surrogate escape such as "\ud800"): System.Text.Json
            // reports it when the string is read, with Source "System.Text.Json.Rethrowable".
            throw new SingerProtocolException(lineNumber, $"not valid JSON or UTF-8: {e.Message}");
        }
    }

    /// <summary>
    /// The STATE's value as the tap wrote it. On a line read again with its named floats quoted
    /// (<see cref="NamedFloatLiterals.Current"/>), that is the original line's bytes of the value, bare NaN and all: the
    /// tap reads the state back as it wrote it, a float and not the string "NaN".
    /// </summary>
    private static SingerState StateOf(ReadOnlySpan<byte> line, JsonElement value, long lineNumber)
    {
        ReadEveryString(value, "value", lineNumber);
        var r = new Utf8JsonReader(line, Options);
        r.Read();
        while (r.Read() && !(r.TokenType == JsonTokenType.PropertyName && r.CurrentDepth == 1 && r.ValueTextEquals("value"u8)))
            if (r.TokenType == JsonTokenType.PropertyName) { r.Read(); r.Skip(); }
        r.Read();
        var start = (int)r.TokenStartIndex;
        r.Skip();
        var end = (int)r.BytesConsumed;
        var depth = new Utf8JsonReader(line[start..end], new JsonReaderOptions { MaxDepth = MaxStateDepth });
        try { while (depth.Read()) { } }
        catch (JsonException)
        {
            throw new SingerProtocolException(lineNumber, $"the STATE's value nests deeper than {MaxStateDepth} JSON levels, the most a state the pipeline saves may nest");
        }
        if (NamedFloatLiterals.Current is not { } rewrite) return SingerState.FromJson(Encoding.UTF8.GetString(line[start..end]));
        var text = rewrite.OriginalOf(start, end, out var hasWords);
        return SingerState.FromTapText(Encoding.UTF8.GetString(text), hasWords);
    }

    /// <summary>
    /// The deepest a STATE's value may nest: a commit journal and a split part's record hold it one level down, and
    /// those files are read at System.Text.Json's default depth (64).
    /// </summary>
    private const int MaxStateDepth = 63;

    /// <summary>
    /// Reads every string and name of a STATE's value, so that text which is not valid Unicode (a lone surrogate escape)
    /// fails here, naming its line and where in the state it is, and not when the state is saved after the data landed.
    /// </summary>
    private static void ReadEveryString(JsonElement value, string path, long lineNumber)
    {
        try
        {
            switch (value.ValueKind)
            {
                case JsonValueKind.String:
                    _ = value.GetString();
                    break;
                case JsonValueKind.Array:
                    var i = 0;
                    foreach (var item in value.EnumerateArray()) ReadEveryString(item, $"{path}[{i++}]", lineNumber);
                    break;
                case JsonValueKind.Object:
                    foreach (var property in value.EnumerateObject())
                    {
                        string name;
                        try { name = property.Name; }
                        catch (InvalidOperationException) { throw Refused(path + " (a property name)"); }
                        ReadEveryString(property.Value, path + "." + name, lineNumber);
                    }
                    break;
            }
        }
        catch (InvalidOperationException e) when (e.Source?.StartsWith("System.Text.Json", StringComparison.Ordinal) == true)
        {
            throw Refused(path);
        }

        SingerProtocolException Refused(string where) => new(lineNumber,
            $"the STATE message's {where} is a string that is not valid Unicode (a lone surrogate escape such as \\ud800, or bytes that are not UTF-8): "
            + "a state the pipeline saves must be text the tap can read back");
    }

    /// <summary>
    /// For a line the reader refused: its "type" and "stream" when it is valid JSON that only nests deeper than
    /// <see cref="MaxDepth"/> (null otherwise), so that the error says which limit and which stream and does not call a
    /// valid line "not valid JSON". Utf8JsonReader keeps its depth in a bit stack, not on the call stack, so reading
    /// the line again without the limit is safe; this runs only on the failing line.
    /// </summary>
    private static (string? Type, string? Stream)? TooDeep(ReadOnlySpan<byte> line)
    {
        try
        {
            var r = new Utf8JsonReader(line, new JsonReaderOptions { MaxDepth = int.MaxValue, CommentHandling = JsonCommentHandling.Disallow });
            if (!r.Read() || r.TokenType != JsonTokenType.StartObject) return null;
            string? type = null, stream = null;
            var deepest = 1; // containers open at once; the message object is the first
            while (r.Read())
            {
                if (r.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray) deepest = Math.Max(deepest, r.CurrentDepth + 1);
                if (r.CurrentDepth != 1 || r.TokenType != JsonTokenType.PropertyName) continue;
                var isType = r.ValueTextEquals(TypeKey);
                var isStream = r.ValueTextEquals(StreamKey);
                r.Read();
                if (r.TokenType == JsonTokenType.String && (isType || isStream))
                {
                    if (isType) type = r.GetString();
                    else stream = r.GetString();
                }
            }
            return deepest > MaxDepth && r.CurrentDepth == 0 && r.TokenType == JsonTokenType.EndObject ? (type, stream) : null;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException)
        {
            return null;
        }
    }

    private static string Clean(string message)
    {
        var i = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return i > 0 ? message[..i] : message;
    }

    /// <summary>
    /// Whether <paramref name="line"/> is a complete STATE message this reader takes as it is: one JSON object, valid
    /// Unicode in every string, with a <c>"value"</c> that is not null. Checked without building it, so that a tap sending a STATE after
    /// every record costs one pass per STATE (only the last one is kept); a line it refuses takes
    /// <see cref="DispatchLine"/>, which says what is wrong with it.
    /// </summary>
    public static bool IsWellFormedState(ReadOnlySpan<byte> line)
    {
        try
        {
            // At most as deep as the value's later parse takes (JsonNode's 64): a deeper line takes the full path, which fails it.
            var r = new Utf8JsonReader(line, new JsonReaderOptions { MaxDepth = 64 });
            if (!r.Read() || r.TokenType != JsonTokenType.StartObject) return false;
            var hasValue = false;
            Span<byte> scratch = stackalloc byte[256];
            var valueNext = false;
            while (r.Read())
            {
                // A null value (the tap has no state) takes the barrier path, where it changes nothing (RunIngest.OnState):
                // held, it would replace the STATE held before it.
                if (valueNext && r.TokenType == JsonTokenType.Null) return false;
                valueNext = r.TokenType is JsonTokenType.PropertyName && r.CurrentDepth == 1 && r.ValueTextEquals("value"u8);
                hasValue |= valueNext;
                if (r.TokenType is not (JsonTokenType.String or JsonTokenType.PropertyName)) continue;
                // The reader checks neither a string's UTF-8 nor what its escapes spell (a lone surrogate): reading the
                // value as text would, so this does.
                if (!r.ValueIsEscaped && !r.HasValueSequence)
                {
                    if (!System.Text.Unicode.Utf8.IsValid(r.ValueSpan)) return false;
                    continue;
                }
                var length = r.HasValueSequence ? (int)r.ValueSequence.Length : r.ValueSpan.Length;
                var buffer = length <= scratch.Length ? scratch : new byte[length];
                if (!System.Text.Unicode.Utf8.IsValid(buffer[..r.CopyString(buffer)])) return false;
            }
            return hasValue && r.TokenType == JsonTokenType.EndObject && r.CurrentDepth == 0;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException)
        {
            return false;
        }
    }

    /// <summary>Dispatches the line; false with the reader's error when it is not JSON (before any message was handled).</summary>
    private bool TryDispatch(ReadOnlySpan<byte> line, long lineNumber, out JsonException? notJson)
    {
        try
        {
            Dispatch(line, lineNumber);
            notJson = null;
            return true;
        }
        catch (JsonException e)
        {
            notJson = e;
            return false;
        }
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
                        throw new SingerProtocolException(lineNumber, $"\"record\" must be an object, got {JsonTokenNames.Describe(r.TokenType)}", Stream(streamLength));
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
        if (NamedFloatLiterals.Current is { } quoted) quoted.Offset = recordStart;
        again.Read();
        if (again.TokenType != JsonTokenType.StartObject)
            throw new SingerProtocolException(lineNumber, "\"record\" must be an object", Stream(streamLength));
        handler.OnRecord(_stream.AsSpan(0, streamLength), ref again, line, lineNumber);
    }

    /// <summary>
    /// After the record: the rest of the line must still be valid JSON (a truncated line must not pass), and hold no
    /// second "type", "stream" or "record" (a second record was dropped without a word).
    /// </summary>
    private static void FinishLine(ref Utf8JsonReader r, long lineNumber)
    {
        while (r.Read())
        {
            if (r.TokenType != JsonTokenType.PropertyName) continue;
            if (r.ValueTextEquals(RecordKey) || r.ValueTextEquals(StreamKey) || r.ValueTextEquals(TypeKey))
                throw new SingerProtocolException(lineNumber, $"the message holds \"{r.GetString()}\" twice");
            r.Read();
            r.Skip();
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
                handler.OnSchema(stream, schema.Clone(), KeyPropertiesOf(root, stream, lineNumber), lineNumber);
                break;
            }
            case "STATE":
                if (!root.TryGetProperty("value", out var value))
                    throw new SingerProtocolException(lineNumber, "STATE message has no \"value\"");
                handler.OnState(StateOf(line, value, lineNumber), lineNumber);
                break;
            case "ACTIVATE_VERSION":
            {
                var stream = RequiredString(root, "stream", lineNumber, type);
                if (!root.TryGetProperty("version", out var v))
                    throw new SingerProtocolException(lineNumber, "ACTIVATE_VERSION message has no integer \"version\"", stream);
                if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out var version))
                    throw new SingerProtocolException(lineNumber, $"ACTIVATE_VERSION \"version\" must be an integer, got {Describe(v)}", stream);
                handler.OnActivateVersion(stream, version, lineNumber);
                break;
            }
            case "BATCH":
            {
                var stream = RequiredString(root, "stream", lineNumber, type);
                handler.OnBatch(stream, SingerBatch.Parse(root, stream, lineNumber), lineNumber);
                break;
            }
            default:
                handler.OnUnknown(type, lineNumber);
                break;
        }
    }

    /// <summary>
    /// A SCHEMA's <c>key_properties</c>: a list of property names; absent or null is no key. A lone string is that one
    /// name, as singer-python's <c>write_schema</c> takes it; anything else is refused rather than taken as no key (a
    /// merge would then fail for want of a key the tap did send, and an append would record none).
    /// </summary>
    private static List<string> KeyPropertiesOf(JsonElement root, string stream, long line)
    {
        if (!root.TryGetProperty("key_properties", out var kp) || kp.ValueKind == JsonValueKind.Null) return [];
        if (kp.ValueKind == JsonValueKind.String) return [kp.GetString()!];
        if (kp.ValueKind != JsonValueKind.Array || kp.EnumerateArray().Any(k => k.ValueKind != JsonValueKind.String))
            throw new SingerProtocolException(line, $"SCHEMA \"key_properties\" must be a list of property names, got {Describe(kp)}", stream);
        return [.. kp.EnumerateArray().Select(k => k.GetString()!)];
    }

    /// <summary>A value named in an error: short JSON text as it is, a longer one by its kind.</summary>
    private static string Describe(JsonElement value)
    {
        var text = value.GetRawText();
        return text.Length <= 40 ? text : $"a JSON {value.ValueKind.ToString().ToLowerInvariant()}";
    }

    private static string RequiredString(JsonElement root, string key, long line, string type)
    {
        if (!root.TryGetProperty(key, out var v) || v.ValueKind != JsonValueKind.String)
            throw new SingerProtocolException(line, $"{type} message has no \"{key}\" string");
        return v.GetString()!;
    }
}
