using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Parquet;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tables;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Tables;

/// <summary>
/// <c>maintain --compact</c> on file://: rows are compared before and after with independent readers (DuckDB over the
/// files, icebird over the Iceberg metadata including time travel to the pre-compaction version, the Delta log
/// replayed and its files read by DuckDB); the Avro files are checked by avsc.
/// </summary>
public class TableCompactionTests
{
    private const string Schema =
        """{"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"name":{"type":["null","string"]},"amount":{"type":["null","number"]},"at":{"type":["null","string"],"format":"date-time"}}}}""";

    private const string WiderSchema =
        """{"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"name":{"type":["null","string"]},"amount":{"type":["null","number"]},"at":{"type":["null","string"],"format":"date-time"},"note":{"type":["null","string"]}}}}""";

    private static string[] Orders(int from, int to, string schema = Schema) =>
    [
        schema,
        .. Enumerable.Range(from, to - from + 1).Select(i =>
            "{\"type\":\"RECORD\",\"stream\":\"orders\",\"record\":{\"id\":" + i + ",\"name\":" + (i % 4 == 0 ? "null" : "\"n" + i + "\"") +
            ",\"amount\":" + (i * 1.25).ToString(System.Globalization.CultureInfo.InvariantCulture) + ",\"at\":\"2025-01-0" + (1 + i % 5) + "T10:00:0" + (i % 10) + "Z\"" +
            (schema == WiderSchema ? ",\"note\":\"x" + i + "\"" : "") + "}}"),
    ];

    private static PipelineDefinition P(TempLake lake, string input, TableFormats formats, string partitionBy = PartitionBySettings.ExtractionDate) =>
        lake.Pipeline("orders", input, p => p with { Destination = p.Destination with { TableFormat = formats, PartitionBy = partitionBy } });

    private static async Task<List<TableCompactionResult>> CompactAsync(TempLake lake, long targetBytes = 128L * 1024 * 1024, TimeProvider? time = null, WriteLimits? limits = null)
    {
        await using var store = new ObjectStoreFactory().Open(lake.Bucket);
        time ??= TimeProvider.System;
        await using var runLock = await RunLock.AcquireAsync(store, "orders", "compact-test", time, CancellationToken.None);
        return await new TableCompaction(store, time).RunAsync("orders", Compression.Zstd, targetBytes, limits ?? new WriteLimits(), CancellationToken.None);
    }

    private static string Table(TempLake lake) => Path.Combine(lake.Root, "raw", "test", "orders");

    /// <summary>Every row of the given files (all columns, by name), sorted, as DuckDB reads them.</summary>
    private static List<List<string?>> Rows(TempLake lake, IEnumerable<string> keys) =>
        lake.Query($"select * from read_parquet([{string.Join(',', keys.Select(k => $"'{lake.Root}/{k}'"))}], union_by_name = true) order by id");

    private static List<string> IcebirdRows(TempLake lake, string? metadata = null) =>
        TableReaders.Icebird($"file://{Table(lake)}", metadata)["rows"]!.AsArray().Select(r => r!.ToJsonString()).Order(StringComparer.Ordinal).ToList();

    /// <summary>The Delta log replayed (adds minus removes) as keys, and each entry's actions.</summary>
    private static (List<string> Live, List<List<JsonObject>> Entries) DeltaLog(TempLake lake)
    {
        var live = new HashSet<string>();
        var entries = new List<List<JsonObject>>();
        foreach (var file in Directory.GetFiles(Path.Combine(Table(lake), "_delta_log"), "*.json").Order(StringComparer.Ordinal))
        {
            var actions = File.ReadAllLines(file).Where(l => l.Length > 0).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
            entries.Add(actions);
            foreach (var action in actions)
            {
                if (action["add"] is { } add) live.Add("raw/test/orders/" + Uri.UnescapeDataString(add["path"]!.GetValue<string>()));
                if (action["remove"] is { } remove) Assert.True(live.Remove("raw/test/orders/" + Uri.UnescapeDataString(remove["path"]!.GetValue<string>())));
            }
        }
        return ([.. live.Order(StringComparer.Ordinal)], entries);
    }

