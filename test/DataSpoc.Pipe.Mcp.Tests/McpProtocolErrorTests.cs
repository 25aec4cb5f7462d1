using System.Diagnostics;
using System.Text;
using System.Text.Json;
using DataSpoc.Pipe.Mcp.Tests.Support;

namespace DataSpoc.Pipe.Mcp.Tests;

/// <summary>
/// Speaks raw lines to the real <c>dataspoc-pipe mcp</c> process (no SDK client: it never sends a bad line): every line
/// that is not a JSON-RPC 2.0 message gets JSON-RPC's error answer, and the server goes on serving.
/// </summary>
public sealed class McpProtocolErrorTests : IDisposable
{
    private readonly string _home = Path.Combine(Path.GetTempPath(), "dsp-mcp-raw-" + Guid.NewGuid().ToString("N")[..10]);
    private readonly Process _server;
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _stderr = new();

    public McpProtocolErrorTests()
    {
        Directory.CreateDirectory(Path.Combine(_home, "pipelines"));
        var psi = new ProcessStartInfo(CliCommand.Words[0])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
        };
        foreach (var a in CliCommand.Words.Skip(1).Append("mcp")) psi.ArgumentList.Add(a);
        psi.Environment["DATASPOC_PIPE_HOME"] = _home;
        _server = Process.Start(psi)!;
        _server.ErrorDataReceived += (_, e) => { if (e.Data is { } line) _stderr.Enqueue(line); };
        _server.BeginErrorReadLine();
    }

    public void Dispose()
    {
        try { _server.StandardInput.Close(); } catch (IOException) { }
        if (!_server.WaitForExit(TimeSpan.FromSeconds(10))) _server.Kill(entireProcessTree: true);
        _server.Dispose();
        try { Directory.Delete(_home, true); } catch (IOException) { }
    }

    [Fact]
    public async Task Every_line_that_is_not_a_JSON_RPC_message_is_answered_with_its_error_code_and_the_server_keeps_serving()
    {
        var initialize = await Send("""{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}""");
        Assert.Equal(1, initialize.GetProperty("id").GetInt32());
        await _server.StandardInput.WriteLineAsync("""{"jsonrpc":"2.0","method":"notifications/initialized"}""");

        // Each line, the id its answer must carry (null: none could be read from it) and its JSON-RPC error code. The SDK's
        // transport answered none of the first four (a client waiting for an answer hung) and gave -32700 to the others.
        var cases = new (string Line, object? Id, int Code)[]
        {
            ("hello", null, -32700),
            ("42", null, -32600),
            ("""{"foo":1}""", null, -32600),
            ("""{"jsonrpc":"2.0","id":1.5,"method":"ping"}""", null, -32600),
            ("""{"id":4,"method":"ping"}""", 4L, -32600),
            ("""{"jsonrpc":"2.0","id":"x","method":5}""", "x", -32600),
            ("""{"jsonrpc":"2.0","id":3}""", 3L, -32600),
            ("""{"jsonrpc":"2.0","id":8,"method":"ping" """, 8L, -32700),
            ("[]", null, -32600),
            ("""{"jsonrpc":"2.0","id":2,"method":"no/such/method"}""", 2L, -32601),
        };
        foreach (var (line, id, code) in cases)
        {
            var answer = await Send(line);
            Assert.Equal("2.0", answer.GetProperty("jsonrpc").GetString());
            Assert.Equal(code, answer.GetProperty("error").GetProperty("code").GetInt32());
            var answered = answer.GetProperty("id");
            object? actual = answered.ValueKind switch { JsonValueKind.Number => answered.GetInt64(), JsonValueKind.String => answered.GetString(), _ => null };
            Assert.True(Equals(id, actual), $"{line}: id {answered.GetRawText()}, expected {id ?? "null"}");
        }

        // A batch (MCP has none): an error for each request in it, by its id; the notification in it gets none.
        var batch = await Send("""[{"jsonrpc":"2.0","id":5,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/x"},[1,2]]""");
        Assert.Equal(JsonValueKind.Array, batch.ValueKind);
        Assert.Equal(["5", "null"], batch.EnumerateArray().Select(e => e.GetProperty("id").GetRawText()));
        Assert.All(batch.EnumerateArray(), e => Assert.Equal(-32600, e.GetProperty("error").GetProperty("code").GetInt32()));

        // And the server still serves.
        var tools = await Send("""{"jsonrpc":"2.0","id":9,"method":"tools/list"}""");
        Assert.Equal(9, tools.GetProperty("id").GetInt32());
        Assert.Contains(tools.GetProperty("result").GetProperty("tools").EnumerateArray(), t => t.GetProperty("name").GetString() == "list_pipelines");

        // A refused request is logged in one line with its code; no stack trace (the SDK logged the unknown method's).
        var unknownTool = await Send("""{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"no_such_tool","arguments":{}}}""");
        Assert.Equal(10, unknownTool.GetProperty("id").GetInt32());
        for (var i = 0; i < 100 && !_stderr.Any(l => l.Contains("no/such/method", StringComparison.Ordinal)); i++) await Task.Delay(50);
        var lines = _stderr.ToArray();
        Assert.Contains(lines, l => l.StartsWith("warn: ", StringComparison.Ordinal) && l.Contains("-32601", StringComparison.Ordinal) && l.Contains("no/such/method", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_tools_call_whose_params_are_not_a_call_is_refused_as_invalid_params_saying_what_is_wrong_in_one_stderr_line()
    {
        await Send("""{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}""");
        await _server.StandardInput.WriteLineAsync("""{"jsonrpc":"2.0","method":"notifications/initialized"}""");

        // The SDK answered each -32603 "An error occurred." and logged its JSON exception's stack trace.
        var cases = new (string Params, string Message)[]
        {
            ("""{"arguments":{}}""", "tools/call needs params.name, the tool's name"),
            ("\"list_pipelines\"", "tools/call needs params, an object with name (the tool's name) and arguments (an object); got a string"),
            ("""["list_pipelines"]""", "got an array"),
            ("""{"name":5}""", "params.name must be a string, the tool's name; got the number 5"),
            ("""{"name":"list_pipelines","arguments":[1]}""", "params.arguments must be an object of the tool's arguments by name; got an array"),
        };
        var id = 2;
        foreach (var (parameters, message) in cases)
        {
            var answer = await Send($$"""{"jsonrpc":"2.0","id":{{id}},"method":"tools/call","params":{{parameters}}}""");
            Assert.Equal(id++, answer.GetProperty("id").GetInt32());
            Assert.Equal(-32602, answer.GetProperty("error").GetProperty("code").GetInt32());
            Assert.Contains(message, answer.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        // A call with null arguments is still a call.
        var listed = await Send("""{"jsonrpc":"2.0","id":20,"method":"tools/call","params":{"name":"list_pipelines","arguments":null}}""");
        Assert.False(listed.GetProperty("result").GetProperty("isError").GetBoolean());

        for (var i = 0; i < 100 && _stderr.Count(l => l.Contains("-32602", StringComparison.Ordinal)) < cases.Length; i++) await Task.Delay(50);
        var lines = _stderr.ToArray();
        Assert.Equal(cases.Length, lines.Count(l => l.StartsWith("warn: ", StringComparison.Ordinal) && l.Contains("-32602: tools/call", StringComparison.Ordinal)));
        Assert.DoesNotContain(lines, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal) || l.Contains("JsonException", StringComparison.Ordinal));
    }

    /// <summary>Writes <paramref name="line"/> and reads the next stdout line, failing the test after 20 s without one.</summary>
    private async Task<JsonElement> Send(string line)
    {
        await _server.StandardInput.WriteLineAsync(line);
        await _server.StandardInput.FlushAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            var answer = await _server.StandardOutput.ReadLineAsync(limit.Token);
            Assert.True(answer is not null, $"the server exited after {line}");
            return JsonDocument.Parse(answer).RootElement.Clone();
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"no answer in 20 s to: {line}");
            throw;
        }
    }
}
