using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Api;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Api.Tests;

public class PipeClientTests
{
    private const string Secret = "hunter2-planted-secret";
    private const string Token = "tok-from-environment-42";
    private const string Schema = """{"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"customer":{"type":["null","string"]},"amount":{"type":"number"}}}}""";

    private static TempHome HomeWithOrders(string transforms = "")
    {
        var home = new TempHome();
        var file = home.WriteSinger("orders.singer", Schema,
            """{"type":"RECORD","stream":"orders","record":{"id":1,"customer":"Ana","amount":10.5}}""",
            """{"type":"RECORD","stream":"orders","record":{"id":2,"customer":"Bo","amount":3}}""");
        home.WritePipeline(home.Name("orders"), $$"""
            source:
              tap: {{TempHome.ReplayTap}}
              name: shop
              config:
                file: {{file}}
                password: {{Secret}}
                api: ${ORDERS_TOKEN}
            destination:
              bucket: {{home.Bucket}}
            schedule:
              cron: "0 6 * * *"
            {{transforms}}
            """);
        return home;
    }

    private static PipeClient Client(TempHome home) =>
        new(home.Home, environment: v => v == "ORDERS_TOKEN" ? Token : null, crontab: CrontabStandIn.Command(home.CrontabFile));

    [Fact]
    public void Pipelines_lists_the_home_folders_pipelines_and_config_masks_every_secret()
    {
        using var home = HomeWithOrders();
        var client = Client(home);
        Assert.Equal([home.Name("orders")], client.Pipelines());
        var config = client.Config(home.Name("orders"));
        var text = config.ToJsonString();
        Assert.DoesNotContain(Secret, text);
        Assert.DoesNotContain(Token, text);
        Assert.Equal("***", config["source"]!["config"]!["password"]!.GetValue<string>());
        Assert.Equal("***", config["source"]!["config"]!["api"]!.GetValue<string>());
        Assert.Equal(home.Bucket, config["destination"]!["bucket"]!.GetValue<string>());
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task The_homes_env_file_feeds_variables_under_the_environment_masks_them_and_validate_names_what_is_unset()
    {
        using var home = HomeWithOrders();
        var envFile = Path.Combine(home.Home, ".env");
        File.WriteAllText(envFile, "ORDERS_TOKEN=overridden-by-the-environment\nDOTENV_ONLY='planted dotenv secret'\n");
        File.SetUnixFileMode(envFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        home.WritePipeline("dotenv", $$"""
            source:
              tap: {{TempHome.ReplayTap}}
              config:
                api: ${ORDERS_TOKEN}
                extra: ${DOTENV_ONLY}
                other: ${SET_NOWHERE}
            destination:
              bucket: {{home.Bucket}}
            """);
        var client = Client(home);

        var orders = client.Load(home.Name("orders"));
        Assert.Equal(Token, orders.Source.InlineConfig!["api"]!.GetValue<string>());
        // Every .env value is a secret of every pipeline, so nothing a client shows can carry it.
        Assert.Contains("planted dotenv secret", orders.Secrets);

        var validation = await client.ValidateAsync("dotenv");
        var problem = Assert.Single(validation.Problems, p => p.Key != "source.tap");
        Assert.Equal(("source.config.other", Path.Combine(home.Home, "pipelines", "dotenv.yaml")), (problem.Key, problem.File));
        Assert.StartsWith("pipeline 'dotenv': ${SET_NOWHERE} (pipelines/dotenv.yaml source.config.other) is set neither in " + envFile, problem.Message);

        File.WriteAllText(envFile, "SET_NOWHERE=now-set-1\nDOTENV_ONLY='planted dotenv secret'\n");
        // The replay tap does not answer --help (its own check fails); every variable is now set.
        Assert.True((await client.ValidateAsync("dotenv")).Checks.Single(c => c.Check == "variables").Ok);
        var config = client.Config("dotenv");
        Assert.Equal(("***", "***"), (config["source"]!["config"]!["extra"]!.GetValue<string>(), config["source"]!["config"]!["other"]!.GetValue<string>()));
        Assert.Equal("planted dotenv secret", client.Load("dotenv").Source.InlineConfig!["extra"]!.GetValue<string>());

        File.SetUnixFileMode(envFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        var refused = Assert.Throws<ConfigException>(() => client.Load("dotenv"));
        Assert.EndsWith($"fix it with: chmod 600 {envFile}", refused.Message);
    }

    [Fact]
    public async Task Running_by_name_lands_parquet_and_status_logs_and_manifest_describe_the_run()
    {
        using var home = HomeWithOrders();
        var client = Client(home);
        var progress = new List<RunProgress>();
        var result = await client.RunAsync(home.Name("orders"), full: true, new Progress<RunProgress>(progress.Add));
        Assert.True(result.Succeeded, result.Log.Error);
        Assert.Equal(2, result.Log.TotalRecords);
        Assert.Equal([["1", "Ana", "10.5"], ["2", "Bo", "3"]],
            home.Query("select id, customer, amount from read_parquet('{lake}/raw/shop/orders/*/*.parquet') order by id"));

        var status = Assert.Single(await client.StatusAsync());
        Assert.Equal((home.Name("orders"), "success", 2L, result.Log.RunId, "0 6 * * *"), (status.Pipeline, status.Status, status.Records, status.RunId, status.Schedule));
        // schedule.cron alone runs nothing: no next run is promised until the crontab has the pipeline's line.
        Assert.Null(status.NextRun);
        Assert.Null(status.InstalledSchedule);
        Assert.Equal("not installed: cron does not run it (run: dataspoc-pipe schedule install)", status.ScheduleProblem);
        // The next run is the line's (what cron runs), in the CRON_TZ above it; the YAML's schedule is not what cron reads.
        File.WriteAllText(home.CrontabFile, $"CRON_TZ=Asia/Tokyo\n0 7 * * * true # dataspoc-pipe:{home.Name("orders")}@{client.Home}\n");
        status = Assert.Single(await client.StatusAsync());
        Assert.Equal(("0 7 * * *", "Asia/Tokyo"), (status.InstalledSchedule, status.ScheduleTimeZone));
        Assert.Equal("the crontab runs it at '0 7 * * *', not at schedule.cron '0 6 * * *' (run: dataspoc-pipe schedule install)", status.ScheduleProblem);
        Assert.Equal((22, 0), (status.NextRun!.Value.UtcDateTime.Hour, status.NextRun.Value.UtcDateTime.Minute));

        var second = await client.RunAsync(home.Name("orders"));
        var logs = await client.LogsAsync(home.Name("orders"));
        Assert.Equal([second.Log.RunId, result.Log.RunId], logs.Select(l => l.RunId));
        Assert.DoesNotContain(Secret, JsonSerializer.Serialize(logs));

        var manifest = await client.ManifestAsync(home.Bucket);
        var table = manifest.Tables["shop/orders"];
        Assert.Equal(["id", "customer", "amount"], table.Columns.Select(c => c.Name));
        // Not incremental: every run is a full refresh, so the table holds the latest run's rows.
        Assert.Equal(2, table.RowCount);
        Assert.Equal("replace", table.WriteMode);
    }

    /// <summary>Reads each file whole (a replaced one is gone: FileNotFoundException), after <paramref name="before"/>.</summary>
    private static Func<Lake.ManifestTable, IReadOnlyList<string>, Task<IReadOnlyList<string>>> ReadAfter(List<IReadOnlyList<string>> reads, Func<int, Task> before) =>
        async (_, files) =>
        {
            reads.Add(files);
            await before(reads.Count);
            foreach (var f in files) File.ReadAllBytes(new Uri(f).LocalPath);
            return files;
        };

    [Fact]
    public async Task Reading_a_tables_files_that_a_full_refresh_replaced_meanwhile_reads_the_table_again_as_it_is_now()
    {
        using var home = HomeWithOrders();
        var client = Client(home);
        Assert.True((await client.RunAsync(home.Name("orders"))).Succeeded);
        var table = (await client.ManifestAsync(home.Bucket)).Tables["shop/orders"];

        // The dashboard's table page: a full refresh lands between its listing of the files and its read of them.
        var reads = new List<IReadOnlyList<string>>();
        var read = await client.ReadTableFilesAsync(home.Bucket, null, "shop/orders", table,
            ReadAfter(reads, async n => { if (n == 1) Assert.True((await client.RunAsync(home.Name("orders"))).Succeeded); }));

        Assert.Equal(2, reads.Count);
        Assert.NotEqual(reads[0], reads[1]);
        Assert.Equal(reads[1], read);
        Assert.Equal(await client.TableFilesAsync(home.Bucket, null, "shop/orders", (await client.ManifestAsync(home.Bucket)).Tables["shop/orders"]), read);
    }

    [Fact]
    public async Task Reading_a_table_that_runs_replace_again_and_again_fails_saying_it_changed_and_a_failure_on_unchanged_files_is_the_reads_own()
    {
        using var home = HomeWithOrders();
        var client = Client(home);
        Assert.True((await client.RunAsync(home.Name("orders"))).Succeeded);
        var table = (await client.ManifestAsync(home.Bucket)).Tables["shop/orders"];

        var reads = new List<IReadOnlyList<string>>();
        var changed = await Assert.ThrowsAsync<TableChangedException>(() => client.ReadTableFilesAsync(home.Bucket, null, "shop/orders", table,
            ReadAfter(reads, async _ => Assert.True((await client.RunAsync(home.Name("orders"))).Succeeded))));
        Assert.Equal("the table shop/orders changed while it was read (a run replaced its files)", changed.Message);
        Assert.IsAssignableFrom<IOException>(changed.InnerException);
        Assert.Equal(2, reads.Count);

        table = (await client.ManifestAsync(home.Bucket)).Tables["shop/orders"];
        reads.Clear();
        var own = await Assert.ThrowsAsync<InvalidDataException>(() => client.ReadTableFilesAsync(home.Bucket, null, "shop/orders", table,
            ReadAfter(reads, _ => throw new InvalidDataException("not a Parquet file"))));
        Assert.Equal("not a Parquet file", own.Message);
        Assert.Single(reads);
    }

    [Fact]
    public async Task Maintain_with_a_compaction_target_rewrites_small_files_and_keeps_the_rows()
    {
        using var home = HomeWithOrders("incremental:\n  enabled: true");
        var client = Client(home);
        Assert.True((await client.RunAsync(home.Name("orders"))).Succeeded);
        Assert.True((await client.RunAsync(home.Name("orders"))).Succeeded); // the replay tap sends the same two rows again
        const string glob = "select id, customer, amount from read_parquet('{lake}/raw/shop/orders/*/*.parquet') order by id, customer";
        var before = home.Query(glob);
        Assert.Equal(4, before.Count);

        var filesBefore = home.Query("select file from glob('{lake}/raw/shop/orders/*/*.parquet') order by file");
        var result = Assert.Single(await client.MaintainAsync(home.Name("orders"), TimeSpan.FromDays(7), compactTargetFileMb: 128));
        Assert.Equal(("shop/orders", 2, 1), (result.Table, result.CompactedFiles, result.WrittenFiles));
        // A plain Parquet table's rewritten files are deleted by the compaction's commit: maintain reports them.
        Assert.Equal(filesBefore.Select(f => Path.GetFileName(f[0]!)).Order(StringComparer.Ordinal), result.DeletedFiles.Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(before, home.Query(glob));
        Assert.Equal([["1"]], home.Query("select count(*) from glob('{lake}/raw/shop/orders/*/*.parquet')"));
        var table = (await client.ManifestAsync(home.Bucket)).Tables["shop/orders"];
        Assert.Equal((4L, 1L), (table.RowCount, table.Stats.Files));
    }

    [Theory]
    [InlineData(LockThiefStore.Moment.Read)] // found lost by the check right before the commit
    [InlineData(LockThiefStore.Moment.JournalWrite)] // found lost by a renewal while the commit's first write is under way
    public async Task Maintain_whose_lock_is_lost_stops_before_its_compaction_commits_naming_the_lock_and_the_table_reads_the_same(LockThiefStore.Moment moment)
    {
        using var home = HomeWithOrders("incremental:\n  enabled: true");
        var name = home.Name("orders");
        Assert.True((await Client(home).RunAsync(name)).Succeeded);
        Assert.True((await Client(home).RunAsync(name)).Succeeded);
        const string glob = "select id, customer, amount from read_parquet('{lake}/raw/shop/orders/*/*.parquet') order by id, customer";
        var before = home.Query(glob);
        Assert.Equal(4, before.Count);

        var stores = new Storage.ObjectStoreFactory().Register("file", (uri, _) => new LockThiefStore(new Storage.LocalObjectStore(uri), name, moment));
        var client = new PipeClient(home.Home, stores, moment == LockThiefStore.Moment.JournalWrite ? new FastTimers(100) : null,
            environment: v => v == "ORDERS_TOKEN" ? Token : null, crontab: CrontabStandIn.Command(home.CrontabFile));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var lost = await Assert.ThrowsAsync<Lake.LockLostException>(() => client.MaintainAsync(name, TimeSpan.FromDays(7), compactTargetFileMb: 128));
        Assert.True(watch.Elapsed < LockThiefStore.Hold, $"maintain went on {watch.Elapsed} after losing its lock");
        Assert.StartsWith($"maintain lost its pipeline lock {home.Bucket}/{Lake.LakePaths.LockKey(name)}: the lock object was overwritten by run thief123 on elsewhere, pid 4242; " +
            "it stopped there", lost.Message);
        Assert.Equal(Tables.MaintainSteps.Compact, Tables.PipelineMaintenance.FailedStepOf(lost));

        // Nothing of the compaction landed: the same rows in the same two files, the manifest as it was, no journal; the
        // new holder's lock is left alone.
        Assert.Equal(before, home.Query(glob));
        Assert.Equal([["2"]], home.Query("select count(*) from glob('{lake}/raw/shop/orders/*/*.parquet')"));
        Assert.Equal(2L, (await Client(home).ManifestAsync(home.Bucket)).Tables["shop/orders"].Stats.Files);
        Assert.False(File.Exists(Path.Combine(home.Lake, Lake.LakeCommitter.JournalKey(name))));
        Assert.Contains("thief123", File.ReadAllText(Path.Combine(home.Lake, Lake.LakePaths.LockKey(name))));
    }

    [Fact]
    public async Task A_maintain_that_fails_names_the_step_it_failed_in_as_a_run_log_does()
    {
        using var home = HomeWithOrders("incremental:\n  enabled: true");
        var client = Client(home);
        var name = home.Name("orders");
        Assert.True((await client.RunAsync(name)).Succeeded);
        var journal = Path.Combine(home.Lake, Lake.LakeCommitter.JournalKey(name));
        var expiryJournal = Path.Combine(home.Lake, Lake.LakePaths.ExpiryJournalKey(name));

        // A commit journal that cannot be read: completing what an interrupted run left fails.
        File.WriteAllText(journal, "{ cut short");
        var recovering = await Assert.ThrowsAsync<Storage.StorageException>(() => client.MaintainAsync(name, TimeSpan.FromDays(7), compactTargetFileMb: 128));
        Assert.Equal(Tables.MaintainSteps.Recover, Tables.PipelineMaintenance.FailedStepOf(recovering));
        File.Delete(journal);

        // An expiry journal that cannot be read: the compaction is done, the expiry fails.
        Directory.CreateDirectory(Path.GetDirectoryName(expiryJournal)!);
        File.WriteAllText(expiryJournal, "{ cut short");
        var expiring = await Assert.ThrowsAsync<Storage.StorageException>(() => client.MaintainAsync(name, TimeSpan.FromDays(7), compactTargetFileMb: 128));
        Assert.Contains("the files an interrupted maintain was deleting", expiring.Message);
        Assert.Equal(Tables.MaintainSteps.Expire, Tables.PipelineMaintenance.FailedStepOf(expiring));

        // One that failed before it held the pipeline's lock names no step.
        Assert.Null(Tables.PipelineMaintenance.FailedStepOf(await Assert.ThrowsAsync<ConfigException>(() => client.MaintainAsync("no-such-pipeline", TimeSpan.FromDays(7)))));
    }

    [Fact]
    public async Task Maintain_says_it_completed_a_killed_runs_commit_and_that_the_run_has_no_log()
    {
        using var home = HomeWithOrders("incremental:\n  enabled: true");
        var client = Client(home);
        var name = home.Name("orders");
        Assert.True((await client.RunAsync(name)).Succeeded);
        var entry = (await client.ManifestAsync(home.Bucket)).Tables["shop/orders"];
        // What a run killed after its files landed leaves: its journal (phase "landed"), no run log.
        var killed = new Lake.CommitPlan
        {
            RunId = "k1ll3d", Pipeline = name, StartedAt = DateTimeOffset.UtcNow, Phase = Lake.CommitPlan.PhaseLanded,
            State = Singer.SingerState.FromJson("""{"bookmark":"after-the-killed-run"}"""),
            Tables = { new Lake.TableChange { Key = "shop/orders", Entry = entry, Rows = 0, Files = 0 } },
        };
        File.WriteAllBytes(Path.Combine(home.Lake, Lake.LakeCommitter.JournalKey(name)), Lake.LakeJson.Serialize(killed));

        var result = await client.MaintainAsync(name, TimeSpan.FromDays(7));

        Assert.Collection(result.Notices,
            n => Assert.Equal("completed the interrupted commit of run k1ll3d (all 0 files had landed)", n),
            n => Assert.Matches(@"^run k1ll3d \(started \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\) has no run log: it was stopped before writing one", n));
        Assert.Equal("after-the-killed-run", JsonNode.Parse(File.ReadAllText(Path.Combine(home.Lake, Lake.LakePaths.StateKey(name))))!["bookmark"]!.GetValue<string>());
        // Nothing left to complete: the next maintain has nothing to say.
        Assert.Empty((await client.MaintainAsync(name, TimeSpan.FromDays(7))).Notices);
    }

    [Fact]
    public async Task Validate_warns_that_write_mode_replace_reads_the_whole_source_of_an_incremental_pipeline()
    {
        using var home = new TempHome();
        var file = home.WriteSinger("orders.singer", Schema, """{"type":"RECORD","stream":"orders","record":{"id":1,"customer":"Ana","amount":10.5}}""");
        home.WritePipeline("replaced", $$"""
            source:
              tap: {{TempHome.ReplayTap}}
              config:
                file: {{file}}
            destination:
              bucket: {{home.Bucket}}
              write_mode: replace
            incremental:
              enabled: true
            """);
        var validation = await Client(home).ValidateAsync("replaced");
        var check = Assert.Single(validation.Checks, c => c.Check == "write_mode");
        Assert.True(check.Ok);
        Assert.True(check.Warning);
        Assert.StartsWith("destination.write_mode: replace with incremental.enabled: true: every run reads the whole source", check.Detail);
    }

    [Fact]
    public async Task Validate_names_the_stream_and_key_of_a_bad_transform_and_the_line_of_a_bad_yaml_key()
    {
        using var home = HomeWithOrders("""
            transforms:
              orders:
                rename: {customer: x, amount: x}
            """);
        var client = Client(home);
        var validation = await client.ValidateAsync(home.Name("orders"));
        Assert.False(validation.Ok);
        var problem = Assert.Single(validation.Problems, p => p.Key!.StartsWith("transforms.", StringComparison.Ordinal));
        Assert.Equal("transforms.orders.rename", problem.Key);

        home.WritePipeline("broken", "source:\n  tap: x\n  colour: red\ndestination:\n  bucket: file:///tmp/x\n");
        var broken = await client.ValidateAsync("broken");
        var yamlProblem = Assert.Single(broken.Problems);
        Assert.Equal(3, yamlProblem.Line);
        Assert.Contains("source.colour", yamlProblem.Message);
        Assert.True(await client.ValidateAsync(home.Name("orders")) is { Ok: false });
    }

    [Fact]
    public async Task Source_streams_selects_through_the_discovered_catalog_which_is_cached_beside_the_pipeline()
    {
        using var home = new TempHome();
        var data = Path.Combine(home.Root, "inputs");
        File.WriteAllText(Path.Combine(data, "customers.csv"), "id,name\n1,Ana\n2,Bo\n");
        File.WriteAllText(Path.Combine(data, "orders.csv"), "id,total\n7,9.5\n");
        var name = home.Name("csv");
        home.WritePipeline(name, $$"""
            source:
              tap: csv
              config:
                path: {{data}}
              streams: [customers]
            destination:
              bucket: {{home.Bucket}}
            """);

        var result = await Client(home).RunAsync(name, full: true);

        Assert.True(result.Succeeded, result.Log.Error);
        Assert.Equal(["customers"], result.Log.Streams.Keys);
        Assert.Equal([["1", "Ana"], ["2", "Bo"]], home.Query("select id, name from read_parquet('{lake}/raw/csv/customers/*/*.parquet') order by id"));
        Assert.False(Directory.Exists(Path.Combine(home.Lake, "raw", "csv", "orders")));
        Assert.True(File.Exists(Path.Combine(home.Home, "pipelines", name + ".catalog.json")));
    }

    [Fact]
    public async Task A_run_with_an_invalid_transform_map_throws_before_anything_runs()
    {
        using var home = HomeWithOrders("""
            transforms:
              orders:
                cast: {amount: money}
            """);
        var e = await Assert.ThrowsAsync<ConfigException>(() => Client(home).RunAsync(home.Name("orders")));
        Assert.Equal("transforms.orders.cast.amount", e.Key);
        Assert.False(Directory.Exists(Path.Combine(home.Lake, ".dataspoc")));
    }

    [Fact]
    public async Task Declarative_transforms_in_the_yaml_shape_what_lands()
    {
        using var home = HomeWithOrders("""
            transforms:
              orders:
                filter: "amount > 5"
                hash: [customer]
                rename: {amount: total}
            """);
        var result = await Client(home).RunAsync(home.Name("orders"));
        Assert.True(result.Succeeded, result.Log.Error);
        Assert.Equal([["1", "64", "10.5"]],
            home.Query("select id, length(customer), total from read_parquet('{lake}/raw/shop/orders/*/*.parquet')"));
    }

    [Fact]
    public async Task A_pipeline_defined_in_code_runs_a_code_source_through_a_code_transform()
    {
        using var home = new TempHome();
        var pipeline = new PipelineDefinition
        {
            Name = home.Name("in-code"),
            Source = new SourceDefinition { Tap = "unused" },
            Destination = new DestinationDefinition { Bucket = home.Bucket, PartitionBy = "none" },
        };
        var schema = JsonNode.Parse("""{"type":"object","properties":{"id":{"type":"integer"},"city":{"type":"string"},"at":{"type":"string","format":"date-time"}}}""")!.AsObject();
        var source = new CodeSource("app").AddStream("visits", schema, Visits(3), keyProperties: ["id"]);
        var shout = new CodeTransform("visits",
            r => r["id"]!.GetValue<long>() == 2 ? null : Upper(r),
            s => { s["properties"]!["len"] = JsonNode.Parse("""{"type":"integer"}"""); return s; });

        var result = await Client(home).RunAsync(pipeline, source, [shout]);
        Assert.True(result.Succeeded, result.Log.Error);
        Assert.Equal([["1", "CITY-1", "6", "2025-03-01 10:00:01"], ["3", "CITY-3", "6", "2025-03-01 10:00:03"]],
            home.Query("""select id, city, "len", strftime("at", '%Y-%m-%d %H:%M:%S') from read_parquet('{lake}/raw/app/visits/*.parquet') order by id"""));
        var table = (await Client(home).ManifestAsync(home.Bucket)).Tables["app/visits"];
        Assert.Equal(["id"], table.KeyProperties);
        Assert.Equal("int64", table.Columns.Single(c => c.Name == "len").Type);
    }

    [Fact]
    public async Task A_code_source_that_throws_fails_the_run_and_leaves_nothing_visible()
    {
        using var home = new TempHome();
        var pipeline = new PipelineDefinition
        {
            Name = home.Name("throws"),
            Source = new SourceDefinition { Tap = "unused" },
            Destination = new DestinationDefinition { Bucket = home.Bucket },
        };
        var schema = JsonNode.Parse("""{"type":"object","properties":{"id":{"type":"integer"}}}""")!.AsObject();
        var source = new CodeSource("app").AddStream("boom", schema, Failing());
        var result = await Client(home).RunAsync(pipeline, source);
        Assert.False(result.Succeeded);
        // An in-process source has no exit code or stderr to quote: the error is its own, naming the stream and record.
        Assert.Equal("stream 'boom': its records threw after record 1: InvalidOperationException: database went away", result.Log.Error);
        Assert.Empty(Directory.GetFiles(home.Lake, "*.parquet", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task A_code_source_lands_NaN_and_the_infinities_as_doubles_flat_and_nested()
    {
        using var home = new TempHome();
        var pipeline = new PipelineDefinition
        {
            Name = home.Name("nan"),
            Source = new SourceDefinition { Tap = "unused" },
            Destination = new DestinationDefinition { Bucket = home.Bucket, PartitionBy = "none" },
            OnInvalidRecord = InvalidRecordPolicy.Skip,
        };
        var schema = JsonNode.Parse("""
            {"type":"object","properties":{"id":{"type":"integer"},"x":{"type":["null","number"]},"i":{"type":["null","integer"]},
             "s":{"type":["null","object"],"properties":{"v":{"type":["null","number"]}}},"l":{"type":["null","array"],"items":{"type":"number"}}}}
            """)!.AsObject();
        static async IAsyncEnumerable<JsonObject> Records()
        {
            yield return new JsonObject { ["id"] = 1, ["x"] = double.NaN, ["s"] = new JsonObject { ["v"] = double.PositiveInfinity }, ["l"] = new JsonArray(1.5, double.NegativeInfinity) };
            yield return new JsonObject { ["id"] = 2, ["x"] = double.PositiveInfinity };
            yield return new JsonObject { ["id"] = 3, ["x"] = float.NegativeInfinity };
            yield return new JsonObject { ["id"] = 4, ["x"] = 2.5 };
            // NaN is no integer: a value error naming the field, under on_invalid_record (skip here), not a failed run.
            yield return new JsonObject { ["id"] = 5, ["i"] = double.NaN };
            await Task.CompletedTask;
        }
        var result = await Client(home).RunAsync(pipeline, new CodeSource("app").AddStream("t", schema, Records()));
        Assert.True(result.Succeeded, result.Log.Error);
        Assert.Equal(1, result.Log.Streams["t"].Rejected);
        Assert.Contains(result.Log.Notices, n => n.Contains("field 'i'", StringComparison.Ordinal));
        Assert.Equal([["1", "NaN", "Infinity", "[1.5, -inf]"], ["2", "Infinity", null, null], ["3", "-Infinity", null, null], ["4", "2.5", null, null]],
            home.Query("select id, x, s.v, l::varchar from read_parquet('{lake}/raw/app/t/*.parquet') order by id"));
    }

    [Fact]
    public async Task A_value_a_code_source_cannot_read_fails_the_run_naming_its_stream_record_and_field()
    {
        using var home = new TempHome();
        var pipeline = new PipelineDefinition
        {
            Name = home.Name("unreadable"),
            Source = new SourceDefinition { Tap = "unused" },
            Destination = new DestinationDefinition { Bucket = home.Bucket },
        };
        var schema = JsonNode.Parse("""{"type":"object","properties":{"id":{"type":"integer"},"payload":{"type":["null","object"]}}}""")!.AsObject();
        static async IAsyncEnumerable<JsonObject> Records()
        {
            yield return new JsonObject { ["id"] = 1, ["payload"] = new JsonObject { ["ok"] = true } };
            yield return new JsonObject { ["id"] = 2, ["payload"] = JsonValue.Create(new Sensor()) };
            await Task.CompletedTask;
        }
        var result = await Client(home).RunAsync(pipeline, new CodeSource("app").AddStream("readings", schema, Records()));
        Assert.False(result.Succeeded);
        Assert.Equal("stream 'readings', record 2: field 'payload': InvalidOperationException: sensor offline", result.Log.Error);
        Assert.Empty(Directory.GetFiles(home.Lake, "*.parquet", SearchOption.AllDirectories));
    }

    /// <summary>A value whose serialization throws (a property getter that fails).</summary>
    private sealed class Sensor
    {
        public double Reading => throw new InvalidOperationException("sensor offline");
    }

    public static TheoryData<string, string?, string, string, string> BadLocations => new()
    {
        // bucket, destination.path (null: default), source name, key, reason
        { "relative/lake", null, "app", "destination.bucket", "has no scheme" },
        { "file://relative/lake", null, "app", "destination.bucket", "must be an absolute path" },
        { "{bucket}", "../../escape", "app", "destination.path", "must not contain empty, '.' or '..' segments" },
        { "{bucket}", null, "../up", "source.name", "must not start with '.'" },
    };

    [Theory]
    [MemberData(nameof(BadLocations))]
    public async Task A_pipeline_defined_in_code_with_a_bad_bucket_path_or_source_name_throws_a_ConfigException_before_anything_runs(
        string bucket, string? path, string sourceName, string key, string reason)
    {
        using var home = new TempHome();
        var destination = new DestinationDefinition { Bucket = bucket.Replace("{bucket}", home.Bucket, StringComparison.Ordinal) };
        var pipeline = new PipelineDefinition
        {
            Name = home.Name("where"),
            Source = new SourceDefinition { Tap = "unused" },
            Destination = path is null ? destination : destination with { Path = path },
        };
        var e = await RefusedBeforeAnythingRunsAsync(home, pipeline, sourceName);
        Assert.Equal(key, e.Key);
        Assert.Contains(reason, e.Reason, StringComparison.Ordinal);
        Assert.Equal(PipeErrorKind.Usage, e.Kind);
    }

    /// <summary>Runs <paramref name="pipeline"/> with a one-record code source: the run must throw its ConfigException before reading it or writing anything.</summary>
    private static async Task<ConfigException> RefusedBeforeAnythingRunsAsync(TempHome home, PipelineDefinition pipeline, string sourceName = "app")
    {
        var read = false;
        async IAsyncEnumerable<JsonObject> Records()
        {
            read = true;
            yield return new JsonObject { ["id"] = 1 };
            await Task.CompletedTask;
        }
        var schema = JsonNode.Parse("""{"type":"object","properties":{"id":{"type":"integer"}}}""")!.AsObject();
        var e = await Assert.ThrowsAsync<ConfigException>(() => Client(home).RunAsync(pipeline, new CodeSource(sourceName).AddStream("t", schema, Records())));
        Assert.False(read, "the source was read");
        Assert.False(Directory.Exists(Path.Combine(home.Lake, ".dataspoc")));
        return e;
    }

    public static TheoryData<string, string, string> BadValues => new()
    {
        // what the definition sets, the pipeline file's key, the message's reason (naming the property)
        { "MaxFileRows = 0", "destination.max_file_rows", "expected a positive whole number, got 0 (Destination.MaxFileRows)" },
        { "MaxFileRows = -5", "destination.max_file_rows", "expected a positive whole number, got -5 (Destination.MaxFileRows)" },
        { "MaxFileMb = 0", "destination.max_file_mb", "expected a positive whole number, got 0 (Destination.MaxFileMb)" },
        { "Compression = 99", "destination.compression", "expected zstd, snappy, gzip or none, got 99 (Destination.Compression)" },
        { "WriteMode = 99", "destination.write_mode", "expected append, merge or replace, got 99 (Destination.WriteMode)" },
        { "TableFormat = 99", "destination.table_format", "expected parquet, iceberg, delta or [iceberg, delta], got 99 (Destination.TableFormat)" },
        { "PartitionBy = \"\"", "destination.partition_by", "must not be empty: _extraction_date (the default), none, or a date or date-time column (Destination.PartitionBy)" },
        { "OnInvalidRecord = 99", "on_invalid_record", "expected fail, skip or quarantine, got 99 (OnInvalidRecord)" },
        { "Timeout = 0", "source.timeout", "expected a duration of at least 1ms and at most 36500d (100 years), got 00:00:00 (Source.Timeout)" },
        { "IdleTimeout = -1s", "source.idle_timeout", "expected a duration of at least 1ms and at most 36500d (100 years), got -00:00:01 (Source.IdleTimeout)" },
        { "Keep = 0", "run_logs.keep", "expected a duration of at least 1ms and at most 36500d (100 years), got 00:00:00 (RunLogs.Keep)" },
        { "Discover = sometimes", "source.discover", "'sometimes' is not one of: always, cached (Source.Discover)" },
        { "Streams = []", "source.streams", "an empty list selects nothing; remove the key to select every stream (Source.Streams)" },
        { "Split.Column = \"\"", "source.split.column", "must not be empty (Source.Split.Column)" },
        { "Split.Parts = 0", "source.split.parts", "expected a positive whole number, got 0 (Source.Split.Parts)" },
        { "Split.Parts = 5000", "source.split.parts", "at most 1024 parts, got 5000 (Source.Split.Parts)" },
        { "Split.Parallel = 0", "source.split.parallel", "expected a positive whole number, got 0 (Source.Split.Parallel)" },
        { "Replication.Method = full", "source.replication.orders.method", "'full' is not one of: FULL_TABLE, INCREMENTAL, LOG_BASED (Source.Replication[\"orders\"].Method)" },
        { "Replication INCREMENTAL without key", "source.replication.orders.key", "INCREMENTAL replication needs the column that orders the rows (key: updated_at) (Source.Replication[\"orders\"].Key)" },
        { "Select = []", "source.select.orders", "list the columns to extract (at least one) (Source.Select[\"orders\"])" },
        { "Cron = 0 0 L * *", "schedule.cron", QuartzL + " (Schedule.Cron)" },
        { "Maintain.Cron = 0 0 L * *", "schedule.maintain.cron", QuartzL + " (Schedule.Maintain.Cron)" },
        { "Merge without write_mode", "destination.merge", "applies only with write_mode: merge (Destination.Merge)" },
    };

    private const string QuartzL = "invalid cron expression '0 0 L * *' (five fields: minute hour day-of-month month day-of-week): 'L' (the last day) in day-of-month is Quartz syntax, which cron and Kubernetes CronJobs do not accept (one such line makes crontab refuse the whole file)";

    private static PipelineDefinition With(PipelineDefinition p, string what) => what switch
    {
        "MaxFileRows = 0" => p with { Destination = p.Destination with { MaxFileRows = 0 } },
        "MaxFileRows = -5" => p with { Destination = p.Destination with { MaxFileRows = -5 } },
        "MaxFileMb = 0" => p with { Destination = p.Destination with { MaxFileMb = 0 } },
        "Compression = 99" => p with { Destination = p.Destination with { Compression = (Compression)99 } },
        "WriteMode = 99" => p with { Destination = p.Destination with { WriteMode = (WriteMode)99 } },
        "TableFormat = 99" => p with { Destination = p.Destination with { TableFormat = (TableFormats)99 } },
        "PartitionBy = \"\"" => p with { Destination = p.Destination with { PartitionBy = "" } },
        "OnInvalidRecord = 99" => p with { OnInvalidRecord = (InvalidRecordPolicy)99 },
        "Timeout = 0" => p with { Source = p.Source with { Timeout = TimeSpan.Zero } },
        "IdleTimeout = -1s" => p with { Source = p.Source with { IdleTimeout = TimeSpan.FromSeconds(-1) } },
        "Keep = 0" => p with { RunLogs = new RunLogSettings { Keep = TimeSpan.Zero } },
        "Discover = sometimes" => p with { Source = p.Source with { Discover = "sometimes" } },
        "Streams = []" => p with { Source = p.Source with { Streams = [] } },
        "Split.Column = \"\"" => p with { Source = p.Source with { Split = new SplitSettings("", 4, 2) } },
        "Split.Parts = 0" => p with { Source = p.Source with { Split = new SplitSettings("id", 0, 1) } },
        "Split.Parts = 5000" => p with { Source = p.Source with { Split = new SplitSettings("id", 5000, 1) } },
        "Split.Parallel = 0" => p with { Source = p.Source with { Split = new SplitSettings("id", 4, 0) } },
        "Replication.Method = full" => p with { Source = p.Source with { Replication = new Dictionary<string, StreamReplication> { ["orders"] = new("full", null) } } },
        "Replication INCREMENTAL without key" => p with { Source = p.Source with { Replication = new Dictionary<string, StreamReplication> { ["orders"] = new("INCREMENTAL", null) } } },
        "Select = []" => p with { Source = p.Source with { Select = new Dictionary<string, IReadOnlyList<string>> { ["orders"] = [] } } },
        "Cron = 0 0 L * *" => p with { Schedule = new ScheduleSettings { Cron = "0 0 L * *" } },
        "Maintain.Cron = 0 0 L * *" => p with { Schedule = new ScheduleSettings { Maintain = new MaintainSchedule { Cron = "0 0 L * *" } } },
        "Merge without write_mode" => p with { Destination = p.Destination with { Merge = new MergeSettings { OrderBy = "updated_at" } } },
        _ => throw new ArgumentOutOfRangeException(nameof(what), what, null),
    };

    /// <summary>
    /// A definition built in code is held to the rules a pipeline file is (MaxFileRows = 0 once wrote one Parquet file per
    /// record; (TableFormats)99 wrote Iceberg and Delta metadata under a manifest saying parquet): refused before the source
    /// is read, naming the file's key and the property to change.
    /// </summary>
    [Theory]
    [MemberData(nameof(BadValues))]
    public async Task A_pipeline_defined_in_code_with_a_value_a_pipeline_file_could_not_hold_throws_a_ConfigException_before_anything_runs(
        string what, string key, string reason)
    {
        using var home = new TempHome();
        var pipeline = With(new PipelineDefinition
        {
            Name = home.Name("values"),
            Source = new SourceDefinition { Tap = "unused" },
            Destination = new DestinationDefinition { Bucket = home.Bucket },
        }, what);
        var e = await RefusedBeforeAnythingRunsAsync(home, pipeline);
        Assert.Equal((key, reason, $"{key}: {reason}"), (e.Key, e.Reason, e.Message));
    }

    /// <summary>The rule that refuses MaxFileRows = 0 in code refuses max_file_rows: 0 in a file, there with the file and line.</summary>
    [Theory]
    [InlineData("max_file_rows: 0", 6, "destination.max_file_rows", "expected a positive whole number, got 0")]
    [InlineData("partition_by: \"\"", 6, "destination.partition_by", "must not be empty: _extraction_date (the default), none, or a date or date-time column")]
    [InlineData("max_file_mb: lots", 6, "destination.max_file_mb", "expected a whole number, got 'lots'")]
    public void A_pipeline_file_breaking_the_same_rule_is_refused_with_its_file_and_line(string line, int lineNumber, string key, string reason)
    {
        using var home = new TempHome();
        var file = Path.Combine(home.Home, "pipelines", home.Name("rows") + ".yaml");
        home.WritePipeline(home.Name("rows"), $"source:\n  tap: csv\n  config: {{path: /nowhere}}\ndestination:\n  bucket: {home.Bucket}\n  {line}\n");
        var e = Assert.Throws<ConfigException>(() => Client(home).Load(home.Name("rows")));
        Assert.Equal((key, reason, file, (int?)lineNumber), (e.Key, e.Reason, e.File, e.Line));
        Assert.Equal($"{file}:{lineNumber}: {key}: {reason}", e.Message);
    }

    /// <summary>
    /// A pipeline file breaking a rule of source.split, source.replication, source.select, the cron schedules or
    /// destination.merge is refused for the reason a definition built in code is (one rule set), with its file and line.
    /// </summary>
    [Theory]
    [InlineData("  split: {column: id, parts: 0}\n", "", 4, "source.split.parts", "expected a positive whole number, got 0")]
    [InlineData("  split: {column: id, parts: 5000}\n", "", 4, "source.split.parts", "at most 1024 parts, got 5000")]
    [InlineData("  split: {column: id, parts: 4, parallel: 0}\n", "", 4, "source.split.parallel", "expected a positive whole number, got 0")]
    [InlineData("  replication:\n    orders: {method: full}\n", "", 5, "source.replication.orders.method", "'FULL' is not one of: FULL_TABLE, INCREMENTAL, LOG_BASED")]
    [InlineData("  replication:\n    orders: {method: INCREMENTAL}\n", "", 5, "source.replication.orders.key", "INCREMENTAL replication needs the column that orders the rows (key: updated_at)")]
    [InlineData("  select:\n    orders: []\n", "", 5, "source.select.orders", "list the columns to extract (at least one)")]
    [InlineData("", "schedule:\n  cron: 0 0 L * *\n", 7, "schedule.cron", QuartzL)]
    [InlineData("", "schedule:\n  maintain: {cron: 0 0 L * *}\n", 7, "schedule.maintain.cron", QuartzL)]
    [InlineData("", "  merge: {order_by: updated_at}\n", 6, "destination.merge", "applies only with write_mode: merge")]
    public void A_pipeline_file_breaking_a_rule_of_code_built_definitions_gives_the_same_reason(string sourceLines, string after, int lineNumber, string key, string reason)
    {
        using var home = new TempHome();
        var file = Path.Combine(home.Home, "pipelines", home.Name("rules") + ".yaml");
        home.WritePipeline(home.Name("rules"), $"source:\n  tap: csv\n  config: {{path: /nowhere}}\n{sourceLines}destination:\n  bucket: {home.Bucket}\n{after}");
        var e = Assert.Throws<ConfigException>(() => Client(home).Load(home.Name("rules")));
        Assert.Equal((key, reason, file, (int?)lineNumber), (e.Key, e.Reason, e.File, e.Line));
    }

    /// <summary>
    /// config shows a stream named like a secret (api_tokens) under select, replication and transforms as it is: a name,
    /// not a secret; the tap config's secret keys and ${VAR} values stay masked.
    /// </summary>
    [Fact]
    public void Config_shows_a_stream_named_like_a_secret_and_masks_the_secrets()
    {
        using var home = new TempHome();
        File.WriteAllText(Path.Combine(home.Home, ".env"), "SHOP_TOKEN=tok-from-env-123\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(Path.Combine(home.Home, ".env"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        home.WritePipeline(home.Name("named"), $"source:\n  tap: csv\n  config: {{path: /nowhere, api_key: literal-key-456, token: '${{SHOP_TOKEN}}', host: '${{SHOP_TOKEN}}'}}\n" +
            "  replication:\n    api_tokens: {method: INCREMENTAL, key: updated_at}\n  select:\n    api_tokens: [id, updated_at]\n" +
            $"destination:\n  bucket: {home.Bucket}\ntransforms:\n  api_tokens:\n    drop: [note]\n");
        var view = Client(home).Config(home.Name("named"));
        var source = view["source"]!;
        Assert.Equal("""{"method":"INCREMENTAL","key":"updated_at"}""", source["replication"]!["api_tokens"]!.ToJsonString());
        Assert.Equal("""["id","updated_at"]""", source["select"]!["api_tokens"]!.ToJsonString());
        Assert.Equal("""{"drop":["note"]}""", view["transforms"]!["api_tokens"]!.ToJsonString());
        Assert.Equal(("***", "***", "***"), (source["config"]!["api_key"]!.GetValue<string>(), source["config"]!["token"]!.GetValue<string>(),
            source["config"]!["host"]!.GetValue<string>()));
        var text = view.ToJsonString();
        foreach (var secret in new[] { "literal-key-456", "tok-from-env-123" }) Assert.DoesNotContain(secret, text);
    }

    /// <summary>A bucket address that is not one is a ConfigException (a PipeException), as the same address as a pipeline's bucket is.</summary>
    [Theory]
    [InlineData("relative/path", "bucket 'relative/path' has no scheme")]
    [InlineData("s3://Bad_Name", "capital letter 'B'")]
    [InlineData("ftp://x/y", "ftp")]
    [InlineData("", "bucket")]
    [InlineData("file://relative", "must be an absolute path")]
    public async Task Reading_the_manifest_or_table_files_of_a_bad_bucket_address_throws_a_ConfigException(string bucket, string reason)
    {
        using var home = new TempHome();
        var client = Client(home);
        var manifest = await Assert.ThrowsAsync<ConfigException>(() => client.ManifestAsync(bucket));
        Assert.Contains(reason, manifest.Message, StringComparison.Ordinal);
        Assert.Equal(PipeErrorKind.Usage, manifest.Kind);
        var asPipelineBucket = await Assert.ThrowsAsync<ConfigException>(() => client.RunAsync(new PipelineDefinition
        {
            Name = home.Name("b"),
            Source = new SourceDefinition { Tap = "unused" },
            Destination = new DestinationDefinition { Bucket = bucket },
        }, new CodeSource("app")));
        Assert.Equal(manifest.Message, asPipelineBucket.Reason.Replace(" (Destination.Bucket)", "", StringComparison.Ordinal));
        var table = new Lake.ManifestTable();
        var files = await Assert.ThrowsAsync<ConfigException>(() => client.TableFilesAsync(bucket, null, "app/t", table));
        Assert.Equal(manifest.Message, files.Message);
        await Assert.ThrowsAsync<ConfigException>(() => client.ReadTableFilesAsync(bucket, null, "app/t", table, (_, f) => Task.FromResult(f.Count)));
    }

    [Fact]
    public async Task A_code_source_with_state_saves_it_for_the_next_incremental_run()
    {
        using var home = new TempHome();
        var pipeline = new PipelineDefinition
        {
            Name = home.Name("stateful"),
            Source = new SourceDefinition { Tap = "unused" },
            Destination = new DestinationDefinition { Bucket = home.Bucket },
            Incremental = new IncrementalSettings { Enabled = true },
        };
        var schema = JsonNode.Parse("""{"type":"object","properties":{"id":{"type":"integer"},"city":{"type":"string"},"at":{"type":"string","format":"date-time"}}}""")!.AsObject();
        var result = await Client(home).RunAsync(pipeline, new CodeSource("app").AddStream("visits", schema, Visits(2)).WithState(JsonNode.Parse("""{"last":2}""")!));
        Assert.True(result.Succeeded, result.Log.Error);
        Assert.True(result.Log.StateCommitted);
        Assert.Equal("""{"last":2}""", JsonNode.Parse(File.ReadAllText(Path.Combine(home.Lake, ".dataspoc/state/" + home.Name("stateful") + "/state.json")))!.ToJsonString());
    }

    private static JsonObject Upper(JsonObject r)
    {
        var city = r["city"]!.GetValue<string>().ToUpperInvariant();
        r["city"] = city;
        r["len"] = city.Length;
        return r;
    }

    private static async IAsyncEnumerable<JsonObject> Visits(int n, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        for (var i = 1; i <= n; i++)
        {
            await Task.Yield();
            cancellationToken.ThrowIfCancellationRequested();
            yield return new JsonObject { ["id"] = i, ["city"] = $"city-{i}", ["at"] = $"2025-03-01T10:00:0{i}Z" };
        }
    }

    private static async IAsyncEnumerable<JsonObject> Failing()
    {
        yield return new JsonObject { ["id"] = 1 };
        await Task.Yield();
        throw new InvalidOperationException("database went away");
    }
}
