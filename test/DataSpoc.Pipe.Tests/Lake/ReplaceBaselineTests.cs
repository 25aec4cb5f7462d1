using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Parquet;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tables;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Lake;

/// <summary>
/// A replace (full reload) of a table another pipeline commits to while the replace runs. Its tap holds its snapshot of
/// the source (the replay tap's "hold") while the other run commits, or its commit waits at its journal while the other
/// commits: rows the other committed, which its state is past, must not be deleted.
/// </summary>
public sealed class ReplaceBaselineTests(Xunit.Abstractions.ITestOutputHelper output) : IDisposable
{
    private readonly TempLake _lake = new();

    public void Dispose() => _lake.Dispose();

    private const string Schema = """{"type":"SCHEMA","stream":"t","schema":{"type":"object","properties":{"id":{"type":"integer"},"tag":{"type":["null","string"]}}},"key_properties":["id"]}""";

    private static IEnumerable<string> Records(int from, int to, string tag) =>
        Enumerable.Range(from, to - from + 1).Select(i => $$$"""{"type":"RECORD","stream":"t","record":{"id":{{{i}}},"tag":"{{{tag}}}"}}""");

    private string Hold => Path.Combine(_lake.Root + "-inputs", "hold");

    private PipelineDefinition Pipeline(string name, string file, bool incremental, TableFormats formats = TableFormats.Parquet, WriteMode mode = WriteMode.Append) =>
        _lake.Pipeline(name, file, p => p with
        {
            Incremental = new IncrementalSettings { Enabled = incremental },
            Destination = p.Destination with { PartitionBy = PartitionBySettings.None, TableFormat = formats, WriteMode = mode },
        }, new JsonObject { ["incremental"] = true, ["hold"] = Hold });

    private static Task<RunResult> RunAsync(PipelineDefinition p, bool full, HomePipelines? home = null, PipelineRunner? runner = null) =>
        (runner ?? new PipelineRunner(new ObjectStoreFactory())).RunAsync(p, new RunOptions { Full = full, HomePipelines = home }, CancellationToken.None);

