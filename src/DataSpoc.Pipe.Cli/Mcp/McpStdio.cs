using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace DataSpoc.Pipe.Cli.Mcp;

/// <summary>
/// The MCP server's stdin and stdout. Each stdin line that is not a single JSON-RPC 2.0 message is answered here with
/// JSON-RPC's own error (-32700 parse error, -32600 invalid request), and so is a request other than <c>ping</c> before
/// the client's <c>initialize</c> (MCP's lifecycle: the session starts with it); every other line goes on to the SDK's
/// stream transport unchanged.
/// </summary>
/// <remarks>
/// Why a wrapper: the SDK's stdio transport (ModelContextProtocol 2.4) drops a line it cannot deserialize unless it can
/// find an id in it (<c>hello</c>, <c>42</c>, <c>{"foo":1}</c>, a batch: no answer at all, so a client waiting for one
/// hangs), answers an invalid request that has an id with -32700 rather than -32600, and cannot write <c>"id": null</c>
/// (its <c>RequestId</c> writes <c>""</c>), serves any request before <c>initialize</c>, and answers valid JSON nested
/// deeper than its serializer reads (<see cref="MaxNesting"/>) as a parse error. The SDK answers unknown methods (-32601) itself. Stdout is shared with the
/// SDK, so both write whole messages under one lock (<see cref="MessageOutput"/>).
/// </remarks>
internal sealed class McpStdio
{
    private const int ParseError = -32700, InvalidRequest = -32600;

    /// <summary>
    /// The deepest nesting of a message the SDK reads (System.Text.Json's default depth limit, which its serializer
    /// options keep): a deeper message is valid JSON, so it is refused here as an invalid request naming the limit.
    /// </summary>
    internal const int MaxNesting = 64;

    private static readonly byte[] Newline = "\n"u8.ToArray();
    // Stdout is no web page: quotes in a message stay quotes, not \u0022.
    private static readonly JsonWriterOptions Plain = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly Stream _stdin;
    private readonly MessageOutput _output;
    private readonly RequestsInFlight _inFlight = new();
    private readonly System.IO.Pipelines.Pipe _accepted = new();
    /// <summary>Whether the client's <c>initialize</c> request has come; until then only <c>ping</c> is served.</summary>
    private bool _initializeSeen;

    public McpStdio(Stream stdin, Stream stdout)
    {
        _stdin = stdin;
        _output = new MessageOutput(stdout, _inFlight);
        _ = Task.Run(PumpAsync);
    }

    /// <summary>The lines that are JSON-RPC messages, for the SDK to read.</summary>
    public Stream Input => _accepted.Reader.AsStream();

    /// <summary>Where the SDK writes its messages.</summary>
    public Stream Output => _output;

    private async Task PumpAsync()
    {
        try
        {
            using var reader = new StreamReader(_stdin, new UTF8Encoding(false));
            while (await reader.ReadLineAsync() is { } line)
            {
                if (string.IsNullOrWhiteSpace(line)) continue;
                // Refused before the id is taken: a request refused as too early may be sent again with its id.
                if ((Answer(line) ?? BeforeInitialize(line) ?? _inFlight.Refusal(line)) is { } answer)
                {
                    if (answer.Length > 0) await _output.WriteMessageAsync(answer, CancellationToken.None);
                    continue;
                }
                var result = await _accepted.Writer.WriteAsync(Encoding.UTF8.GetBytes(line + "\n"));
                if (result.IsCompleted) return; // the SDK stopped reading: the session is over
            }
            await _accepted.Writer.CompleteAsync();
        }
        catch (Exception e)
        {
            await _accepted.Writer.CompleteAsync(e);
        }
    }

