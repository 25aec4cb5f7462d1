using System.Diagnostics;
using System.Text;
using DataSpoc.Pipe.Cli.Tests.Support;
using DataSpoc.Pipe.Cloud.Tests;
using DataSpoc.Pipe.Cloud.Tests.Runs;
using DataSpoc.Pipe.Tests.Sources.BuiltIn;
using Npgsql;
using Xunit.Abstractions;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

/// <summary>
/// One table split across four worker processes, each started as an Indexed Job starts its pods (<c>run NAME --part auto</c>
/// with <c>JOB_COMPLETION_INDEX</c> and the shared <c>DATASPOC_SPLIT_RUN</c>), against a real PostgreSQL and a file://
/// or Azurite bucket. One worker is SIGKILLed while it reads its range: until its index runs again the lake shows the
/// table as it was (complete), then exactly the table's rows, once each (a keyed comparison of values, in DuckDB).
/// </summary>
[Collection("postgres")]
public sealed class SplitRunTests(PostgresServer server, CloudServers servers, ITestOutputHelper output) : IClassFixture<CloudServers>, IDisposable
{
    private const int Parts = 4;
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    private const string Table = """
        CREATE TABLE public.items (id int8 PRIMARY KEY, code text, at timestamptz NOT NULL, note text);
        INSERT INTO items SELECT g * 3, md5(g::text), timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute', 'v1' FROM generate_series(1, 120000) g;
        """;

    private void WritePipeline(string db, string bucket, string column, bool incremental, string storage = "", int parts = Parts)
    {
        _home.Set("PG_PASSWORD", PostgresServer.Password);
        _home.WritePipeline("items", $$"""
            source:
              tap: postgres
              config:
                host: 127.0.0.1
                port: {{server.Port}}
                user: postgres
                password: ${PG_PASSWORD}
                dbname: {{db}}
                sslmode: disable
                batch_size: 500
                replication_keys: {public-items: id}
              split: {column: {{column}}, parts: {{parts}}, parallel: 2}
            destination:
              bucket: {{bucket}}
              max_file_rows: 15000
              {{storage}}
            incremental:
              enabled: {{(incremental ? "true" : "false")}}
            """);
    }

    private Process StartWorker(int index, string splitRun)
    {
        var psi = new ProcessStartInfo(CliProcess.Command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
        };
        foreach (var a in CliProcess.Command.Skip(1).Concat(["run", "items", "--part", "auto", "-o", "json"])) psi.ArgumentList.Add(a);
        _home.Apply(psi.Environment);
        psi.Environment["JOB_COMPLETION_INDEX"] = index.ToString(System.Globalization.CultureInfo.InvariantCulture);
        psi.Environment["DATASPOC_SPLIT_RUN"] = splitRun;
        return Process.Start(psi)!;
    }

