using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Api;
using DataSpoc.Pipe.Mcp.Tests.Support;
using ModelContextProtocol.Client;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Mcp.Tests;

/// <summary>
/// One home (two runs of a good pipeline, a failing one, an invalid one, one whose YAML does not parse, a <c>.env</c> with the tap's folder and a token),
/// asked the same questions three ways: the CLI with <c>--output json</c> as a subprocess, the MCP server over stdio, and
/// <see cref="PipeClient"/> in this process. Config, status, logs and validate answer the same values in all three; a run
/// that cannot start answers the same document from the CLI and MCP.
/// </summary>
public sealed class FrontEndAgreementTests(FrontEndAgreementTests.SharedHome home) : IClassFixture<FrontEndAgreementTests.SharedHome>
{
    [Fact]
    public async Task Config_is_the_same_masked_document_from_the_cli_mcp_and_the_api()
    {
        foreach (var name in new[] { home.Good, home.Failing })
        {
            var cli = home.Cli(0, "config", name, "--output", "json");
            var mcp = (await home.Mcp("pipeline_config", new() { ["name"] = name }))["config"];
            var api = home.Api.Config(name);
            Assert.True(JsonNode.DeepEquals(api, cli), $"{name}: CLI {cli}\nAPI {api}");
            Assert.True(JsonNode.DeepEquals(api, mcp), $"{name}: MCP {mcp}\nAPI {api}");
            Assert.Equal("***", api["source"]!["config"]!["api_token"]!.GetValue<string>());
        }
        Assert.DoesNotContain(SharedHome.Token, home.Cli(0, "config", home.Good)!.ToJsonString());
    }

    [Fact]
    public async Task Status_rows_agree_on_every_field_including_the_next_run_and_its_zone()
    {
        var cli = home.Cli(0, "status", "--output", "json")!.AsArray().Select(StatusRow).ToList();
        var mcp = (await home.Mcp("pipeline_status", []))["pipelines"]!.AsArray().Select(StatusRow).ToList();
        var api = (await home.Api.StatusAsync()).Select(s => string.Join(" | ", s.Pipeline, s.Status, Time(s.LastRun), Number(s.DurationSeconds),
            Number(s.Records), s.RunId, s.Schedule, Time(s.NextRun), s.ScheduleTimeZone, s.InstalledSchedule, s.ScheduleProblem, s.Error,
            s.MaintainSchedule, Time(s.NextMaintain), s.MaintainTimeZone, s.MaintainProblem)).ToList();
        Assert.Equal(api, cli);
        Assert.Equal(api, mcp);
        // The same instant is the same string: a client comparing them as text sees no difference.
        Assert.Equal(RawTimes(await home.Mcp("pipeline_status", []), "pipelines", "last_run", "next_run", "next_maintain"),
            RawTimes(new JsonObject { ["pipelines"] = home.Cli(0, "status", "--output", "json") }, "pipelines", "last_run", "next_run", "next_maintain"));
        Assert.Equal([home.Failing, home.Good, home.Invalid, home.Unparsable], api.Select(r => r.Split(" | ")[0]));
        Assert.Equal(["failure", "success", "invalid", "invalid"], api.Select(r => r.Split(" | ")[1]));
        Assert.Contains($"{home.Unparsable}.yaml:4: invalid YAML: ", api[3]);
        Assert.Equal(home.SecondRunId, api[1].Split(" | ")[5]);
        // The next run is the crontab line's, read in the CRON_TZ above it (as cronie does), whatever $TZ the caller has
        // (the CLI and the MCP server run with TZ=America/New_York): 06:00 in Tokyo is 21:00 UTC.
        var statuses = await home.Api.StatusAsync();
        var good = statuses[1];
        // Its line ("true") is not the command schedule install writes: every front end says so, in the same words.
        Assert.Equal(("Asia/Tokyo", "0 6 * * *", "the crontab line's command is not the one schedule install writes now: installed by an earlier version or another binary (run: dataspoc-pipe schedule install)"),
            (good.ScheduleTimeZone, good.InstalledSchedule, good.ScheduleProblem));
        Assert.Equal((21, 0), (good.NextRun!.Value.UtcDateTime.Hour, good.NextRun.Value.UtcDateTime.Minute));
        // A schedule whose crontab line was removed: no next run is promised, and every front end says why.
        var failing = statuses[0];
        Assert.Equal(("30 2 * * *", null, null), (failing.Schedule, failing.NextRun, failing.InstalledSchedule));
        Assert.Equal("not installed: cron does not run it (run: dataspoc-pipe schedule install)", failing.ScheduleProblem);
        // schedule.maintain: the maintain line's next run (04:00 in Tokyo is 19:00 UTC) and its problems, the same everywhere.
        Assert.Equal(("0 4 * * *", 19, "the crontab line's command is not the one schedule install writes now: installed by an earlier version or another binary (run: dataspoc-pipe schedule install)"),
            (good.MaintainSchedule, good.NextMaintain!.Value.UtcDateTime.Hour, good.MaintainProblem));
        Assert.Equal(("15 3 * * *", null, "schedule.maintain is not installed: cron does not run its maintain (run: dataspoc-pipe schedule install)"),
            (failing.MaintainSchedule, failing.NextMaintain, failing.MaintainProblem));
    }

