using System.Globalization;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Merge;

/// <summary>
/// Two pipelines merging into one plain Parquet table at the same time: both plan against the same base file, then
/// commit. The runs are made to meet after planning (each waits, at its first journal write, for the other to get
/// there), so the race the two would otherwise win only sometimes happens every time.
/// </summary>
public sealed class MergeConcurrencyTests : IDisposable
{
    private readonly TempLake _lake = new();

    public void Dispose() => _lake.Dispose();

    private const string Schema = """{"type":"SCHEMA","stream":"k","schema":{"type":"object","properties":{"id":{"type":"integer"},"v":{"type":["null","string"]}}},"key_properties":["id"]}""";

    private static string Record(int id, string v) => $$$"""{"type":"RECORD","stream":"k","record":{"id":{{{id}}},"v":"{{{v}}}"}}""";

    private PipelineDefinition Pipeline(string name, string file, TableFormats formats = TableFormats.Parquet, WriteMode mode = WriteMode.Merge) =>
        _lake.Pipeline(name, file, p => p with
        {
            Destination = p.Destination with { PartitionBy = PartitionBySettings.None, WriteMode = mode, TableFormat = formats },
        });

    /// <summary>(v, rows, distinct ids) of the table as Iceberg (icebird) and as Delta (its live files, read by DuckDB) read it.</summary>
    private async Task<(List<List<string?>> Iceberg, List<List<string?>> Delta)> TableFormatRowsAsync()
    {
        var tableDir = Path.Combine(_lake.Root, "raw", "test", "k");
        var iceberg = TableReaders.Icebird("file://" + tableDir)["rows"]!.AsArray()
            .GroupBy(r => r!["v"]!.GetValue<string>()).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new List<string?> { g.Key, g.Count().ToString(CultureInfo.InvariantCulture), g.Select(r => r!["id"]!.ToString()).Distinct().Count().ToString(CultureInfo.InvariantCulture) })
            .ToList();
        await using var store = new LocalObjectStore(BucketUri.Parse(_lake.Bucket));
        var delta = new DataSpoc.Pipe.Tables.DeltaTable(store, TimeProvider.System);
        var live = (await delta.LiveFilesAsync("raw/test/k/", await delta.LatestVersionAsync("raw/test/k/", CancellationToken.None), CancellationToken.None)).Keys;
        var deltaRows = _lake.Query("SELECT v, count(*), count(DISTINCT id) FROM read_parquet([" +
            string.Join(", ", live.Select(p => $"'{tableDir}/{Uri.UnescapeDataString(p)}'")) + "]) GROUP BY v ORDER BY v");
        return (iceberg, deltaRows);
    }

    [Fact]
    public async Task Two_merges_of_one_iceberg_and_delta_table_at_once_lose_neither_update()
    {
        var formats = TableFormats.Iceberg | TableFormats.Delta;
        var baseLoad = _lake.WriteSinger("base.jsonl", [Schema, .. Enumerable.Range(0, 1000).Select(i => Record(i, "base"))]);
        Assert.True((await TempLake.RunAsync(Pipeline("cA", baseLoad, formats))).Succeeded);
        var evens = _lake.WriteSinger("evens.jsonl", [Schema, .. Enumerable.Range(0, 500).Select(i => Record(2 * i, "cA"))]);
        var odds = _lake.WriteSinger("odds.jsonl", [Schema, .. Enumerable.Range(0, 500).Select(i => Record(2 * i + 1, "cB"))]);

        var meeting = new JournalMeeting(2);
        var runner = MeetingStore.Runner(meeting.ArriveAsync);
        var results = await Task.WhenAll(TempLake.RunAsync(Pipeline("cA", evens, formats), runner: runner), TempLake.RunAsync(Pipeline("cB", odds, formats), runner: runner));

        Assert.True(meeting.Met, "the two runs did not both reach their commit");
        Assert.All(results, r => Assert.True(r.Succeeded, r.Log.Error));
        // Both rewrote the one base file: the second to claim it plans again on the table the first left.
        Assert.Contains(results, r => r.Log.Notices.Any(n => n.StartsWith("planned the commit again", StringComparison.Ordinal)));
        var (iceberg, delta) = await TableFormatRowsAsync();
        List<List<string?>> expected = [["cA", "500", "500"], ["cB", "500", "500"]];
        Assert.Equal(expected, iceberg);
        Assert.Equal(expected, delta);
        Assert.Equal(1000, _lake.Manifest().Tables["test/k"].RowCount);
        Assert.Empty(_lake.Keys().Where(k => k.StartsWith(".dataspoc/claims/", StringComparison.Ordinal) && !k.EndsWith(".lck", StringComparison.Ordinal)).ToList());
    }

    [Fact]
    public async Task An_append_landing_while_a_merge_commits_stays_in_the_iceberg_and_delta_table()
    {
        var formats = TableFormats.Iceberg | TableFormats.Delta;
        var baseLoad = _lake.WriteSinger("base.jsonl", [Schema, .. Enumerable.Range(0, 1000).Select(i => Record(i, "base"))]);
        Assert.True((await TempLake.RunAsync(Pipeline("cA", baseLoad, formats))).Succeeded);
        var updates = _lake.WriteSinger("updates.jsonl", [Schema, .. Enumerable.Range(0, 100).Select(i => Record(i, "merged"))]);
        var appended = _lake.WriteSinger("appended.jsonl", [Schema, .. Enumerable.Range(5000, 300).Select(i => Record(i, "appended"))]);

        // The merge plans on the base table, then waits at its commit while the append lands whole.
        var merging = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var appendDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var merge = TempLake.RunAsync(Pipeline("cA", updates, formats), runner: MeetingStore.Runner(() =>
        {
            merging.TrySetResult();
            return appendDone.Task.WaitAsync(TimeSpan.FromSeconds(60));
        }));
        await merging.Task.WaitAsync(TimeSpan.FromSeconds(120));
        var append = await TempLake.RunAsync(Pipeline("cB", appended, formats, WriteMode.Append));
        appendDone.TrySetResult();
        var results = new[] { await merge, append };
        Assert.All(results, r => Assert.True(r.Succeeded, r.Log.Error));
        var (iceberg, delta) = await TableFormatRowsAsync();
        List<List<string?>> expected = [["appended", "300", "300"], ["base", "900", "900"], ["merged", "100", "100"]];
        Assert.Equal(expected, iceberg);
        Assert.Equal(expected, delta);
    }

    [Fact]
    public async Task Two_merges_of_one_table_at_once_keep_one_row_per_key_and_an_exact_row_count()
    {
        var baseLoad = _lake.WriteSinger("base.jsonl", [Schema, .. Enumerable.Range(0, 1000).Select(i => Record(i, "base"))]);
        Assert.True((await TempLake.RunAsync(Pipeline("cA", baseLoad))).Succeeded);
        var evens = _lake.WriteSinger("evens.jsonl", [Schema, .. Enumerable.Range(0, 500).Select(i => Record(2 * i, "cA"))]);
        var odds = _lake.WriteSinger("odds.jsonl", [Schema, .. Enumerable.Range(0, 500).Select(i => Record(2 * i + 1, "cB"))]);

        var meeting = new JournalMeeting(2);
        var runner = MeetingStore.Runner(meeting.ArriveAsync);
        var results = await Task.WhenAll(TempLake.RunAsync(Pipeline("cA", evens), runner: runner), TempLake.RunAsync(Pipeline("cB", odds), runner: runner));

        Assert.True(meeting.Met, "the two runs did not both reach their commit");
        Assert.All(results, r => Assert.True(r.Succeeded, r.Log.Error));
        Assert.Equal([["cA", "500", "500"], ["cB", "500", "500"]],
            _lake.Query("SELECT v, count(*), count(DISTINCT id) FROM read_parquet('{lake}/raw/test/k/*.parquet') GROUP BY v ORDER BY v"));
        Assert.Equal(1000, _lake.Manifest().Tables["test/k"].RowCount);
        // Every claim was released (file:// keeps the empty .lck sidecar of a conditional write, which no listing shows).
        Assert.Empty(_lake.Keys().Where(k => k.StartsWith(".dataspoc/claims/", StringComparison.Ordinal) && !k.EndsWith(".lck", StringComparison.Ordinal)).ToList());
        Assert.Contains(results, r => r.Log.Notices.Any(n => n.StartsWith("planned the commit again", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData(TableFormats.Parquet)]
    [InlineData(TableFormats.Iceberg | TableFormats.Delta)]
    public async Task Two_merges_sending_keys_new_to_the_table_at_once_land_each_key_once(TableFormats formats)
    {
        // A fresh table: neither merge rewrites a file (nothing to claim), each would only add its keys.
        var first = _lake.WriteSinger("first.jsonl", [Schema, .. Enumerable.Range(0, 300).Select(i => Record(i, "cA"))]);
        var second = _lake.WriteSinger("second.jsonl", [Schema, .. Enumerable.Range(0, 300).Select(i => Record(i, "cB"))]);

        var meeting = new JournalMeeting(2);
        var runner = MeetingStore.Runner(meeting.ArriveAsync);
        var results = await Task.WhenAll(TempLake.RunAsync(Pipeline("cA", first, formats), runner: runner), TempLake.RunAsync(Pipeline("cB", second, formats), runner: runner));

        Assert.True(meeting.Met, "the two runs did not both reach their commit");
        Assert.All(results, r => Assert.True(r.Succeeded, r.Log.Error));
        // The second to commit found the first's file in the table and merged into it: the later run's row per key.
        var again = Assert.Single(results, r => r.Log.Notices.Any(n => n.StartsWith("planned the commit again", StringComparison.Ordinal)));
        Assert.True(again.Log.Notices.Any(n => n.Contains("changed after this run planned its commit on 0 file(s): another commit added 1", StringComparison.Ordinal)),
            string.Join("\n", again.Log.Notices));
        var winner = again.Log.Pipeline;
        List<List<string?>> expected = [[winner, "300", "300"]];
        if (formats == TableFormats.Parquet)
            Assert.Equal(expected, _lake.Query("SELECT v, count(*), count(DISTINCT id) FROM read_parquet('{lake}/raw/test/k/*.parquet') GROUP BY v ORDER BY v"));
        else
        {
            var (iceberg, delta) = await TableFormatRowsAsync();
            Assert.Equal(expected, iceberg);
            Assert.Equal(expected, delta);
        }
        Assert.Equal(300, _lake.Manifest().Tables["test/k"].RowCount);
        Assert.Empty(_lake.Keys().Where(k => k.StartsWith(".dataspoc/claims/", StringComparison.Ordinal) && !k.EndsWith(".lck", StringComparison.Ordinal)).ToList());
    }
    private static readonly string ClaimKey = LakePaths.TableCommitClaimKey("raw/test/k/");

    private List<List<string?>> PlainRows() =>
        _lake.Query("SELECT v, count(*), count(DISTINCT id) FROM read_parquet('{lake}/raw/test/k/*.parquet') GROUP BY v ORDER BY v");

    [Fact]
    public async Task An_append_committing_while_a_merge_commits_keeps_every_row_and_the_manifest_counts_the_tables_files()
    {
        var baseLoad = _lake.WriteSinger("base.jsonl", [Schema, .. Enumerable.Range(0, 1000).Select(i => Record(i, "base"))]);
        Assert.True((await TempLake.RunAsync(Pipeline("cA", baseLoad))).Succeeded);
        // The merge replaces keys 0..99 and adds 2000..2049; the append sends 950..1049, 50 of them keys the table has.
        var updates = _lake.WriteSinger("updates.jsonl", [Schema, .. Enumerable.Range(0, 100).Select(i => Record(i, "merged")), .. Enumerable.Range(2000, 50).Select(i => Record(i, "new"))]);
        var appended = _lake.WriteSinger("appended.jsonl", [Schema, .. Enumerable.Range(950, 100).Select(i => Record(i, "appended"))]);

        // The merge stops once its files landed (journal "landed"), until the append finds the table's commit claim held
        // (it then waits for the merge) or, if it never asks for it, has committed.
        var mergeLanded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var mergeGoesOn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var journalWrites = 0;
        var merge = TempLake.RunAsync(Pipeline("cA", updates), runner: MeetingStore.Runner(async () =>
        {
            if (Interlocked.Increment(ref journalWrites) != 2) return;
            mergeLanded.TrySetResult();
            await mergeGoesOn.Task.WaitAsync(TimeSpan.FromSeconds(60));
        }));
        await mergeLanded.Task.WaitAsync(TimeSpan.FromSeconds(120));
        var append = await TempLake.RunAsync(Pipeline("cB", appended, mode: WriteMode.Append), runner: MeetingStore.FindingClaimHeld(_lake.Root, ClaimKey, mergeGoesOn));
        mergeGoesOn.TrySetResult();
        var merged = await merge;

        Assert.True(merged.Succeeded, merged.Log.Error);
        Assert.True(append.Succeeded, append.Log.Error);
        // An append keeps its rows as they are (keys 950..999 twice, as after any append to a merge table); the merge's are merged.
        Assert.Equal([["appended", "100", "100"], ["base", "900", "900"], ["merged", "100", "100"], ["new", "50", "50"]], PlainRows());
        Assert.Equal(_lake.PlainTableTotals("raw/test/k"), _lake.ManifestTotals("test/k"));
        Assert.Equal(1150, _lake.Manifest().Tables["test/k"].RowCount);
        Assert.Empty(_lake.Keys().Where(k => k.StartsWith(".dataspoc/claims/", StringComparison.Ordinal) && !k.EndsWith(".lck", StringComparison.Ordinal)).ToList());
    }

    [Fact]
    public async Task A_merge_does_not_merge_in_the_files_of_an_append_that_landed_them_and_then_failed()
    {
        var baseLoad = _lake.WriteSinger("base.jsonl", [Schema, .. Enumerable.Range(0, 1000).Select(i => Record(i, "base"))]);
        Assert.True((await TempLake.RunAsync(Pipeline("cA", baseLoad))).Succeeded);
        var updates = _lake.WriteSinger("updates.jsonl", [Schema, .. Enumerable.Range(0, 50).Select(i => Record(i, "merged"))]);
        var appended = _lake.WriteSinger("appended.jsonl", [Schema, .. Enumerable.Range(0, 100).Select(i => Record(i, "appended"))]);

        // The append's file landed; before its journal says so, the merge runs (and plans on that file), then the append's
        // store fails: the append rolls back (its file deleted, nothing of it committed, its state untouched).
        Task<RunResult>? merge = null;
        var mergeWaits = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var journalWrites = 0;
        var append = await TempLake.RunAsync(Pipeline("cB", appended, mode: WriteMode.Append), runner: MeetingStore.Runner(async key =>
        {
            if (!key.StartsWith(".dataspoc/journal/", StringComparison.Ordinal) || Interlocked.Increment(ref journalWrites) != 2) return;
            merge = TempLake.RunAsync(Pipeline("cA", updates), runner: MeetingStore.FindingClaimHeld(_lake.Root, ClaimKey, mergeWaits));
            await Task.WhenAny(merge, mergeWaits.Task).WaitAsync(TimeSpan.FromSeconds(120));
            throw new IOException("the store failed (test)");
        }));
        var merged = await merge!;

        Assert.False(append.Succeeded);
        Assert.Contains("the store failed (test)", append.Log.Error);
        Assert.True(merged.Succeeded, merged.Log.Error);
        // None of the failed append's rows: the merge merged with the table as it is without them.
        Assert.Equal([["base", "950", "950"], ["merged", "50", "50"]], PlainRows());
        Assert.Equal(_lake.PlainTableTotals("raw/test/k"), _lake.ManifestTotals("test/k"));
        Assert.Equal(1000, _lake.Manifest().Tables["test/k"].RowCount);
    }

    [Fact]
    public async Task Two_merges_of_an_iceberg_and_delta_table_leave_the_manifest_pointing_at_the_tables_current_metadata()
    {
        var formats = TableFormats.Iceberg | TableFormats.Delta;
        var baseLoad = _lake.WriteSinger("base.jsonl", [Schema, .. Enumerable.Range(0, 1000).Select(i => Record(i, "base"))]);
        Assert.True((await TempLake.RunAsync(Pipeline("cA", baseLoad, formats))).Succeeded);
        var evens = _lake.WriteSinger("evens.jsonl", [Schema, .. Enumerable.Range(0, 500).Select(i => Record(2 * i, "cA"))]);
        var odds = _lake.WriteSinger("odds.jsonl", [Schema, .. Enumerable.Range(0, 500).Select(i => Record(2 * i + 1, "cB"))]);

        // cA's commit has written its table metadata and stops before its manifest write, until cB finds the table's
        // commit claim held (it then waits) or, if it never does, has committed.
        Task<RunResult>? second = null;
        var secondWaits = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = await TempLake.RunAsync(Pipeline("cA", evens, formats), runner: MeetingStore.Runner(async key =>
        {
            if (key != LakePaths.ManifestKey || second is not null) return;
            second = TempLake.RunAsync(Pipeline("cB", odds, formats), runner: MeetingStore.FindingClaimHeld(_lake.Root, ClaimKey, secondWaits));
            await Task.WhenAny(second, secondWaits.Task).WaitAsync(TimeSpan.FromSeconds(120));
        }));
        var later = await second!;

        Assert.True(first.Succeeded, first.Log.Error);
        Assert.True(later.Succeeded, later.Log.Error);
        var (iceberg, delta) = await TableFormatRowsAsync();
        List<List<string?>> expected = [["cA", "500", "500"], ["cB", "500", "500"]];
        Assert.Equal(expected, iceberg);
        Assert.Equal(expected, delta);
        // The manifest names the table's current Iceberg metadata and Delta version, and the run that committed last.
        var entry = _lake.Manifest().Tables["test/k"];
        var tableDir = Path.Combine(_lake.Root, "raw", "test", "k");
        var hint = File.ReadAllText(Path.Combine(tableDir, "metadata", "version-hint.text")).Trim();
        Assert.EndsWith($"/raw/test/k/metadata/v{hint}.metadata.json", entry.IcebergMetadata);
        var latestDelta = Directory.GetFiles(Path.Combine(tableDir, "_delta_log"), "*.json").Select(Path.GetFileName).Order(StringComparer.Ordinal).Last();
        Assert.EndsWith($"/raw/test/k/_delta_log/{latestDelta}", entry.DeltaLog);
        Assert.Equal(later.Log.RunId, entry.Stats.LastRunId);
        Assert.Equal(1000, entry.RowCount);
    }
}
