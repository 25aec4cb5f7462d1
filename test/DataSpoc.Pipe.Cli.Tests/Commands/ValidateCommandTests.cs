using System.Text.Json.Nodes;
using DataSpoc.Pipe.Cli.Tests.Support;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

public sealed class ValidateCommandTests : IDisposable
{
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    /// <summary>
    /// A binary installed without <c>ParquetSharpNative.so</c> (it must stay next to it) extracts and then fails every run at
    /// <c>write</c>: validate loads the library and says what is missing and where it looked; the run's error is one line.
    /// </summary>
    [Fact]
    public void A_program_without_its_Parquet_library_fails_validate_naming_where_it_looked_and_a_run_in_one_line()
    {
        _home.WriteShopPipeline("shop");
        var copy = Path.Combine(_home.Root, "install");
        IReadOnlyList<string> command;
        if (CliProcess.IsNative)
        {
            Directory.CreateDirectory(copy);
            File.Copy(CliProcess.Command[0], Path.Combine(copy, "dataspoc-pipe"));
            File.SetUnixFileMode(Path.Combine(copy, "dataspoc-pipe"), File.GetUnixFileMode(CliProcess.Command[0]));
            command = [Path.Combine(copy, "dataspoc-pipe")];
        }
        else
        {
            var bin = Path.GetDirectoryName(CliProcess.Command[1])!;
            foreach (var file in Directory.EnumerateFiles(bin, "*", SearchOption.AllDirectories))
            {
                if (Path.GetFileName(file) == "ParquetSharpNative.so") continue;
                var target = Path.Combine(copy, Path.GetRelativePath(bin, file));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(file, target);
            }
            command = ["dotnet", Path.Combine(copy, Path.GetFileName(CliProcess.Command[1]))];
        }

        var validate = CliProcess.RunCopy(command, _home, "validate", "shop", "-o", "json");
        Assert.True(validate.ExitCode == 1, validate.ToString());
        var check = Json.Parse(validate).AsArray().Single()!["checks"]!.AsArray().Single(c => c.Str("check") == "parquet library")!;
        Assert.False(check.Bool("ok"));
        Assert.StartsWith("the Parquet library ParquetSharpNative could not be loaded: looked for ", check.Str("detail"));
        Assert.Contains(Path.Combine(copy, "ParquetSharpNative.so"), check.Str("detail"));

        var run = CliProcess.RunCopy(command, _home, "run", "shop");
        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Single(run.Stderr.TrimEnd('\n').Split('\n'));
        Assert.Contains("write failed: the Parquet library ParquetSharpNative could not be loaded: looked for ", run.Stderr);
    }