    private static CliProcess.Result Finish(Process process)
    {
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(4))) { process.Kill(); throw new TimeoutException("a worker did not finish in 4 minutes"); }
        return new CliProcess.Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>
    /// Runs the four workers and SIGKILLs <paramref name="victim"/> while it reads its range. The other three run first
    /// (one of them plans the ranges); then the test holds an ACCESS EXCLUSIVE lock on the table, so the victim, started
    /// next, is caught for certain inside its range's query (PostgreSQL shows it waiting under its part's name), however
    /// fast the machine reads.
    /// </summary>
    private async Task RunWorkersKillingOneAsync(string splitRun, int victim, string db)
    {
        var others = Enumerable.Range(0, Parts).Where(i => i != victim).Select(i => (Index: i, Output: Task.Run(() => { using var w = StartWorker(i, splitRun); return Finish(w); }))).ToList();
        foreach (var (i, task) in others)
        {
            var result = await task;
            Assert.True(result.ExitCode == 0, $"worker {i}: {result}");
            var notices = string.Join(" | ", Json.Parse(result)["notices"]!.AsArray().Select(n => (string)n!));
            output.WriteLine($"worker {i}: {notices}");
            Assert.Contains($"part {i}/{Parts} of split run {splitRun} is staged", notices);
        }

        await using var blocker = new NpgsqlConnection(server.ConnectionString(db));
        await blocker.OpenAsync();
        await using var transaction = await blocker.BeginTransactionAsync();
        await using (var lockTable = new NpgsqlCommand("LOCK TABLE public.items IN ACCESS EXCLUSIVE MODE", blocker, transaction))
            await lockTable.ExecuteNonQueryAsync();
        using var worker = StartWorker(victim, splitRun);
        var watch = Stopwatch.StartNew();
        var caught = false;
        while (watch.Elapsed < TimeSpan.FromMinutes(3) && !worker.HasExited)
        {
            if (await ReadingAsync($"dataspoc-pipe part {victim}/{Parts}"))
            {
                worker.Kill(); // SIGKILL on Unix
                caught = true;
                break;
            }
            await Task.Delay(10);
        }
        await worker.WaitForExitAsync();
        await transaction.RollbackAsync();
        Assert.True(caught, $"worker {victim} was never seen reading its range (exit {worker.ExitCode}: {await worker.StandardOutput.ReadToEndAsync()} {await worker.StandardError.ReadToEndAsync()})");
        output.WriteLine($"killed worker {victim} {watch.ElapsedMilliseconds} ms after its start, inside its range's query");
    }

    private async Task<bool> ReadingAsync(string applicationName)
    {
        await using var connection = new NpgsqlConnection(server.ConnectionString());
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE application_name = @name", connection);
        command.Parameters.AddWithValue("name", applicationName);
        return (long)(await command.ExecuteScalarAsync())! > 0;
    }

    private CliProcess.Result RunIndex(int index, string splitRun)
    {
        using var worker = StartWorker(index, splitRun);
        return Finish(worker);
    }

    /// <summary>The table in PostgreSQL, one line per row, in key order.</summary>
    private async Task<List<string>> DatabaseRowsAsync(string db)
    {
        await using var connection = new NpgsqlConnection(server.ConnectionString(db));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT id, code, note FROM items ORDER BY id", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<string>();
        while (await reader.ReadAsync()) rows.Add($"{reader.GetInt64(0)}|{reader.GetString(1)}|{reader.GetString(2)}");
        return rows;
    }

    /// <summary>The table as a reader of the lake sees it: every Parquet file under its folder, read by DuckDB.</summary>
    private static List<string> LakeRows(string folder)
    {
        if (!Directory.Exists(folder) || Directory.GetFiles(folder, "*.parquet", SearchOption.AllDirectories).Length == 0) return [];
        return LakeReader.Query($"SELECT id, code, note FROM read_parquet('{folder}/**/*.parquet') ORDER BY id, note")
            .Select(r => $"{r[0]}|{r[1]}|{r[2]}").ToList();
    }

    private static async Task<List<string>> LakeRowsAsync(CloudLake lake, string tablePrefix, string localCopy)
    {
        if (Directory.Exists(localCopy)) Directory.Delete(localCopy, recursive: true);
        Directory.CreateDirectory(localCopy);
        await foreach (var obj in lake.Store.ListAsync(tablePrefix, CancellationToken.None))
        {
            if (!obj.Key.EndsWith(".parquet", StringComparison.Ordinal)) continue;
            var local = Path.Combine(localCopy, obj.Key[tablePrefix.Length..].Replace('/', '_'));
            await using var source = await lake.Store.OpenReadAsync(obj.Key, CancellationToken.None);
            await using var file = File.Create(local);
            await source.CopyToAsync(file);
        }
        return LakeRows(localCopy);
    }

    [Fact]
    public async Task A_full_refresh_by_four_workers_with_one_killed_shows_the_old_table_until_its_index_reruns_then_exactly_the_new_one()
    {
        var db = await server.CreateDatabaseAsync(Table);
        WritePipeline(db, _home.Bucket, column: "id", incremental: false);
        var table = Path.Combine(_home.Lake, "raw", "postgres", "public-items");

        // The old table, by one process reading the four ranges two at a time.
        var single = CliProcess.Run(_home, "run", "items", "-o", "json");
        Assert.True(single.ExitCode == 0, single.ToString());
        var old = await DatabaseRowsAsync(db);
        Assert.Equal(old, LakeRows(table));

        // A new version of every row, some rows gone and some new.
        await server.ExecuteAsync(db, "UPDATE items SET note = 'v2'; DELETE FROM items WHERE id % 7 = 0; INSERT INTO items SELECT g * 3, md5(g::text), now(), 'v2' FROM generate_series(120001, 120500) g;");
        await RunWorkersKillingOneAsync("job-full-1", victim: 2, db);
        // Three parts staged, one killed: readers still see the whole old table, not a mix.
        Assert.Equal(old, LakeRows(table));
        // The killed worker left its private tap config (the database password) behind. Beside it, the folder of a part
        // running in another process (it holds its part's lock) must survive the cleaning.
        var temp = Path.Combine(_home.Root, "tmp");
        var leftConfig = Assert.Single(Directory.GetFiles(temp, "config.json", SearchOption.AllDirectories));
        Assert.Contains(PostgresServer.Password, File.ReadAllText(leftConfig));
        var running = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(leftConfig)!)!, "live0001");
        Directory.CreateDirectory(running);
        File.WriteAllText(Path.Combine(running, "config.json"), "{}");
        File.WriteAllText(Path.Combine(_home.Lake, ".dataspoc", "locks", "items.split-part-0009.lock"),
            $$"""{"run_id": "live0001", "host": "{{Environment.MachineName}}", "pid": {{Environment.ProcessId}}, "acquired_at": "2026-01-01T00:00:00Z", "expires_at": "2099-01-01T00:00:00Z"}""");

        var rerun = RunIndex(2, "job-full-1");
        Assert.True(rerun.ExitCode == 0, rerun.ToString());
        Assert.Contains("committed split run job-full-1: 4 parts", rerun.Stdout);
        Assert.Equal(await DatabaseRowsAsync(db), LakeRows(table));
        // The rerun (a part worker, which took over the killed one's lock) removed the killed run's folder, not the live one's.
        Assert.Contains("removed leftover temp files of an earlier run", rerun.Stdout);
        Assert.False(File.Exists(leftConfig));
        Assert.Equal([Path.Combine(running, "config.json")], Directory.GetFiles(temp, "config.json", SearchOption.AllDirectories));

        // The staging folder keeps only the record that closes the split run; a late worker of it changes nothing.
        var staging = Path.Combine(_home.Lake, ".dataspoc", "staging", "items", "job-full-1");
        // (file:// conditional writes' "<key>.lck" sidecars included: the commit settled those keys and removed them.)
        Assert.Equal(["committed.json"], Directory.GetFiles(staging, "*", SearchOption.AllDirectories).Select(f => Path.GetFileName(f)));
        var late = RunIndex(1, "job-full-1");
        Assert.Equal(1, late.ExitCode);
        Assert.Contains("split run job-full-1 of pipeline 'items' was already committed", late.Stdout + late.Stderr);
        Assert.Equal(await DatabaseRowsAsync(db), LakeRows(table));
    }

    [Fact]
    public async Task Status_shows_a_split_run_as_running_while_its_part_workers_live_and_not_once_they_are_killed()
    {
        var db = await server.CreateDatabaseAsync(Table);
        WritePipeline(db, _home.Bucket, column: "id", incremental: false);
        _home.Set("COLUMNS", "250"); // the line under the table on one line
        System.Text.Json.Nodes.JsonNode Row() =>
            Assert.Single(Json.Parse(CliProcess.Run(_home, "status", "--output", "json")).AsArray(), r => r.Str("pipeline") == "items")!;
        Assert.Null(Row()["running"]);

        // The table locked: workers 1 and 3 (no pipeline lock) take their parts' locks, then wait inside the tap's queries.
        await using var blocker = new NpgsqlConnection(server.ConnectionString(db));
        await blocker.OpenAsync();
        await using var transaction = await blocker.BeginTransactionAsync();
        await using (var lockTable = new NpgsqlCommand("LOCK TABLE public.items IN ACCESS EXCLUSIVE MODE", blocker, transaction))
            await lockTable.ExecuteNonQueryAsync();
        var started = DateTimeOffset.UtcNow;
        using var one = StartWorker(1, "job-status-1");
        using var three = StartWorker(3, "job-status-1");
        try
        {
            var locks = Path.Combine(_home.Lake, ".dataspoc", "locks");
            var deadline = DateTime.UtcNow.AddMinutes(2);
            while (!File.Exists(Path.Combine(locks, "items.split-part-0001.lock")) || !File.Exists(Path.Combine(locks, "items.split-part-0003.lock")))
            {
                Assert.True(DateTime.UtcNow < deadline, "the workers did not take their parts' locks within 2 minutes");
                Assert.False(one.HasExited || three.HasExited, "a worker ended before taking its part's lock");
                await Task.Delay(50);
            }
            var during = Row();
            var table = CliProcess.Run(_home, "status");
            Assert.False(one.HasExited || three.HasExited, "a worker ended before status was asked: the test proves nothing");

            Assert.Equal(("never run", ""), (during.Str("status"), during["run_id"]?.ToString() ?? ""));
            var running = during["running"]!;
            Assert.Equal(("part", "job-status-1"), (running.Str("kind"), running.Str("run_id")));
            var parts = running["parts"]!.AsArray();
            Assert.Equal([(1, one.Id), (3, three.Id)], parts.Select(p => (p!["part"]!.GetValue<int>(), p["pid"]!.GetValue<int>())));
            Assert.All(parts, p => Assert.Equal(Environment.MachineName, p.Str("host")));
            Assert.All(parts, p => Assert.InRange(p!["since"]!.GetValue<DateTimeOffset>(), started.AddSeconds(-1), DateTimeOffset.UtcNow));
            var since = parts.Min(p => p!["since"]!.GetValue<DateTimeOffset>());
            Assert.Equal(since, running["since"]!.GetValue<DateTimeOffset>());
            Assert.Matches(@"│ items +│ running +│", table.Stdout);
            Assert.Contains($"items: running since {since.UtcDateTime:yyyy-MM-dd HH:mm}Z (split run job-status-1: " +
                $"part 1 (run {parts[0].Str("run_id")}, pid {one.Id} on {Environment.MachineName}), part 3 (run {parts[1].Str("run_id")}, pid {three.Id} on {Environment.MachineName})); " +
                "the other columns show its previous run (never run)", table.Stdout);

            // A killed worker's part lock stays until its index runs again, but it is stale: only the live worker is shown.
            one.Kill(); // SIGKILL on Unix
            await one.WaitForExitAsync();
            Assert.True(File.Exists(Path.Combine(locks, "items.split-part-0001.lock")));
            var left = Row()["running"]!;
            Assert.Equal((3, three.Id), (Assert.Single(left["parts"]!.AsArray())!["part"]!.GetValue<int>(), left["pid"]!.GetValue<int>()));

            three.Kill();
            await three.WaitForExitAsync();
            Assert.Null(Row()["running"]);
            Assert.DoesNotContain("running", CliProcess.Run(_home, "status").Stdout);
        }
        finally
        {
            if (!one.HasExited) one.Kill();
            if (!three.HasExited) three.Kill();
            await transaction.RollbackAsync();
        }
    }

    [Fact]
    public async Task An_incremental_split_on_Azurite_lands_every_row_once_and_saves_state_only_when_every_part_is_committed()
    {
        var db = await server.CreateDatabaseAsync(Table);
        foreach (var (name, value) in servers.AzureEnvironment()) _home.Set(name, value);
        await using var lake = new CloudLake(new AzureTarget(servers));
        WritePipeline(db, lake.Bucket, column: "code", incremental: true);
        var prefix = "raw/postgres/public-items/";
        var copy = Path.Combine(_home.Root, "lake-copy");

        await RunWorkersKillingOneAsync("job-inc-1", victim: 1, db);
        Assert.Empty(await LakeRowsAsync(lake, prefix, copy));
        Assert.Null(await lake.Store.GetAsync(".dataspoc/state/items/state.json", CancellationToken.None));

        var rerun = RunIndex(1, "job-inc-1");
        Assert.True(rerun.ExitCode == 0, rerun.ToString());
        var first = await DatabaseRowsAsync(db);
        Assert.Equal(first, await LakeRowsAsync(lake, prefix, copy));
        var state = await lake.Store.GetAsync(".dataspoc/state/items/state.json", CancellationToken.None);
        Assert.Contains("\"replication_key_value\": 360000", Encoding.UTF8.GetString(state!.Content.Span));

        // The next split run reads only rows from the bookmark on (inclusive: the bookmark's row lands again).
        await server.ExecuteAsync(db, "INSERT INTO items SELECT g * 3, md5(g::text), now(), 'v1' FROM generate_series(120001, 121000) g;");
        var workers = Enumerable.Range(0, Parts).Select(i => StartWorker(i, "job-inc-2")).ToList();
        foreach (var w in workers) Assert.True(Finish(w).ExitCode == 0);
        var expected = first.Append("360000|" + Md5("120000") + "|v1").Concat((await DatabaseRowsAsync(db)).Skip(first.Count)).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected, (await LakeRowsAsync(lake, prefix, copy)).Order(StringComparer.Ordinal).ToList());
    }

    [Fact]
    public async Task A_split_run_that_would_replace_another_pipelines_table_of_another_source_is_refused_and_deletes_nothing()
    {
        var db = await server.CreateDatabaseAsync("CREATE TABLE items (id int8 PRIMARY KEY, code text, at timestamptz NOT NULL, note text); " +
            "INSERT INTO items SELECT g, md5(g::text), now(), 'v1' FROM generate_series(1, 2000) g;");
        var otherDb = await server.CreateDatabaseAsync("CREATE TABLE items (id int8 PRIMARY KEY, code text, at timestamptz NOT NULL, note text); " +
            "INSERT INTO items SELECT g, 'other', now(), 'theirs' FROM generate_series(900001, 900003) g;");
        WritePipeline(db, _home.Bucket, column: "id", incremental: false);
        // Another pipeline of the home lands the same table (source folder postgres, stream public-items) from another database.
        _home.WritePipeline("legacy", $$"""
            source:
              tap: postgres
              config: {host: 127.0.0.1, port: {{server.Port}}, user: postgres, password: "${PG_PASSWORD}", dbname: {{otherDb}}, sslmode: disable}
            destination:
              bucket: {{_home.Bucket}}
            """);
        Assert.True(CliProcess.Run(_home, "run", "legacy").ExitCode == 0);
        var table = Path.Combine(_home.Lake, "raw", "postgres", "public-items");
        var theirs = LakeRows(table);
        Assert.Equal(3, theirs.Count);

        for (var i = 0; i < Parts - 1; i++) Assert.True(RunIndex(i, "owned-1").ExitCode == 0);
        var last = RunIndex(Parts - 1, "owned-1");
        Assert.Equal(1, last.ExitCode);
        Assert.Contains("was last written by pipeline 'legacy', which reads another source", last.Stdout);
        Assert.Equal(theirs, LakeRows(table));
        var refused = CliProcess.Run(_home, "run", "items", "--commit-parts", "--split-run", "owned-1", "-o", "json");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("would replace the table and delete the rows 'legacy' wrote", refused.Stdout);
        Assert.Equal(theirs, LakeRows(table));

        // 'items' takes the table's place: once 'legacy' left the home, the staged parts land (noted in the run log).
        File.Delete(Path.Combine(_home.Home, "pipelines", "legacy.yaml"));
        var commit = CliProcess.Run(_home, "run", "items", "--commit-parts", "--split-run", "owned-1", "-o", "json");
        Assert.True(commit.ExitCode == 0, commit.ToString());
        Assert.Contains("was last written by pipeline 'legacy', which is not in this home: this run replaced its rows", commit.Stdout);
        Assert.Equal(await DatabaseRowsAsync(db), LakeRows(table));
    }

    [Fact]
    public async Task When_the_last_part_cannot_commit_the_parts_stay_staged_until_commit_parts_lands_them()
    {
        var db = await server.CreateDatabaseAsync("CREATE TABLE items (id int8 PRIMARY KEY, code text, at timestamptz NOT NULL, note text); " +
            "INSERT INTO items SELECT g, md5(g::text), now(), 'v1' FROM generate_series(1, 2000) g;");
        WritePipeline(db, _home.Bucket, column: "id", incremental: false);
        var table = Path.Combine(_home.Lake, "raw", "postgres", "public-items");
        // Another run holds the pipeline's lock (a live process of this host, lease far ahead): no part can commit.
        var lockFile = Path.Combine(_home.Lake, ".dataspoc", "locks", "items.lock");
        Directory.CreateDirectory(Path.GetDirectoryName(lockFile)!);
        File.WriteAllText(lockFile, $$"""{"run_id": "other", "host": "{{Environment.MachineName}}", "pid": {{Environment.ProcessId}}, "acquired_at": "2026-01-01T00:00:00Z", "expires_at": "2099-01-01T00:00:00Z"}""");

        for (var i = 0; i < Parts - 1; i++) Assert.True(RunIndex(i, "manual-1").ExitCode == 0);
        var last = RunIndex(Parts - 1, "manual-1");
        Assert.Equal(1, last.ExitCode);
        Assert.Contains("items", last.Stdout + last.Stderr);
        Assert.Empty(LakeRows(table));

        var missing = CliProcess.Run(_home, "run", "items", "--commit-parts", "--split-run", "manual-2", "-o", "json");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("part(s) 0, 1, 2, 3 of 4 are not done", missing.Stdout);

        // Staged: the plan's, the parts' and the claim's conditional writes each keep their file:// lock sidecar meanwhile.
        var staging = Path.Combine(_home.Lake, ".dataspoc", "staging", "items");
        Assert.Contains(Path.Combine(staging, "manual-1", "plan.json.lck"), Directory.GetFiles(staging, "*.lck", SearchOption.AllDirectories));

        File.Delete(lockFile);
        var commit = CliProcess.Run(_home, "run", "items", "--commit-parts", "--split-run", "manual-1", "-o", "json");
        Assert.True(commit.ExitCode == 0, commit.ToString());
        Assert.Contains("committed split run manual-1: 4 parts, 2000 rows", commit.Stdout);
        Assert.Equal(await DatabaseRowsAsync(db), LakeRows(table));
        // The commit settled every staging key of the split run: their sidecars went with them (they stayed forever).
        Assert.Equal([Path.Combine(staging, "manual-1", "committed.json")], Directory.GetFiles(Path.Combine(staging, "manual-1"), "*", SearchOption.AllDirectories));
        Assert.Empty(Directory.GetDirectories(Path.Combine(staging, "manual-1"))); // nor the emptied part-NNNN/ and done/ folders

        // What earlier builds left: the sidecars of a committed split run, and those of one still open, which stay.
        string Sidecar(string splitRun, string key)
        {
            var path = Path.Combine(staging, splitRun, key + ".lck");
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, []);
            return path;
        }
        var settled = new[] { Sidecar("old-1", "plan.json"), Sidecar("old-1", "done/part-0000.json"), Sidecar("old-1", "commit-claim.json") };
        File.WriteAllText(Path.Combine(staging, "old-1", "committed.json"), "{}");
        var open = Sidecar("open-1", "plan.json");
        var maintain = CliProcess.Run(_home, "maintain", "items");
        Assert.True(maintain.ExitCode == 0, maintain.ToString());
        Assert.All(settled, path => Assert.False(File.Exists(path), path));
        Assert.True(File.Exists(open), "a split run not committed may still be written: its sidecars stay");
        // A retry of the last index now finds the split run closed and changes nothing: it does not start, so it writes
        // no run log and the pipeline's latest run stays the commit (it used to become a failure, shown by status).
        var logs = Directory.GetFiles(Path.Combine(_home.Lake, ".dataspoc", "logs"), "*.json", SearchOption.AllDirectories).Length;
        var retry = RunIndex(Parts - 1, "manual-1");
        Assert.Equal(1, retry.ExitCode);
        Assert.Contains("split run manual-1 of pipeline 'items' was already committed", retry.Stderr);
        Assert.Equal(await DatabaseRowsAsync(db), LakeRows(table));
        Assert.Equal(logs, Directory.GetFiles(Path.Combine(_home.Lake, ".dataspoc", "logs"), "*.json", SearchOption.AllDirectories).Length);
        var status = Json.Parse(CliProcess.Run(_home, "status", "-o", "json")).AsArray().Single()!;
        Assert.Equal(("success", Json.Parse(commit).Str("run_id")), (status.Str("status"), status.Str("run_id")));
    }

    [Fact]
    public async Task A_split_run_whose_part_count_changed_commits_only_the_plans_parts_and_a_commit_parts_after_the_commit_writes_no_run_log()
    {
        var db = await server.CreateDatabaseAsync("CREATE TABLE items (id int8 PRIMARY KEY, code text, at timestamptz NOT NULL, note text); " +
            "INSERT INTO items SELECT g, md5(g::text), now(), 'v1' FROM generate_series(1, 2000) g;");
        WritePipeline(db, _home.Bucket, column: "id", incremental: false);
        var table = Path.Combine(_home.Lake, "raw", "postgres", "public-items");
        for (var i = 0; i < Parts - 1; i++) Assert.True(RunIndex(i, "changed-1").ExitCode == 0);

        // split.parts edited to 3 before index 3 ran (a fixed Job, an updated ConfigMap): a retry of index 2, already done,
        // and --commit-parts would land 3 of the plan's 4 ranges. Both are refused and nothing lands.
        WritePipeline(db, _home.Bucket, column: "id", incremental: false, parts: 3);
        var retried = RunIndex(2, "changed-1");
        Assert.Equal(1, retried.ExitCode);
        Assert.Contains("split run changed-1 of pipeline 'items': the split plan is for 4 parts", retried.Stdout + retried.Stderr);
        Assert.Contains("set source.split.parts back to 4 to finish it, or start a new split run", retried.Stdout + retried.Stderr);
        Assert.Empty(LakeRows(table));
        var commit = CliProcess.Run(_home, "run", "items", "--commit-parts", "--split-run", "changed-1", "-o", "json");
        Assert.Equal(1, commit.ExitCode);
        Assert.Contains("the split plan is for 4 parts (its plan.json), but the pipeline now splits its table in 3 parts", commit.Stdout);
        Assert.Empty(LakeRows(table));

        // Back to 4 parts, the last index finishes the split run with every range.
        WritePipeline(db, _home.Bucket, column: "id", incremental: false);
        var last = RunIndex(Parts - 1, "changed-1");
        Assert.True(last.ExitCode == 0, last.ToString());
        Assert.Contains("committed split run changed-1: 4 parts, 2000 rows", last.Stdout);
        Assert.Equal(await DatabaseRowsAsync(db), LakeRows(table));

        // --commit-parts of the committed split run is refused before it starts, as a late part is: no run log, so the
        // pipeline's latest run stays the commit (it used to log a 0-record "success" that status then showed).
        var logs = Directory.GetFiles(Path.Combine(_home.Lake, ".dataspoc", "logs"), "*.json", SearchOption.AllDirectories).Length;
        var again = CliProcess.Run(_home, "run", "items", "--commit-parts", "--split-run", "changed-1", "-o", "json");
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("split run changed-1 of pipeline 'items' was already committed", again.Stderr);
        Assert.Equal(logs, Directory.GetFiles(Path.Combine(_home.Lake, ".dataspoc", "logs"), "*.json", SearchOption.AllDirectories).Length);
        var status = Json.Parse(CliProcess.Run(_home, "status", "-o", "json")).AsArray().Single()!;
        Assert.Equal(("success", Json.Parse(last).Str("run_id")), (status.Str("status"), status.Str("run_id")));
        Assert.Equal(await DatabaseRowsAsync(db), LakeRows(table));
    }

    [Fact]
    public async Task Part_arguments_that_cannot_name_one_range_of_one_split_run_are_usage_errors()
    {
        var db = await server.CreateDatabaseAsync("CREATE TABLE items (id int8 PRIMARY KEY);");
        WritePipeline(db, _home.Bucket, column: "id", incremental: false);
        _home.WritePipeline("plain", $"source: {{tap: postgres, config: {{dbname: x, user: y}}}}\ndestination: {{bucket: {_home.Bucket}}}\n");
        (string[] Args, string Error)[] cases =
        [
            (["run", "items", "--part", "4/4", "--split-run", "r"], "the index must be 0..3"),
            (["run", "items", "--part", "1/3", "--split-run", "r"], "the pipeline splits its table in 4 parts (source.split.parts), so N must be 4"),
            (["run", "items", "--part", "auto", "--split-run", "r"], "--part auto: the environment variable JOB_COMPLETION_INDEX is not set"),
            (["run", "items", "--part", "1/4"], "give --split-run <ID> or set DATASPOC_SPLIT_RUN"),
            (["run", "items", "--part", "1/4", "--split-run", "../x"], "--split-run '../x': use letters, digits"),
            (["run", "plain", "--part", "1/4", "--split-run", "r"], "pipeline 'plain' has no source.split"),
            (["run", "--all", "--part", "1/4"], "--part and --commit-parts work on one pipeline, not --all"),
            // A worker command without --part would read the whole table and replace it outside the split run.
            (["run", "items", "--split-run", "r"], "--split-run names the split run of --part or --commit-parts: give one of them"),
        ];
        foreach (var (args, error) in cases)
        {
            var result = CliProcess.Run(_home, args);
            Assert.True(result.ExitCode == 2, string.Join(' ', args) + ": " + result);
            Assert.Contains(error, result.Stderr);
        }
    }

    private static string Md5(string text) => Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(Encoding.UTF8.GetBytes(text)));
}
