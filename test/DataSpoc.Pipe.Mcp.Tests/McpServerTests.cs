using System.Collections.Concurrent;
using System.Text.Json;
using DataSpoc.Pipe.Mcp.Tests.Support;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace DataSpoc.Pipe.Mcp.Tests;

/// <summary>
/// Starts the real <c>dataspoc-pipe mcp</c> process with the official SDK's client over stdio, against a temporary home
/// whose pipelines carry planted secrets (inline password, a ${VAR} token, a tap that prints the password to stderr).
/// </summary>
public sealed class McpServerTests : IAsyncLifetime
{
    private const string Password = "hunter2-planted-password";
    private const string Token = "tok-from-env-8c1f0e";
    private const string DotEnvSecret = "dotenv-planted-3a9b";
    private const string Schema = """{"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"email":{"type":["null","string"]},"amount":{"type":"number"}}}}""";

    private readonly string _root = Path.Combine(Path.GetTempPath(), "dsp-mcp-" + Guid.NewGuid().ToString("N")[..10]);
    private readonly ConcurrentQueue<string> _stderr = new();
    private readonly List<string> _responses = [];
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..6];
    private McpClient _client = null!;

    private string Home => Path.Combine(_root, "home");
    private string Lake => Path.Combine(_root, "lake");
    private string Orders => "orders-" + _suffix;
    private string Broken => "broken-" + _suffix;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Path.Combine(Home, "pipelines"));
        Directory.CreateDirectory(Lake);
        var singer = Path.Combine(_root, "orders.singer");
        File.WriteAllText(singer, string.Join("\n", Schema,
            """{"type":"RECORD","stream":"orders","record":{"id":1,"email":"ana@example.com","amount":10.5}}""",
            """{"type":"RECORD","stream":"orders","record":{"id":2,"email":"bo@example.com","amount":3}}""",
            """{"type":"RECORD","stream":"orders","record":{"id":3,"email":null,"amount":7.25}}""") + "\n");
        var tap = "python3 " + Path.Combine(AppContext.BaseDirectory, "Assets", "replay_tap.py");
        File.WriteAllText(Path.Combine(Home, "pipelines", Orders + ".yaml"), $"""
            source:
              tap: {tap}
              name: shop
              config:
                file: {singer}
                password: {Password}
                api: ${"{"}MCP_TEST_TOKEN{"}"}
                from_env_file: ${"{"}MCP_DOTENV_SECRET{"}"}
                delimiter: "${"{"}MCP_DELIMITER:-,{"}"}"
                separator: ${"{"}MCP_SEPARATOR{"}"}
            destination:
              bucket: file://{Lake}
            transforms:
              orders:
                hash: [email]
            """);
        File.WriteAllText(Path.Combine(Home, "pipelines", Broken + ".yaml"), $"""
            source:
              tap: {tap}
              name: shop
              config:
                file: {singer}
                password: {Password}
                exit_code: 3
                stderr: "login refused for password {Password}"
            destination:
              bucket: file://{Lake}
            """);

        // The home's private .env: the server reads it as the CLI does, and masks its values everywhere.
        var envFile = Path.Combine(Home, ".env");
        // A separator set in .env: JSON syntax itself (masking it in the JSON text broke every tool's answer).
        File.WriteAllText(envFile, $"MCP_DOTENV_SECRET={DotEnvSecret}\nMCP_SEPARATOR=:\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(envFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var transport = new StdioClientTransport(new StdioClientTransportOptions
        {
            Name = "dataspoc-pipe",
            Command = CliCommand.Words[0],
            Arguments = [.. CliCommand.Words.Skip(1), "mcp"],
            // Keys for the stalled S3 endpoint of A_bucket_that_never_answers_...: without them the read fails at once.
            EnvironmentVariables = new Dictionary<string, string?>
            {
                ["DATASPOC_PIPE_HOME"] = Home, ["MCP_TEST_TOKEN"] = Token,
                ["AWS_ACCESS_KEY_ID"] = "AKIATESTSTALLED", ["AWS_SECRET_ACCESS_KEY"] = "not-a-real-secret",
            },
            StandardErrorLines = _stderr.Enqueue,
        });
        _client = await McpClient.CreateAsync(transport);
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        try { Directory.Delete(_root, true); } catch (IOException) { }
    }

    [Fact]
    public async Task List_pipelines_shows_a_file_whose_name_is_no_pipeline_name_by_its_file_as_status_does()
    {
        // pipelines/.yaml (what `add "$NAME"` leaves when the variable is empty) was listed as a blank name only.
        File.WriteAllText(Path.Combine(Home, "pipelines", ".yaml"), "source:\n  tap: csv\ndestination:\n  bucket: file:///tmp/x\n");
        var rows = (await Call("list_pipelines")).GetProperty("pipelines").EnumerateArray().ToList();
        var stray = Assert.Single(rows, r => r.GetProperty("name").GetString() == "");
        Assert.Equal(Path.Combine("pipelines", ".yaml"), stray.GetProperty("shown").GetString());
        Assert.Contains(".yaml: the file name gives the pipeline name ''", stray.GetProperty("error").GetString());
        Assert.Equal(Orders, Assert.Single(rows, r => r.GetProperty("name").GetString() == Orders).GetProperty("shown").GetString());
    }

    [Fact]
    public async Task An_agent_lists_tools_runs_a_pipeline_and_reads_status_logs_manifest_and_tables_without_ever_seeing_a_secret()
    {
        var tools = await _client.ListToolsAsync();
        Assert.Equal(
            ["expire_pipeline_logs", "list_pipelines", "list_streams", "list_tables", "maintain_tables", "pipeline_config", "pipeline_logs", "pipeline_status", "run_pipeline", "show_manifest", "validate_pipeline"],
            tools.Select(t => t.Name).Order(StringComparer.Ordinal));

        var pipelines = await Call("list_pipelines");
        Assert.Equal([Broken, Orders], pipelines.GetProperty("pipelines").EnumerateArray().Select(p => p.GetProperty("name").GetString()).Order(StringComparer.Ordinal));

        var config = await Call("pipeline_config", new() { ["name"] = Orders });
        Assert.Equal("***", config.GetProperty("config").GetProperty("source").GetProperty("config").GetProperty("password").GetString());
        Assert.Equal("***", config.GetProperty("config").GetProperty("source").GetProperty("config").GetProperty("api").GetString());
        Assert.Equal("***", config.GetProperty("config").GetProperty("source").GetProperty("config").GetProperty("from_env_file").GetString());
        // A ${VAR:-default} that took its default is the file's own text: shown as it is.
        Assert.Equal(",", config.GetProperty("config").GetProperty("source").GetProperty("config").GetProperty("delimiter").GetString());
        Assert.Equal("***", config.GetProperty("config").GetProperty("source").GetProperty("config").GetProperty("separator").GetString());

        var progress = new ConcurrentQueue<ProgressNotificationValue>();
        var run = await Call("run_pipeline", new() { ["name"] = Orders, ["full"] = true }, new SyncProgress(progress.Enqueue));
        Assert.Equal("success", run.GetProperty("status").GetString());
        Assert.Equal(3, run.GetProperty("total_records").GetInt64());
        Assert.Equal(3, run.GetProperty("log").GetProperty("streams").GetProperty("orders").GetProperty("records").GetInt64());
        // The client may drop notifications it handles after the result (the last one can race it); the first cannot.
        await WaitFor(() => progress.Any(p => p.Message == "starting " + Orders));

        var status = await Call("pipeline_status", new() { ["name"] = Orders });
        var row = status.GetProperty("pipelines")[0];
        Assert.Equal(("success", 3L, run.GetProperty("run_id").GetString()), (row.GetProperty("status").GetString(), row.GetProperty("records").GetInt64(), row.GetProperty("run_id").GetString()));

        var logs = await Call("pipeline_logs", new() { ["name"] = Orders });
        Assert.Equal(run.GetProperty("run_id").GetString(), logs.GetProperty("logs")[0].GetProperty("run_id").GetString());

        var manifest = await Call("show_manifest", new() { ["pipeline"] = Orders });
        var table = manifest.GetProperty("manifests")[0].GetProperty("manifest").GetProperty("tables").GetProperty("shop/orders");
        Assert.Equal(3, table.GetProperty("row_count").GetInt64());

        var tables = await Call("list_tables");
        var listed = Assert.Single(tables.GetProperty("tables").EnumerateArray());
        Assert.Equal(("shop/orders", 3L), (listed.GetProperty("table").GetString(), listed.GetProperty("row_count").GetInt64()));
        Assert.Equal([("id", "int64"), ("email", "string"), ("amount", "double")],
            listed.GetProperty("columns").EnumerateArray().Select(c => (c.GetProperty("name").GetString(), c.GetProperty("type").GetString())));

        // validate runs the CLI's checks: the replay tap answers neither --help nor --about, everything else passes.
        var validation = await Call("validate_pipeline", new() { ["name"] = Orders });
        var checks = validation.GetProperty("pipelines")[0].GetProperty("checks").EnumerateArray().ToList();
        // "tables": the broken pipeline lands source 'shop' in the same folder from another config (a warning, ok).
        Assert.Equal(["config", "variables", "tables", "tap config", "transforms", "temp folder", "tap", "bucket"], checks.Select(c => c.GetProperty("check").GetString()));
        Assert.True(checks.Single(c => c.GetProperty("check").GetString() == "tables").GetProperty("warning").GetBoolean());
        Assert.Equal(["tap"], checks.Where(c => !c.GetProperty("ok").GetBoolean()).Select(c => c.GetProperty("check").GetString()));
        Assert.Contains("answers neither --help nor --about", checks.Single(c => c.GetProperty("check").GetString() == "tap").GetProperty("detail").GetString());

        var resource = await _client.ReadResourceAsync("pipe://pipelines");
        var text = Assert.IsType<TextResourceContents>(Assert.Single(resource.Contents)).Text;
        _responses.Add(text);
        Assert.Contains(Orders, text);

        AssertNoSecretAnywhere();
    }

    [Fact]
    public async Task A_failed_run_is_a_tool_error_whose_log_masks_the_password_the_tap_printed()
    {
        var result = await _client.CallToolAsync("run_pipeline", new Dictionary<string, object?> { ["name"] = Broken });
        Record(result);
        Assert.True(result.IsError);
        var answer = result.StructuredContent!.Value;
        Assert.Equal("failure", answer.GetProperty("status").GetString());
        Assert.Contains("exited with code 3", answer.GetProperty("error").GetString());
        Assert.Contains("login refused for password ***", answer.GetProperty("log").GetProperty("tap").GetProperty("stderr_tail").GetString());

        var logs = await Call("pipeline_logs", new() { ["name"] = Broken });
        Assert.Equal("failure", logs.GetProperty("logs")[0].GetProperty("status").GetString());
        // One run so far: it is the latest, so expiring every older log deletes none.
        var expiry = await Call("expire_pipeline_logs", new() { ["name"] = Broken, ["older_than"] = "1s" });
        Assert.Equal((0, 1), (expiry.GetProperty("deleted").GetInt32(), expiry.GetProperty("kept").GetInt32()));
        var bad = await _client.CallToolAsync("expire_pipeline_logs", new Dictionary<string, object?> { ["name"] = Broken, ["older_than"] = "soon" });
        Record(bad);
        Assert.True(bad.IsError);
        var unknown = await _client.CallToolAsync("pipeline_logs", new Dictionary<string, object?> { ["name"] = "nope" });
        Record(unknown);
        Assert.True(unknown.IsError);
        Assert.Contains("unknown pipeline 'nope'", unknown.StructuredContent!.Value.GetProperty("error").GetString());
        AssertNoSecretAnywhere();
    }

    [Fact]
    public async Task A_name_that_climbs_out_of_the_home_is_refused_by_every_tool_and_runs_nothing()
    {
        // <home>/pipelines/../../evil.yaml: outside the home, with a tap that leaves a marker when it runs.
        var marker = Path.Combine(_root, "evil-ran");
        File.WriteAllText(Path.Combine(_root, "evil_tap.py"), $"open({JsonSerializer.Serialize(marker)}, 'w').write('ran')\n");
        File.WriteAllText(Path.Combine(_root, "evil.yaml"), $"""
            source:
              tap: python3 {Path.Combine(_root, "evil_tap.py")}
            destination:
              bucket: file://{Lake}
            """);
        foreach (var tool in new[] { "run_pipeline", "pipeline_config", "pipeline_logs", "validate_pipeline", "pipeline_status", "show_manifest" })
        {
            var argument = tool == "show_manifest" ? "pipeline" : "name";
            var result = await _client.CallToolAsync(tool, new Dictionary<string, object?> { [argument] = "../../evil" });
            Record(result);
            var text = string.Join("\n", result.Content.OfType<TextContentBlock>().Select(c => c.Text));
            Assert.True(result.IsError == true || text.Contains("\"ok\":false", StringComparison.Ordinal), $"{tool}: {text}");
            Assert.Contains("is not valid", text);
        }
        Assert.False(File.Exists(marker), "the evil pipeline's tap ran");
    }

    [Fact]
    public async Task A_missing_null_or_mistyped_argument_is_a_tool_error_naming_it_and_what_it_must_be_with_no_stack_trace()
    {
        // Each call and the words its error must hold: the argument's name and what it must be. The SDK's own binding
        // answered all of them "An error occurred invoking '<tool>'." and logged a JsonException's stack trace.
        var calls = new (string Tool, string Arguments, string[] Expected)[]
        {
            ("pipeline_logs", $$"""{"name":"{{Orders}}","limit":"abc"}""", ["limit: \"abc\" is not a whole number"]),
            ("pipeline_logs", """{"name":5}""", ["name: 5 is not a string"]),
            ("pipeline_logs", "{}", ["name: required", "a string", "The pipeline's name"]),
            ("pipeline_logs", $$"""{"name":"{{Orders}}","limit":null}""", ["limit: null is not a whole number"]),
            ("run_pipeline", $$"""{"name":"{{Orders}}","full":"yes"}""", ["full: \"yes\" is not true or false"]),
            ("maintain_tables", $$"""{"name":"{{Orders}}","target_file_mb":99999999999}""", ["target_file_mb: 99999999999 is not a whole number from -2147483648 to 2147483647"]),
        };
        foreach (var (tool, arguments, expected) in calls)
        {
            var result = await _client.CallToolAsync(tool, JsonSerializer.Deserialize<Dictionary<string, object?>>(arguments)!);
            var text = string.Join("\n", result.Content.OfType<TextContentBlock>().Select(c => c.Text));
            Assert.True(result.IsError == true, $"{tool} {arguments}: {text}");
            var error = result.StructuredContent is { } structured && structured.TryGetProperty("error", out var e) ? e.GetString() : text;
            foreach (var words in expected) Assert.Contains(words, error);
        }
        // Nothing ran: the bad run_pipeline call never reached the tool.
        Assert.False(Directory.EnumerateFiles(Lake, "*", SearchOption.AllDirectories).Any(), "a run wrote to the lake");
        // The server still answers a correct call (every optional argument given), and said nothing on stderr: a stack
        // trace there is for DATASPOC_PIPE_DEBUG and real faults.
        await Call("pipeline_status", new() { ["name"] = null });
        await Task.Delay(500);
        Assert.DoesNotContain(_stderr, l => l.Contains("Exception", StringComparison.Ordinal) || l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_argument_the_tool_does_not_take_is_a_tool_error_naming_it_and_the_ones_it_takes_and_the_schemas_say_so()
    {
        // full_refresh was dropped by the binding: the run went incremental without a word.
        Assert.Equal("full_refresh: unknown argument; run_pipeline takes name, full",
            await Refused("run_pipeline", new() { ["name"] = Orders, ["full_refresh"] = true }));
        Assert.Equal("bogus: unknown argument; pipeline_config takes name", await Refused("pipeline_config", new() { ["name"] = Orders, ["bogus"] = 1 }));
        Assert.Equal("name: unknown argument; list_pipelines takes no arguments", await Refused("list_pipelines", new() { ["name"] = Orders }));
        Assert.False(Directory.Exists(Lake) && Directory.EnumerateFiles(Lake, "*", SearchOption.AllDirectories).Any(), "the refused run wrote to the lake");
        foreach (var tool in await _client.ListToolsAsync())
            Assert.False(tool.ProtocolTool.InputSchema.GetProperty("additionalProperties").GetBoolean(), tool.Name);
    }

    [Fact]
    public async Task Pipeline_logs_refuses_a_limit_below_1_as_logs_does_and_takes_a_whole_number_written_with_a_fraction()
    {
        await Call("run_pipeline", new() { ["name"] = Orders });
        await Call("run_pipeline", new() { ["name"] = Orders });
        // Both answered one log, as if the limit were 1.
        Assert.Equal("limit: 0 is not a number of runs; give at least 1", await Refused("pipeline_logs", new() { ["name"] = Orders, ["limit"] = 0 }));
        Assert.Equal("limit: -1 is not a number of runs; give at least 1", await Refused("pipeline_logs", new() { ["name"] = Orders, ["limit"] = -1 }));
        // JSON Schema's integer takes 2.0 (sent as written: a double 2.0 would be serialized 2); it was refused as not a whole number.
        var logs = await Call("pipeline_logs", new() { ["name"] = Orders, ["limit"] = JsonDocument.Parse("2.0").RootElement });
        Assert.Equal(2, logs.GetProperty("logs").GetArrayLength());
        Assert.StartsWith("limit: 2.5 is not a whole number", await Refused("pipeline_logs", new() { ["name"] = Orders, ["limit"] = 2.5 }));
    }

    [Fact]
    public async Task Show_manifest_and_list_tables_refuse_a_pipeline_that_is_unknown_or_writes_to_another_bucket_than_the_one_given()
    {
        await Call("run_pipeline", new() { ["name"] = Orders });
        var other = Path.Combine(_root, "other-lake");
        foreach (var tool in new[] { "show_manifest", "list_tables" })
        {
            // The pipeline was ignored: every table of the bucket came back, as if they were the pipeline's.
            Assert.Contains("nonexistent-pipe", await Refused(tool, new() { ["bucket"] = $"file://{Lake}", ["pipeline"] = "nonexistent-pipe" }));
            Assert.Equal($"bucket 'file://{other}' is not the bucket of pipeline '{Orders}' (file://{Lake}): give one of them",
                await Refused(tool, new() { ["bucket"] = $"file://{other}", ["pipeline"] = Orders }));
            await Call(tool, new() { ["bucket"] = $"file://{Lake}/", ["pipeline"] = Orders });
        }
    }

    [Fact]
    public async Task Maintain_tables_takes_the_pipeline_as_a_required_name_like_every_other_tool_and_pipeline_beside_it()
    {
        // It took only `pipeline`: an agent calling it as it calls the others got "pipeline: required".
        var byName = await Call("maintain_tables", new() { ["name"] = Orders });
        Assert.Equal(JsonValueKind.Array, byName.GetProperty("tables").ValueKind);
        var byBoth = await Call("maintain_tables", new() { ["name"] = Orders, ["pipeline"] = Orders });
        Assert.Equal(JsonValueKind.Array, byBoth.GetProperty("tables").ValueKind);
        // The schema said name was an optional string or null, defaulting to null, though a call without it is refused.
        var schema = (await _client.ListToolsAsync()).Single(t => t.Name == "maintain_tables").ProtocolTool.InputSchema;
        Assert.Contains("name", schema.GetProperty("required").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal("string", schema.GetProperty("properties").GetProperty("name").GetProperty("type").GetString());
        foreach (var (arguments, expected) in new (Dictionary<string, object?>, string)[]
        {
            ([], "name: required, give a string"),
            (new() { ["pipeline"] = Orders }, "name: required, give a string"),
            (new() { ["name"] = Orders, ["pipeline"] = Broken }, $"name '{Orders}' and pipeline '{Broken}' differ: give name only"),
            // As maintain --target-file-mb without --compact: it was accepted and nothing was compacted.
            (new() { ["name"] = Orders, ["target_file_mb"] = 50 }, "target_file_mb: sizes the files compaction writes: add compact: true"),
        })
        {
            var result = await _client.CallToolAsync("maintain_tables", arguments);
            Assert.True(result.IsError == true);
            Assert.Contains(expected, string.Join("\n", result.Content.OfType<TextContentBlock>().Select(c => c.Text)));
        }
    }

    [Fact]
    public async Task Maintain_tables_while_a_run_holds_the_pipeline_says_it_is_already_running_not_a_generic_error()
    {
        var slow = "busy-" + _suffix;
        using var cancel = new CancellationTokenSource();
        var run = await StartRunOfATapThatSleepsAsync(slow, cancel.Token);
        // "starting" comes before the run takes the lock: wait until status shows it running.
        for (var i = 0; i < 100; i++)
        {
            var row = (await Call("pipeline_status", new() { ["name"] = slow })).GetProperty("pipelines")[0];
            if (row.GetProperty("running").ValueKind == JsonValueKind.Object) break;
            await Task.Delay(100);
        }

        // A PipelineLockedException is no config or storage error, yet the agent needs its message to know to wait.
        var result = await _client.CallToolAsync("maintain_tables", new Dictionary<string, object?> { ["name"] = slow });
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.True(result.IsError == true);
        Assert.Contains($"pipeline '{slow}' is already running", result.StructuredContent!.Value.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Maintain_tables_that_fails_answers_its_failed_step_and_notes_as_maintain_output_json_does()
    {
        var appends = "appends-" + _suffix;
        var lake = Path.Combine(_root, "appends-lake");
        File.WriteAllText(Path.Combine(Home, "pipelines", appends + ".yaml"), $"""
            source:
              tap: python3 {Path.Combine(AppContext.BaseDirectory, "Assets", "replay_tap.py")}
              config:
                file: {Path.Combine(_root, "orders.singer")}
            destination:
              bucket: file://{lake}
              partition_by: none
              write_mode: append
            """);
        foreach (var _ in Enumerable.Range(0, 3)) await Call("run_pipeline", new() { ["name"] = appends });
        var files = Directory.GetFiles(lake, "*.parquet", SearchOption.AllDirectories).Where(f => !f.Contains("/.dataspoc/", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(3, files.Count);
        // The compaction's commit deletes the files it rewrote: the store refusing one stops it after its files landed.
        DataSpoc.Pipe.Tests.Support.HostCommand.Run("chattr", "+i", files[0]);
        CallToolResult result;
        try
        {
            result = await _client.CallToolAsync("maintain_tables", new Dictionary<string, object?> { ["name"] = appends, ["compact"] = true });
        }
        finally
        {
            DataSpoc.Pipe.Tests.Support.HostCommand.Run("chattr", "-i", files[0]);
        }

        Assert.True(result.IsError == true);
        var answer = result.StructuredContent!.Value;
        Assert.Equal((appends, "failure", "compact"), (answer.GetProperty("pipeline").GetString(), answer.GetProperty("status").GetString(), answer.GetProperty("failed_step").GetString()));
        Assert.Equal($"permission denied deleting '{files[0]}'", answer.GetProperty("error").GetString());
        Assert.Contains(answer.GetProperty("notices").EnumerateArray(), n => n.GetString()!.StartsWith(
            "this maintain's compaction stopped after all its files had landed, before the manifest counted its files in place of those they rewrite; the next run or maintain completes it (journal ",
            StringComparison.Ordinal));
    }

    [Fact]
    public async Task List_tables_and_show_manifest_of_every_bucket_name_an_unreadable_bucket_and_still_answer_the_others()
    {
        await Call("run_pipeline", new() { ["name"] = Orders });
        // A second lake whose manifest was cut short: reading it fails, as a bucket without credentials would.
        var damaged = Path.Combine(_root, "damaged-lake");
        Directory.CreateDirectory(Path.Combine(damaged, ".dataspoc"));
        File.WriteAllText(Path.Combine(damaged, ".dataspoc", "manifest.json"), """{"version":"1.0","tables":""");
        File.WriteAllText(Path.Combine(Home, "pipelines", "cut-" + _suffix + ".yaml"), $"""
            source:
              tap: python3 {Path.Combine(AppContext.BaseDirectory, "Assets", "replay_tap.py")}
            destination:
              bucket: file://{damaged}
            """);
        var problem = $"file://{damaged}/.dataspoc/manifest.json is not a valid manifest";

        var tables = await Call("list_tables");
        Assert.Contains(tables.GetProperty("tables").EnumerateArray(), t => t.GetProperty("bucket").GetString() == "file://" + Lake);
        var unread = Assert.Single(tables.GetProperty("unreadable_buckets").EnumerateArray());
        Assert.Equal("file://" + damaged, unread.GetProperty("bucket").GetString());
        Assert.Contains(problem, unread.GetProperty("error").GetString());

        var manifests = (await Call("show_manifest")).GetProperty("manifests").EnumerateArray().ToDictionary(m => m.GetProperty("bucket").GetString()!);
        Assert.True(manifests["file://" + Lake].GetProperty("manifest").GetProperty("tables").EnumerateObject().Any());
        Assert.Contains(problem, manifests["file://" + damaged].GetProperty("error").GetString());
    }

    [Fact]
    public async Task Show_manifest_of_a_bucket_never_written_to_says_there_is_no_manifest_as_the_cli_does()
    {
        var empty = Path.Combine(_root, "empty-lake");
        Directory.CreateDirectory(empty);
        var result = await _client.CallToolAsync("show_manifest", new Dictionary<string, object?> { ["bucket"] = "file://" + empty });
        Assert.True(result.IsError == true);
        Assert.Equal($"no manifest in file://{empty} (.dataspoc/manifest.json does not exist: no pipeline has written there yet)",
            result.StructuredContent!.Value.GetProperty("error").GetString());
    }

    [Fact]
    public async Task A_bucket_that_never_answers_costs_pipeline_status_and_list_tables_seconds_and_is_named()
    {
        using var stalled = new DataSpoc.Pipe.Cli.Tests.Support.StalledEndpoint();
        var hang = "hang-" + _suffix;
        File.WriteAllText(Path.Combine(Home, "pipelines", hang + ".yaml"), $$"""
            source:
              tap: python3 {{Path.Combine(AppContext.BaseDirectory, "Assets", "replay_tap.py")}}
            destination:
              bucket: s3://lake-hang
              storage_options: {endpoint_url: "{{stalled.Url}}", region: us-east-1}
            """);
        var expected = $"bucket s3://lake-hang (endpoint {stalled.Url}) did not answer within 15 s";

        // pipeline_status: the other pipelines' rows, and this one unknown with the reason (it used to take minutes).
        // The calls give up after 60 s, so a server that waits for the bucket fails the test rather than hanging it.
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var answer = await _client.CallToolAsync("pipeline_status", new Dictionary<string, object?>(), cancellationToken: limit.Token);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(45), $"pipeline_status took {clock.Elapsed.TotalSeconds:0} s");
        var rows = answer.StructuredContent!.Value.GetProperty("pipelines").EnumerateArray().ToDictionary(r => r.GetProperty("pipeline").GetString()!);
        Assert.Equal("never run", rows[Orders].GetProperty("status").GetString());
        Assert.Equal("unknown", rows[hang].GetProperty("status").GetString());
        Assert.Contains(expected, rows[hang].GetProperty("error").GetString());

        // list_tables of that bucket: a tool error naming it, in the same bound.
        limit.CancelAfter(TimeSpan.FromSeconds(60));
        clock.Restart();
        var tables = await _client.CallToolAsync("list_tables", new Dictionary<string, object?> { ["pipeline"] = hang }, cancellationToken: limit.Token);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(45), $"list_tables took {clock.Elapsed.TotalSeconds:0} s");
        Assert.True(tables.IsError == true);
        Assert.Contains(expected, tables.StructuredContent!.Value.GetProperty("error").GetString());
    }

    /// <summary>
    /// Random secrets (with <c>&amp; + ' &lt; &gt; "</c>, backslash and non-ASCII) in a pipeline whose tap echoes its
    /// config every way Python prints JSON and fails: run_pipeline and pipeline_logs hold none of them in any encoding.
    /// </summary>
    [Fact]
    public async Task Random_secrets_echoed_by_the_tap_in_any_encoding_never_reach_run_pipeline_or_pipeline_logs()
    {
        var seed = Random.Shared.Next();
        var random = new Random(seed);
        const string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 !#%()*,-.:;=?@[]^_`{|}~&+'<>\"\\/éüçñ中文ß";
        string Secret() => string.Concat(Enumerable.Range(0, random.Next(6, 20)).Select(_ => random.Next(12) == 0 ? "😀" : alphabet[random.Next(alphabet.Length)].ToString()));
        for (var round = 0; round < 3; round++)
        {
            var secrets = new[] { Secret(), Secret(), Secret() };
            var name = $"leaky{round}-{_suffix}";
            var config = new System.Text.Json.Nodes.JsonObject
            {
                ["passphrase"] = secrets[0],
                ["nested"] = new System.Text.Json.Nodes.JsonObject { ["client_secret"] = secrets[1] },
                ["api_keys"] = new System.Text.Json.Nodes.JsonArray("k-1", secrets[2]),
                ["exit_code"] = 1,
            };
            var configFile = Path.Combine(_root, name + ".json");
            File.WriteAllText(configFile, config.ToJsonString());
            File.WriteAllText(Path.Combine(Home, "pipelines", name + ".yaml"), $"""
                source:
                  tap: python3 {Path.Combine(AppContext.BaseDirectory, "Assets", "leaky_tap.py")}
                  config: {configFile}
                destination:
                  bucket: file://{Lake}
                """);
            var texts = new List<string>();
            var run = await _client.CallToolAsync("run_pipeline", new Dictionary<string, object?> { ["name"] = name });
            var logs = await _client.CallToolAsync("pipeline_logs", new Dictionary<string, object?> { ["name"] = name });
            foreach (var result in new[] { run, logs })
            {
                texts.AddRange(result.Content.OfType<TextContentBlock>().Select(c => c.Text));
                if (result.StructuredContent is { } structured) texts.Add(structured.GetRawText());
            }
            Assert.Contains(texts, t => t.Contains("tap config", StringComparison.Ordinal));
            foreach (var text in texts.Concat(_stderr))
                foreach (var secret in secrets)
                    if (DataSpoc.Pipe.Tests.Support.SecretForms.FoundIn(text, secret) is { } form)
                        Assert.Fail($"seed {seed}: secret {JsonSerializer.Serialize(secret)} found as {JsonSerializer.Serialize(form)} in:\n{text}");
        }
    }

    /// <summary>
    /// A stream named after a <c>.env</c> value the tap config also states in clear (as tap-postgres names streams after a
    /// <c>${VAR}</c> dbname), read slowly so progress ticks while the count stands still: every notification's text
    /// masks it as the run log does, and no progress value repeats (the MCP spec wants each greater than the last).
    /// </summary>
    [Fact]
    public async Task Progress_notifications_mask_a_secret_in_a_stream_name_and_never_repeat_a_value()
    {
        var name = "slow-" + _suffix;
        File.WriteAllText(Path.Combine(Home, "pipelines", name + ".yaml"), $"""
            source:
              tap: python3 {Path.Combine(AppContext.BaseDirectory, "Assets", "scripted_tap.py")}
              config:
                dbname: ${"{"}MCP_DOTENV_SECRET{"}"}
                stream: t_${"{"}MCP_DOTENV_SECRET{"}"}
                max_id: 4
                record_interval: 0.5
            destination:
              bucket: file://{Lake}
            """);
        var progress = new ConcurrentQueue<ProgressNotificationValue>();
        var run = await Call("run_pipeline", new() { ["name"] = name }, new SyncProgress(progress.Enqueue));
        Assert.Equal(4, run.GetProperty("total_records").GetInt64());
        for (var i = 0; i < 100 && !progress.Any(p => p.Message?.Contains("s: *** ", StringComparison.Ordinal) == true); i++) await Task.Delay(50);
        Assert.True(progress.Any(p => p.Message?.Contains("s: *** ", StringComparison.Ordinal) == true),
            "no progress names the stream masked: " + string.Join(" | ", progress.Select(p => $"{p.Progress} {p.Message}")));
        var values = progress.Select(p => p.Progress).ToList();
        Assert.True(values.Distinct().Count() == values.Count, "progress values repeat: " + string.Join(", ", values));
        foreach (var message in progress.Select(p => p.Message ?? ""))
            foreach (var form in DataSpoc.Pipe.Tests.Support.SecretForms.Of(DotEnvSecret).Concat(DataSpoc.Pipe.Tests.Support.SecretForms.EncodedOf(DotEnvSecret)))
                Assert.DoesNotContain(form, message, StringComparison.Ordinal);
        AssertNoSecretAnywhere();
    }

    /// <summary>A run of 30 streams: each progress notification names its 10 largest streams and counts the other 20.</summary>
    [Fact]
    public async Task Progress_notifications_of_a_run_of_many_streams_name_the_largest_and_count_the_rest()
    {
        var name = "many-" + _suffix;
        var tap = Path.Combine(_root, "many_streams_tap.py");
        // Every stream gets a record at once; then stream s00 goes on slowly, so progress ticks while all 30 are known.
        File.WriteAllText(tap, """
            import json, sys, time
            def out(m):
                sys.stdout.write(json.dumps(m) + "\n"); sys.stdout.flush()
            schema = {"type": "object", "properties": {"id": {"type": "integer"}}}
            for i in range(30):
                out({"type": "SCHEMA", "stream": "s%02d" % i, "schema": schema, "key_properties": ["id"]})
                out({"type": "RECORD", "stream": "s%02d" % i, "record": {"id": 1}})
            for n in range(2, 10):
                time.sleep(0.3)
                out({"type": "RECORD", "stream": "s00", "record": {"id": n}})
            """);
        File.WriteAllText(Path.Combine(Home, "pipelines", name + ".yaml"), $"""
            source:
              tap: python3 {tap}
            destination:
              bucket: file://{Lake}
            """);
        var progress = new ConcurrentQueue<ProgressNotificationValue>();
        var run = await Call("run_pipeline", new() { ["name"] = name }, new SyncProgress(progress.Enqueue));
        Assert.Equal(38, run.GetProperty("total_records").GetInt64());
        for (var i = 0; i < 100 && !progress.Any(p => p.Message?.Contains("(and 20 more streams", StringComparison.Ordinal) == true); i++) await Task.Delay(50);
        var many = progress.Select(p => p.Message ?? "").Where(m => m.Contains("more streams", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(many);
        foreach (var message in many)
        {
            Assert.Matches(@"\(and 20 more streams; \d+ records in all\)$", message);
            Assert.Contains("s00 ", message, StringComparison.Ordinal); // the largest
            Assert.Equal(10, System.Text.RegularExpressions.Regex.Matches(message, @"s\d\d \d+ records").Count);
        }
    }

    /// <summary>
    /// A client cancelling a long run (<c>notifications/cancelled</c>) ends it as any cancellation does; the SDK logs
    /// the handler's cancellation at warning level, and that is one line on stderr, never a stack trace.
    /// </summary>
    [Fact]
    public async Task A_cancelled_run_is_one_line_on_stderr_without_a_stack_trace()
    {
        var slow = "slow-" + _suffix;
        using var cancel = new CancellationTokenSource();
        var run = await StartRunOfATapThatSleepsAsync(slow, cancel.Token);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);

        // The server logs the cancelled request: one line.
        for (var i = 0; i < 200 && !_stderr.Any(l => l.Contains("OperationCanceledException", StringComparison.Ordinal)); i++) await Task.Delay(50);
        var lines = _stderr.ToArray();
        Assert.Contains(lines, l => l.StartsWith("warn: ", StringComparison.Ordinal) && l.Contains("OperationCanceledException", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
    }

    /// <summary>Starts <c>run_pipeline</c> of a new pipeline <paramref name="name"/> whose tap sleeps for two minutes, once the run says it is starting.</summary>
    private async Task<Task<CallToolResult>> StartRunOfATapThatSleepsAsync(string name, CancellationToken cancellationToken)
    {
        var tap = Path.Combine(_root, name + "_tap.sh");
        File.WriteAllText(tap, "#!/bin/sh\nexec sleep 120\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(tap, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.WriteAllText(Path.Combine(Home, "pipelines", name + ".yaml"), $"""
            source:
              tap: {tap}
              name: slow
            destination:
              bucket: file://{Lake}
            """);
        var progress = new ConcurrentQueue<ProgressNotificationValue>();
        var run = _client.CallToolAsync("run_pipeline", new Dictionary<string, object?> { ["name"] = name }, new SyncProgress(progress.Enqueue), cancellationToken: cancellationToken).AsTask();
        await WaitFor(() => progress.Any(p => p.Message == "starting " + name));
        return run;
    }

    private async Task<JsonElement> Call(string tool, Dictionary<string, object?>? arguments = null, IProgress<ProgressNotificationValue>? progress = null)
    {
        var result = await _client.CallToolAsync(tool, arguments ?? [], progress);
        Record(result);
        Assert.False(result.IsError, $"{tool} failed: {string.Join("\n", result.Content.OfType<TextContentBlock>().Select(c => c.Text))}");
        return Assert.IsType<JsonElement>(result.StructuredContent);
    }

    /// <summary>Calls <paramref name="tool"/>, which must answer a tool error, and returns the error's text.</summary>
    private async Task<string> Refused(string tool, Dictionary<string, object?> arguments)
    {
        var result = await _client.CallToolAsync(tool, arguments);
        Record(result);
        var text = string.Join("\n", result.Content.OfType<TextContentBlock>().Select(c => c.Text));
        Assert.True(result.IsError == true, $"{tool} was not refused: {text}");
        return result.StructuredContent is { } structured && structured.TryGetProperty("error", out var error) ? error.GetString()! : text;
    }

    private void Record(CallToolResult result)
    {
        _responses.AddRange(result.Content.OfType<TextContentBlock>().Select(c => c.Text));
        if (result.StructuredContent is { } structured) _responses.Add(structured.GetRawText());
    }

    private void AssertNoSecretAnywhere()
    {
        Assert.NotEmpty(_responses);
        foreach (var response in _responses.Concat(_stderr))
        {
            Assert.DoesNotContain(Password, response);
            Assert.DoesNotContain(Token, response);
            Assert.DoesNotContain(DotEnvSecret, response);
        }
    }

    private static async Task WaitFor(Func<bool> condition)
    {
        for (var i = 0; i < 100 && !condition(); i++) await Task.Delay(50);
        Assert.True(condition(), "timed out waiting for a progress notification");
    }

    private sealed class SyncProgress(Action<ProgressNotificationValue> report) : IProgress<ProgressNotificationValue>
    {
        public void Report(ProgressNotificationValue value) => report(value);
    }
}