    [Fact]
    public void A_working_pipeline_passes_every_check_and_leaves_no_probe_behind()
    {
        _home.WriteShopPipeline("shop", extraTop: "schedule:\n  cron: \"0 * * * *\"\n");
        var result = CliProcess.Run(_home, "validate", "shop", "-o", "json");
        Assert.True(result.ExitCode == 0, result.ToString());
        var report = Json.Parse(result).AsArray().Single()!;
        Assert.Equal("shop", report.Str("pipeline"));
        Assert.True(report.Bool("ok"));
        var checks = report["checks"]!.AsArray();
        Assert.Equal(["config", "tap config", "temp folder", "tap", "catalog", "bucket"], checks.Select(c => c.Str("check")));
        Assert.All(checks, c => Assert.True(c.Bool("ok"), c!.ToJsonString()));
        Assert.Equal(_home.PrivateTemp, checks[2].Str("detail"));
        Assert.EndsWith("answers --help", checks[3].Str("detail"));
        Assert.Equal("selects 2 stream(s): orders, customers; passed with --catalog (from --help)", checks[4].Str("detail"));
        Assert.Equal($"{_home.Bucket}: write, read, list and delete work", checks[5].Str("detail"));
        Assert.Empty(Directory.EnumerateFiles(_home.Lake, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public void A_bucket_that_accepts_connections_but_never_answers_fails_the_bucket_check_within_the_read_only_views_timeout()
    {
        // The probe used to wait for the S3 client's 5-minute request timeout and its retries (about 30 minutes) and
        // printed nothing meanwhile; validate now gives the bucket the 15 s status and manifest give it.
        using var stalled = new StalledEndpoint();
        _home.WriteStalledPipeline("hang", stalled);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var result = CliProcess.Run(_home, "validate", "hang", "-o", "json");
        var took = clock.Elapsed;
        Assert.True(result.ExitCode == 1, result.ToString());
        // The bound is 15 s; the rest is process start and the tap checks on a loaded machine.
        Assert.True(took < TimeSpan.FromSeconds(60), $"validate took {took.TotalSeconds:0} s");
        var checks = Json.Parse(result).AsArray().Single()!["checks"]!.AsArray();
        Assert.All(checks.Where(c => c.Str("check") != "bucket"), c => Assert.True(c.Bool("ok"), c!.ToJsonString()));
        var bucket = checks.Single(c => c.Str("check") == "bucket")!;
        Assert.False(bucket.Bool("ok"));
        Assert.StartsWith($"bucket s3://lake-hang (endpoint {stalled.Url}) did not answer within 15 s: ", bucket.Str("detail"));
    }

    /// <summary>
    /// Every run fails at its <c>start</c> step when the private temp folder cannot be made: validate checks it with the
    /// run's own code, says why, and still prints its JSON document (the other checks too).
    /// </summary>
    [Theory]
    [InlineData("missing", "does not exist")]
    [InlineData("file", "is not a folder")]
    [InlineData("read-only", "Read-only file system")]
    public void A_temp_folder_every_run_would_fail_on_fails_validate_as_it_fails_the_run(string kind, string reason)
    {
        _home.WriteShopPipeline("shop");
        var tmpdir = Path.Combine(_home.Root, "tmpdir-" + kind);
        if (kind == "file") File.WriteAllText(tmpdir, "");
        if (kind == "read-only")
        {
            // A read-only file system: the tests run as root, which permission bits do not stop.
            Directory.CreateDirectory(tmpdir);
            HostCommand.Run("mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", tmpdir);
        }
        try
        {
            _home.Set("TMPDIR", tmpdir);
            var validate = CliProcess.Run(_home, "validate", "shop", "--output", "json");
            var run = CliProcess.Run(_home, "run", "shop", "--output", "json");

            Assert.True(validate.ExitCode == 1, validate.ToString());
            var checks = Json.Parse(validate).AsArray().Single()!["checks"]!.AsArray();
            var temp = checks.Single(c => c.Str("check") == "temp folder")!;
            Assert.False(temp.Bool("ok"));
            Assert.StartsWith($"the private temp folder '{tmpdir}/dataspoc-pipe-", temp.Str("detail"));
            Assert.Contains(reason, temp.Str("detail"));
            Assert.True(checks.Single(c => c.Str("check") == "bucket")!.Bool("ok"));
            // The run fails at start with the same words.
            Assert.True(run.ExitCode == 1, run.ToString());
            Assert.Equal("start", Json.Parse(run).Str("failed_step"));
            Assert.Contains(reason, Json.Parse(run).Str("error"));
        }
        finally
        {
            if (kind == "read-only") HostCommand.Run("umount", "--lazy", tmpdir);
        }
    }

    [Fact]
    public void A_missing_tap_an_unwritable_bucket_and_bad_yaml_each_fail_with_exit_code_1()
    {
        _home.WritePipeline("notap", $"source:\n  tap: tap-does-not-exist-anywhere\ndestination:\n  bucket: {_home.Bucket}\n");
        // A bucket below a regular file cannot be written, even by root (permission bits would not stop root).
        var blocker = Path.Combine(_home.Root, "not-a-directory");
        File.WriteAllText(blocker, "");
        var locked = Path.Combine(blocker, "lake");
        _home.WritePipeline("nowrite", $"source:\n  tap: {CliProcess.ShopTap}\ndestination:\n  bucket: file://{locked}\n");
        var badYaml = _home.WritePipeline("badyaml", $"source:\n  tap: {CliProcess.ShopTap}\ndestination:\n  bucket: {_home.Bucket}\nincremental:\n  enabled: maybe\n");
        _home.WriteShopPipeline("good");
        {
            var result = CliProcess.Run(_home, "validate", "--output", "json");
            Assert.Equal(1, result.ExitCode);
            Assert.Equal("error: validation failed for badyaml, notap, nowrite\n", result.Stderr);
            var reports = Json.Parse(result).AsArray().ToDictionary(r => r.Str("pipeline"), r => r!);
            Assert.True(reports["good"].Bool("ok"));

            var yaml = reports["badyaml"]["checks"]!.AsArray().Single()!;
            Assert.Equal("config", yaml.Str("check"));
            Assert.Equal($"{badYaml}:6: incremental.enabled: expected true or false, got 'maybe'", yaml.Str("detail"));

            var tap = reports["notap"]["checks"]!.AsArray().Single(c => c.Str("check") == "tap")!;
            Assert.False(tap.Bool("ok"));
            Assert.StartsWith("tap 'tap-does-not-exist-anywhere' was not found on PATH", tap.Str("detail"));

            var bucket = reports["nowrite"]["checks"]!.AsArray().Single(c => c.Str("check") == "bucket")!;
            Assert.False(bucket.Bool("ok"));
            Assert.StartsWith($"file://{locked}: cannot write (write permission on the directory denied or failing):", bucket.Str("detail"));
        }
    }

    [Fact]
    public void A_maintain_schedule_that_never_fires_fails_validation_naming_its_key()
    {
        _home.WriteShopPipeline("shop", extraTop: "schedule:\n  cron: \"0 * * * *\"\n  maintain:\n    cron: \"0 3 30 2 *\"\n");
        _home.WriteShopPipeline("weekly", extraTop: "schedule:\n  maintain:\n    cron: \"@weekly\"\n    compact: true\n");
        var result = CliProcess.Run(_home, "validate", "-o", "json");
        Assert.Equal(1, result.ExitCode);
        var reports = Json.Parse(result).AsArray().ToDictionary(r => r.Str("pipeline"), r => r!);
        var schedule = reports["shop"]["checks"]!.AsArray().Single(c => c.Str("check") == "schedule")!;
        Assert.False(schedule.Bool("ok"));
        Assert.Equal("schedule.maintain '0 3 30 2 *' never fires: no date matches its day-of-month and month", schedule.Str("detail"));
        // A maintain schedule without table_format is valid: maintain compacts plain Parquet tables too.
        Assert.True(reports["weekly"].Bool("ok"), reports["weekly"].ToJsonString());
    }

    [Fact]
    public void A_schedule_that_never_fires_fails_validation_naming_it()
    {
        _home.WriteShopPipeline("shop", extraTop: "schedule:\n  cron: \"0 0 31 2 *\"\n");
        _home.WriteShopPipeline("leap", extraTop: "schedule:\n  cron: \"0 0 29 2 *\"\n");
        // No 31st of February, but the day-of-week is restricted too, and cron then runs on either: every Monday of February.
        _home.WriteShopPipeline("mondays", extraTop: "schedule:\n  cron: \"0 0 31 2 1\"\n");
        var result = CliProcess.Run(_home, "validate", "-o", "json");
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("error: validation failed for shop\n", result.Stderr);
        var reports = Json.Parse(result).AsArray().ToDictionary(r => r.Str("pipeline"), r => r!);
        var schedule = reports["shop"]["checks"]!.AsArray().Single(c => c.Str("check") == "schedule")!;
        Assert.False(schedule.Bool("ok"));
        Assert.Equal("schedule '0 0 31 2 *' never fires: no date matches its day-of-month and month", schedule.Str("detail"));
        // The 29th of February comes every four years: a schedule, not a mistake.
        Assert.True(reports["leap"].Bool("ok"));
        Assert.True(reports["mondays"].Bool("ok"), reports["mondays"].ToJsonString());
    }

    [Fact]
    public void A_tap_that_answers_neither_help_nor_about_fails_validation()
    {
        var script = Path.Combine(_home.Root, "mute_tap.sh");
        File.WriteAllText(script, "#!/bin/sh\necho 'no such option' >&2\nexit 4\n");
        _home.WritePipeline("mute", $"source:\n  tap: sh {script}\ndestination:\n  bucket: {_home.Bucket}\n");
        var result = CliProcess.Run(_home, "validate", "mute", "-o", "json");
        Assert.Equal(1, result.ExitCode);
        var tap = Json.Parse(result).AsArray().Single()!["checks"]!.AsArray().Single(c => c.Str("check") == "tap")!;
        Assert.Contains("answers neither --help nor --about (--help: exit 4 no such option; --about: exit 4 no such option)", tap.Str("detail"));
    }

    [Fact]
    public void A_built_in_tap_passes_by_listing_its_streams_and_fails_when_its_source_cannot_be_read()
    {
        var data = Path.Combine(_home.Root, "csvs");
        Directory.CreateDirectory(data);
        File.WriteAllText(Path.Combine(data, "items.csv"), "id,price\n1,2.50\n");
        _home.WritePipeline("items", $"source:\n  tap: csv\n  config: {{path: \"{data}\"}}\ndestination:\n  bucket: {_home.Bucket}\n");
        var missing = Path.Combine(_home.Root, "no-such-folder");
        _home.WritePipeline("nofolder", $"source:\n  tap: csv\n  config: {{path: \"{missing}\"}}\ndestination:\n  bucket: {_home.Bucket}\n");
        // A port just released: nothing listens on it.
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        _home.WritePipeline("noserver", $"source:\n  tap: postgres\n  config: {{host: 127.0.0.1, port: {port}, user: postgres, dbname: shop}}\ndestination:\n  bucket: {_home.Bucket}\n");

        var result = CliProcess.Run(_home, "validate", "--output", "json");
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("error: validation failed for nofolder, noserver\n", result.Stderr);
        var taps = Json.Parse(result).AsArray().ToDictionary(r => r.Str("pipeline"), r => r!["checks"]!.AsArray().Single(c => c.Str("check") == "tap")!);
        Assert.True(taps["items"].Bool("ok"));
        Assert.Equal("'csv' is a built-in tap; its source lists 1 stream(s): items", taps["items"].Str("detail"));
        Assert.False(taps["nofolder"].Bool("ok"));
        Assert.Equal($"'csv' is a built-in tap, but its source cannot be read: csv tap: '{missing}' matches no file", taps["nofolder"].Str("detail"));
        Assert.False(taps["noserver"].Bool("ok"));
        Assert.Equal($"'postgres' is a built-in tap, but its source cannot be read: postgres tap: cannot connect to 127.0.0.1:{port}/shop: " +
                     $"Failed to connect to 127.0.0.1:{port} (Connection refused)", taps["noserver"].Str("detail"));
    }

    [Fact]
    public void Invalid_tap_config_json_fails_validation_naming_the_file_and_line()
    {
        Directory.CreateDirectory(_home.Sources);
        var config = Path.Combine(_home.Sources, "shop.json");
        File.WriteAllText(config, "{\n  \"rows\": 3,\n  oops\n}\n");
        _home.WriteShopPipeline("shop", extraSource: "  config: sources/shop.json\n");
        var result = CliProcess.Run(_home, "validate", "shop", "-o", "json");
        Assert.Equal(1, result.ExitCode);
        var check = Json.Parse(result).AsArray().Single()!["checks"]!.AsArray().Single()!;
        Assert.Equal("tap config", check.Str("check"));
        Assert.StartsWith($"{config}:3: invalid JSON", check.Str("detail"));
    }

    [Fact]
    public void A_transform_with_a_bad_key_fails_validation_naming_the_stream_and_key()
    {
        _home.WriteShopPipeline("shop", extraTop: "transforms:\n  orders:\n    rename: {id: x, total: x}\n");
        var result = CliProcess.Run(_home, "validate", "shop", "-o", "json");
        Assert.Equal(1, result.ExitCode);
        var check = Json.Parse(result).AsArray().Single()!["checks"]!.AsArray().Single(c => c.Str("check") == "transforms")!;
        Assert.False(check.Bool("ok"));
        Assert.Contains("transforms.orders.rename", check.Str("detail"));
    }

    [Fact]
    public void A_container_name_in_the_wrong_case_is_a_config_error_naming_the_line_and_the_rule_not_a_permission()
    {
        // Azure answers such a name with 400 InvalidResourceName on the first write, which read as a denied permission.
        var file = _home.WritePipeline("bk", $"source:\n  tap: {CliProcess.ShopTap}\ndestination:\n  bucket: az://Lake\n");
        const string rule = "bucket 'az://Lake': Azure container names are 3-63 lowercase letters, digits and '-', starting with a letter or digit, without '--' or a trailing '-'; 'Lake' has the capital letter 'L'";
        var result = CliProcess.Run(_home, "validate", "bk", "--output", "json");
        Assert.Equal(1, result.ExitCode);
        var check = Json.Parse(result).AsArray().Single()!["checks"]!.AsArray().Single()!;
        Assert.Equal("config", check.Str("check"));
        Assert.Equal($"{file}:4: destination.bucket: {rule}", check.Str("detail"));

        var run = CliProcess.Run(_home, "run", "bk");
        Assert.Equal(2, run.ExitCode);
        Assert.Contains($"{file}:4: destination.bucket: {rule}", run.Stderr);
    }

    [Fact]
    public void Validating_an_unknown_pipeline_is_a_usage_error()
    {
        _home.WriteShopPipeline("shop");
        var result = CliProcess.Run(_home, "validate", "shp");
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("error: unknown pipeline 'shp'; known pipelines: shop\n", result.Stderr);
    }

    /// <summary>
    /// The JSON carries the located problems (key, file, line) PipeClient.ValidateAsync returns and the MCP tool answers,
    /// not only the checks' text: a script finds the key and the line to change. A pipeline without problems has none.
    /// </summary>
    [Fact]
    public async Task Json_output_lists_each_pipelines_located_problems_as_the_api_returns_them()
    {
        var codec = _home.WritePipeline("codec", $"source:\n  tap: {CliProcess.ShopTap}\ndestination:\n  bucket: {_home.Bucket}\n  compression: lz77\n");
        var rows = _home.WritePipeline("rows", $"source:\n  tap: {CliProcess.ShopTap}\ndestination:\n  bucket: {_home.Bucket}\n  max_file_rows: 0\n");
        _home.WriteShopPipeline("shop");
        var result = CliProcess.Run(_home, "validate", "-o", "json");
        Assert.Equal(1, result.ExitCode);
        var reports = Json.Parse(result).AsArray().ToDictionary(r => r.Str("pipeline"), r => r!);
        Assert.Equal(new[] { ("destination.compression", codec, 5, $"{codec}:5: destination.compression: expected zstd, snappy, gzip or none, got 'lz77'") },
            Problems(reports["codec"]));
        Assert.Equal(new[] { ("destination.max_file_rows", rows, 5, $"{rows}:5: destination.max_file_rows: expected a positive whole number, got 0") },
            Problems(reports["rows"]));
        Assert.Equal("[]", reports["shop"]["problems"]!.ToJsonString());
        var api = await new Api.PipeClient(_home.Home).ValidateAsync("codec");
        Assert.Equal(api.Problems.Select(p => (p.Key, p.File, p.Line, p.Message)), Problems(reports["codec"]).Select(p => ((string?)p.Key, (string?)p.File, (int?)p.Line, p.Message)));
    }

    private static List<(string Key, string File, int Line, string Message)> Problems(JsonNode report) =>
        [.. report["problems"]!.AsArray().Select(p => (p.Str("key"), p.Str("file"), p!["line"]!.GetValue<int>(), p.Str("message")))];
}