    [Fact]
    public async Task The_latest_log_and_the_run_history_are_the_same_runs_with_the_same_values()
    {
        foreach (var name in new[] { home.Good, home.Failing })
        {
            var cli = home.Cli(0, "logs", name)!;
            var mcp = (await home.Mcp("pipeline_logs", new() { ["name"] = name, ["limit"] = 1 }))["logs"]![0]!;
            var api = await home.Api.LogAsync(name);
            var apiLatest = Assert.Single(await home.Api.LogsAsync(name, 1));
            Assert.Equal(api.RunId, apiLatest.RunId);
            var expected = string.Join(" | ", api.RunId, api.Status, Time(api.StartedAt), api.TotalRecords, api.Error, api.Tap.ExitCode, api.Tap.StderrTail);
            Assert.Equal(expected, LogRow(cli));
            Assert.Equal(expected, LogRow(mcp));
        }
        Assert.Equal(home.SecondRunId, (await home.Api.LogAsync(home.Good)).RunId);

        var history = (await home.Api.LogsAsync(home.Good)).Select(l => l.RunId).ToList();
        Assert.Equal([home.SecondRunId, home.FirstRunId], history);
        Assert.Equal(history, home.Cli(0, "logs", home.Good, "--list", "--output", "json")!.AsArray().Select(l => l!["run_id"]!.GetValue<string>()));
        Assert.Equal(RawTimes(await home.Mcp("pipeline_logs", new() { ["name"] = home.Good }), "logs", "started_at"),
            RawTimes(new JsonObject { ["logs"] = home.Cli(0, "logs", home.Good, "--list", "--output", "json") }, "logs", "started_at"));
        Assert.Equal(history, (await home.Mcp("pipeline_logs", new() { ["name"] = home.Good }))["logs"]!.AsArray().Select(l => l!["run_id"]!.GetValue<string>()));
        Assert.Equal(home.FirstRunId, home.Cli(0, "logs", home.Good, "--run", home.FirstRunId)!["run_id"]!.GetValue<string>());
        Assert.Equal(home.FirstRunId, (await home.Api.LogAsync(home.Good, home.FirstRunId)).RunId);
    }