    [Fact]
    public async Task Compacted_files_hold_no_more_rows_or_bytes_than_the_pipelines_max_file_rows_and_max_file_mb()
    {
        using var lake = new TempLake();
        PipelineDefinition Limited(string input) => lake.Pipeline("orders", input, p => p with
        {
            Destination = p.Destination with { TableFormat = TableFormats.Delta, PartitionBy = PartitionBySettings.None, MaxFileRows = 10 },
        });
        for (var run = 0; run < 5; run++)
            Assert.True((await TempLake.RunAsync(Limited(lake.WriteSinger("r" + run, Orders(run * 4 + 1, run * 4 + 4))))).Succeeded);
        var before = Rows(lake, lake.ParquetKeys());
        var pipeline = Limited(lake.WriteSinger("none", Orders(1, 1)));

        // 5 files of 4 rows under max_file_rows 10: pairs, and the fifth left alone (never one file of 20 rows).
        var result = Assert.Single(await CompactAsync(lake, limits: new WriteLimits().WithFileLimitsOf(pipeline.Destination)));
        Assert.Equal((4, 2, 16L), (result.RewrittenFiles, result.WrittenFiles, result.Rows));
        var live = DeltaLog(lake).Live;
        Assert.Equal(3, live.Count);
        Assert.All(live, k => Assert.True(long.Parse(lake.Query($"select count(*) from read_parquet('{lake.Root}/{k}')")[0][0]!) <= 10, k));
        Assert.Equal(before, Rows(lake, live));

        // max_file_mb caps the target size too: with a cap below every file's size, no two files are joined.
        Assert.Equal(0, Assert.Single(await CompactAsync(lake, limits: new WriteLimits { MaxFileBytes = 1 })).WrittenFiles);
    }