    /// <summary>
    /// What to write back for <paramref name="line"/> instead of passing it on: null when it is a JSON-RPC message for
    /// the SDK; empty when nothing is owed (a batch of notifications only).
    /// </summary>
    internal static byte[]? Answer(string line)
    {
        if (NestingDepth(line) is > MaxNesting and var depth)
            return Error(RecoverId(line), InvalidRequest, $"Invalid Request: the message nests {depth} levels deep; this server reads messages nested at most {MaxNesting} levels");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line, new JsonDocumentOptions { MaxDepth = MaxNesting });
        }
        catch (JsonException e)
        {
            return Error(RecoverId(line), ParseError, "Parse error: " + e.Message);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Array)
                return Invalid(root) is { } problem ? Error(IdOf(root), InvalidRequest, "Invalid Request: " + problem) : null;

            // MCP (protocol 2025-06-18) has no batches, and the SDK reads one message per line: each request in the batch
            // gets its own error, so a client waiting for its id is answered; notifications get none (JSON-RPC 2.0).
            const string noBatches = "Invalid Request: batches are not supported (MCP removed JSON-RPC batching); send one message per line";
            if (root.GetArrayLength() == 0) return Error(null, InvalidRequest, "Invalid Request: an empty batch");
            var buffer = new ArrayBufferWriter<byte>();
            using (var writer = new Utf8JsonWriter(buffer, Plain))
            {
                writer.WriteStartArray();
                var any = false;
                foreach (var item in root.EnumerateArray())
                {
                    if (item.ValueKind == JsonValueKind.Object && !item.TryGetProperty("id", out _) && Invalid(item) is null) continue;
                    WriteError(writer, IdOf(item), InvalidRequest, noBatches);
                    any = true;
                }
                writer.WriteEndArray();
                writer.Flush();
                if (!any) return [];
            }
            return buffer.WrittenSpan.ToArray();
        }
    }

    /// <summary>How deep <paramref name="line"/>'s JSON nests (1: a flat object or array); null when it is not JSON.</summary>
    private static int? NestingDepth(string line)
    {
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(line), new JsonReaderOptions { MaxDepth = int.MaxValue });
        var deepest = 0;
        try
        {
            while (reader.Read())
                if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray) deepest = Math.Max(deepest, reader.CurrentDepth + 1);
        }
        catch (JsonException)
        {
            return null;
        }
        return deepest;
    }

    /// <summary>
    /// The -32600 answer to a request other than <c>initialize</c> or <c>ping</c> before the client's <c>initialize</c>
    /// (MCP's lifecycle); null for any other line (an <c>initialize</c> request opens the session). Notifications and
    /// responses pass: nothing is owed to them.
    /// </summary>
    private byte[]? BeforeInitialize(string line)
    {
        if (_initializeSeen) return null;
        using var document = JsonDocument.Parse(line, new JsonDocumentOptions { MaxDepth = MaxNesting });
        var root = document.RootElement;
        if (!root.TryGetProperty("method", out var method) || !root.TryGetProperty("id", out _)) return null;
        var name = method.GetString();
        if (name == "initialize") _initializeSeen = true;
        if (name is "initialize" or "ping") return null;
        return Error(IdOf(root), InvalidRequest, $"Invalid Request: '{name}' before 'initialize': a session starts with the client's initialize request (only ping may come before it)");
    }

    /// <summary>Why <paramref name="message"/> is not a JSON-RPC 2.0 request, notification or response; null if it is one.</summary>
    private static string? Invalid(JsonElement message)
    {
        if (message.ValueKind != JsonValueKind.Object) return $"a message is a JSON object, got {Describe(message)}";
        if (message.TryGetProperty("id", out var id) && id.ValueKind != JsonValueKind.Null && IdOf(message) is null)
            return $"\"id\" must be a string or a whole number, got {Describe(id)}";
        if (!message.TryGetProperty("jsonrpc", out var version) || version.ValueKind != JsonValueKind.String || version.GetString() != "2.0")
            return "\"jsonrpc\" must be \"2.0\"";
        if (message.TryGetProperty("method", out var method))
            return method.ValueKind == JsonValueKind.String ? null : $"\"method\" must be a string, got {Describe(method)}";
        // A response to a request the server sent (sampling, roots, elicitation).
        if (message.TryGetProperty("id", out _) && (message.TryGetProperty("result", out _) || message.TryGetProperty("error", out _)))
            return null;
        return "no \"method\" (nor an \"id\" with a \"result\" or an \"error\")";
    }

    /// <inheritdoc cref="Describe(JsonElement)"/>
    internal static string Describe(System.Text.Json.Nodes.JsonNode? value)
    {
        using var document = JsonDocument.Parse(value?.ToJsonString() ?? "null");
        return Describe(document.RootElement);
    }

    /// <summary>What kind of JSON value <paramref name="value"/> is, for an error message: "an object", "a string", "the number 5", "null".</summary>
    internal static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "the number " + value.GetRawText(),
        _ => value.GetRawText(),
    };

    /// <summary>The message's id when a client could be waiting for it: a string or a whole number (boxed).</summary>
    private static object? IdOf(JsonElement message) =>
        message.ValueKind != JsonValueKind.Object || !message.TryGetProperty("id", out var id) ? null
        : id.ValueKind == JsonValueKind.String ? id.GetString()
        : id.ValueKind == JsonValueKind.Number && id.TryGetInt64(out var number) ? number
        : null;

    /// <summary>The top-level id of a line that is not JSON as a whole (cut short, say), when it comes before the fault.</summary>
    private static object? RecoverId(string line)
    {
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(line), new JsonReaderOptions { MaxDepth = int.MaxValue });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isId = reader.ValueTextEquals("id"u8);
                if (!reader.Read()) return null;
                if (isId)
                    return reader.TokenType == JsonTokenType.String ? reader.GetString()
                        : reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var number) ? number
                        : null;
                reader.Skip();
            }
        }
        catch (JsonException)
        {
        }
        return null;
    }

    /// <summary>
    /// The ids of the requests passed to the SDK and not answered yet. The SDK keys a request's cancellation by its id, so
    /// a second request with the id of one still running took the first one's cancellation over (it could no longer be
    /// stopped) and both answers carried the id: the second is refused here (JSON-RPC ids must be unique in a session).
    /// A request cancelled without an answer keeps its id: it may still be winding down, and no id is to be used twice.
    /// </summary>
    private sealed class RequestsInFlight
    {
        private readonly HashSet<object> _ids = [];

        /// <summary>The -32600 answer to a request reusing an id in flight; null for any other line (its id is now in flight).</summary>
        public byte[]? Refusal(string line)
        {
            using var document = JsonDocument.Parse(line, new JsonDocumentOptions { MaxDepth = MaxNesting });
            var root = document.RootElement;
            if (!root.TryGetProperty("method", out _) || IdOf(root) is not { } id) return null;
            lock (_ids)
                if (_ids.Add(id)) return null;
            return Error(id, InvalidRequest, $"Invalid Request: id {(id is string text ? $"\"{text}\"" : id)} is already in use by a request still running; give each request its own id");
        }

        /// <summary>A message the SDK wrote: a response frees its id.</summary>
        public void Sent(ReadOnlySpan<byte> message)
        {
            var reader = new Utf8JsonReader(message);
            object? id = null;
            var isResponse = false;
            try
            {
                if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return;
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    if (reader.ValueTextEquals("method"u8)) return;
                    isResponse |= reader.ValueTextEquals("result"u8) || reader.ValueTextEquals("error"u8);
                    var isId = reader.ValueTextEquals("id"u8);
                    if (!reader.Read()) return;
                    if (isId)
                        id = reader.TokenType == JsonTokenType.String ? reader.GetString()
                            : reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var number) ? number
                            : null;
                    reader.Skip();
                }
            }
            catch (JsonException)
            {
                return;
            }
            if (isResponse && id is not null)
                lock (_ids) _ids.Remove(id);
        }
    }

    private static byte[] Error(object? id, int code, string message)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, Plain)) WriteError(writer, id, code, message);
        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteError(Utf8JsonWriter writer, object? id, int code, string message)
    {
        writer.WriteStartObject();
        writer.WriteString("jsonrpc", "2.0");
        writer.WritePropertyName("id");
        if (id is string text) writer.WriteStringValue(text);
        else if (id is long number) writer.WriteNumberValue(number);
        else writer.WriteNullValue();
        writer.WriteStartObject("error");
        writer.WriteNumber("code", code);
        writer.WriteString("message", message);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary>
    /// Stdout for the SDK: what it writes is held until it flushes (once per message) and then written in one piece under
    /// the lock this class's own answers take, so the two never interleave within a line.
    /// </summary>
    private sealed class MessageOutput(Stream stdout, RequestsInFlight inFlight) : Infrastructure.WriteOnlyStream
    {
        private readonly SemaphoreSlim _lock = new(1, 1);
        private readonly ArrayBufferWriter<byte> _pending = new();

        public async Task WriteMessageAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
        {
            await _lock.WaitAsync(cancellationToken);
            try
            {
                await stdout.WriteAsync(message, cancellationToken);
                await stdout.WriteAsync(Newline, cancellationToken);
                await stdout.FlushAsync(cancellationToken);
            }
            finally
            {
                _lock.Release();
            }
        }

        public override void Write(ReadOnlySpan<byte> buffer) => _pending.Write(buffer);

        public override async Task FlushAsync(CancellationToken cancellationToken)
        {
            await _lock.WaitAsync(cancellationToken);
            try
            {
                // Freed before the client can read the answer: a client that reuses the id once answered is not refused.
                inFlight.Sent(_pending.WrittenSpan);
                await stdout.WriteAsync(_pending.WrittenMemory, cancellationToken);
                await stdout.FlushAsync(cancellationToken);
                _pending.Clear();
            }
            finally
            {
                _lock.Release();
            }
        }

        public override void Flush() => FlushAsync(CancellationToken.None).GetAwaiter().GetResult();

        protected override void Dispose(bool disposing)
        {
            if (disposing) stdout.Dispose();
            base.Dispose(disposing);
        }

    }
}
