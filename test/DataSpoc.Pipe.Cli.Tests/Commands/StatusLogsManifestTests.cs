using System.Text.Json.Nodes;
using DataSpoc.Pipe.Cli.Tests.Support;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

public sealed class StatusLogsManifestTests : IDisposable
{
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    private JsonNode RunJson(string name, params string[] extra)
    {
        var result = CliProcess.Run(_home, ["run", name, "-o", "json", .. extra]);
        Assert.True(result.ExitCode is 0 or 1, result.ToString());
        return Json.Parse(result);
    }

    [Fact]
    public void Logs_list_shows_the_rows_a_run_landed_for_a_killed_runs_commit_beside_its_own()
    {
        _home.WriteShopPipeline("shop");
        var start = new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
        _home.WriteRunLog(new DataSpoc.Pipe.Lake.RunLog { Pipeline = "shop", RunId = "first", StartedAt = start, Status = "success", Mode = "incremental", TotalRecords = 40 });
        _home.WriteRunLog(new DataSpoc.Pipe.Lake.RunLog
        {
            Pipeline = "shop", RunId = "after-kill", StartedAt = start.AddHours(1), Status = "success", Mode = "incremental", TotalRecords = 50,
            Recovered = new DataSpoc.Pipe.Lake.RecoveredCommit("killed", 1234, 2, new(StringComparer.Ordinal)),
        });

        var list = CliProcess.Run(_home, "logs", "shop", "--list");
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Matches(@"│ after-kill .*│ 50 .*│ 1,234 \(run killed\)", list.Stdout);
        Assert.Matches(@"│ first .*│ 40 .*│ -", list.Stdout);

        var json = Json.Parse(CliProcess.Run(_home, "logs", "shop", "--list", "-o", "json")).AsArray();
        Assert.Equal("killed", json[0]!["recovered"]!.Str("run_id"));
        Assert.Equal(1234, json[0]!["recovered"]!["records"]!.GetValue<long>());
        Assert.Equal(2, json[0]!["recovered"]!["files"]!.GetValue<long>());
        Assert.Equal(50, json[0]!["total_records"]!.GetValue<long>());
        Assert.Null(json[1]!["recovered"]);
    }

    [Fact]
    public void A_damaged_run_log_is_named_by_logs_list_logs_and_status_while_the_other_runs_still_show()
    {
        _home.WriteShopPipeline("shop");
        var start = new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
        _home.WriteRunLog(new DataSpoc.Pipe.Lake.RunLog { Pipeline = "shop", RunId = "good1", StartedAt = start, Status = "success", Mode = "incremental", TotalRecords = 40 });
        var key = DataSpoc.Pipe.Lake.LakePaths.LogKey("shop", start.AddHours(1), "cut1");
        File.WriteAllText(Path.Combine(_home.Lake, key), """{"pipeline":"shop","run_id":""");
        var problem = $"run log {key} in {_home.Bucket} is not valid JSON";

        var json = Json.Parse(CliProcess.Run(_home, "logs", "shop", "--list", "-o", "json")).AsArray();
        Assert.Equal(["cut1", "good1"], json.Select(r => r.Str("run_id")));
        Assert.Equal(["damaged", "success"], json.Select(r => r.Str("status")));
        Assert.Equal(key, json[0]!.Str("key"));
        Assert.Contains(problem, json[0]!.Str("error"));

        var list = CliProcess.Run(_home, "logs", "shop", "--list");
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Matches(@"│ cut1 .*│ damaged", list.Stdout);
        Assert.Matches(@"│ good1 .*│ success", list.Stdout);

        var latest = CliProcess.Run(_home, "logs", "shop");
        Assert.Equal(1, latest.ExitCode);
        Assert.StartsWith("error: " + problem, latest.Stderr);

        var status = Json.Parse(CliProcess.Run(_home, "status", "-o", "json")).AsArray().Single()!;
        Assert.Equal("success", status.Str("status"));
        Assert.Equal("good1", status.Str("run_id"));
        Assert.Contains(problem, status.Str("damaged_logs"));
    }