    [Fact]
    public async Task Iceberg_and_Delta_small_files_become_one_replace_snapshot_with_the_same_rows_and_time_travel_still_reads_the_old_files()
    {
        using var lake = new TempLake();
        const TableFormats both = TableFormats.Iceberg | TableFormats.Delta;
        for (var run = 0; run < 4; run++)
            Assert.True((await TempLake.RunAsync(P(lake, lake.WriteSinger("r" + run, Orders(run * 10 + 1, run * 10 + 10)), both))).Succeeded);
        var before = lake.ParquetKeys();
        Assert.Equal(4, before.Count);
        var rowsBefore = Rows(lake, before);
        var icebergBefore = IcebirdRows(lake);
        Assert.Equal(40, icebergBefore.Count);
        var manifestBefore = lake.Manifest().Tables["test/orders"];

        var result = Assert.Single(await CompactAsync(lake));
        Assert.Equal(("test/orders", 4, 1, 40L), (result.Table, result.RewrittenFiles, result.WrittenFiles, result.Rows));
        Assert.Empty(result.DeletedFiles); // kept for time travel until expiry deletes them

        // Iceberg: one replace snapshot; the same rows now; the previous metadata still reads the previous files.
        var metadata = JsonNode.Parse(File.ReadAllText(Path.Combine(Table(lake), "metadata", "v5.metadata.json")))!;
        var current = metadata["snapshots"]!.AsArray().Single(s => s!["snapshot-id"]!.GetValue<long>() == metadata["current-snapshot-id"]!.GetValue<long>())!;
        Assert.Equal("replace", current["summary"]!["operation"]!.GetValue<string>());
        Assert.Equal(("1", "4", "40", "1"), (current["summary"]!["added-data-files"]!.GetValue<string>(), current["summary"]!["deleted-data-files"]!.GetValue<string>(),
            current["summary"]!["total-records"]!.GetValue<string>(), current["summary"]!["total-data-files"]!.GetValue<string>()));
        Assert.Equal(icebergBefore, IcebirdRows(lake));
        Assert.Equal(icebergBefore, IcebirdRows(lake, "v4.metadata.json"));
        var checks = TableReaders.AvroCheck(Directory.GetFiles(Path.Combine(Table(lake), "metadata"), "*.avro"));
        foreach (var check in checks.Select(c => c!)) Assert.True(check["problems"]!.AsArray().Count == 0, check.ToJsonString());

        // Delta: one entry removing the four files and adding the new one, none of it a data change.
        var (live, entries) = DeltaLog(lake);
        var optimize = entries[^1];
        Assert.Equal("OPTIMIZE", optimize[0]["commitInfo"]!["operation"]!.GetValue<string>());
        Assert.Equal(4, optimize.Count(a => a["remove"] is not null));
        Assert.All(optimize.Where(a => a["remove"] is not null || a["add"] is not null), a => Assert.False((a["remove"] ?? a["add"])!["dataChange"]!.GetValue<bool>()));
        Assert.Equal(entries[^2].Single(a => a["metaData"] is not null)["metaData"]!.ToJsonString(), optimize.Single(a => a["metaData"] is not null)["metaData"]!.ToJsonString());
        var compacted = Assert.Single(live);
        Assert.DoesNotContain(compacted, before);
        Assert.Equal(rowsBefore, Rows(lake, live));
        var stats = JsonNode.Parse(optimize.Single(a => a["add"] is not null)["add"]!["stats"]!.GetValue<string>())!;
        Assert.Equal(40, stats["numRecords"]!.GetValue<long>());
        Assert.Equal(1, stats["minValues"]!["id"]!.GetValue<long>());
        Assert.Equal(40, stats["maxValues"]!["id"]!.GetValue<long>());
        Assert.Equal(10, stats["nullCount"]!["name"]!.GetValue<long>());

        // The compacted file keeps the Iceberg field ids; the old files stay on storage for time travel.
        Assert.Equal(5, lake.ParquetKeys().Count);
        Assert.Equal(lake.Query($"select field_id from parquet_schema('{lake.Root}/{before[0]}') order by name"),
            lake.Query($"select field_id from parquet_schema('{lake.Root}/{compacted}') order by name"));

        // The manifest: same rows, one file, pointers to the new metadata.
        var manifest = lake.Manifest().Tables["test/orders"];
        Assert.Equal((manifestBefore.RowCount, 1L, manifestBefore.Stats.Extractions), (manifest.RowCount, manifest.Stats.Files, manifest.Stats.Extractions));
        Assert.EndsWith("/metadata/v5.metadata.json", manifest.IcebergMetadata);
        Assert.EndsWith("/_delta_log/00000000000000000004.json", manifest.DeltaLog);

        // Expiry later removes the rewritten files; the table still reads; the next run appends to it.
        await using (var store = new ObjectStoreFactory().Open(lake.Bucket))
        {
            var expired = Assert.Single(await new TableMaintenance(store, new ShiftedTime(DateTimeOffset.UtcNow.AddDays(8))).RunAsync("orders", TimeSpan.FromDays(7), CancellationToken.None));
            Assert.Equal(before.Order(), expired.DeletedFiles.Where(f => f.EndsWith(".parquet", StringComparison.Ordinal)).Order());
        }
        Assert.Equal([compacted], lake.ParquetKeys());
        Assert.Equal(icebergBefore, IcebirdRows(lake));
        Assert.True((await TempLake.RunAsync(P(lake, lake.WriteSinger("r9", Orders(41, 42)), both))).Succeeded);
        Assert.Equal(42, IcebirdRows(lake).Count);
        Assert.Equal(42, Rows(lake, DeltaLog(lake).Live).Count);
    }

    [Fact]
    public async Task Plain_Parquet_files_are_replaced_in_the_commit_and_files_of_another_schema_are_not_mixed_in()
    {
        using var lake = new TempLake();
        Assert.True((await TempLake.RunAsync(P(lake, lake.WriteSinger("a", Orders(1, 5)), TableFormats.Parquet))).Succeeded);
        Assert.True((await TempLake.RunAsync(P(lake, lake.WriteSinger("b", Orders(6, 9)), TableFormats.Parquet))).Succeeded);
        Assert.True((await TempLake.RunAsync(P(lake, lake.WriteSinger("c", Orders(10, 12, WiderSchema)), TableFormats.Parquet))).Succeeded);
        Assert.True((await TempLake.RunAsync(P(lake, lake.WriteSinger("d", Orders(13, 20, WiderSchema)), TableFormats.Parquet))).Succeeded);
        var glob = $"select * from read_parquet('{lake.Root}/raw/test/orders/*/*.parquet', union_by_name = true) order by id";
        var before = lake.Query(glob);
        Assert.Equal(20, before.Count);
        Assert.Equal(4, lake.ParquetKeys().Count);

        var keysBefore = lake.ParquetKeys();
        var result = Assert.Single(await CompactAsync(lake));
        Assert.Equal((4, 2, 20L), (result.RewrittenFiles, result.WrittenFiles, result.Rows));
        Assert.Equal(2, lake.ParquetKeys().Count);
        Assert.Equal(keysBefore.Order(StringComparer.Ordinal), result.DeletedFiles.Order(StringComparer.Ordinal));
        Assert.Equal(before, lake.Query(glob));
        var manifest = lake.Manifest().Tables["test/orders"];
        Assert.Equal((20L, 2L), (manifest.RowCount, manifest.Stats.Files));
        Assert.False(File.Exists(Path.Combine(lake.Root, LakeCommitter.JournalKey("orders"))));

        // Nothing small is left in pairs: a second compaction changes nothing.
        var again = Assert.Single(await CompactAsync(lake));
        Assert.Equal((0, 0), (again.RewrittenFiles, again.WrittenFiles));
        Assert.Equal(before, lake.Query(glob));
    }

