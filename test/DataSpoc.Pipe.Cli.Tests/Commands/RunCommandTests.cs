using System.Text.RegularExpressions;
using DataSpoc.Pipe.Cli.Tests.Support;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

public sealed class RunCommandTests : IDisposable
{
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    [Fact]
    public void Run_writes_the_streams_as_parquet_and_prints_the_run_log_as_json()
    {
        _home.WriteShopPipeline("shop");
        var result = CliProcess.Run(_home, "run", "shop", "--output", "json");
        Assert.True(result.ExitCode == 0, result.ToString());
        var log = Json.Parse(result);
        Assert.Equal("shop", log.Str("pipeline"));
        Assert.Equal("success", log.Str("status"));
        Assert.Equal("incremental", log.Str("mode"));
        Assert.Equal(10, log.Long("total_records"));
        Assert.True(log.Bool("state_committed"));
        Assert.Equal(5, log["streams"]!["orders"].Long("records"));
        Assert.Equal(1, log["streams"]!["orders"].Long("files"));
        Assert.Equal(5, log["streams"]!["customers"].Long("records"));
        Assert.Equal(0, log["tap"].Long("exit_code"));
        Assert.Matches("^[0-9a-f]{8}$", log.Str("run_id"));

        var rows = LakeReader.Rows($"{_home.Lake}/raw/shop_tap/orders/dt=*/*.parquet", "id, amount, ordered_at", "id");
        Assert.Equal(5, rows.Count);
        Assert.Equal(1L, rows[0][0]);
        Assert.Equal(1.5, rows[0][1]);
        Assert.Equal(new DateTime(2025, 1, 20, 8, 0, 1), Assert.IsType<DateTime>(rows[0][2]));
    }