    /// <summary>Starts <paramref name="run"/>, whose tap holds after reading its snapshot; runs <paramref name="meanwhile"/>; lets it go on.</summary>
    private async Task<RunResult> HeldAsync(Func<Task<RunResult>> run, Func<Task> meanwhile)
    {
        File.WriteAllText(Hold, "");
        var held = run();
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (!File.Exists(Hold + ".held"))
        {
            Assert.False(held.IsCompleted, $"the run ended before its tap held: {(held.IsCompletedSuccessfully ? held.Result.Log.Error : held.Exception?.Message)}");
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(120), "the tap did not hold");
            await Task.Delay(50);
        }
        await meanwhile();
        File.WriteAllText(Hold + ".release", "");
        return await held;
    }

    private List<List<string?>> Rows() =>
        _lake.Query("SELECT tag, count(*), count(DISTINCT id), min(id), max(id) FROM read_parquet('{lake}/raw/test/t/*.parquet') GROUP BY tag ORDER BY tag");

    [Fact]
    public async Task A_full_reload_keeps_the_rows_an_incremental_pipeline_of_the_same_source_committed_during_its_extraction()
    {
        // One source, read by both: ids 1..40 when the reload's tap reads it, 41..60 inserted while the reload runs.
        var source = _lake.WriteSinger("source.jsonl", [Schema, .. Records(1, 40, "s")]);
        var (incremental, reload) = (Pipeline("inc", source, incremental: true), Pipeline("full", source, incremental: false));
        Assert.True((await RunAsync(incremental, full: false)).Succeeded);

        RunResult? during = null;
        var replaced = await HeldAsync(() => RunAsync(reload, full: true), async () =>
        {
            File.AppendAllLines(source, Records(41, 60, "s"));
            during = await RunAsync(incremental, full: false);
        });

        Assert.True(during!.Succeeded, during.Log.Error);
        Assert.Equal(20, during.Log.TotalRecords);
        Assert.True(replaced.Succeeded, replaced.Log.Error);
        Assert.Contains(replaced.Log.Notices, n => n.StartsWith($"stream 't': kept 1 file(s) of table test/t that run(s) {during.Log.RunId}", StringComparison.Ordinal));
        // The reload's 1..40 replace the incremental pipeline's first 1..40; its 41..60, which its state is past, stay.
        Assert.Equal([["s", "60", "60", "1", "60"]], Rows());
        Assert.Equal(60, _lake.Manifest().Tables["test/t"].RowCount);
        Assert.Equal(0, (await RunAsync(incremental, full: false)).Log.TotalRecords);
    }

    [Fact]
    public async Task An_iceberg_and_delta_full_reload_that_another_run_committed_to_during_its_extraction_fails_and_lands_nothing()
    {
        var formats = TableFormats.Iceberg | TableFormats.Delta;
        var source = _lake.WriteSinger("source.jsonl", [Schema, .. Records(1, 40, "s")]);
        var (incremental, reload) = (Pipeline("inc", source, incremental: true, formats), Pipeline("full", source, incremental: false, formats));
        Assert.True((await RunAsync(incremental, full: false)).Succeeded);

        RunResult? during = null;
        var refused = await HeldAsync(() => RunAsync(reload, full: true), async () =>
        {
            File.AppendAllLines(source, Records(41, 60, "s"));
            during = await RunAsync(incremental, full: false);
        });

        Assert.True(during!.Succeeded, during.Log.Error);
        Assert.False(refused.Succeeded);
        Assert.Contains($"run(s) {during.Log.RunId}", refused.Log.Error);
        Assert.EndsWith("would lose them; nothing of this run was committed: run it again", refused.Log.Error);
        Assert.False(refused.Log.StateCommitted);
        var rows = TableReaders.Icebird("file://" + Path.Combine(_lake.Root, "raw", "test", "t"))["rows"]!.AsArray();
        Assert.Equal(Enumerable.Range(1, 60).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            rows.Select(r => r!["id"]!.ToString()).OrderBy(int.Parse));
        Assert.Equal(60, _lake.Manifest().Tables["test/t"].RowCount);
    }

    /// <summary><c>maintain &lt;pipeline&gt; --compact</c> as <c>PipeClient.MaintainAsync</c> runs it: under the pipeline's lock, every table of its source folder.</summary>
    private async Task<TableCompactionResult> CompactAsync(PipelineDefinition pipeline)
    {
        await using var store = new ObjectStoreFactory().Open(_lake.Bucket);
        await using var runLock = await RunLock.AcquireAsync(store, pipeline.Name, "maintain-test", TimeProvider.System, CancellationToken.None);
        return Assert.Single(await new TableCompaction(store, TimeProvider.System).RunAsync(pipeline.Name, Compression.Zstd, 128L * 1024 * 1024, new WriteLimits(),
            MaintainedTables.Of(pipeline), CancellationToken.None, runLock));
    }

    /// <summary>Pipeline 'inc' of two small files of ids 1..40 (tag 'a'), landed before the reload, and the reload of ids 1..40 (tag 'R').</summary>
    private async Task<(PipelineDefinition Incremental, PipelineDefinition Reload)> TwoFilesBeforeTheReloadAsync(TableFormats formats)
    {
        var source = _lake.WriteSinger("source.jsonl", [Schema, .. Records(1, 20, "a")]);
        var incremental = Pipeline("inc", source, incremental: true, formats);
        Assert.True((await RunAsync(incremental, full: false)).Succeeded);
        File.AppendAllLines(source, Records(21, 40, "a"));
        Assert.True((await RunAsync(incremental, full: false)).Succeeded);
        return (incremental, Pipeline("full", _lake.WriteSinger("reload.jsonl", [Schema, .. Records(1, 40, "R")]), incremental: false, formats));
    }

    /// <summary>
    /// A full reload during whose extraction the incremental pipeline's compaction of its two files (both from before the
    /// reload began) committed; the reload succeeded and kept nothing.
    /// </summary>
    private async Task<RunResult> ReloadWithCompactionOfEarlierFilesDuringItAsync(TableFormats formats)
    {
        var (incremental, reload) = await TwoFilesBeforeTheReloadAsync(formats);
        TableCompactionResult? compacted = null;
        var replaced = await HeldAsync(() => RunAsync(reload, full: true), async () => compacted = await CompactAsync(incremental));

        Assert.Equal(2, compacted!.RewrittenFiles);
        Assert.True(replaced.Succeeded, replaced.Log.Error);
        Assert.DoesNotContain(replaced.Log.Notices, n => n.StartsWith("stream 't': kept ", StringComparison.Ordinal));
        return replaced;
    }

    [Fact]
    public async Task A_full_reload_deletes_the_file_a_compaction_of_files_from_before_it_began_committed_during_its_extraction()
    {
        var replaced = await ReloadWithCompactionOfEarlierFilesDuringItAsync(TableFormats.Parquet);

        // The compacted file held the incremental pipeline's 1..40 of before the reload began: only the reload's rows are left.
        Assert.Equal([["R", "40", "40", "1", "40"]], Rows());
        Assert.Equal(_lake.PlainTableTotals("raw/test/t"), _lake.ManifestTotals("test/t"));
        Assert.Equal(40, _lake.Manifest().Tables["test/t"].RowCount);
    }

    [Fact]
    public async Task An_iceberg_and_delta_full_reload_during_which_a_compaction_of_files_from_before_it_began_committed_replaces_the_table()
    {
        var replaced = await ReloadWithCompactionOfEarlierFilesDuringItAsync(TableFormats.Iceberg | TableFormats.Delta);

        var rows = TableReaders.Icebird("file://" + Path.Combine(_lake.Root, "raw", "test", "t"))["rows"]!.AsArray();
        Assert.Equal(Enumerable.Range(1, 40).Select(i => $"R {i}"), rows.Select(r => $"{r!["tag"]} {r["id"]}").OrderBy(r => int.Parse(r[2..], System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(40, _lake.Manifest().Tables["test/t"].RowCount);
    }

    [Fact]
    public async Task A_full_reload_keeps_the_file_a_compaction_committed_during_its_extraction_when_one_of_its_inputs_was_appended_meanwhile()
    {
        var source = _lake.WriteSinger("source.jsonl", [Schema, .. Records(1, 40, "s")]);
        var (incremental, reload) = (Pipeline("inc", source, incremental: true), Pipeline("full", source, incremental: false));
        Assert.True((await RunAsync(incremental, full: false)).Succeeded);

        RunResult? during = null;
        TableCompactionResult? compacted = null;
        var replaced = await HeldAsync(() => RunAsync(reload, full: true), async () =>
        {
            File.AppendAllLines(source, Records(41, 60, "s"));
            during = await RunAsync(incremental, full: false);
            compacted = await CompactAsync(incremental);
        });

        Assert.True(during!.Succeeded, during.Log.Error);
        Assert.Equal(2, compacted!.RewrittenFiles);
        Assert.True(replaced.Succeeded, replaced.Log.Error);
        // The compacted file holds 41..60, which the reload's snapshot lacks: kept with its 1..40, which are then there twice.
        Assert.Contains(replaced.Log.Notices, n => n.StartsWith("stream 't': kept 1 file(s) of table test/t that run(s) c", StringComparison.Ordinal));
        Assert.Equal([["s", "100", "60", "1", "60"]], Rows());
        Assert.Equal(_lake.PlainTableTotals("raw/test/t"), _lake.ManifestTotals("test/t"));
        Assert.Equal(100, _lake.Manifest().Tables["test/t"].RowCount);
    }

    [Fact]
    public async Task Counting_kept_files_and_checking_a_compactions_inputs_read_their_footers_not_the_files()
    {
        // Random tags: a data file of several MB whatever its compression.
        var random = new Random(5);
        var source = _lake.WriteSinger("big.jsonl", [Schema, .. Enumerable.Range(1, 60_000).Select(i =>
            $$$"""{"type":"RECORD","stream":"t","record":{"id":{{{i}}},"tag":"{{{Convert.ToHexString(RandomBytes(random, 48))}}}"}}""")]);
        Assert.True((await RunAsync(Pipeline("inc", source, incremental: true), full: false)).Succeeded);
        await using var store = new ReadCountingStore(new ObjectStoreFactory().Open(_lake.Bucket));
        var data = Assert.Single(await store.ListAsync("raw/test/t/", CancellationToken.None).ToListAsync());
        Assert.True(data.Size > 4 << 20, $"the data file holds {data.Size} bytes");

        Assert.Equal(new KeptFiles(1, 60_000, data.Size), await ReplaceBaseline.CountAsync(store, [data], CancellationToken.None));
        var countRead = store.BytesRead;

        // A compaction's file of it, recording its input's time: a replace begun after that deletes it, as its footer says.
        var local = Path.Combine(_lake.Root + "-inputs", "compacted.parquet");
        ParquetConcatenation.Concatenate([Path.Combine(_lake.Root, data.Key)], local, Compression.Zstd,
            new Dictionary<string, string?> { [ReplaceBaseline.InputsWrittenBeforeKey] = ReplaceBaseline.InputsWrittenBeforeValue(data.LastModified) });
        var compactedKey = "raw/test/t/" + LakePaths.DataFileName("t", 1, "c1a2b3c4");
        await store.PutFileAsync(compactedKey, local, CancellationToken.None);
        var compacted = Assert.Single(await store.ListAsync(compactedKey, CancellationToken.None).ToListAsync());
        Assert.Equal([compacted], await ReplaceBaseline.CompactedFromBeforeAsync(store, [compacted], data.LastModified.AddSeconds(1), "t", CancellationToken.None));
        var compactionRead = store.BytesRead - countRead;

        output.WriteLine($"count: {countRead:N0} of {data.Size:N0} bytes read; compaction check: {compactionRead:N0} of {compacted.Size:N0}");
        Assert.True(countRead < data.Size / 10, $"counting the kept file read {countRead:N0} of its {data.Size:N0} bytes");
        Assert.True(compactionRead < compacted.Size / 10, $"checking the compaction's file read {compactionRead:N0} of its {compacted.Size:N0} bytes");
    }

    private static byte[] RandomBytes(Random random, int count)
    {
        var bytes = new byte[count];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>'rep' reloads the table from its source; 'app' appends rows of another source to it (another config).</summary>
    private (PipelineDefinition Rep, PipelineDefinition App, HomePipelines Home) AnotherSource()
    {
        var rep = Pipeline("rep", _lake.WriteSinger("rep.jsonl", [Schema, .. Records(1, 20, "R")]), incremental: false);
        var app = Pipeline("app", _lake.WriteSinger("app.jsonl", [Schema, .. Records(1001, 1005, "A")]), incremental: true);
        var pipelines = new Dictionary<string, PipelineDefinition> { ["rep"] = rep, ["app"] = app };
        return (rep, app, new HomePipelines(pipelines.Keys, name => pipelines.GetValueOrDefault(name)?.Source));
    }

    [Fact]
    public async Task A_replace_of_a_table_another_source_appended_to_during_its_extraction_fails_and_deletes_nothing()
    {
        var (rep, app, home) = AnotherSource();
        Assert.True((await RunAsync(rep, full: true, home)).Succeeded);

        RunResult? appended = null;
        var refused = await HeldAsync(() => RunAsync(rep, full: true, home), async () => appended = await RunAsync(app, full: false, home));

        Assert.True(appended!.Succeeded, appended.Log.Error);
        Assert.False(refused.Succeeded);
        Assert.Contains("was last written by pipeline 'app', which reads another source: this run of 'rep' would replace the table", refused.Log.Error);
        Assert.Equal([["A", "5", "5", "1001", "1005"], ["R", "20", "20", "1", "20"]], Rows());
    }

    [Fact]
    public async Task A_replace_of_a_table_another_source_appended_to_between_its_plan_and_its_commit_plans_again_and_fails()
    {
        var (rep, app, home) = AnotherSource();
        Assert.True((await RunAsync(rep, full: true, home)).Succeeded);

        // rep has planned (on the table it wrote itself) and waits at its commit's first journal write while app commits.
        RunResult? appended = null;
        var once = 0;
        var runner = MeetingStore.Runner(async () =>
        {
            if (Interlocked.Increment(ref once) == 1) appended = await RunAsync(app, full: false, home);
        });
        var refused = await RunAsync(rep, full: true, home, runner);

        Assert.True(appended!.Succeeded, appended.Log.Error);
        Assert.False(refused.Succeeded);
        Assert.Contains(refused.Log.Notices, n => n.StartsWith($"planned the commit again (attempt 2): table test/t was committed by run {appended.Log.RunId} of pipeline 'app'", StringComparison.Ordinal));
        Assert.Contains("was last written by pipeline 'app', which reads another source", refused.Log.Error);
        Assert.Equal([["A", "5", "5", "1001", "1005"], ["R", "20", "20", "1", "20"]], Rows());
    }
    private static readonly string ClaimKey = LakePaths.TableCommitClaimKey("raw/test/t/");

    [Fact]
    public async Task A_full_reload_committing_while_a_merge_publishes_its_commit_keeps_the_merges_files_and_counts_them()
    {
        var merging = Pipeline("m", _lake.WriteSinger("base.jsonl", [Schema, .. Records(1, 40, "base")]), incremental: false, mode: WriteMode.Merge);
        Assert.True((await RunAsync(merging, full: false)).Succeeded);
        // The merge replaces keys 1..10 and adds 41..50: the table's row count moves by 10.
        merging = Pipeline("m", _lake.WriteSinger("merge.jsonl", [Schema, .. Records(1, 10, "merged"), .. Records(41, 50, "new")]), incremental: false, mode: WriteMode.Merge);
        var reload = Pipeline("full", _lake.WriteSinger("reload.jsonl", [Schema, .. Records(1, 40, "R")]), incremental: false);

        // The reload has planned and waits at its commit's first journal write while the merge commits up to its manifest
        // write (its files landed, the rewritten file deleted, its table metadata written), where the merge stops until the
        // reload finds the table's commit claim held (it then waits) or, if it never asks for it, has committed.
        var atManifest = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var mergeGoesOn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<RunResult>? merge = null;
        var mergeRunner = MeetingStore.Runner(async key =>
        {
            if (key != LakePaths.ManifestKey || atManifest.Task.IsCompleted) return;
            atManifest.TrySetResult();
            await mergeGoesOn.Task.WaitAsync(TimeSpan.FromSeconds(60));
        });
        var replaced = await RunAsync(reload, full: true, runner: MeetingStore.FindingClaimHeld(_lake.Root, ClaimKey, mergeGoesOn, async key =>
        {
            if (!key.StartsWith(".dataspoc/journal/", StringComparison.Ordinal) || merge is not null) return;
            merge = RunAsync(merging, full: false, runner: mergeRunner);
            await Task.WhenAny(merge, atManifest.Task).WaitAsync(TimeSpan.FromSeconds(120));
        }));
        mergeGoesOn.TrySetResult();
        var merged = await merge!;

        Assert.True(merged.Succeeded, merged.Log.Error);
        Assert.True(replaced.Succeeded, replaced.Log.Error);
        // The merge's files were written after the reload began: kept, named in its log, and counted.
        Assert.Contains(replaced.Log.Notices, n => n.StartsWith("stream 't': kept ", StringComparison.Ordinal) && n.Contains($"run(s) {merged.Log.RunId}", StringComparison.Ordinal));
        Assert.Equal([["R", "40", "40", "1", "40"], ["base", "30", "30", "11", "40"], ["merged", "10", "10", "1", "10"], ["new", "10", "10", "41", "50"]], Rows());
        Assert.Equal(_lake.PlainTableTotals("raw/test/t"), _lake.ManifestTotals("test/t"));
        Assert.Equal(90, _lake.Manifest().Tables["test/t"].RowCount);
    }

    [Fact]
    public async Task An_append_committing_during_a_full_reloads_commit_is_counted_in_the_manifest()
    {
        var source = _lake.WriteSinger("source.jsonl", [Schema, .. Records(1, 40, "s")]);
        var incremental = Pipeline("inc", source, incremental: true);
        Assert.True((await RunAsync(incremental, full: false)).Succeeded);
        var reload = Pipeline("full", _lake.WriteSinger("reload.jsonl", [Schema, .. Records(1, 40, "R")]), incremental: false);

        // The reload's files landed (its journal says so next); it waits there until the incremental run finds the table's
        // commit claim held (it then waits for the reload) or, if it never asks for it, has committed.
        var reloadGoesOn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<RunResult>? append = null;
        var journalWrites = 0;
        var replaced = await RunAsync(reload, full: true, runner: MeetingStore.Runner(async key =>
        {
            if (!key.StartsWith(".dataspoc/journal/", StringComparison.Ordinal) || Interlocked.Increment(ref journalWrites) != 2) return;
            File.AppendAllLines(source, Records(41, 60, "s"));
            append = RunAsync(incremental, full: false, runner: MeetingStore.FindingClaimHeld(_lake.Root, ClaimKey, reloadGoesOn));
            await Task.WhenAny(append, reloadGoesOn.Task).WaitAsync(TimeSpan.FromSeconds(120));
        }));
        var appended = await append!;

        Assert.True(replaced.Succeeded, replaced.Log.Error);
        Assert.True(appended.Succeeded, appended.Log.Error);
        Assert.Equal(20, appended.Log.TotalRecords);
        Assert.Equal([["R", "40", "40", "1", "40"], ["s", "20", "20", "41", "60"]], Rows());
        Assert.Equal(_lake.PlainTableTotals("raw/test/t"), _lake.ManifestTotals("test/t"));
        Assert.Equal(60, _lake.Manifest().Tables["test/t"].RowCount);
    }
    /// <summary>The data files of plain table test/t whose index another file of the table has too.</summary>
    private List<string> SharedIndexes() =>
        Directory.EnumerateFiles(Path.Combine(_lake.Root, "raw", "test", "t"), "*.parquet", SearchOption.AllDirectories).Select(Path.GetFileName)
            .GroupBy(f => LakePaths.DataFileIndex("t", f!)).Where(g => g.Count() > 1).SelectMany(g => g).ToList()!;

    [Fact]
    public async Task Two_full_reloads_of_one_table_by_two_pipelines_committing_at_once_leave_one_reloads_rows_and_a_manifest_that_counts_them()
    {
        // Tester's F6 (two plain replaces meeting): the table held both reloads' rows, the manifest one's, two files shared an index.
        Assert.True((await RunAsync(Pipeline("a", _lake.WriteSinger("base.jsonl", [Schema, .. Records(1, 40, "base")]), incremental: false), full: true)).Succeeded);
        var (a, b) = (Pipeline("a", _lake.WriteSinger("a.jsonl", [Schema, .. Records(1, 40, "A")]), incremental: false),
            Pipeline("b", _lake.WriteSinger("b.jsonl", [Schema, .. Records(1, 40, "B")]), incremental: false));

        // a's files landed (its journal says so next); it waits there until b's commit finds the table's claim held (b then
        // waits for a) or, if b never asks for it, b has committed.
        var aGoesOn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<RunResult>? other = null;
        var journalWrites = 0;
        var first = await RunAsync(a, full: true, runner: MeetingStore.Runner(async key =>
        {
            if (!key.StartsWith(".dataspoc/journal/", StringComparison.Ordinal) || Interlocked.Increment(ref journalWrites) != 2) return;
            other = RunAsync(b, full: true, runner: MeetingStore.FindingClaimHeld(_lake.Root, ClaimKey, aGoesOn));
            await Task.WhenAny(other, aGoesOn.Task).WaitAsync(TimeSpan.FromSeconds(120));
        }));
        var second = await other!;

        Assert.True(first.Succeeded, first.Log.Error);
        Assert.True(second.Succeeded, second.Log.Error);
        Assert.True(aGoesOn.Task.IsCompleted, "b's commit did not meet a's claim");
        // b waited for a's commit, and a's files were written before b began: b's reload replaces them.
        Assert.Equal([["B", "40", "40", "1", "40"]], Rows());
        Assert.Equal(_lake.PlainTableTotals("raw/test/t"), _lake.ManifestTotals("test/t"));
        Assert.Equal(40, _lake.Manifest().Tables["test/t"].RowCount);
        Assert.Empty(SharedIndexes());
    }
}