    [Fact]
    public async Task Files_at_or_above_the_target_stay_and_small_ones_are_packed_up_to_it_per_partition()
    {
        using var lake = new TempLake();
        // partition_by a date-time column: each run spreads over five dt= folders.
        for (var run = 0; run < 3; run++)
            Assert.True((await TempLake.RunAsync(P(lake, lake.WriteSinger("r" + run, Orders(run * 50 + 1, run * 50 + 50)), TableFormats.Iceberg, "at"))).Succeeded);
        var before = lake.ParquetKeys();
        Assert.Equal(15, before.Count);
        var icebergBefore = IcebirdRows(lake);
        // A target just above the smallest file: the others are not small, and no pack can hold two files.
        var smallest = before.Min(k => new FileInfo(Path.Combine(lake.Root, k)).Length);
        var none = Assert.Single(await CompactAsync(lake, smallest + 1));
        Assert.Equal((0, 0), (none.RewrittenFiles, none.WrittenFiles));
        Assert.Equal(before.Order(), lake.ParquetKeys().Order());

        var all = Assert.Single(await CompactAsync(lake));
        Assert.Equal((15, 5), (all.RewrittenFiles, all.WrittenFiles));
        Assert.Equal(icebergBefore, IcebirdRows(lake));
        var written = lake.ParquetKeys().Except(before).ToList();
        Assert.Equal(5, written.Select(k => k.Split('/')[3]).Distinct().Count()); // one file per dt= folder
        // Each new file's partition in the manifest is its folder's date: icebird reads the rows with their partition.
        var checks = TableReaders.AvroCheck(Directory.GetFiles(Path.Combine(Table(lake), "metadata"), "*.avro"));
        foreach (var check in checks.Select(c => c!)) Assert.True(check["problems"]!.AsArray().Count == 0, check.ToJsonString());
    }

    private static PipelineDefinition Plain(TempLake lake, string name, string input) =>
        lake.Pipeline(name, input, p => p with { Destination = p.Destination with { PartitionBy = PartitionBySettings.None } });

    private static readonly string TableClaimKey = LakePaths.TableCommitClaimKey("raw/test/orders/");

    /// <summary>Pipeline orders's three small files of ids 1..12, for a compaction to rewrite.</summary>
    private static async Task<PipelineDefinition> ThreeSmallFilesAsync(TempLake lake)
    {
        foreach (var (from, to) in new[] { (1, 5), (6, 9), (10, 12) })
            Assert.True((await TempLake.RunAsync(Plain(lake, "orders", lake.WriteSinger($"o{from}", Orders(from, to))))).Succeeded);
        Assert.Equal(3, lake.ParquetKeys().Count);
        return Plain(lake, "orders", lake.WriteSinger("o", Orders(1, 1)));
    }

    /// <summary>
    /// <c>maintain orders --compact</c> as <c>PipeClient.MaintainAsync</c> runs it (under the pipeline's lock, every table of
    /// its source folder), through a store that calls <paramref name="beforeWrite"/> with the key before each write.
    /// </summary>
    private static async Task<List<TableCompactionResult>> CompactMeetingAsync(TempLake lake, PipelineDefinition pipeline, List<string> notices, Func<string, Task> beforeWrite,
        Func<string, Task>? beforeOpenRead = null)
    {
        await using var store = new MeetingStore(new ObjectStoreFactory().Open(lake.Bucket), beforeWrite, beforeOpenRead);
        await using var runLock = await RunLock.AcquireAsync(store, pipeline.Name, "maintain-test", TimeProvider.System, CancellationToken.None);
        return await new TableCompaction(store, TimeProvider.System).RunAsync(pipeline.Name, Compression.Zstd, 128L * 1024 * 1024, new WriteLimits(),
            MaintainedTables.Of(pipeline), CancellationToken.None, runLock, notices);
    }

