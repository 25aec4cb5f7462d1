using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Sources;
using DataSpoc.Pipe.Sources.BuiltIn;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Sources.BuiltIn;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Runs;

/// <summary>
/// The commit of a split run (<c>--part I/N</c>, the parts read in this process by the built-in postgres tap from a real
/// PostgreSQL) against other pipelines writing the same table: it takes the table's commit claim and re-checks its plan
/// at the commit as a whole run does, and refuses an append in another partition layout with a whole run's error.
/// </summary>
[Collection("postgres")]
public sealed class SplitRunCommitTests(PostgresServer server) : IDisposable
{
    private const int Parts = 3;
    private const string TableKey = "postgres/public-items";
    private readonly TempLake _lake = new();

    public void Dispose() => _lake.Dispose();

    private async Task<string> ItemsAsync() => await server.CreateDatabaseAsync("""
        CREATE TABLE public.items (id int8 PRIMARY KEY, note text);
        INSERT INTO items SELECT g, 'v1' FROM generate_series(1, 300) g;
        """);

    private PipelineDefinition Split(string db, bool incremental, string partitionBy = PartitionBySettings.None)
    {
        Environment.SetEnvironmentVariable("DATASPOC_TEST_PG_PASSWORD", PostgresServer.Password);
        return new PipelineDefinition
        {
            Name = "items",
            Source = new SourceDefinition
            {
                Tap = "postgres",
                InlineConfig = new JsonObject
                {
                    ["host"] = "127.0.0.1", ["port"] = server.Port, ["user"] = "postgres", ["password"] = "${DATASPOC_TEST_PG_PASSWORD}", ["dbname"] = db,
                    ["sslmode"] = "disable", ["filter_tables"] = new JsonArray("public.items"),
                    ["replication_keys"] = new JsonObject { ["public-items"] = "id" },
                },
                Split = new SplitSettings("id", Parts, Parts),
            },
            Destination = new DestinationDefinition { Bucket = _lake.Bucket, PartitionBy = partitionBy },
            Incremental = new IncrementalSettings { Enabled = incremental },
        };
    }

    /// <summary>A replay-tap pipeline landing <paramref name="ids"/> in the split pipeline's table (source 'postgres', stream 'public-items').</summary>
    private PipelineDefinition Other(string name, IEnumerable<int> ids, string note, WriteMode mode) =>
        _lake.Pipeline(name, _lake.WriteSinger(name + ".jsonl",
            [
                """{"type":"SCHEMA","stream":"public-items","schema":{"type":"object","properties":{"id":{"type":"integer"},"note":{"type":["null","string"]}}},"key_properties":["id"]}""",
                .. ids.Select(i => $$$"""{"type":"RECORD","stream":"public-items","record":{"id":{{{i}}},"note":"{{{note}}}"}}"""),
            ]), p => p with
            {
                Source = p.Source with { Name = "postgres" },
                Destination = p.Destination with { PartitionBy = PartitionBySettings.None, WriteMode = mode },
            });

    private static RunOptions Options(int? part = null, string splitRun = "", HomePipelines? home = null)
    {
        Assert.True(BuiltInTaps.TryGet("postgres", out var tap));
        return new RunOptions { Source = new BuiltInSource(tap), Part = part is { } i ? new SplitPart(i, Parts, splitRun) : null, HomePipelines = home };
    }

    /// <summary>Every part of split run <paramref name="splitRun"/>, one after another; the last (which commits) through <paramref name="last"/>.</summary>
    private static async Task<RunResult> PartsAsync(PipelineDefinition pipeline, string splitRun, PipelineRunner last, HomePipelines? home = null)
    {
        for (var i = 0; i < Parts - 1; i++)
        {
            var staged = await new PipelineRunner(new ObjectStoreFactory()).RunAsync(pipeline, Options(i, splitRun, home), CancellationToken.None);
            Assert.True(staged.Succeeded, staged.Log.Error);
        }
        return await last.RunAsync(pipeline, Options(Parts - 1, splitRun, home), CancellationToken.None);
    }

    private List<List<string?>> Rows() =>
        _lake.Query("SELECT note, count(*), count(DISTINCT id) FROM read_parquet('{lake}/raw/postgres/public-items/**/*.parquet') GROUP BY note ORDER BY note");