    [Fact]
    public void Status_reports_each_pipelines_latest_run_and_next_scheduled_time_field_by_field()
    {
        _home.WriteShopPipeline("scheduled", extraTop: "schedule:\n  cron: \"30 2 * * *\"\n");
        _home.WriteShopPipeline("never");
        _home.WriteShopPipeline("broken", tapArgs: " --fail");
        var first = RunJson("scheduled");
        // Log names order by start second, then by random run id: two runs in one second have no defined "latest".
        Thread.Sleep(1100);
        var second = RunJson("scheduled", "--full");
        var failed = RunJson("broken");
        // The next run is cron's: the pipeline's crontab line must be installed for one to be shown.
        Assert.Equal(0, CliProcess.Run(_home, "schedule", "install").ExitCode);

        var result = CliProcess.Run(_home, "status", "--output", "json");
        Assert.True(result.ExitCode == 0, result.ToString());
        var rows = Json.Parse(result).AsArray();
        Assert.Equal(["broken", "never", "scheduled"], rows.Select(r => r.Str("pipeline")));

        var broken = rows[0]!;
        Assert.Equal("failure", broken.Str("status"));
        Assert.Equal(failed.Str("run_id"), broken.Str("run_id"));
        Assert.Contains("the tap exited with code 3", broken.Str("error"));

        var never = rows[1]!;
        Assert.Equal("never run", never.Str("status"));
        Assert.Null(never["last_run"]);
        Assert.Null(never["next_run"]);

        var scheduled = rows[2]!;
        Assert.Equal("success", scheduled.Str("status"));
        Assert.Equal(second.Str("run_id"), scheduled.Str("run_id"));
        Assert.NotEqual(first.Str("run_id"), scheduled.Str("run_id"));
        Assert.Equal(DateTimeOffset.Parse(second.Str("started_at")), DateTimeOffset.Parse(scheduled.Str("last_run")));
        Assert.Equal(second["duration_seconds"]!.GetValue<double>(), scheduled["duration_seconds"]!.GetValue<double>());
        Assert.Equal(10, scheduled.Long("records"));
        Assert.Equal("30 2 * * *", scheduled.Str("schedule"));
        var next = DateTimeOffset.Parse(scheduled.Str("next_run"));
        Assert.True(next > DateTimeOffset.UtcNow && next <= DateTimeOffset.UtcNow.AddDays(1).AddHours(1), next.ToString("O"));
        Assert.Equal(30, next.ToOffset(TimeZoneInfo.Local.GetUtcOffset(next)).Minute);

        var table = CliProcess.Run(_home, "status");
        Assert.Equal(0, table.ExitCode);
        Assert.Matches(@"│ scheduled\s+│ success\s+│", table.Stdout);
        Assert.Matches(@"│ never\s+│ never run\s+│", table.Stdout);
    }

    [Fact]
    public void A_bucket_that_accepts_connections_but_never_answers_is_one_unknown_row_within_the_status_timeout()
    {
        // Two pipelines on a bucket whose endpoint hangs, and a healthy one: status used to wait for the S3 client's
        // 5-minute timeout and retries (past this test's 3-minute limit) and showed nothing meanwhile.
        using var stalled = new StalledEndpoint();
        _home.WriteShopPipeline("healthy");
        foreach (var name in new[] { "hang-a", "hang-b" })
            _home.WriteStalledPipeline(name, stalled);
        var run = RunJson("healthy");

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var result = CliProcess.Run(_home, "status", "--output", "json");
        var took = clock.Elapsed;
        Assert.True(result.ExitCode == 0, result.ToString());
        // The bound is 15 s per bucket; the rest is process start on a loaded machine.
        Assert.True(took < TimeSpan.FromSeconds(60), $"status took {took.TotalSeconds:0} s");
        var rows = Json.Parse(result).AsArray();
        Assert.Equal(["hang-a", "hang-b", "healthy"], rows.Select(r => r.Str("pipeline")));
        Assert.Equal(("success", run.Str("run_id")), (rows[2]!.Str("status"), rows[2]!.Str("run_id")));
        foreach (var row in rows.Take(2))
        {
            Assert.Equal("unknown", row!.Str("status"));
            Assert.Contains($"bucket s3://lake-hang (endpoint {stalled.Url}) did not answer within 15 s", row.Str("error"));
        }
    }

    [Fact]
    public void Logs_shows_the_latest_log_lists_recent_runs_and_shows_one_run_by_id()
    {
        _home.WriteShopPipeline("shop");
        var first = RunJson("shop");
        Thread.Sleep(1100);
        var second = RunJson("shop", "--full");

        var latest = CliProcess.Run(_home, "logs", "shop");
        Assert.True(latest.ExitCode == 0, latest.ToString());
        Assert.Equal(second.ToJsonString(), Json.Parse(latest).ToJsonString());

        var list = Json.Parse(CliProcess.Run(_home, "logs", "shop", "--list", "-o", "json")).AsArray();
        Assert.Equal([second.Str("run_id"), first.Str("run_id")], list.Select(r => r.Str("run_id")));
        Assert.Equal(["full", "incremental"], list.Select(r => r.Str("mode")));
        Assert.All(list, r => Assert.Equal("success", r.Str("status")));
        Assert.All(list, r => Assert.Equal(10, r.Long("total_records")));
        Assert.Equal([second.Str("run_id")], Json.Parse(CliProcess.Run(_home, "logs", "shop", "--list", "--limit", "1", "-o", "json")).AsArray().Select(r => r.Str("run_id")));
        // --limit without --list used to be ignored (the latest log was shown); 0 used to mean 1.
        foreach (var args in new[] { new[] { "logs", "shop", "--limit", "0" }, ["logs", "shop", "--list", "--limit", "0"] })
            Assert.Equal(2, CliProcess.Run(_home, args).ExitCode);

        var one = CliProcess.Run(_home, "logs", "shop", "--run", first.Str("run_id"));
        Assert.Equal(first.ToJsonString(), Json.Parse(one).ToJsonString());

        var missing = CliProcess.Run(_home, "logs", "shop", "--run", "nope1234");
        Assert.Equal(2, missing.ExitCode);
        Assert.StartsWith($"error: shop has no run 'nope1234'; recent runs: {second.Str("run_id")}, {first.Str("run_id")}", missing.Stderr);
    }