    private static List<List<string?>> Ids(TempLake lake) =>
        lake.Query("SELECT min(id), max(id), count(*), count(DISTINCT id) FROM read_parquet('{lake}/raw/test/orders/**/*.parquet')");

    [Fact]
    public async Task A_compacted_file_records_the_latest_store_time_of_the_files_it_rewrote_for_a_full_reload_to_tell_its_rows_from_newer_ones()
    {
        using var lake = new TempLake();
        await ThreeSmallFilesAsync(lake);
        var inputsWritten = lake.ParquetKeys().Max(k => new DateTimeOffset(File.GetLastWriteTimeUtc(Path.Combine(lake.Root, k))));

        Assert.Equal(3, Assert.Single(await CompactAsync(lake)).RewrittenFiles);

        var compacted = Path.Combine(lake.Root, Assert.Single(lake.ParquetKeys()));
        using var reader = new ParquetSharp.ParquetFileReader(compacted);
        using var meta = reader.FileMetaData;
        // Its own stamp is the compaction's, later than any of its rows: the recorded time is the inputs'.
        Assert.Equal(inputsWritten, DateTimeOffset.Parse(meta.KeyValueMetadata["dataspoc.inputs_written_before"], System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(inputsWritten < File.GetLastWriteTimeUtc(compacted));
    }

    [Fact]
    public async Task A_compaction_meeting_a_full_reload_of_another_pipeline_at_its_commit_waits_for_it_and_the_table_holds_the_reloads_rows_only()
    {
        using var lake = new TempLake();
        var orders = await ThreeSmallFilesAsync(lake);
        var reload = Plain(lake, "reload", lake.WriteSinger("reload", Orders(101, 130)));

        // The reload's files landed (its journal says so next), its table claim held; it waits there while the compaction
        // plans and commits up to its manifest write (where it stops until the reload has committed), or until the
        // compaction finds the table's commit claim held (it then waits for the reload).
        var compactionAtManifest = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var compactionGoesOn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reloadGoesOn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var notices = new List<string>();
        Task<List<TableCompactionResult>>? compaction = null;
        var journalWrites = 0;
        var replaced = await TempLake.RunAsync(reload, full: true, runner: MeetingStore.Runner(async key =>
        {
            if (!key.StartsWith(".dataspoc/journal/", StringComparison.Ordinal) || Interlocked.Increment(ref journalWrites) != 2) return;
            compaction = CompactMeetingAsync(lake, orders, notices, async k =>
            {
                if (k == TableClaimKey && File.Exists(Path.Combine(lake.Root, TableClaimKey))) reloadGoesOn.TrySetResult();
                if (k == LakePaths.ManifestKey && compactionAtManifest.TrySetResult()) await compactionGoesOn.Task.WaitAsync(TimeSpan.FromSeconds(60));
            });
            await Task.WhenAny(compaction, compactionAtManifest.Task, reloadGoesOn.Task).WaitAsync(TimeSpan.FromSeconds(120));
        }));
        compactionGoesOn.TrySetResult();
        var compacted = await compaction!;

        Assert.True(replaced.Succeeded, replaced.Log.Error);
        Assert.Equal([["101", "130", "30", "30"]], Ids(lake));
        Assert.Equal(lake.PlainTableTotals("raw/test/orders"), lake.ManifestTotals("test/orders"));
        Assert.Equal((30L, 1L), (lake.Manifest().Tables["test/orders"].RowCount, lake.Manifest().Tables["test/orders"].Stats.Files));
        Assert.True(reloadGoesOn.Task.IsCompleted, "the compaction's commit did not meet the reload's table claim");
        // It planned again on the reloaded table: the files it had planned to rewrite were gone, and one file is nothing to compact.
        Assert.Contains(notices, n => n.StartsWith("planned the commit again (attempt 2): ", StringComparison.Ordinal) && n.Contains("already removed by another commit", StringComparison.Ordinal));
        Assert.Equal((0, 0), (Assert.Single(compacted).RewrittenFiles, compacted[0].WrittenFiles));
        Assert.False(File.Exists(Path.Combine(lake.Root, TableClaimKey)));
    }

    [Fact]
    public async Task A_compaction_meeting_an_append_of_another_pipeline_whose_commit_then_fails_leaves_out_the_rolled_back_rows()
    {
        using var lake = new TempLake();
        var orders = await ThreeSmallFilesAsync(lake);
        var append = Plain(lake, "inc", lake.WriteSinger("inc", Orders(201, 220)));

        // The append's file landed (its journal says so next, and that write fails: the commit rolls back); before it fails,
        // the compaction commits, or finds the table's commit claim held (it then waits for the append's rollback).
        var appendGoesOn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var notices = new List<string>();
        Task<List<TableCompactionResult>>? compaction = null;
        var journalWrites = 0;
        var appended = await TempLake.RunAsync(append, runner: MeetingStore.Runner(async key =>
        {
            if (!key.StartsWith(".dataspoc/journal/", StringComparison.Ordinal) || Interlocked.Increment(ref journalWrites) != 2) return;
            compaction = CompactMeetingAsync(lake, orders, notices, k =>
            {
                if (k == TableClaimKey && File.Exists(Path.Combine(lake.Root, TableClaimKey))) appendGoesOn.TrySetResult();
                return Task.CompletedTask;
            });
            await Task.WhenAny(compaction, appendGoesOn.Task).WaitAsync(TimeSpan.FromSeconds(120));
            throw new StorageException("the store refused the journal's landed phase (test)");
        }));
        var compacted = await compaction!;

        Assert.False(appended.Succeeded);
        Assert.Contains("the store refused the journal's landed phase (test)", appended.Log.Error, StringComparison.Ordinal);
        Assert.Equal([["1", "12", "12", "12"]], Ids(lake));
        Assert.Equal(lake.PlainTableTotals("raw/test/orders"), lake.ManifestTotals("test/orders"));
        Assert.Equal((12L, 1L), (lake.Manifest().Tables["test/orders"].RowCount, lake.Manifest().Tables["test/orders"].Stats.Files));
        Assert.True(appendGoesOn.Task.IsCompleted, "the compaction's commit did not meet the append's table claim");
        // The append's file, which the compaction had planned to rewrite, was rolled back: it planned again without it.
        Assert.Contains(notices, n => n.StartsWith("planned the commit again (attempt 2): ", StringComparison.Ordinal));
        Assert.Equal((3, 1, 12L), (Assert.Single(compacted).RewrittenFiles, compacted[0].WrittenFiles, compacted[0].Rows));
        Assert.False(File.Exists(Path.Combine(lake.Root, TableClaimKey)));
    }

    [Fact]
    public async Task A_compaction_whose_file_a_full_reload_of_another_pipeline_removes_while_it_reads_them_plans_again_on_the_reloaded_table()
    {
        using var lake = new TempLake();
        var orders = await ThreeSmallFilesAsync(lake);
        var planned = lake.ParquetKeys().Order(StringComparer.Ordinal).ToList();
        var reload = Plain(lake, "reload", lake.WriteSinger("reload", Orders(101, 130)));

        // The compaction has listed the three files and read the first; before it opens the second, the reload replaces the
        // table (deleting all three): that file is gone when the compaction opens it.
        DataSpoc.Pipe.Runs.RunResult? replaced = null;
        var notices = new List<string>();
        var compacted = await CompactMeetingAsync(lake, orders, notices, _ => Task.CompletedTask, async key =>
        {
            if (key == planned[1] && replaced is null) replaced = await TempLake.RunAsync(reload, full: true);
        });

        Assert.True(replaced!.Succeeded, replaced.Log.Error);
        Assert.Contains(notices, n => n.StartsWith("planned the commit again (attempt 2): file://", StringComparison.Ordinal)
            && n.EndsWith($"/{planned[1]} was removed by another commit while this compaction read it", StringComparison.Ordinal));
        // Planned again on the reloaded table: its one file is nothing to compact, and the table holds the reload's rows only.
        Assert.Equal((0, 0), (Assert.Single(compacted).RewrittenFiles, compacted[0].WrittenFiles));
        Assert.Equal([["101", "130", "30", "30"]], Ids(lake));
        Assert.Equal(lake.PlainTableTotals("raw/test/orders"), lake.ManifestTotals("test/orders"));
        Assert.Equal((30L, 1L), (lake.Manifest().Tables["test/orders"].RowCount, lake.Manifest().Tables["test/orders"].Stats.Files));
        Assert.False(File.Exists(Path.Combine(lake.Root, TableClaimKey)));
    }

    [Fact]
    public async Task A_full_reload_of_another_pipeline_that_a_compaction_commits_before_plans_again_and_names_the_compaction()
    {
        using var lake = new TempLake();
        PipelineDefinition Iceberg(string name, string input) => lake.Pipeline(name, input,
            p => p with { Destination = p.Destination with { TableFormat = TableFormats.Iceberg, PartitionBy = PartitionBySettings.None } });
        foreach (var (from, to) in new[] { (1, 5), (6, 9), (10, 12) })
            Assert.True((await TempLake.RunAsync(Iceberg("orders", lake.WriteSinger($"o{from}", Orders(from, to))))).Succeeded);
        var orders = Iceberg("orders", lake.WriteSinger("o", Orders(1, 1)));
        var reload = Iceberg("reload", lake.WriteSinger("reload", Orders(101, 130)));

        // The compaction's file lands and it stops before its manifest write; the reload begins (after that file: not a file
        // written during the reload) and plans on the table orders wrote last; at its commit's start, the compaction ends.
        var notices = new List<string>();
        var compactionAtManifest = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var compactionGoesOn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var compaction = CompactMeetingAsync(lake, orders, notices, async k =>
        {
            if (k == LakePaths.ManifestKey && compactionAtManifest.TrySetResult()) await compactionGoesOn.Task.WaitAsync(TimeSpan.FromSeconds(60));
        });
        await Task.WhenAny(compaction, compactionAtManifest.Task).WaitAsync(TimeSpan.FromSeconds(120));
        string? compactionId = null;
        var once = 0;
        var replaced = await TempLake.RunAsync(reload, full: true, runner: MeetingStore.Runner(async () =>
        {
            if (Interlocked.Increment(ref once) != 1) return;
            compactionGoesOn.TrySetResult();
            await compaction;
            compactionId = lake.Manifest().Tables["test/orders"].Stats.LastRunId;
        }));
        compactionGoesOn.TrySetResult();
        var compacted = await compaction;

        Assert.True(replaced.Succeeded, replaced.Log.Error);
        Assert.Equal((3, 1), (Assert.Single(compacted).RewrittenFiles, compacted[0].WrittenFiles));
        // Not "run <compaction> of pipeline 'orders'": the manifest entry still names orders as the table's last writer.
        Assert.Contains($"planned the commit again (attempt 2): table test/orders was committed by a compaction (maintain {compactionId}) after this run planned to replace it",
            replaced.Log.Notices);
        Assert.Equal(Enumerable.Range(101, 30).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            IcebirdRows(lake).Select(r => JsonNode.Parse(r)!["id"]!.ToString()).OrderBy(int.Parse));
    }

    [Fact]
    public async Task A_claim_on_a_file_that_a_power_loss_left_cut_short_is_taken_over_by_the_next_compaction()
    {
        using var lake = new TempLake();
        await ThreeSmallFilesAsync(lake);
        var before = lake.ParquetKeys();
        // A claim on a superseded file is not flushed to disk: a power loss may leave it empty or cut short, held by no run.
        var claim = Path.Combine(lake.Root, LakePaths.SupersededClaimKey(before.Order(StringComparer.Ordinal).First()));
        Directory.CreateDirectory(Path.GetDirectoryName(claim)!);
        File.WriteAllText(claim, "{\"pipeline\":\"ord");

        var compacted = Assert.Single(await CompactAsync(lake));

        Assert.Equal((3, 1), (compacted.RewrittenFiles, compacted.WrittenFiles));
        Assert.Equal([["1", "12", "12", "12"]], Ids(lake));
        Assert.Single(lake.ParquetKeys().Except(before));
        // Released with the files it claimed, and the lock of the conditional write that took it over with it.
        Assert.False(File.Exists(claim));
        Assert.False(File.Exists(claim + ".lck"));
    }
}