    [Fact]
    public async Task One_run_log_by_its_id_is_the_same_from_the_cli_and_mcp_and_an_unknown_id_the_same_error()
    {
        var cli = home.Cli(0, "logs", home.Good, "--run", home.FirstRunId)!;
        var mcp = Assert.Single((await home.Mcp("pipeline_logs", new() { ["name"] = home.Good, ["run"] = home.FirstRunId }))["logs"]!.AsArray())!;
        Assert.Equal(home.FirstRunId, cli["run_id"]!.GetValue<string>());
        Assert.Equal(LogRow(cli), LogRow(mcp));

        var unknown = home.CliError(2, "logs", home.Good, "--run", "nosuchrun");
        var error = (await home.McpError("pipeline_logs", new() { ["name"] = home.Good, ["run"] = "nosuchrun" }))["error"]!.GetValue<string>();
        Assert.Equal($"error: {error}", unknown);
        Assert.Contains($"has no run 'nosuchrun'; recent runs: {home.SecondRunId}, {home.FirstRunId}", error);
        // As logs --run refuses --list: a limit would be ignored.
        Assert.Contains("give one of them", (await home.McpError("pipeline_logs", new() { ["name"] = home.Good, ["run"] = home.FirstRunId, ["limit"] = 2 }))["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_streams_of_a_pipeline_are_the_same_document_from_the_cli_and_mcp()
    {
        var cli = home.Cli(0, "streams", home.Good, "--output", "json")!;
        var mcp = await home.Mcp("list_streams", new() { ["name"] = home.Good });
        Assert.True(JsonNode.DeepEquals(cli, mcp), $"CLI {cli}\nMCP {mcp}");
        Assert.Equal("listed", cli["selection"]!.GetValue<string>());
        Assert.Equal([("orders", true), ("customers", false)], cli["streams"]!.AsArray().Select(s => (s!["stream"]!.GetValue<string>(), s["selected"]!.GetValue<bool>())).OrderByDescending(s => s.Item1));
        Assert.Contains("unknown pipeline 'nosuch'", (await home.McpError("list_streams", new() { ["name"] = "nosuch" }))["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task Validate_runs_the_same_checks_with_the_same_details_everywhere()
    {
        var cli = home.Cli(1, "validate", "--output", "json")!.AsArray().Select(ValidationRows).ToList();
        var mcp = (await home.Mcp("validate_pipeline", []))["pipelines"]!.AsArray().Select(ValidationRows).ToList();
        var api = new List<string>();
        foreach (var name in home.Api.Pipelines())
        {
            var v = await home.Api.ValidateAsync(name);
            api.Add(v.Pipeline + " ok=" + v.Ok + "\n" + string.Join("\n", v.Checks.Select(c => $"  {c.Check} ok={c.Ok} warning={c.Warning}: {c.Detail}")));
        }
        Assert.Equal(api, cli);
        Assert.Equal(api, mcp);
        // The good pipeline passes every check, the tap and the bucket probe included; the failing tap fails at --discover.
        Assert.Equal($"{home.Good} ok=True", api[1].Split('\n')[0]);
        Assert.Contains("  tap ok=True warning=False: ", api[1]);
        Assert.Contains("  bucket ok=True warning=False: file://", api[1]);
        Assert.Contains("  catalog ok=False", api[0]);
        Assert.Contains("  config ok=False", api[2]);
        Assert.Contains("  config ok=False", api[3]);
        Assert.DoesNotContain(SharedHome.Token, string.Join("\n", api));
    }

    [Fact]
    public async Task A_run_that_cannot_start_is_the_same_pipeline_status_error_document_from_the_cli_and_mcp()
    {
        // A bucket folder under a plain file: the run cannot take its lock, so it fails before anything runs (exit 1).
        var unwritable = "unwritable-" + Guid.NewGuid().ToString("N")[..6];
        var file = home.WriteFile("not-a-folder", "");
        var yaml = home.WritePipeline(unwritable, $"source:\n  tap: csv\n  config: {{path: /tmp}}\ndestination:\n  bucket: file://{file}/lake\n");
        try
        {
            foreach (var (name, exitCode, status) in new[] { (home.Invalid, 2, "invalid"), (home.Unparsable, 2, "invalid"), (unwritable, 1, "failure") })
            {
                var cli = home.Cli(exitCode, "run", name, "--output", "json");
                var mcp = await home.McpError("run_pipeline", new() { ["name"] = name });
                Assert.True(JsonNode.DeepEquals(cli, mcp), $"{name}: CLI {cli}\nMCP {mcp}");
                Assert.Equal((name, status), (cli!["pipeline"]!.GetValue<string>(), cli["status"]!.GetValue<string>()));
                Assert.False(string.IsNullOrEmpty(cli["error"]?.GetValue<string>()), $"{name}: {cli}");
            }
        }
        finally
        {
            File.Delete(yaml);
        }
    }

    private static string StatusRow(JsonNode? row) => string.Join(" | ", Str(row!["pipeline"]), Str(row["status"]), Time(row["last_run"]),
        Number(row["duration_seconds"]), Number(row["records"]), Str(row["run_id"]), Str(row["schedule"]), Time(row["next_run"]),
        Str(row["schedule_time_zone"]), Str(row["installed_schedule"]), Str(row["schedule_problem"]), Str(row["error"]),
        Str(row["maintain_schedule"]), Time(row["next_maintain"]), Str(row["maintain_time_zone"]), Str(row["maintain_problem"]));

    private static string LogRow(JsonNode log) => string.Join(" | ", Str(log["run_id"]), Str(log["status"]), Time(log["started_at"]),
        Number(log["total_records"]), Str(log["error"]), Number(log["tap"]?["exit_code"]), Str(log["tap"]?["stderr_tail"]));

    private static string ValidationRows(JsonNode? v) => Str(v!["pipeline"]) + " ok=" + Bool(v["ok"]) + "\n" + string.Join("\n",
        v["checks"]!.AsArray().Select(c => $"  {Str(c!["check"])} ok={Bool(c["ok"])} warning={Bool(c["warning"])}: {Str(c["detail"])}"));

    /// <summary>The time fields of a list's rows as written (not parsed), with at least one set.</summary>
    private static List<string> RawTimes(JsonNode answer, string list, params string[] fields)
    {
        var times = answer[list]!.AsArray().SelectMany(r => fields.Select(f => Str(r![f]) ?? "-")).ToList();
        Assert.Contains(times, t => t != "-");
        return times;
    }

    private static string? Str(JsonNode? node) => node?.GetValue<string>();
    private static string Bool(JsonNode? node) => (node?.GetValue<bool>() ?? false).ToString();
    private static string Number(JsonNode? node) => node is null ? "" : node.GetValue<double>().ToString("R", CultureInfo.InvariantCulture);
    private static string Number(double? value) => value?.ToString("R", CultureInfo.InvariantCulture) ?? "";
    private static string Number(long? value) => value?.ToString(CultureInfo.InvariantCulture) ?? "";
    private static string Number(int? value) => value?.ToString(CultureInfo.InvariantCulture) ?? "";
    private static string Time(JsonNode? node) => Time(node is null ? null : DateTimeOffset.Parse(node.GetValue<string>(), CultureInfo.InvariantCulture));
    private static string Time(DateTimeOffset? t) => t?.UtcDateTime.ToString("O", CultureInfo.InvariantCulture) ?? "";

    /// <summary>The home every test of the class reads (set up once: three CLI runs and an MCP server).</summary>
    public sealed class SharedHome : IAsyncLifetime
    {
        public const string Token = "agree-token-5d1e9b";
        private readonly string _root = Path.Combine(Path.GetTempPath(), "dsp-agree-" + Guid.NewGuid().ToString("N")[..10]);
        private readonly string _suffix = Guid.NewGuid().ToString("N")[..6];
        private McpClient _mcp = null!;

        private string HomeDir => Path.Combine(_root, "home");
        public string Good => "good-" + _suffix;
        public string Failing => "failing-" + _suffix;
        public string Invalid => "invalid-" + _suffix;
        /// <summary>An unclosed '{' before the next key: YamlDotNet throws an InvalidOperationException there; it must
        /// be this pipeline's error, never every tool's (the MCP server masks its answers with every pipeline's secrets).</summary>
        public string Unparsable => "invalid-yaml-" + _suffix;
        public string FirstRunId { get; private set; } = "";
        public string SecondRunId { get; private set; } = "";
        public PipeClient Api { get; private set; } = null!;

        private string CrontabFile => Path.Combine(_root, "crontab.txt");

        /// <summary>The CLI and the MCP server share the home and a crontab stand-in; their caller's $TZ is not the zone cron uses.</summary>
        private Dictionary<string, string?> Environment => new()
        {
            ["DATASPOC_PIPE_HOME"] = HomeDir, ["NO_COLOR"] = "1", ["TZ"] = "America/New_York",
            [DataSpoc.Pipe.Scheduling.Crontab.EnvironmentVariable] = CrontabStandIn.Command(CrontabFile),
        };

        public async Task InitializeAsync()
        {
            var pipelines = Path.Combine(HomeDir, "pipelines");
            var taps = Path.Combine(_root, "taps");
            Directory.CreateDirectory(pipelines);
            Directory.CreateDirectory(taps);
            File.Copy(Path.Combine(AppContext.BaseDirectory, "Assets", "shop_tap.py"), Path.Combine(taps, "shop_tap.py"));
            var envFile = Path.Combine(HomeDir, ".env");
            File.WriteAllText(envFile, $"AGREE_TAP_DIR={taps}\nAGREE_TOKEN={Token}\n");
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(envFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            var bucket = "file://" + Path.Combine(_root, "lake");
            Directory.CreateDirectory(Path.Combine(_root, "lake"));
            // source.tap takes ${VAR} from the home's .env like any other value: every front end resolves it the same way.
            File.WriteAllText(Path.Combine(pipelines, Good + ".yaml"), $$"""
                source:
                  tap: python3 ${AGREE_TAP_DIR}/shop_tap.py
                  name: shop
                  streams: [orders]
                  config:
                    api_token: ${AGREE_TOKEN}
                    rows: 3
                destination:
                  bucket: {{bucket}}
                schedule:
                  cron: "0 6 * * *"
                  maintain:
                    cron: "0 4 * * *"
                """);
            File.WriteAllText(Path.Combine(pipelines, Failing + ".yaml"), $$"""
                source:
                  tap: python3 ${AGREE_TAP_DIR}/shop_tap.py --fail
                  name: shopfail
                  config:
                    api_token: ${AGREE_TOKEN}
                destination:
                  bucket: {{bucket}}
                schedule:
                  cron: "30 2 * * *"
                  maintain:
                    cron: "15 3 * * *"
                """);
            File.WriteAllText(Path.Combine(pipelines, Invalid + ".yaml"), $"source:\n  tap: csv\n  colour: red\ndestination:\n  bucket: {bucket}\n");
            File.WriteAllText(Path.Combine(pipelines, Unparsable + ".yaml"), $"source:\n  tap: csv\n  config: {{path: /tmp\ndestination:\n  bucket: {bucket}\n");

            FirstRunId = Cli(0, "run", Good, "--output", "json")!["run_id"]!.GetValue<string>();
            // Run ids are ordered by their start; the second run must start in a later second to be "the latest" by any rule.
            await Task.Delay(1100);
            SecondRunId = Cli(0, "run", Good, "--output", "json")!["run_id"]!.GetValue<string>();
            Cli(1, "run", Failing, "--output", "json");
            // The good pipeline's line (as schedule install tags it) below a CRON_TZ; the failing one's schedule has no line.
            // (schedule install itself refuses this home: two of its pipelines are invalid.)
            File.WriteAllText(CrontabFile, $"MAILTO=\"\"\nCRON_TZ=Asia/Tokyo\n0 6 * * * true # dataspoc-pipe:{Good}@{HomeDir}\n0 4 * * * true # dataspoc-pipe-maintain:{Good}@{HomeDir}\n");

            Api = new PipeClient(HomeDir, crontab: CrontabStandIn.Command(CrontabFile));
            _mcp = await McpClient.CreateAsync(new StdioClientTransport(new StdioClientTransportOptions
            {
                Name = "dataspoc-pipe",
                Command = CliCommand.Words[0],
                Arguments = [.. CliCommand.Words.Skip(1), "mcp"],
                EnvironmentVariables = Environment,
            }));
        }

        public async Task DisposeAsync()
        {
            await _mcp.DisposeAsync();
            try { Directory.Delete(_root, true); } catch (IOException) { }
        }

        /// <summary>Runs the CLI, asserts its exit code, and parses what it printed on stdout.</summary>
        public JsonNode? Cli(int exitCode, params string[] args)
        {
            var result = CliCommand.Run(Environment, args);
            Assert.True(result.ExitCode == exitCode, result.ToString());
            return JsonNode.Parse(result.Stdout);
        }

        /// <summary>Runs the CLI, asserts its exit code, and returns the last line it wrote on stderr (its error).</summary>
        public string CliError(int exitCode, params string[] args)
        {
            var result = CliCommand.Run(Environment, args);
            Assert.True(result.ExitCode == exitCode, result.ToString());
            return result.Stderr.TrimEnd().Split('\n')[^1];
        }

        /// <summary>Writes a file in the test's folder (outside the home); returns its path.</summary>
        public string WriteFile(string name, string text)
        {
            var path = Path.Combine(_root, name);
            File.WriteAllText(path, text);
            return path;
        }

        /// <summary>Writes <c>pipelines/&lt;name&gt;.yaml</c> in the home; returns its path (a test that adds one deletes it: the others list the home).</summary>
        public string WritePipeline(string name, string yaml) => WriteFile(Path.Combine("home", "pipelines", name + ".yaml"), yaml);

        /// <summary>Calls a tool that must answer a tool error, and returns its structured answer.</summary>
        public async Task<JsonNode> McpError(string tool, Dictionary<string, object?> arguments)
        {
            var result = await _mcp.CallToolAsync(tool, arguments);
            Assert.True(result.IsError, $"{tool}: {result.StructuredContent}");
            return JsonNode.Parse(result.StructuredContent!.Value.GetRawText())!;
        }

        /// <summary>Calls a tool and returns its structured answer (a tool error fails the test).</summary>
        public async Task<JsonNode> Mcp(string tool, Dictionary<string, object?> arguments)
        {
            var result = await _mcp.CallToolAsync(tool, arguments);
            Assert.False(result.IsError, $"{tool}: {result.StructuredContent}");
            return JsonNode.Parse(result.StructuredContent!.Value.GetRawText())!;
        }
    }
}
