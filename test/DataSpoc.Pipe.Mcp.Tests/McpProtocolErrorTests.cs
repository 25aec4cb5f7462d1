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
    public async Task A_request_before_initialize_is_refused_except_ping_and_its_id_can_be_used_once_initialized()
    {
        // The SDK served them all (tools/list, even tools/call) before any initialize.
        foreach (var (id, method) in new[] { (1, "tools/list"), (2, "resources/list") })
        {
            var early = await Send($$"""{"jsonrpc":"2.0","id":{{id}},"method":"{{method}}"}""");
            Assert.Equal(id, early.GetProperty("id").GetInt32());
            Assert.Equal(-32600, early.GetProperty("error").GetProperty("code").GetInt32());
            Assert.Equal($"Invalid Request: '{method}' before 'initialize': a session starts with the client's initialize request (only ping may come before it)",
                early.GetProperty("error").GetProperty("message").GetString());
        }
        var call = await Send("""{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"list_pipelines","arguments":{}}}""");
        Assert.Equal(-32600, call.GetProperty("error").GetProperty("code").GetInt32());
        Assert.True((await Send("""{"jsonrpc":"2.0","id":4,"method":"ping"}""")).TryGetProperty("result", out _));

        await Send("""{"jsonrpc":"2.0","id":5,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}""");
        await Write("""{"jsonrpc":"2.0","method":"notifications/initialized"}""");
        var tools = await Send("""{"jsonrpc":"2.0","id":1,"method":"tools/list"}""");
        Assert.Contains(tools.GetProperty("result").GetProperty("tools").EnumerateArray(), t => t.GetProperty("name").GetString() == "list_pipelines");
    }

    [Fact]
    public async Task Valid_json_nested_deeper_than_the_server_reads_is_an_invalid_request_naming_the_limit_not_a_parse_error()
    {
        await InitializeAsync();
        static string Call(int id, int arrays) =>
            $$"""{"jsonrpc":"2.0","id":{{id}},"method":"tools/call","params":{"name":"list_pipelines","arguments":{"x":""" + new string('[', arrays) + new string(']', arrays) + "}}}";

        // The SDK answered -32700 "Failed to parse the JSON-RPC request." for a line that parses.
        var deep = await Send(Call(2, 5000));
        Assert.Equal(2, deep.GetProperty("id").GetInt32());
        Assert.Equal(-32600, deep.GetProperty("error").GetProperty("code").GetInt32());
        Assert.Equal("Invalid Request: the message nests 5003 levels deep; this server reads messages nested at most 64 levels",
            deep.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(-32600, (await Send(Call(3, 62))).GetProperty("error").GetProperty("code").GetInt32());

        // 64 levels (the call's 3 and 61 arrays) are read: the tool answers (x is no argument of it).
        var deepest = await Send(Call(4, 61));
        Assert.Equal("x: unknown argument; list_pipelines takes no arguments", deepest.GetProperty("result").GetProperty("structuredContent").GetProperty("error").GetString());

        // Deep and not JSON: a parse error still.
        Assert.Equal(-32700, (await Send("""{"jsonrpc":"2.0","id":5,"params":""" + new string('[', 5000))).GetProperty("error").GetProperty("code").GetInt32());
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

    [Fact]
    public async Task Text_no_string_can_hold_an_unknown_cursor_and_an_unknown_resource_are_refused_each_in_one_warn_line()
    {
        await InitializeAsync();

        // A lone surrogate: the SDK's reading of the call failed, -32603 "An error occurred." with a stack trace.
        var surrogate = await Send("""{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"pipeline_config","arguments":{"name":"\ud800"}}}""");
        Assert.Equal(2, surrogate.GetProperty("id").GetInt32());
        Assert.True(surrogate.GetProperty("result").GetProperty("isError").GetBoolean(), surrogate.GetRawText());
        Assert.StartsWith("name: is not valid text: it holds a \\ud800-\\udfff escape without its pair",
            surrogate.GetProperty("result").GetProperty("structuredContent").GetProperty("error").GetString());

        // Every tool is on the first page: a cursor was answered with no tools at all.
        var cursor = await Send("""{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"cursor":"zzz"}}""");
        Assert.Equal(-32602, cursor.GetProperty("error").GetProperty("code").GetInt32());
        Assert.Contains("cursor 'zzz'", cursor.GetProperty("error").GetProperty("message").GetString());

        var resource = await Send("""{"jsonrpc":"2.0","id":4,"method":"resources/read","params":{"uri":"file:///etc/passwd"}}""");
        Assert.Equal(-32002, resource.GetProperty("error").GetProperty("code").GetInt32());
        var tool = await Send("""{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"no_such_tool","arguments":{}}}""");
        Assert.Equal(-32602, tool.GetProperty("error").GetProperty("code").GetInt32());

        // Each refusal is one warn line (the SDK wrote a "fail:" line before it for the resource and the tool).
        for (var i = 0; i < 100 && !_stderr.Any(l => l.Contains("no_such_tool", StringComparison.Ordinal)); i++) await Task.Delay(50);
        await Task.Delay(200);
        var lines = _stderr.ToArray();
        Assert.Equal(["warn"], lines.Where(l => l.Contains("file:///etc/passwd", StringComparison.Ordinal)).Select(l => l.Split(':')[0]));
        Assert.Equal(["warn"], lines.Where(l => l.Contains("no_such_tool", StringComparison.Ordinal)).Select(l => l.Split(':')[0]));
        Assert.Equal(["warn"], lines.Where(l => l.Contains("cursor 'zzz'", StringComparison.Ordinal)).Select(l => l.Split(':')[0]));
        Assert.DoesNotContain(lines, l => l.StartsWith("fail:", StringComparison.Ordinal) || l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_request_reusing_the_id_of_a_running_one_is_refused_and_the_running_one_can_still_be_cancelled()
    {
        await InitializeAsync();
        var tap = Path.Combine(_home, "sleepy_tap.sh");
        File.WriteAllText(tap, "#!/bin/sh\nexec sleep 120\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(tap, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        WritePipeline("sleepy", $"source:\n  tap: {tap}\n  name: slow\ndestination:\n  bucket: file://{Path.Combine(_home, "lake")}\n");

        await Write("""{"jsonrpc":"2.0","id":500,"method":"tools/call","params":{"name":"run_pipeline","arguments":{"name":"sleepy"}}}""");
        // Once the run holds its lock (a cancel before that ends it without a run log).
        var id = 600;
        while (!(await Status(id++, "sleepy")).TryGetProperty("running", out var running) || running.ValueKind != JsonValueKind.Object)
            Assert.True(id < 800, "the run did not start");

        // The SDK let the second take the id over: it answered it, and the cancel below no longer reached the run.
        var reused = await Send("""{"jsonrpc":"2.0","id":500,"method":"tools/call","params":{"name":"list_pipelines","arguments":{}}}""");
        Assert.Equal(500, reused.GetProperty("id").GetInt32());
        Assert.Equal(-32600, reused.GetProperty("error").GetProperty("code").GetInt32());
        Assert.Contains("id 500 is already in use", reused.GetProperty("error").GetProperty("message").GetString());

        await Write("""{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":500}}""");
        JsonElement row;
        while ((row = await Status(id++, "sleepy")).GetProperty("status").GetString() != "cancelled")
        {
            Assert.True(id < 900, $"the run was not cancelled: {row}");
            await Task.Delay(100);
        }
        // A cancelled request is not answered (the spec allows it), and its id stays taken: no second answer carries 500.
        Assert.Contains("id 500 is already in use", (await Send("""{"jsonrpc":"2.0","id":500,"method":"ping"}""")).GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task A_cancel_that_comes_after_the_commit_point_is_answered_with_the_committed_run()
    {
        // A loopback OpenLineage collector that holds the run's COMPLETE event (sent after the commit, before the run
        // returns) until the cancel is in: the cancel then lands on a run that has committed, every time.
        using var collector = new System.Net.HttpListener();
        var port = FreePort();
        collector.Prefixes.Add($"http://127.0.0.1:{port}/");
        collector.Start();
        var complete = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = Task.Run(async () =>
        {
            while (collector.IsListening)
            {
                System.Net.HttpListenerContext request;
                try { request = await collector.GetContextAsync(); }
                catch (System.Net.HttpListenerException) { return; }
                catch (ObjectDisposedException) { return; }
                var body = await new StreamReader(request.Request.InputStream).ReadToEndAsync();
                if (body.Contains("\"COMPLETE\"", StringComparison.Ordinal))
                {
                    complete.TrySetResult();
                    await release.Task;
                }
                request.Response.StatusCode = 200;
                request.Response.Close();
            }
        });
        File.WriteAllText(Path.Combine(_home, "config.yaml"), $"openlineage:\n  transport:\n    type: http\n    url: http://127.0.0.1:{port}\n    timeout: 60s\n");
        var singer = Path.Combine(_home, "orders.singer");
        File.WriteAllText(singer, """
            {"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"}}}}
            {"type":"RECORD","stream":"orders","record":{"id":1}}

            """);
        WritePipeline("quick", $"source:\n  tap: python3 {Path.Combine(AppContext.BaseDirectory, "Assets", "replay_tap.py")}\n  name: shop\n  config:\n    file: {singer}\ndestination:\n  bucket: file://{Path.Combine(_home, "lake")}\n");
        await InitializeAsync();

        await Write("""{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"run_pipeline","arguments":{"name":"quick"}}}""");
        await complete.Task.WaitAsync(TimeSpan.FromSeconds(60));
        await Write("""{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7}}""");
        // Answered after the cancel was read: by then it has reached the run's request.
        Assert.Equal(8, (await Send("""{"jsonrpc":"2.0","id":8,"method":"ping"}""")).GetProperty("id").GetInt32());
        await Task.Delay(200);
        release.TrySetResult();

        // The SDK sent nothing: the client never learnt that its "cancelled" run committed.
        var answer = await Read("the run's answer after its cancel");
        Assert.Equal(7, answer.GetProperty("id").GetInt32());
        var result = answer.GetProperty("result");
        Assert.False(result.GetProperty("isError").GetBoolean(), answer.GetRawText());
        var run = result.GetProperty("structuredContent");
        Assert.Equal("success", run.GetProperty("status").GetString());
        Assert.Equal(1, run.GetProperty("total_records").GetInt32());
        Assert.Equal($"notifications/cancelled came too late to stop the run (it had passed its commit point): the run ended success (run {run.GetProperty("run_id").GetString()})",
            run.GetProperty("note").GetString());
    }

    private async Task InitializeAsync()
    {
        await Send("""{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}""");
        await Write("""{"jsonrpc":"2.0","method":"notifications/initialized"}""");
    }

    private void WritePipeline(string name, string yaml) => File.WriteAllText(Path.Combine(_home, "pipelines", name + ".yaml"), yaml);

    /// <summary>The pipeline's row of pipeline_status, asked with request id <paramref name="id"/>.</summary>
    private async Task<JsonElement> Status(int id, string name)
    {
        var answer = await Send($$"""{"jsonrpc":"2.0","id":{{id}},"method":"tools/call","params":{"name":"pipeline_status","arguments":{"name":"{{name}}"} } }""");
        Assert.Equal(id, answer.GetProperty("id").GetInt32());
        return answer.GetProperty("result").GetProperty("structuredContent").GetProperty("pipelines")[0];
    }

    private static int FreePort()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private async Task Write(string line)
    {
        await _server.StandardInput.WriteLineAsync(line);
        await _server.StandardInput.FlushAsync();
    }

    /// <summary>Writes <paramref name="line"/> and reads the next stdout line, failing the test after 20 s without one.</summary>
    private async Task<JsonElement> Send(string line)
    {
        await Write(line);
        return await Read(line);
    }

    /// <summary>Reads the next stdout line, failing the test after 20 s without one (<paramref name="line"/> names what it answers).</summary>
    private async Task<JsonElement> Read(string line)
    {
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