    /// <summary>
    /// <c>logs --list</c> tells when a lake changed builds: the JSON has each run's <c>tool_version</c>, and the table a
    /// build column when the listed runs were written by more than one build (and none when by one).
    /// </summary>
    [Fact]
    public void Logs_list_names_the_build_of_each_run()
    {
        _home.WriteShopPipeline("shop");
        var first = RunJson("shop");
        Thread.Sleep(1100);
        var second = RunJson("shop", "--full");
        var current = second.Str("tool_version");
        Assert.False(string.IsNullOrEmpty(current));

        var list = Json.Parse(CliProcess.Run(_home, "logs", "shop", "--list", "-o", "json")).AsArray();
        Assert.Equal([current, current], list.Select(r => r.Str("tool_version")));
        var oneBuild = CliProcess.Run(_home, "logs", "shop", "--list");
        Assert.True(oneBuild.ExitCode == 0, oneBuild.ToString());
        Assert.DoesNotContain("build", oneBuild.Stdout);

        // The first run as an earlier build wrote it.
        var firstLog = Path.Combine(_home.Lake, list[1]!.Str("key"));
        var earlier = JsonNode.Parse(File.ReadAllText(firstLog))!;
        earlier["tool_version"] = "0.0.9+0000000";
        File.WriteAllText(firstLog, earlier.ToJsonString());
        list = Json.Parse(CliProcess.Run(_home, "logs", "shop", "--list", "-o", "json")).AsArray();
        Assert.Equal([(second.Str("run_id"), current), (first.Str("run_id"), "0.0.9+0000000")], list.Select(r => (r.Str("run_id"), r.Str("tool_version"))));
        var twoBuilds = CliProcess.Run(_home, "logs", "shop", "--list");
        Assert.True(twoBuilds.ExitCode == 0, twoBuilds.ToString());
        Assert.Contains("build", twoBuilds.Stdout);
        var rows = twoBuilds.Stdout.Split('\n');
        Assert.Contains(rows, r => r.Contains(first.Str("run_id"), StringComparison.Ordinal) && r.Contains("0.0.9+0000000", StringComparison.Ordinal));
        Assert.Contains(rows, r => r.Contains(second.Str("run_id"), StringComparison.Ordinal) && r.Contains(current, StringComparison.Ordinal));
    }

    [Fact]
    public void Logs_of_a_pipeline_that_never_ran_exits_1_with_one_line()
    {
        _home.WriteShopPipeline("idle");
        var result = CliProcess.Run(_home, "logs", "idle");
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("error: idle has not run yet", result.Stderr);
        Assert.Single(result.Stderr.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public void Manifest_prints_the_tables_a_run_wrote_field_by_field()
    {
        _home.WriteShopPipeline("shop");
        var log = RunJson("shop");
        var result = CliProcess.Run(_home, "manifest", _home.Bucket, "--output", "json");
        Assert.True(result.ExitCode == 0, result.ToString());
        var manifest = Json.Parse(result);
        Assert.Equal("1.0", manifest.Str("version"));
        var orders = manifest["tables"]!["shop_tap/orders"]!;
        Assert.Equal("shop_tap", orders.Str("source"));
        Assert.Equal("orders", orders.Str("table"));
        Assert.Equal("shop", orders.Str("pipeline"));
        Assert.Equal($"{_home.Bucket}/raw/shop_tap/orders", orders.Str("location"));
        Assert.Equal("parquet", orders.Str("format"));
        Assert.Equal("append", orders.Str("write_mode"));
        Assert.Equal(5, orders.Long("row_count"));
        Assert.Equal(["id"], orders["key_properties"]!.AsArray().Select(k => k!.GetValue<string>()));
        Assert.Equal(log["streams"]!["orders"].Long("bytes"), orders["stats"].Long("bytes"));
        Assert.Equal(["id:int64", "amount:double", "ordered_at:timestamp[us, tz=UTC]"],
            orders["columns"]!.AsArray().Select(c => c.Str("name") + ":" + c.Str("type")));

        var table = CliProcess.Run(_home, "manifest", _home.Bucket);
        Assert.Equal(0, table.ExitCode);
        Assert.Matches(@"│ shop\s+│ append\s+│ 5\s+│ 1\s+│", table.Stdout);
        Assert.Contains("shop_tap/orders: id int64", table.Stdout);
    }

    [Fact]
    public void Manifest_of_an_empty_bucket_exits_1_and_of_a_bad_uri_exits_2()
    {
        var empty = CliProcess.Run(_home, "manifest", _home.Bucket);
        Assert.Equal(1, empty.ExitCode);
        Assert.StartsWith($"error: no manifest in {_home.Bucket}", empty.Stderr);
        var bad = CliProcess.Run(_home, "manifest", "ftp://x");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("unsupported scheme", bad.Stderr);
    }
}