    [Fact]
    public async Task A_split_run_that_cannot_be_closed_after_its_commit_is_reported_committed_and_its_next_commit_parts_closes_it()
    {
        // As a store failing exactly there: committed.json is written after the manifest counts the split run's rows.
        var db = await ItemsAsync();
        var split = Split(db, incremental: false);
        var committedKey = LakePaths.SplitCommittedKey("items", "close-1");
        var committedWrites = 0;
        var failing = new ObjectStoreFactory();
        failing.Register("file", (uri, _) => new FaultingStore(new LocalObjectStore(uri), failPut: key => key == committedKey && ++committedWrites > 0));
        var left = "committed; split run close-1 is closed (committed.json written, its staged files removed) by its next " +
            "'run items --commit-parts --split-run close-1', which lands nothing again: finishing the commit failed twice: simulated failure writing " + committedKey;

        var last = await PartsAsync(split, "close-1", new PipelineRunner(failing));

        Assert.True(last.Succeeded, last.Log.Error);
        Assert.Equal(2, committedWrites); // closing was tried once more
        Assert.Equal(left, Assert.Single(last.Log.Warnings));
        Assert.Contains(last.Log.Notices, n => n.StartsWith("committed split run close-1: 3 parts, 300 rows", StringComparison.Ordinal));
        Assert.Equal([["v1", "300", "300"]], Rows());
        Assert.Equal(300, _lake.Manifest().Tables[TableKey].RowCount);

        // --commit-parts finds the split run landed and only closes it; failing again, it is the same committed warning.
        var again = await new PipelineRunner(failing).CommitPartsAsync(split, "close-1", null, CancellationToken.None);

        Assert.True(again.Succeeded, again.Log.Error);
        Assert.Equal(left, Assert.Single(again.Log.Warnings));
        Assert.Contains("split run close-1 had landed before its worker stopped; closed it", again.Log.Notices);

        var closed = await new PipelineRunner(new ObjectStoreFactory()).CommitPartsAsync(split, "close-1", null, CancellationToken.None);

        Assert.True(closed.Succeeded, closed.Log.Error);
        Assert.Empty(closed.Log.Warnings);
        Assert.Equal([["v1", "300", "300"]], Rows());
        Assert.Equal(300, _lake.Manifest().Tables[TableKey].RowCount);
        Assert.Equal([committedKey], _lake.Keys().Where(k => k.StartsWith(LakePaths.SplitRunPrefix("items", "close-1"), StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_split_full_reload_of_a_table_another_source_appended_to_between_its_plan_and_its_commit_plans_again_and_fails()
    {
        var db = await ItemsAsync();
        var split = Split(db, incremental: false);
        var app = Other("app", Enumerable.Range(1001, 5), "A", WriteMode.Append);
        var pipelines = new Dictionary<string, PipelineDefinition> { ["items"] = split, ["app"] = app };
        var home = new HomePipelines(pipelines.Keys, name => pipelines.GetValueOrDefault(name)?.Source);
        Assert.True((await new PipelineRunner(new ObjectStoreFactory()).RunAsync(split, Options(home: home), CancellationToken.None)).Succeeded);
        await server.ExecuteAsync(db, "UPDATE items SET note = 'v2'");

        // The committing part has planned (on the table its own pipeline wrote) and waits at its commit's first journal write while app commits.
        RunResult? appended = null;
        var once = 0;
        var refused = await PartsAsync(split, "reload-1", MeetingStore.Runner(async () =>
        {
            if (Interlocked.Increment(ref once) == 1)
                appended = await new PipelineRunner(new ObjectStoreFactory()).RunAsync(app, new RunOptions { HomePipelines = home }, CancellationToken.None);
        }), home);

        Assert.True(appended!.Succeeded, appended.Log.Error);
        Assert.False(refused.Succeeded);
        // Planned again: its first plan saw the table its own pipeline wrote; the failed run's log says so too.
        Assert.Contains(refused.Log.Notices, n => n.StartsWith($"planned the commit again (attempt 2): table {TableKey} ", StringComparison.Ordinal));
        Assert.Contains($"table {TableKey} ({_lake.Bucket}/raw/postgres/public-items/) was last written by pipeline 'app', which reads another source: " +
            "this run of 'items' would replace the table", refused.Log.Error);
        Assert.Equal([["A", "5", "5"], ["v1", "300", "300"]], Rows());
    }

    [Fact]
    public async Task A_split_full_reload_waits_for_a_merge_committing_to_its_table_and_keeps_what_that_merge_wrote()
    {
        var db = await ItemsAsync();
        var split = Split(db, incremental: false);
        Assert.True((await new PipelineRunner(new ObjectStoreFactory()).RunAsync(split, Options(), CancellationToken.None)).Succeeded);
        await server.ExecuteAsync(db, "UPDATE items SET note = 'v2'");

        // The merge of keys 1..10 stops once its files landed (its journal says "landed"), the table's commit claim held,
        // until the split commit asks for that claim (or, if it never does, until the split commit ended).
        var mergeLanded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var mergeGoesOn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var mergeJournalWrites = 0;
        var mergeRunner = MeetingStore.Runner(async () =>
        {
            if (Interlocked.Increment(ref mergeJournalWrites) != 2) return;
            mergeLanded.TrySetResult();
            await mergeGoesOn.Task.WaitAsync(TimeSpan.FromSeconds(60));
        });
        Task<RunResult>? merge = null;
        var claimAsked = false;
        var splitRunner = MeetingStore.Runner(async key =>
        {
            // The split commit has planned (on the table before the merge); the merge starts and lands its files.
            if (key.StartsWith(".dataspoc/journal/", StringComparison.Ordinal) && merge is null)
            {
                merge = mergeRunner.RunAsync(Other("m", Enumerable.Range(1, 10), "m", WriteMode.Merge), new RunOptions(), CancellationToken.None);
                await mergeLanded.Task.WaitAsync(TimeSpan.FromSeconds(120));
            }
            if (key == ".dataspoc/claims/raw/postgres/public-items/_table-commit.claim")
            {
                claimAsked = true;
                mergeGoesOn.TrySetResult();
            }
        });

        var reload = await PartsAsync(split, "reload-2", splitRunner);
        mergeGoesOn.TrySetResult();
        var merged = await merge!;

        Assert.True(merged.Succeeded, merged.Log.Error);
        Assert.True(reload.Succeeded, reload.Log.Error);
        Assert.True(claimAsked, "the split commit did not ask for the table's commit claim");
        // The split commit waited for the merge's, then found the table changed and planned again: the merge's files, written
        // after the split run began, are kept (with the notice a whole run's replace gives), and counted.
        // (A split commit's run log says all it did in one notice.)
        var said = string.Join(" | ", reload.Log.Notices);
        Assert.Contains($"planned the commit again (attempt 2): table {TableKey} ", said);
        Assert.Contains($"stream 'public-items': kept 2 file(s) of table {TableKey} that run(s) {merged.Log.RunId}", said);
        Assert.Equal([["m", "10", "10"], ["v1", "290", "290"], ["v2", "300", "300"]], Rows());
        Assert.Equal(600, _lake.Manifest().Tables[TableKey].RowCount);
        Assert.Empty(_lake.Keys().Where(k => k.StartsWith(".dataspoc/claims/", StringComparison.Ordinal) && !k.EndsWith(".lck", StringComparison.Ordinal)).ToList());
    }

    [Fact]
    public async Task A_merge_waits_for_the_split_commit_holding_its_tables_claim_instead_of_taking_it_for_dead()
    {
        var db = await ItemsAsync();
        var split = Split(db, incremental: false);
        Assert.True((await new PipelineRunner(new ObjectStoreFactory()).RunAsync(split, Options(), CancellationToken.None)).Succeeded);
        await server.ExecuteAsync(db, "UPDATE items SET note = 'v2'");

        // The split commit stops once its files landed (its journal says "landed"), the table's claim held; a merge of the
        // table then asks for the claim, and the split commit goes on half a second later. The claim names the split run
        // (s + hash) and the lock the worker's run: the merge must see the lock's holder alive and wait.
        var splitGoesOn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var mergeRunner = MeetingStore.Runner(key =>
        {
            if (key == ".dataspoc/claims/raw/postgres/public-items/_table-commit.claim")
                _ = Task.Delay(500).ContinueWith(_ => splitGoesOn.TrySetResult(), TaskScheduler.Default);
            return Task.CompletedTask;
        });
        Task<RunResult>? merge = null;
        var splitJournalWrites = 0;
        var reload = await PartsAsync(split, "reload-3", MeetingStore.Runner(async () =>
        {
            if (Interlocked.Increment(ref splitJournalWrites) != 2) return;
            merge = mergeRunner.RunAsync(Other("m", Enumerable.Range(1, 10), "m", WriteMode.Merge), new RunOptions(), CancellationToken.None);
            await splitGoesOn.Task.WaitAsync(TimeSpan.FromSeconds(120));
        }));
        var merged = await merge!;

        Assert.True(reload.Succeeded, reload.Log.Error);
        Assert.True(merged.Succeeded, merged.Log.Error);
        Assert.DoesNotContain(merged.Log.Notices, n => n.Contains("which no longer runs", StringComparison.Ordinal));
        Assert.Equal([["m", "10", "10"], ["v2", "290", "290"]], Rows());
        Assert.Equal(300, _lake.Manifest().Tables[TableKey].RowCount);
    }

    [Fact]
    public async Task A_split_append_in_another_partition_layout_than_the_plain_tables_files_is_refused_as_a_whole_runs_before_anything_lands()
    {
        var db = await ItemsAsync();
        Assert.True((await new PipelineRunner(new ObjectStoreFactory()).RunAsync(Split(db, incremental: true), Options(), CancellationToken.None)).Succeeded);
        var landed = _lake.ParquetKeys();
        await server.ExecuteAsync(db, "INSERT INTO items SELECT g, 'v2' FROM generate_series(301, 330) g");
        var dated = Split(db, incremental: true, partitionBy: PartitionBySettings.ExtractionDate);

        var whole = await new PipelineRunner(new ObjectStoreFactory()).RunAsync(dated, Options(), CancellationToken.None);
        var parts = await PartsAsync(dated, "append-1", new PipelineRunner(new ObjectStoreFactory()));

        Assert.False(whole.Succeeded);
        Assert.Contains("keeps 1 data file(s) unpartitioned (files in the table folder)", whole.Log.Error);
        Assert.False(parts.Succeeded);
        Assert.Equal(whole.Log.Error, parts.Log.Error);
        Assert.Equal(landed, _lake.ParquetKeys());
        Assert.Equal([["v1", "300", "300"]], Rows());
    }
    [Fact]
    public async Task A_split_append_that_newly_hashes_a_column_the_table_holds_says_its_earlier_rows_keep_clear_text_once()
    {
        var db = await ItemsAsync();
        Assert.True((await new PipelineRunner(new ObjectStoreFactory()).RunAsync(Split(db, incremental: true), Options(), CancellationToken.None)).Succeeded);
        var hashing = Split(db, incremental: true) with { Transforms = new Dictionary<string, JsonNode?> { ["public-items"] = new JsonObject { ["hash"] = new JsonArray("note") } } };

        await server.ExecuteAsync(db, "INSERT INTO items SELECT g, 'v2' FROM generate_series(301, 330) g");
        var first = await PartsAsync(hashing, "hash-1", new PipelineRunner(new ObjectStoreFactory()));
        Assert.True(first.Succeeded, first.Log.Error);
        Assert.Contains($"stream 'public-items': column(s) 'note' hashed by this run but not by the last run that wrote table {TableKey}: the 300 row(s) the table " +
            "held before this run keep their values in clear text beside the hashed ones; run --full to rehash them", first.Log.Warnings);
        Assert.Equal(["note"], _lake.Manifest().Tables[TableKey].HashedColumns!);

        await server.ExecuteAsync(db, "INSERT INTO items SELECT g, 'v3' FROM generate_series(331, 340) g");
        var again = await PartsAsync(hashing, "hash-2", new PipelineRunner(new ObjectStoreFactory()));
        Assert.True(again.Succeeded, again.Log.Error);
        Assert.Empty(again.Log.Warnings);
    }

    [Fact]
    public async Task Only_the_part_that_commits_a_split_run_saves_the_catalog_it_discovered()
    {
        var db = await ItemsAsync();
        // source.streams makes the run discover (and so cache) the tap's catalog.
        var split = Split(db, incremental: true);
        var pipeline = split with { FilePath = _lake.PipelineFile("items"), Source = split.Source with { Streams = ["public-items"] } };
        var cache = TapCatalogs.CachePath(pipeline)!;

        // The cache is the baseline of the next run's change notices: a part that only staged may never be committed.
        var staged = await new PipelineRunner(new ObjectStoreFactory()).RunAsync(pipeline, Options(0, "catalog-1"), CancellationToken.None);
        Assert.True(staged.Succeeded, staged.Log.Error);
        Assert.Contains(staged.Log.Notices, n => n.Contains("is staged", StringComparison.Ordinal));
        Assert.False(File.Exists(cache), "a part that only staged saved the catalog cache");

        for (var i = 1; i < Parts; i++)
        {
            var part = await new PipelineRunner(new ObjectStoreFactory()).RunAsync(pipeline, Options(i, "catalog-1"), CancellationToken.None);
            Assert.True(part.Succeeded, part.Log.Error);
        }
        Assert.True(File.Exists(cache), "the part that committed did not save the catalog cache");
    }

    [Fact]
    public async Task A_split_run_staged_partitioned_is_not_committed_after_partition_by_changed_to_none_beside_the_unpartitioned_files()
    {
        var db = await ItemsAsync();
        var plain = Split(db, incremental: true);
        Assert.True((await new PipelineRunner(new ObjectStoreFactory()).RunAsync(plain, Options(), CancellationToken.None)).Succeeded);
        var landed = _lake.ParquetKeys();
        await server.ExecuteAsync(db, "INSERT INTO items SELECT g, 'v2' FROM generate_series(301, 330) g");

        // The parts are staged in dt= folders; the last part's commit is refused (the table is unpartitioned). The user then
        // sets partition_by: none, as the refusal suggests, and commits the staged parts.
        var parts = await PartsAsync(Split(db, incremental: true, partitionBy: PartitionBySettings.ExtractionDate), "append-2", new PipelineRunner(new ObjectStoreFactory()));
        Assert.False(parts.Succeeded);
        var committed = await new PipelineRunner(new ObjectStoreFactory()).CommitPartsAsync(plain, "append-2", null, CancellationToken.None);

        Assert.False(committed.Succeeded);
        Assert.Contains("split run append-2 of pipeline 'items': 3 staged file(s) are partitioned by 'dt' (dt= folders) (part 0, stream 'public-items', folder dt=", committed.Log.Error);
        Assert.Contains("but the pipeline now has partition_by: none, which lands files unpartitioned (files in the table folder): the partitioning changed during the split run", committed.Log.Error);
        Assert.Equal(landed, _lake.ParquetKeys());
        Assert.Equal([["v1", "300", "300"]], Rows());
    }
    [Fact]
    public async Task A_plain_full_reload_meeting_a_split_full_reloads_commit_waits_for_it_and_leaves_its_own_rows_counted_once()
    {
        // Tester's F6: the plain replace committed in the middle of the split commit; the table held both, the manifest one,
        // and two files shared index 0024.
        var db = await ItemsAsync();
        var split = Split(db, incremental: false);
        Assert.True((await new PipelineRunner(new ObjectStoreFactory()).RunAsync(split, Options(), CancellationToken.None)).Succeeded);
        await server.ExecuteAsync(db, "UPDATE items SET note = 'v2'");

        // The split commit's files landed (its journal says so next), the table's claim held; it waits there until the
        // plain reload's commit finds that claim held (it then waits) or, if it never asks for it, has committed.
        var splitGoesOn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<RunResult>? plain = null;
        var journalWrites = 0;
        var reload = await PartsAsync(split, "reload-4", MeetingStore.Runner(async () =>
        {
            if (Interlocked.Increment(ref journalWrites) != 2) return;
            plain = MeetingStore.FindingClaimHeld(_lake.Root, ".dataspoc/claims/raw/postgres/public-items/_table-commit.claim", splitGoesOn)
                .RunAsync(Other("m", Enumerable.Range(1, 10), "m", WriteMode.Append), new RunOptions { Full = true }, CancellationToken.None);
            await Task.WhenAny(plain, splitGoesOn.Task).WaitAsync(TimeSpan.FromSeconds(120));
        }));
        var replaced = await plain!;

        Assert.True(reload.Succeeded, reload.Log.Error);
        Assert.True(replaced.Succeeded, replaced.Log.Error);
        Assert.True(splitGoesOn.Task.IsCompleted, "the plain reload's commit did not meet the split commit's claim");
        // The split commit's files landed before the plain reload began: it replaced them.
        Assert.Equal([["m", "10", "10"]], Rows());
        Assert.Equal(_lake.PlainTableTotals("raw/postgres/public-items"), _lake.ManifestTotals(TableKey));
        Assert.Equal(10, _lake.Manifest().Tables[TableKey].RowCount);
        var names = Directory.EnumerateFiles(Path.Combine(_lake.Root, "raw", "postgres", "public-items"), "*.parquet", SearchOption.AllDirectories).Select(Path.GetFileName).ToList();
        Assert.Equal(names.Count, names.Select(n => DataSpoc.Pipe.Lake.LakePaths.DataFileIndex("public-items", n!)).Distinct().Count());
    }
}