    [Fact]
    public void Transforms_filter_compute_hash_cast_drop_and_rename_the_rows_before_they_land()
    {
        _home.WriteShopPipeline("shop", extraTop: """
            transforms:
              orders:
                filter: "id >= 2 and amount < 7"
                compute:
                  doubled: "amount * 2"
                  label: "concat(upper('o'), '-', id)"
                  big: "amount > 4"
                cast: {id: string}
                drop: [ordered_at]
                rename: {id: order_id}
              customers:
                hash: {columns: [name], salt: pepper}
            """);
        var result = CliProcess.Run(_home, "run", "shop", "-o", "json");
        Assert.True(result.ExitCode == 0, result.ToString());
        var log = Json.Parse(result);
        Assert.Equal((3L, 2L), (log["streams"]!["orders"].Long("records"), log["streams"]!["orders"].Long("filtered")));

        Assert.Equal(
            [["2", 3.0, 6.0, "O-2", false], ["3", 4.5, 9.0, "O-3", true], ["4", 6.0, 12.0, "O-4", true]],
            LakeReader.Rows($"{_home.Lake}/raw/shop_tap/orders/dt=*/*.parquet", "order_id, amount, doubled, label, big", "order_id"));
        Assert.Equal(["order_id", "amount", "doubled", "label", "big"],
            LakeReader.Query($"SELECT column_name FROM (DESCRIBE SELECT * FROM read_parquet('{_home.Lake}/raw/shop_tap/orders/dt=*/*.parquet', hive_partitioning = false))").Select(r => r[0]));
        var sha = (string value) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes("pepper" + value)));
        Assert.Equal(
            Enumerable.Range(1, 5).Select(i => new object?[] { (long)i, sha("c" + i) }),
            LakeReader.Rows($"{_home.Lake}/raw/shop_tap/customers/dt=*/*.parquet", "id, name", "id"));
    }

    [Fact]
    public void A_hash_added_between_runs_warns_on_stderr_that_the_earlier_rows_keep_clear_text()
    {
        // JSON output too: the warning is on stderr, where a scheduled run's reader sees it, not only in the log's notices.
        _home.WriteShopPipeline("shop");
        Assert.Equal(0, CliProcess.Run(_home, "run", "shop", "-o", "json").ExitCode);
        _home.WriteShopPipeline("shop", extraTop: """
            transforms:
              customers:
                hash: [name]
            """);
        var result = CliProcess.Run(_home, "run", "shop", "-o", "json");
        Assert.True(result.ExitCode == 0, result.ToString());
        const string Warning = "stream 'customers': column(s) 'name' hashed by this run but not by the last run that wrote table shop_tap/customers: " +
            "the 5 row(s) the table held before this run keep their values in clear text beside the hashed ones; run --full to rehash them";
        Assert.Contains("warning: shop: " + Warning + "\n", result.Stderr);
        Assert.Contains(Warning, Json.Parse(result)["notices"]!.AsArray().Select(n => n!.GetValue<string>()));
    }

    [Fact]
    public void A_run_whose_state_cannot_be_saved_after_its_rows_are_counted_exits_0_warning_that_the_next_run_saves_it()
    {
        _home.WriteShopPipeline("shop");
        Assert.Equal(0, CliProcess.Run(_home, "run", "shop").ExitCode);
        // chattr +i (the tests run as root, which chmod does not stop): the state folder refuses the state write, which
        // comes after the manifest counted the run's rows.
        var stateFolder = Path.Combine(_home.Lake, ".dataspoc", "state", "shop");
        Chattr("+i", stateFolder);
        CliProcess.Result result;
        try { result = CliProcess.Run(_home, "run", "shop", "-o", "json"); }
        finally { Chattr("-i", stateFolder); }

        Assert.True(result.ExitCode == 0, result.ToString());
        var log = Json.Parse(result);
        Assert.Equal(("success", false), (log.Str("status"), log.Bool("state_committed")));
        Assert.Matches(@"(?m)^warning: shop: committed; its state will be saved by the next run \(journal file://.*/\.dataspoc/journal/shop\.json, " +
            @"which every run and maintain of pipeline 'shop' completes first\): finishing the commit failed twice: .*permission denied", result.Stderr);
        Assert.DoesNotContain("error:", result.Stderr);
        var runId = log.Str("run_id");
        var status = Json.Parse(CliProcess.Run(_home, "status", "-o", "json")).AsArray().Single()!;
        Assert.Equal(("success", runId), (status.Str("status"), status.Str("run_id")));
        var logs = Json.Parse(CliProcess.Run(_home, "logs", "shop", "-o", "json"));
        Assert.Equal(("success", runId), (logs.Str("status"), logs.Str("run_id")));

        var next = CliProcess.Run(_home, "run", "shop", "-o", "json");
        Assert.True(next.ExitCode == 0, next.ToString());
        Assert.Contains($"finished the commit of run {runId}, which had committed (its run log counts its rows) but could not finish it: saved its state and removed its journal",
            Json.Parse(next)["notices"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.True(Json.Parse(next).Bool("state_committed"));
    }

    private static void Chattr(string flag, string path)
    {
        using var chattr = System.Diagnostics.Process.Start("chattr", [flag, path])!;
        chattr.WaitForExit();
        Assert.Equal(0, chattr.ExitCode);
    }

    [Fact]
    public void Run_prints_plain_progress_and_a_summary_table_when_stdout_is_not_a_terminal()
    {
        _home.WriteShopPipeline("shop");
        var result = CliProcess.Run(_home, "run", "shop");
        Assert.True(result.ExitCode == 0, result.ToString());
        // With its UTC time: a scheduled run's output file dates each run, one refused by a held lock too.
        Assert.Matches(@"(?m)^shop: started \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$", result.Stdout);
        Assert.Matches(@"│ orders\s+│ 5\s+│ 0\s+│ 1\s+│", result.Stdout);
        Assert.Matches(@"│ shop\s+│ success\s+│ incremental\s+│", result.Stdout);
        Assert.DoesNotContain("\u001b[", result.Stdout);
    }

    /// <summary>
    /// A stream named after a secret the tap config also states in clear (as tap-postgres names streams after a
    /// <c>${VAR}</c> dbname): the run accepts it, and its plain progress lines mask it as the run log and the summary do.
    /// </summary>
    /// <summary>
    /// A run of many streams prints bounded plain progress: the 10 streams with the most records and a count of the
    /// rest (10,000 streams printed 74,000 lines when every report named each stream seen so far).
    /// </summary>
    [Fact]
    public void Plain_progress_names_the_largest_streams_and_counts_the_rest()
    {
        var tap = Path.Combine(_home.Root, "many_streams_tap.py");
        File.WriteAllText(tap, """
            import json, sys, time
            for s in range(30):
                print(json.dumps({"type": "SCHEMA", "stream": f"s{s}", "key_properties": [], "schema": {"type": "object", "properties": {"id": {"type": "integer"}}}}))
                for r in range(s + 1):
                    print(json.dumps({"type": "RECORD", "stream": f"s{s}", "record": {"id": r}}))
            sys.stdout.flush()
            time.sleep(1.5)
            """);
        _home.WritePipeline("many", $$"""
            source:
              tap: python3 {{tap}}
            destination:
              bucket: {{_home.Bucket}}
            """);
        var result = CliProcess.Run(_home, "run", "many");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Matches(@"(?m)^many: and \d+ more streams; \d+ records in all$", result.Stdout);
        // Each report: at most 10 stream lines in a row.
        var run = 0;
        foreach (var line in result.Stdout.Split('\n'))
        {
            run = Regex.IsMatch(line, @"^many: s\d+: \d+ records \(") ? run + 1 : 0;
            Assert.True(run <= 10, result.Stdout);
        }
    }

    [Fact]
    public void Plain_progress_lines_mask_a_secret_in_a_stream_name_as_the_run_log_does()
    {
        const string secret = "Prog-S3cret-41d7";
        _home.Set("PROGRESS_SECRET", secret);
        _home.WritePipeline("slow", $$"""
            source:
              tap: python3 {{CliProcess.Asset("scripted_tap.py")}}
              config:
                dbname: ${PROGRESS_SECRET}
                stream: t_${PROGRESS_SECRET}
                max_id: 3
                record_interval: 0.4
            destination:
              bucket: {{_home.Bucket}}
            """);
        var result = CliProcess.Run(_home, "run", "slow");
        Assert.True(result.ExitCode == 0, result.ToString());
        // The whole name came from a ${VAR}: it is masked whole, as in the run log.
        Assert.Matches(@"(?m)^slow: \*\*\*: \d+ records \(", result.Stdout);
        foreach (var form in DataSpoc.Pipe.Tests.Support.SecretForms.Of(secret).Concat(DataSpoc.Pipe.Tests.Support.SecretForms.EncodedOf(secret)))
        {
            Assert.DoesNotContain(form, result.Stdout, StringComparison.Ordinal);
            Assert.DoesNotContain(form, result.Stderr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Run_in_a_terminal_shows_a_live_per_stream_table_then_the_summary()
    {
        Assert.True(PseudoTerminal.Available, "util-linux 'script' is needed for the pseudo-terminal test");
        _home.WriteShopPipeline("shop", extraSource: "  config:\n    rows: 20000\n");
        var result = PseudoTerminal.Run(_home, "", "", "run", "shop");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("records/s", result.Stdout);
        Assert.DoesNotContain("shop: started", result.Stdout);
        Assert.Matches(@"│ orders\s+│ 20,000\s+│ 0\s+│ 1\s+│", result.Stdout);
    }

    [Fact]
    public void An_unknown_pipeline_is_one_line_listing_the_known_names_with_exit_code_2()
    {
        _home.WriteShopPipeline("shop");
        _home.WriteShopPipeline("billing");
        var result = CliProcess.Run(_home, "run", "nope");
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("error: unknown pipeline 'nope'; known pipelines: billing, shop\n", result.Stderr);
        Assert.Equal("", result.Stdout);
    }

    [Fact]
    public void A_configuration_error_exits_2_naming_file_line_and_key_and_runs_nothing()
    {
        var file = _home.WritePipeline("bad", $"source:\n  tap: {CliProcess.ShopTap}\ndestination:\n  bucket: {_home.Bucket}\n  colour: blue\n");
        var result = CliProcess.Run(_home, "run", "bad");
        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"error: {file}:5: destination.colour: unknown key (allowed here: bucket, path, compression, partition_by, max_file_rows, max_file_mb, storage_options, table_format, write_mode, merge)\n", result.Stderr);
        Assert.False(Directory.Exists(Path.Combine(_home.Lake, ".dataspoc")));
    }

    [Fact]
    public void A_failing_tap_exits_1_with_its_error_and_writes_a_failure_log()
    {
        _home.WriteShopPipeline("broken", tapArgs: " --fail");
        var result = CliProcess.Run(_home, "run", "broken", "--output", "json");
        Assert.Equal(1, result.ExitCode);
        var log = Json.Parse(result);
        Assert.Equal("failure", log.Str("status"));
        Assert.False(log.Bool("state_committed"));
        Assert.Equal(3, log["tap"].Long("exit_code"));
        Assert.Contains("cannot reach the shop API", log["tap"].Str("stderr_tail"));
        Assert.Contains("error: broken failed: the tap exited with code 3", result.Stderr);
    }

    [Fact]
    public void A_run_that_fails_after_writing_files_shows_no_files_or_bytes_in_its_summary_as_none_landed()
    {
        // Two full-refresh pipelines of different CSV folders land one table: the second's commit is refused, after its
        // file was written.
        foreach (var (name, row) in new[] { ("first", "1,a"), ("second", "2,b") })
        {
            var folder = Directory.CreateDirectory(Path.Combine(_home.Root, "csv-" + name)).FullName;
            File.WriteAllText(Path.Combine(folder, "orders.csv"), "id,name\n" + row + "\n");
            _home.WritePipeline(name, $"source:\n  tap: csv\n  config: {{path: {folder}}}\ndestination:\n  bucket: {_home.Bucket}\n");
        }
        Assert.Equal(0, CliProcess.Run(_home, "run", "first").ExitCode);

        var json = CliProcess.Run(_home, "run", "second", "--output", "json");
        Assert.Equal(1, json.ExitCode);
        var log = Json.Parse(json);
        Assert.Equal("commit", log.Str("failed_step"));
        Assert.Equal(0, log["streams"]!["orders"].Long("files")); // the run log counts landed files: the written one stayed in the spool

        var table = CliProcess.Run(_home, "run", "second");
        Assert.Equal(1, table.ExitCode);
        Assert.Matches(@"│ second\s+│ failure\s+│ full\s+│ [^│]+│ 1\s+│ -\s+│ -\s+│", table.Stdout);
    }

    [Fact]
    public void Run_all_runs_every_pipeline_in_parallel_summarises_and_exits_1_when_one_failed()
    {
        _home.WriteShopPipeline("a-shop");
        _home.WriteShopPipeline("b-broken", tapArgs: " --fail");
        _home.WriteShopPipeline("c-shop");
        var result = CliProcess.Run(_home, "run", "--all", "--parallel", "3", "--output", "json");
        Assert.Equal(1, result.ExitCode);
        var logs = Json.Parse(result).AsArray();
        Assert.Equal(["a-shop", "b-broken", "c-shop"], logs.Select(l => l.Str("pipeline")));
        Assert.Equal(["success", "failure", "success"], logs.Select(l => l.Str("status")));
        // The tap fails as soon as it is asked for its catalog (--discover), before any extraction.
        Assert.StartsWith("error: b-broken failed: the tap exited with code 3 during '", result.Stderr);
        Assert.EndsWith(" --discover'; its last stderr line: shop_tap: cannot reach the shop API (connection refused)\n", result.Stderr);

        var table = CliProcess.Run(_home, "run", "--all");
        Assert.Equal(1, table.ExitCode);
        Assert.Matches(@"│ a-shop\s+│ success", table.Stdout);
        Assert.Matches(@"│ b-broken\s+│ failure", table.Stdout);
        Assert.Matches(@"│ c-shop\s+│ success", table.Stdout);
    }

    [Fact]
    public void A_file_whose_name_is_not_a_pipeline_name_is_shown_by_its_file_in_run_all_and_status()
    {
        // pipelines/.yaml (what `add "$NAME"` leaves when the variable is empty): its row had a blank name, and stderr
        // said "error:  was not run".
        _home.WriteShopPipeline("shop");
        File.WriteAllText(Path.Combine(_home.Pipelines, ".yaml"), "source:\n  tap: csv\ndestination:\n  bucket: file:///tmp/x\n");
        var shown = Path.Combine("pipelines", ".yaml");

        var run = CliProcess.Run(_home, "run", "--all");
        Assert.Equal(2, run.ExitCode);
        Assert.Matches($@"│ {Regex.Escape(shown)}\s+│ invalid", run.Stdout);
        Assert.Matches(@"│ shop\s+│ success", run.Stdout);
        Assert.StartsWith($"error: {shown} was not run: {Path.Combine(_home.Pipelines, ".yaml")}: the file name gives the pipeline name ''", run.Stderr);

        var status = CliProcess.Run(_home, "status");
        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.Matches($@"│ {Regex.Escape(shown)}\s+│ invalid", status.Stdout);
        Assert.Contains($"\n{shown}: {Path.Combine(_home.Pipelines, ".yaml")}: the file name gives", status.Stdout);
        // JSON keeps the name the file gives; its error names the file.
        Assert.Contains(Json.Parse(CliProcess.Run(_home, "run", "--all", "--output", "json")).AsArray(), l => l.Str("pipeline") == "" && l.Str("status") == "invalid");
    }

    [Fact]
    public void Run_all_runs_the_valid_pipelines_when_one_file_is_broken_and_exits_2_naming_it()
    {
        _home.WriteShopPipeline("a-shop");
        var broken = Path.Combine(_home.Pipelines, "b-typo.yaml");
        File.WriteAllText(broken, "source:\n  tap: csv\ndestination:\n  bucket: file:///tmp/x\n   bad: indent\n");
        _home.WriteShopPipeline("c-shop");
        // An unclosed '{' before the next key: the YAML parser throws an InvalidOperationException, not its YamlException.
        var unclosed = Path.Combine(_home.Pipelines, "d-brace.yaml");
        File.WriteAllText(unclosed, "source:\n  tap: csv\n  config: {path: /tmp\ndestination:\n  bucket: file:///tmp/x\n");

        // Before, the broken file stopped every pipeline: nothing ran.
        var result = CliProcess.Run(_home, "run", "--all", "--output", "json");
        Assert.Equal(2, result.ExitCode);
        var logs = Json.Parse(result).AsArray();
        Assert.Equal(["a-shop", "b-typo", "c-shop", "d-brace"], logs.Select(l => l.Str("pipeline")));
        Assert.Equal(["success", "invalid", "success", "invalid"], logs.Select(l => l.Str("status")));
        Assert.StartsWith($"{broken}:5: invalid YAML", logs[1].Str("error"));
        Assert.StartsWith($"{unclosed}:4: invalid YAML", logs[3].Str("error"));
        Assert.Equal($"error: b-typo was not run: {logs[1].Str("error")}\nerror: d-brace was not run: {logs[3].Str("error")}\n", result.Stderr);

        var table = CliProcess.Run(_home, "run", "--all");
        Assert.Equal(2, table.ExitCode);
        Assert.Matches(@"│ b-typo\s+│ invalid", table.Stdout);
        Assert.Matches(@"│ c-shop\s+│ success", table.Stdout);

        // One pipeline by name still runs nothing when its file is broken; as JSON, it is the same document run --all
        // gives a pipeline it did not run, not an empty stdout.
        Assert.Equal(2, CliProcess.Run(_home, "run", "b-typo").ExitCode);
        var single = CliProcess.Run(_home, "run", "b-typo", "--output", "json");
        Assert.Equal(2, single.ExitCode);
        var document = Json.Parse(single);
        Assert.Equal(("b-typo", "invalid", logs[1].Str("error")), (document.Str("pipeline"), document.Str("status"), document.Str("error")));
        Assert.Equal($"error: {logs[1].Str("error")}\n", single.Stderr);
    }

    /// <summary>
    /// A run that stops on its configuration (here `source.streams` with a tap that cannot discover) exits 2 like a broken
    /// file, but it began: its failure run log is written and is the pipeline's latest run. Stderr said "was not run".
    /// </summary>
    [Fact]
    public void A_run_that_stops_on_its_configuration_names_its_run_instead_of_saying_it_was_not_run()
    {
        var tap = Path.Combine(_home.Root, "tap-no-discover.sh");
        File.WriteAllText(tap, "#!/bin/sh\nexit 0\n");
        File.SetUnixFileMode(tap, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Directory.CreateDirectory(_home.Pipelines);
        File.WriteAllText(Path.Combine(_home.Pipelines, "picky.yaml"), $"source:\n  tap: {tap}\n  streams: [orders]\ndestination:\n  bucket: file://{_home.Lake}\n");

        var result = CliProcess.Run(_home, "run", "picky");

        Assert.Equal(2, result.ExitCode);
        var log = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Assert.Single(Directory.GetFiles(Path.Combine(_home.Lake, ".dataspoc", "logs", "picky")))))!;
        Assert.Equal("failure", log.Str("status"));
        Assert.Contains("source.streams: needs the tap's catalog", log.Str("error"));
        Assert.Equal($"error: picky stopped on its configuration before any data moved (run {log.Str("run_id")}): {log.Str("error")}\n", result.Stderr);
    }

    /// <summary>
    /// A built-in tap given a config it cannot use (a path naming no file, a key of the wrong type) stops the run before
    /// any data moved: exit 2 with its run named, as any run that stopped on its configuration. A bad record stays exit 1.
    /// </summary>
    [Fact]
    public void A_built_in_taps_config_error_stops_the_run_on_its_configuration_but_a_bad_record_fails_it()
    {
        var data = Path.Combine(_home.Root, "data");
        Directory.CreateDirectory(data);
        File.WriteAllText(Path.Combine(data, "a.jsonl"), "{\"id\": 1}\n{\"id\": \n");
        _home.WritePipeline("nopath", $"source:\n  tap: jsonl\n  config: {{path: {data}/missing}}\ndestination:\n  bucket: {_home.Bucket}\n");
        _home.WritePipeline("wrongtype", $"source:\n  tap: jsonl\n  config: {{path: {data}, sample_rows: many}}\ndestination:\n  bucket: {_home.Bucket}\n");
        _home.WritePipeline("typo", $"source:\n  tap: jsonl\n  config: {{path: {data}, sample_row: 5}}\ndestination:\n  bucket: {_home.Bucket}\n");
        _home.WritePipeline("badrecord", $"source:\n  tap: jsonl\n  config: {{path: {data}}}\ndestination:\n  bucket: {_home.Bucket}\n");

        foreach (var (name, error) in new[] { ("nopath", $"jsonl tap: '{data}/missing' matches no file"), ("wrongtype", "jsonl tap: config key 'sample_rows' must be an integer"),
                     ("typo", "jsonl tap: unknown config key 'sample_row' (did you mean 'sample_rows'?)") })
        {
            var result = CliProcess.Run(_home, "run", name, "--output", "json");
            Assert.True(result.ExitCode == 2, $"{name}: {result}");
            var log = Json.Parse(result);
            Assert.Equal(("failure", error), (log.Str("status"), log.Str("error")));
            Assert.Equal($"error: {name} stopped on its configuration before any data moved (run {log.Str("run_id")}): {error}\n", result.Stderr);
        }
        var failed = CliProcess.Run(_home, "run", "badrecord");
        Assert.True(failed.ExitCode == 1, failed.ToString());
        Assert.StartsWith("error: badrecord failed: ", failed.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_all_as_json_in_a_home_without_pipelines_prints_the_document_of_a_run_that_could_not_start()
    {
        // It printed nothing on stdout: a script's json.load failed where `run <name> --output json` gives a document.
        var result = CliProcess.Run(_home, "run", "--all", "--output", "json");
        Assert.Equal(2, result.ExitCode);
        var document = Json.Parse(result);
        Assert.Equal("invalid", document.Str("status"));
        Assert.StartsWith("there are no pipelines in ", document.Str("error"));
        Assert.Null(document["pipeline"]);
        Assert.Equal($"error: {document.Str("error")}\n", result.Stderr);
    }

    [Fact]
    public void Run_without_a_name_or_with_both_a_name_and_all_is_a_usage_error()
    {
        Assert.Equal(2, CliProcess.Run(_home, "run").ExitCode);
        var both = CliProcess.Run(_home, "run", "x", "--all");
        Assert.Equal(2, both.ExitCode);
        Assert.Contains("give a pipeline name or --all (not both)", both.Stderr);
    }

    [Theory]
    [InlineData("shop", "shop --split-run x")]
    [InlineData("shop", "shop --all")]
    [InlineData(null, "--all --parallel 0")]
    [InlineData("shop", "shop --parallel 2")]
    [InlineData(null, "shop --bogus")]
    [InlineData(null, "shop --parallel many")]
    public void Every_usage_error_of_run_with_json_output_prints_the_document_of_a_run_that_did_not_start(string? pipeline, string options)
    {
        _home.WriteShopPipeline("shop");
        var result = CliProcess.Run(_home, ["run", .. options.Split(' '), "--output", "json"]);

        // Some of these printed the document and others nothing; --parallel without --all was ignored and the run made.
        Assert.True(result.ExitCode == 2, result.ToString());
        var document = Json.Parse(result);
        Assert.Equal(("invalid", pipeline), (document.Str("status"), document["pipeline"]?.GetValue<string>()));
        Assert.Equal($"error: {document.Str("error")}\n", result.Stderr);
        Assert.False(Directory.Exists(Path.Combine(_home.Lake, ".dataspoc", "logs")), "a run log was written");
    }

    [Fact]
    public void Full_refresh_is_reported_as_full_mode()
    {
        _home.WriteShopPipeline("shop");
        Assert.Equal(0, CliProcess.Run(_home, "run", "shop").ExitCode);
        var full = Json.Parse(CliProcess.Run(_home, "run", "shop", "--full", "-o", "json"));
        Assert.Equal("full", full.Str("mode"));
        Assert.Equal(5, LakeReader.Rows($"{_home.Lake}/raw/shop_tap/orders/dt=*/*.parquet", "id", "id").Count);
    }

    [Fact]
    public void Debug_shows_the_stack_trace_and_without_it_there_is_none()
    {
        var plain = CliProcess.Run(_home, "logs", "nope");
        Assert.Equal(2, plain.ExitCode);
        Assert.DoesNotContain("   at ", plain.Stderr);
        var debug = CliProcess.Run(_home, "logs", "nope", "--debug");
        Assert.Equal(2, debug.ExitCode);
        Assert.Contains("   at DataSpoc.Pipe.Cli", debug.Stderr);
    }

    /// <summary>
    /// <c>source.max_line_mb</c> caps one Singer line: a longer one fails the run naming its line, stream, the limit and
    /// the key, before the line is read whole (landing a line takes several times its size, which OOM-killed a 512 MiB
    /// pod with no message), and nothing lands; lines under it land. <c>validate</c> refuses a value over the hard limit.
    /// </summary>
    [Fact]
    public void A_line_longer_than_source_max_line_mb_fails_the_run_naming_line_stream_and_limit_and_lands_nothing()
    {
        var tap = Path.Combine(_home.Root, "tap-wide.sh");
        File.WriteAllText(tap, """
            #!/bin/sh
            case "$*" in *--help*|*--about*) echo "usage: tap-wide --config CONFIG"; exit 0;; esac
            record() { printf '{"type":"RECORD","stream":"big","record":{"id":%s,"pad":"' "$1"; head -c "$2" /dev/zero | tr '\0' x; printf '"}}\n'; }
            printf '{"type":"SCHEMA","stream":"big","schema":{"properties":{"id":{"type":"integer"},"pad":{"type":"string"}}},"key_properties":["id"]}\n'
            record 1 500000
            record 2 "$(cat "$0.second")"
            printf '{"type":"STATE","value":{"done":true}}\n'
            """);
        File.SetUnixFileMode(tap, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string Pipeline(string maxLineMb) => $"source:\n  tap: {tap}\n  max_line_mb: {maxLineMb}\ndestination:\n  bucket: file://{_home.Lake}\n";
        _home.WritePipeline("wide", Pipeline("1"));
        File.WriteAllText(tap + ".second", "3000000");

        var refused = CliProcess.Run(_home, "run", "wide");

        Assert.True(refused.ExitCode == 1, refused.ToString());
        Assert.Contains("wide", refused.Stderr);
        Assert.Contains("line 3 (stream 'big'): the RECORD line is longer than source.max_line_mb (1 MB); refused before it is read whole", refused.Stderr);
        Assert.Contains("raise source.max_line_mb (at most 512)", refused.Stderr);
        Assert.Empty(Directory.EnumerateFiles(_home.Lake, "*.parquet", SearchOption.AllDirectories));
        Assert.False(File.Exists(Path.Combine(_home.Lake, ".dataspoc", "state", "wide", "state.json")));

        File.WriteAllText(tap + ".second", "500000");
        var landed = CliProcess.Run(_home, "run", "wide");
        Assert.True(landed.ExitCode == 0, landed.ToString());
        Assert.Equal([[2L, 1_000_000L]], LakeReader.Query($"select count(*), sum(length(pad))::BIGINT from read_parquet('{_home.Lake}/raw/*/big/*/*.parquet')"));

        _home.WritePipeline("wide", Pipeline("513"));
        var validate = CliProcess.Run(_home, "validate", "wide");
        Assert.True(validate.ExitCode != 0, validate.ToString());
        Assert.Contains("source.max_line_mb: at most 512 (the longest line the tool reads), got 513", validate.ToString());
    }
}
