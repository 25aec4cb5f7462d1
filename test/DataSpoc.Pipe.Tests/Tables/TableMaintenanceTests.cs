using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tables;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Tables;

public class TableMaintenanceTests
{
    private const string Schema =
        """{"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"}}}}""";

    private static string[] Orders(int from, int to) =>
        [Schema, .. Enumerable.Range(from, to - from + 1).Select(i => "{\"type\":\"RECORD\",\"stream\":\"orders\",\"record\":{\"id\":" + i + "}}")];

    [Fact]
    public async Task Expiry_deletes_only_the_files_of_expired_snapshots_and_the_table_still_reads_its_current_rows()
    {
        using var lake = new TempLake();
        PipelineDefinition P(string input) => lake.Pipeline("orders", input, p => p with { Destination = p.Destination with { TableFormat = TableFormats.Iceberg | TableFormats.Delta } });
        Assert.True((await TempLake.RunAsync(P(lake.WriteSinger("a", Orders(1, 3))))).Succeeded);
        Assert.True((await TempLake.RunAsync(P(lake.WriteSinger("b", Orders(4, 5))))).Succeeded);
        var replaced = lake.ParquetKeys();
        Assert.True((await TempLake.RunAsync(P(lake.WriteSinger("c", Orders(7, 9))), full: true)).Succeeded);
        Assert.Equal(3, lake.ParquetKeys().Count);
        var current = lake.ParquetKeys().Except(replaced).Single();

        await using var store = new ObjectStoreFactory().Open(lake.Bucket);
        // Nothing is old enough yet: nothing expires, nothing is deleted.
        var none = Assert.Single(await new TableMaintenance(store, TimeProvider.System).RunAsync("orders", TimeSpan.FromDays(7), CancellationToken.None));
        Assert.Equal((0, 3), (none.ExpiredSnapshots, none.KeptSnapshots));
        Assert.Empty(none.DeletedFiles);

        var later = new ShiftedTime(DateTimeOffset.UtcNow.AddDays(8));
        var result = Assert.Single(await new TableMaintenance(store, later).RunAsync("orders", TimeSpan.FromDays(7), CancellationToken.None));
        Assert.Equal((2, 1), (result.ExpiredSnapshots, result.KeptSnapshots));
        Assert.Equal(replaced.Order(), result.DeletedFiles.Where(f => f.EndsWith(".parquet", StringComparison.Ordinal)).Order());
        Assert.Equal([current], lake.ParquetKeys());
        // The current snapshot's manifest and list stay; the expired snapshots' ones go.
        var metadata = JsonNode.Parse(File.ReadAllText(Path.Combine(lake.Root, "raw/test/orders/metadata/v4.metadata.json")))!;
        Assert.Single(metadata["snapshots"]!.AsArray());
        var read = TableReaders.Icebird($"file://{lake.Root}/raw/test/orders");
        Assert.Equal([7L, 8, 9], read["rows"]!.AsArray().Select(r => long.Parse(r!["id"]!.ToString())).Order());
        Assert.Equal([["3", "7", "9"]], lake.Query($"select count(*), min(id), max(id) from read_parquet('{lake.Root}/{current}')"));
    }

    /// <summary>
    /// The manifest's <c>iceberg_metadata</c> is the table's current metadata file: a reader registering the table from it
    /// must not get the version before the expiry, whose snapshots list the files the expiry deleted.
    /// </summary>
    [Fact]
    public async Task Expiry_points_the_manifest_at_the_metadata_version_it_published()
    {
        using var lake = new TempLake();
        PipelineDefinition P(string input) => lake.Pipeline("orders", input, p => p with { Destination = p.Destination with { TableFormat = TableFormats.Iceberg } });
        Assert.True((await TempLake.RunAsync(P(lake.WriteSinger("a", Orders(1, 3))))).Succeeded);
        Assert.True((await TempLake.RunAsync(P(lake.WriteSinger("b", Orders(4, 5))), full: true)).Succeeded);
        var table = Path.Combine(lake.Root, "raw/test/orders");

        await using var store = new ObjectStoreFactory().Open(lake.Bucket);
        var result = Assert.Single(await new TableMaintenance(store, new ShiftedTime(DateTimeOffset.UtcNow.AddDays(8))).RunAsync("orders", TimeSpan.FromDays(7), CancellationToken.None));

        Assert.Equal((1, 1), (result.ExpiredSnapshots, result.KeptSnapshots));
        var hint = File.ReadAllText(Path.Combine(table, "metadata", "version-hint.text"));
        Assert.Equal("3", hint);
        var pointer = lake.Manifest().Tables["test/orders"].IcebergMetadata;
        Assert.Equal($"file://{table}/metadata/v{hint}.metadata.json", pointer);
        var read = TableReaders.Icebird($"file://{table}", Path.GetFileName(pointer));
        Assert.Equal([4L, 5], read["rows"]!.AsArray().Select(r => long.Parse(r!["id"]!.ToString())).Order());
    }

    [Fact]
    public async Task Temp_files_a_killed_commit_left_in_the_tables_folders_are_deleted_once_an_hour_old()
    {
        using var lake = new TempLake();
        PipelineDefinition P(string input) => lake.Pipeline("orders", input, p => p with { Destination = p.Destination with { TableFormat = TableFormats.Iceberg | TableFormats.Delta } });
        Assert.True((await TempLake.RunAsync(P(lake.WriteSinger("a", Orders(1, 3))))).Succeeded);
        var table = Path.Combine(lake.Root, "raw/test/orders");
        // What a file:// commit killed between writing a temp file and renaming it leaves, two hours ago and just now.
        string Leftover(string name, TimeSpan age)
        {
            var path = Path.Combine(table, name);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, "{}");
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow - age);
            return "raw/test/orders/" + name;
        }
        // This build's hidden temp names, and an earlier build's suffix form.
        var old = new[]
        {
            Leftover("metadata/v2.metadata.json.tmp-0a1b2c3d4e5f", TimeSpan.FromHours(2)), Leftover("_delta_log/00000000000000000001.json.tmp-1a2b3c4d5e6f", TimeSpan.FromHours(2)),
            Leftover("metadata/.v3.metadata.json.tmp-3a1b2c3d4e5f", TimeSpan.FromHours(2)), Leftover("dt=2025-01-20/.orders_0009_abc.parquet.tmp-4a1b2c3d4e5f", TimeSpan.FromHours(2)),
        };
        var recent = Leftover("metadata/.snap-1.avro.tmp-2a3b4c5d6e7f", TimeSpan.FromMinutes(1));

        await using var store = new ObjectStoreFactory().Open(lake.Bucket);
        var result = Assert.Single(await new TableMaintenance(store, TimeProvider.System).RunAsync("orders", TimeSpan.FromDays(7), CancellationToken.None));
        Assert.Equal(old.Order(StringComparer.Ordinal), result.DeletedFiles);
        Assert.All(old, key => Assert.False(File.Exists(Path.Combine(lake.Root, key)), key));
        Assert.True(File.Exists(Path.Combine(lake.Root, recent)), "a temp file of a commit that may still be running stays");
        Assert.Equal([1L, 2, 3], TableReaders.Icebird($"file://{table}")["rows"]!.AsArray().Select(r => long.Parse(r!["id"]!.ToString())).Order());
    }

    /// <summary>
    /// A writer killed between its temp file and the rename leaves the temp file in whatever lake folder it wrote: a claim
    /// of any table (plain ones too), a plain table's data file, an expiry journal. No run removes those (a table's
    /// claims are every pipeline's), so <c>maintain</c> does, by the age rule of a table's own temp files.
    /// </summary>
    [Fact]
    public async Task Temp_files_killed_writers_left_under_the_claims_and_other_lake_folders_are_deleted_once_an_hour_old()
    {
        using var lake = new TempLake();
        Assert.True((await TempLake.RunAsync(lake.Pipeline("orders", lake.WriteSinger("a", Orders(1, 3))))).Succeeded); // a plain Parquet table
        string Leftover(string key, TimeSpan age)
        {
            var path = Path.Combine(lake.Root, key);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, "{}");
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow - age);
            return key;
        }
        var old = new[]
        {
            Leftover(".dataspoc/claims/raw/test/orders/._table-commit.claim.tmp-0a1b2c3d4e5f", TimeSpan.FromHours(2)),
            Leftover(".dataspoc/claims/raw/test/orders/dt=2025-01-20/.orders_0000_abc.parquet.json.tmp-1a2b3c4d5e6f", TimeSpan.FromHours(2)),
            Leftover("raw/test/orders/dt=2025-01-20/.orders_0009_abc.parquet.tmp-2a1b2c3d4e5f", TimeSpan.FromHours(2)),
            Leftover(".dataspoc/expiry/.orders.json.tmp-3a1b2c3d4e5f", TimeSpan.FromHours(2)),
        };
        var recent = new[]
        {
            Leftover(".dataspoc/claims/raw/test/orders/._table-commit.claim.tmp-4a1b2c3d4e5f", TimeSpan.FromMinutes(1)),
            Leftover("raw/test/orders/dt=2025-01-20/.orders_0010_abc.parquet.tmp-5a1b2c3d4e5f", TimeSpan.FromMinutes(1)),
        };

        await using var store = new ObjectStoreFactory().Open(lake.Bucket);
        await new TableMaintenance(store, TimeProvider.System).RunAsync("orders", TimeSpan.FromDays(7), CancellationToken.None);
        Assert.All(old, key => Assert.False(File.Exists(Path.Combine(lake.Root, key)), key));
        Assert.All(recent, key => Assert.True(File.Exists(Path.Combine(lake.Root, key)), $"{key}: a write that may still be running keeps its temp file"));
        Assert.Equal([["3"]], lake.Query($"select count(*) from read_parquet('{lake.Root}/raw/test/orders/**/*.parquet')"));
    }

    [Fact]
    public async Task Files_no_table_metadata_ever_listed_are_never_deleted()
    {
        using var lake = new TempLake();
        Assert.True((await TempLake.RunAsync(lake.Pipeline("orders", lake.WriteSinger("a", Orders(1, 2))))).Succeeded); // plain Parquet first
        var plain = lake.ParquetKeys().Single();
        PipelineDefinition P(string input) => lake.Pipeline("orders", input, p => p with { Destination = p.Destination with { TableFormat = TableFormats.Iceberg } });
        Assert.True((await TempLake.RunAsync(P(lake.WriteSinger("b", Orders(3, 4))), full: true)).Succeeded);
        Assert.True((await TempLake.RunAsync(P(lake.WriteSinger("c", Orders(5, 6))), full: true)).Succeeded);
        await using var store = new ObjectStoreFactory().Open(lake.Bucket);
        var result = Assert.Single(await new TableMaintenance(store, new ShiftedTime(DateTimeOffset.UtcNow.AddDays(30))).RunAsync("orders", TimeSpan.FromDays(7), CancellationToken.None));
        Assert.Equal(1, result.ExpiredSnapshots);
        Assert.Contains(plain, lake.ParquetKeys());
        Assert.Equal(2, lake.ParquetKeys().Count);
    }

    [Fact]
    public async Task A_maintain_stopped_after_its_expiry_commit_leaves_the_deletions_to_the_next_one_which_also_points_the_version_hint_at_the_current_metadata()
    {
        using var lake = new TempLake();
        PipelineDefinition P(string input) => lake.Pipeline("orders", input, p => p with { Destination = p.Destination with { TableFormat = TableFormats.Iceberg } });
        Assert.True((await TempLake.RunAsync(P(lake.WriteSinger("a", Orders(1, 3))))).Succeeded);
        var replaced = lake.ParquetKeys();
        Assert.True((await TempLake.RunAsync(P(lake.WriteSinger("b", Orders(4, 5))), full: true)).Succeeded);
        var current = lake.ParquetKeys().Except(replaced).Single();
        var later = new ShiftedTime(DateTimeOffset.UtcNow.AddDays(8));

        // Stopped right after v3 (the expiry) is created: the hint still says 2, no expired file is deleted yet.
        await using (var stopped = new FaultingStore(new ObjectStoreFactory().Open(lake.Bucket), failPut: k => k.EndsWith("version-hint.text", StringComparison.Ordinal)))
            await Assert.ThrowsAsync<IOException>(() => new TableMaintenance(stopped, later).RunAsync("orders", TimeSpan.FromDays(7), CancellationToken.None));
        var hint = Path.Combine(lake.Root, "raw/test/orders/metadata/version-hint.text");
        Assert.True(File.Exists(Path.Combine(lake.Root, "raw/test/orders/metadata/v3.metadata.json")));
        Assert.Equal("2", File.ReadAllText(hint).Trim());
        Assert.Equal(2, lake.ParquetKeys().Count);

        await using var store = new ObjectStoreFactory().Open(lake.Bucket);
        var result = Assert.Single(await new TableMaintenance(store, later).RunAsync("orders", TimeSpan.FromDays(7), CancellationToken.None));
        Assert.Equal((0, 1), (result.ExpiredSnapshots, result.KeptSnapshots));
        Assert.Equal(replaced, result.DeletedFiles.Where(f => f.EndsWith(".parquet", StringComparison.Ordinal)));
        Assert.Contains(result.DeletedFiles, f => f.Contains("/metadata/snap-", StringComparison.Ordinal)); // the expired snapshot's manifest list
        Assert.Equal([current], lake.ParquetKeys());
        Assert.Equal("3", File.ReadAllText(hint).Trim());
        Assert.DoesNotContain(lake.Keys(), k => k.StartsWith(".dataspoc/expiry/", StringComparison.Ordinal));
        var read = TableReaders.Icebird($"file://{lake.Root}/raw/test/orders");
        Assert.Equal([4L, 5], read["rows"]!.AsArray().Select(r => long.Parse(r!["id"]!.ToString())).Order());
    }

    [Fact]
    public async Task A_delete_that_fails_after_the_expiry_commit_is_retried_by_the_next_maintain()
    {
        using var lake = new TempLake();
        PipelineDefinition P(string input) => lake.Pipeline("orders", input, p => p with { Destination = p.Destination with { TableFormat = TableFormats.Iceberg } });
        Assert.True((await TempLake.RunAsync(P(lake.WriteSinger("a", Orders(1, 3))))).Succeeded);
        var replaced = lake.ParquetKeys().Single();
        Assert.True((await TempLake.RunAsync(P(lake.WriteSinger("b", Orders(4, 5))), full: true)).Succeeded);
        var later = new ShiftedTime(DateTimeOffset.UtcNow.AddDays(8));

        await using (var failing = new FaultingStore(new ObjectStoreFactory().Open(lake.Bucket), failDelete: k => k == replaced))
            await Assert.ThrowsAsync<IOException>(() => new TableMaintenance(failing, later).RunAsync("orders", TimeSpan.FromDays(7), CancellationToken.None));
        Assert.Contains(replaced, lake.ParquetKeys());

        await using var store = new ObjectStoreFactory().Open(lake.Bucket);
        var result = Assert.Single(await new TableMaintenance(store, later).RunAsync("orders", TimeSpan.FromDays(7), CancellationToken.None));
        Assert.Contains(replaced, result.DeletedFiles);
        Assert.DoesNotContain(replaced, lake.ParquetKeys());
        Assert.Single(lake.ParquetKeys());
    }

    [Fact]
    public async Task Maintain_reports_only_the_files_it_deleted_itself_not_those_an_earlier_maintain_deleted()
    {
        using var lake = new TempLake();
        PipelineDefinition P(string input) => lake.Pipeline("orders", input, p => p with { Destination = p.Destination with { TableFormat = TableFormats.Delta } });
        Assert.True((await TempLake.RunAsync(P(lake.WriteSinger("a", Orders(1, 3))))).Succeeded);
        Assert.True((await TempLake.RunAsync(P(lake.WriteSinger("b", Orders(4, 5))))).Succeeded);
        var replaced = lake.ParquetKeys();
        Assert.True((await TempLake.RunAsync(P(lake.WriteSinger("c", Orders(7, 9))), full: true)).Succeeded);

        await using var store = new ObjectStoreFactory().Open(lake.Bucket);
        var later = new ShiftedTime(DateTimeOffset.UtcNow.AddDays(8));
        var first = Assert.Single(await new TableMaintenance(store, later).RunAsync("orders", TimeSpan.FromDays(7), CancellationToken.None));
        Assert.Equal(replaced.Order(), first.DeletedFiles.Order());
        // The log still removes those files: they are gone, so the next maintain deletes (and reports) nothing.
        var second = Assert.Single(await new TableMaintenance(store, later).RunAsync("orders", TimeSpan.FromDays(7), CancellationToken.None));
        Assert.Empty(second.DeletedFiles);
        Assert.Single(lake.ParquetKeys());
    }
    [Fact]
    public async Task Maintain_deletes_the_Delta_log_before_the_newest_checkpoint_older_than_the_tables_log_retention_oldest_first_and_the_table_reads_the_same()
    {
        using var lake = new TempLake();
        PipelineDefinition P(string input) => lake.Pipeline("orders", input, p => p with { Destination = p.Destination with { TableFormat = TableFormats.Delta } });
        const string Prefix = "raw/test/orders/";
        var log = Path.Combine(lake.Root, Prefix, "_delta_log");
        string Entry(long v) => Path.Combine(log, $"{v:D20}.json");
        Assert.True((await TempLake.RunAsync(P(lake.WriteSinger("r0", Orders(1, 1))))).Succeeded);
        // The table property, set as another Delta engine would; every later commit carries it on.
        var v0 = File.ReadAllLines(Entry(0)).Select(l => JsonNode.Parse(l)!).ToList();
        v0.Single(a => a["metaData"] is not null)["metaData"]!["configuration"]!["delta.logRetentionDuration"] = "interval 60 days";
        File.WriteAllLines(Entry(0), v0.Select(a => a.ToJsonString()));
        for (var run = 1; run <= 12; run++)
            Assert.True((await TempLake.RunAsync(P(lake.WriteSinger("r" + run, Orders(run + 1, run + 1))))).Succeeded);
        // Versions 0-10 and the checkpoint at 10 were written 40 days ago (a commit's time is its file's), 11 and 12 now.
        foreach (var file in Directory.EnumerateFiles(log).Where(f => long.TryParse(Path.GetFileName(f).Split('.')[0], out var v) && v <= 10))
            File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddDays(-40));

        await using var store = new ObjectStoreFactory().Open(lake.Bucket);
        async Task<TableMaintenanceResult> Maintain(TimeProvider time, TimeSpan olderThan) =>
            Assert.Single(await new TableMaintenance(store, time).RunAsync("orders", olderThan, CancellationToken.None));
        IEnumerable<long> Entries() => Enumerable.Range(0, 13).Select(v => (long)v).Where(v => File.Exists(Entry(v)));
        var delta = new DeltaTable(store, TimeProvider.System);
        async Task<List<List<string?>>> Read(long version)
        {
            var live = (await delta.SnapshotAsync(Prefix, version, CancellationToken.None)).Adds.Keys;
            return lake.Query($"select id from read_parquet([{string.Join(", ", live.Select(p => $"'{lake.Root}/{Prefix}{Uri.UnescapeDataString(p)}'"))}]) order by id");
        }
        List<List<string?>> Ids(int to) => [.. Enumerable.Range(1, to).Select(i => new List<string?> { i.ToString(System.Globalization.CultureInfo.InvariantCulture) })];

        // The table keeps its log 60 days: nothing goes now (Delta's default, 30 days, would take versions 0-9).
        Assert.Equal(0, (await Maintain(TimeProvider.System, TimeSpan.FromDays(7))).DeletedLogFiles);
        // 25 days later they are 65 days old, but --expire-older-than 90d keeps the entries naming the files it keeps.
        var later = new ShiftedTime(DateTimeOffset.UtcNow.AddDays(25));
        Assert.Equal(0, (await Maintain(later, TimeSpan.FromDays(90))).DeletedLogFiles);
        Assert.Equal(Enumerable.Range(0, 13).Select(v => (long)v), Entries());

        // A cleanup stopped at version 5 (a failing store, a kill) has deleted versions 0-4 only: the table still reads.
        await using (var failing = new FaultingStore(new ObjectStoreFactory().Open(lake.Bucket), failDelete: k => k == $"{Prefix}_delta_log/{5:D20}.json"))
            await Assert.ThrowsAsync<IOException>(() => new TableMaintenance(failing, later).RunAsync("orders", TimeSpan.FromDays(7), CancellationToken.None));
        Assert.Equal(Enumerable.Range(5, 8).Select(v => (long)v), Entries());
        Assert.Equal(Ids(13), await Read(12));

        var result = await Maintain(later, TimeSpan.FromDays(7));
        Assert.Equal(5, result.DeletedLogFiles);
        Assert.Equal(5, result.ToJson()["deleted_log_files"]!.GetValue<int>());
        Assert.Empty(result.DeletedFiles);
        // Kept: the checkpoint a reader starts from, its entry and every one after it, _last_checkpoint.
        Assert.Equal([10L, 11, 12], Entries());
        Assert.True(File.Exists(Path.Combine(log, $"{10:D20}.checkpoint.parquet")));
        Assert.True(File.Exists(Path.Combine(log, "_last_checkpoint")));
        // Read back by our reader and DuckDB over its files: the latest version and one within the retention the same;
        // a version before the kept checkpoint is gone.
        Assert.Equal(Ids(13), await Read(12));
        Assert.Equal(Ids(12), await Read(11));
        Assert.Equal(Ids(11), await Read(10));
        var gone = await Assert.ThrowsAsync<StorageException>(() => delta.SnapshotAsync(Prefix, 9, CancellationToken.None));
        Assert.Contains($"{Prefix}_delta_log/{0:D20}.json is missing from the Delta log", gone.Message);
        Assert.Equal(0, (await Maintain(later, TimeSpan.FromDays(7))).DeletedLogFiles);

        // The table goes on, its property with it.
        Assert.True((await TempLake.RunAsync(P(lake.WriteSinger("r13", Orders(14, 14))))).Succeeded);
        Assert.Equal(Ids(14), await Read(13));
        Assert.Equal("interval 60 days", (await delta.SnapshotAsync(Prefix, 13, CancellationToken.None)).MetaData["configuration"]!["delta.logRetentionDuration"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_metadata_log_keeps_the_newest_previous_versions_max_entries_and_maintain_deletes_the_metadata_files_it_no_longer_lists()
    {
        using var lake = new TempLake();
        PipelineDefinition P(string input) => lake.Pipeline("orders", input, p => p with { Destination = p.Destination with { TableFormat = TableFormats.Iceberg | TableFormats.Delta } });
        Assert.True((await TempLake.RunAsync(P(lake.WriteSinger("r1", Orders(1, 2))))).Succeeded);
        var table = Path.Combine(lake.Root, "raw/test/orders");
        string Version(int n) => Path.Combine(table, "metadata", $"v{n}.metadata.json");
        // The table property, set as another Iceberg engine would (every later version copies it).
        var v1 = JsonNode.Parse(File.ReadAllText(Version(1)))!;
        v1["properties"]!["write.metadata.previous-versions-max"] = "3";
        File.WriteAllText(Version(1), v1.ToJsonString());
        for (var run = 2; run <= 7; run++)
            Assert.True((await TempLake.RunAsync(P(lake.WriteSinger("r" + run, Orders(run + 1, run + 1))))).Succeeded);

        JsonArray Log(int n) => JsonNode.Parse(File.ReadAllText(Version(n)))!["metadata-log"]!.AsArray();
        Assert.Equal([$"{lake.Bucket}/raw/test/orders/metadata/v4.metadata.json", $"{lake.Bucket}/raw/test/orders/metadata/v5.metadata.json",
            $"{lake.Bucket}/raw/test/orders/metadata/v6.metadata.json"], Log(7).Select(e => e!["metadata-file"]!.GetValue<string>()));
        Assert.True(File.Exists(Version(1)), "a commit deletes no metadata file");

        await using var store = new ObjectStoreFactory().Open(lake.Bucket);
        // Just written: a committer may still hold one of them as its base, so nothing is deleted yet.
        var recent = Assert.Single(await new TableMaintenance(store, TimeProvider.System).RunAsync("orders", TimeSpan.FromDays(7), CancellationToken.None));
        Assert.DoesNotContain(recent.DeletedFiles, f => f.EndsWith(".metadata.json", StringComparison.Ordinal));
        var result = Assert.Single(await new TableMaintenance(store, new ShiftedTime(DateTimeOffset.UtcNow.AddHours(2))).RunAsync("orders", TimeSpan.FromDays(7), CancellationToken.None));
        Assert.Equal((0, 7), (result.ExpiredSnapshots, result.KeptSnapshots));
        Assert.Equal(["raw/test/orders/metadata/v1.metadata.json", "raw/test/orders/metadata/v2.metadata.json", "raw/test/orders/metadata/v3.metadata.json"],
            result.DeletedFiles);
        Assert.Equal([4, 5, 6, 7], Enumerable.Range(1, 7).Where(n => File.Exists(Version(n))));
        // The conditional-write locks of versions and log entries no writer can change again went with them.
        Assert.Empty(Directory.EnumerateFiles(table, "*.lck", SearchOption.AllDirectories));

        // Read back equal: icebird through the metadata, DuckDB over the current snapshot's files, the same 8 rows.
        var ids = TableReaders.Icebird($"file://{table}")["rows"]!.AsArray().Select(r => long.Parse(r!["id"]!.ToString())).Order().ToList();
        Assert.Equal(Enumerable.Range(1, 8).Select(i => (long)i), ids);
        var live = await new IcebergTable(store, TimeProvider.System).LiveDataFileKeysAsync(new TableMetadataCommit { Prefix = "raw/test/orders/", Location = $"{lake.Bucket}/raw/test/orders" }, CancellationToken.None);
        Assert.Equal(ids.Select(i => new List<string?> { i.ToString(System.Globalization.CultureInfo.InvariantCulture) }),
            lake.Query($"select id from read_parquet([{string.Join(", ", live.Select(k => $"'{lake.Root}/{k}'"))}]) order by id"));

        // The table goes on; a lost version-hint.text no longer makes it look empty now that v1 is gone.
        Assert.True((await TempLake.RunAsync(P(lake.WriteSinger("r8", Orders(9, 9))))).Succeeded);
        Assert.Equal(3, Log(8).Count);
        File.Delete(Path.Combine(table, "metadata", "version-hint.text"));
        var (version, current) = await new IcebergTable(store, TimeProvider.System).LoadCurrentAsync("raw/test/orders/", CancellationToken.None);
        Assert.Equal(8, version);
        Assert.Equal(8, IcebergTable.CurrentSnapshot(current!)!["sequence-number"]!.GetValue<long>());
    }

    [Fact]
    public async Task A_table_commit_claim_cut_short_by_a_machine_crash_is_taken_over_not_waited_for()
    {
        using var lake = new TempLake();
        PipelineDefinition P(string input) => lake.Pipeline("orders", input, p => p with { Destination = p.Destination with { PartitionBy = PartitionBySettings.None } });
        Assert.True((await TempLake.RunAsync(P(lake.WriteSinger("a", Orders(1, 3))))).Succeeded);
        // A claim is not flushed to disk (WriteCondition.IsClaim): after a power loss its file may be there, empty.
        var claim = Path.Combine(lake.Root, DataSpoc.Pipe.Lake.LakePaths.TableCommitClaimKey("raw/test/orders/"));
        Directory.CreateDirectory(Path.GetDirectoryName(claim)!);
        File.WriteAllBytes(claim, []);
        var waited = System.Diagnostics.Stopwatch.StartNew();
        var next = await TempLake.RunAsync(P(lake.WriteSinger("b", Orders(4, 6))));
        Assert.True(next.Succeeded, next.Log.Error);
        Assert.True(waited.Elapsed < TimeSpan.FromSeconds(60), $"the run waited {waited.Elapsed} for a claim no run holds");
        Assert.False(File.Exists(claim));
        Assert.Equal(2, lake.ParquetKeys().Count);
    }

    [Fact]
    public async Task A_merge_leaves_no_lock_of_its_released_claims_and_maintain_removes_those_of_claims_on_files_that_are_gone()
    {
        using var lake = new TempLake();
        PipelineDefinition P(string input) => lake.Pipeline("orders", input, p => p with { Destination = p.Destination with { WriteMode = WriteMode.Merge, PartitionBy = PartitionBySettings.None } });
        Assert.True((await TempLake.RunAsync(P(lake.WriteSinger("a", Orders(1, 3))))).Succeeded);
        var original = lake.ParquetKeys().Single();
        var merge = await TempLake.RunAsync(P(lake.WriteSinger("b", Orders(2, 4))));
        Assert.True(merge.Succeeded, merge.Log.Error);
        Assert.DoesNotContain(original, lake.ParquetKeys()); // rewritten: the merge claimed it, deleted it, released the claim
        var claims = Path.Combine(lake.Root, ".dataspoc", "claims");
        // The table commit claim takes no lock at all (a claim is created by an atomic link, WriteCondition.IsClaim).
        Assert.Empty(Directory.Exists(claims) ? Directory.EnumerateFiles(claims, "*", SearchOption.AllDirectories) : []);

        // What earlier builds left: the lock of a released claim on a file now gone, and one on a file still stored.
        var current = lake.ParquetKeys();
        string Lock(string dataFile)
        {
            var path = Path.Combine(lake.Root, DataSpoc.Pipe.Lake.LakePaths.SupersededClaimKey(dataFile) + ".lck");
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, []);
            return path;
        }
        var gone = Lock(original);
        var stored = Lock(current[0]);
        await using var store = new ObjectStoreFactory().Open(lake.Bucket);
        Assert.Empty(await new TableMaintenance(store, TimeProvider.System).RunAsync("orders", TimeSpan.FromDays(7), CancellationToken.None));
        Assert.False(File.Exists(gone), "a claim on a deleted file can never win anything: its lock goes");
        Assert.True(File.Exists(stored), "a file still stored may be claimed again: its lock stays");
        Assert.Equal([["1"], ["2"], ["3"], ["4"]], lake.Query($"select id from read_parquet([{string.Join(", ", current.Select(k => $"'{lake.Root}/{k}'"))}]) order by id"));
    }

    /// <summary>
    /// The tester's race: another pipeline's run commits the table between the expiry's new metadata version and its
    /// version hint. The expiry holds the table's commit claim until its hint is written, so that run waits for it and
    /// commits after; the hint ends on the newest version, and a reader that trusts it reads every row.
    /// </summary>
    [Fact]
    public async Task A_run_of_another_pipeline_committing_the_table_during_an_expiry_waits_for_it_and_the_version_hint_ends_on_the_newest_version()
    {
        using var lake = new TempLake();
        PipelineDefinition P(string name, string input) => lake.Pipeline(name, input, p => p with { Destination = p.Destination with { TableFormat = TableFormats.Iceberg } });
        Assert.True((await TempLake.RunAsync(P("orders", lake.WriteSinger("a", Orders(1, 3))))).Succeeded);
        Assert.True((await TempLake.RunAsync(P("orders", lake.WriteSinger("b", Orders(4, 5))), full: true)).Succeeded);
        var table = Path.Combine(lake.Root, "raw/test/orders");
        var claimed = Path.Combine(lake.Root, DataSpoc.Pipe.Lake.LakePaths.TableCommitClaimKey("raw/test/orders/"));
        Task<DataSpoc.Pipe.Runs.RunResult>? other = null;
        var claimedAtTheHint = false;
        // Right before the expiry writes its version hint (its v3 is published), the other pipeline's run starts committing;
        // where nothing holds the table, it gets through before the expiry goes on.
        await using var store = new MeetingStore(new ObjectStoreFactory().Open(lake.Bucket), async key =>
        {
            if (other is not null || !key.EndsWith("/version-hint.text", StringComparison.Ordinal)) return;
            claimedAtTheHint = File.Exists(claimed);
            other = TempLake.RunAsync(P("orders_too", lake.WriteSinger("c", Orders(6, 7))));
            if (!claimedAtTheHint) await other;
        });
        await using (var runLock = await DataSpoc.Pipe.Lake.RunLock.AcquireAsync(store, "orders", "maintain-test", TimeProvider.System, CancellationToken.None))
        {
            var result = Assert.Single(await new TableMaintenance(store, new ShiftedTime(DateTimeOffset.UtcNow.AddDays(8)))
                .RunAsync("orders", TimeSpan.FromDays(7), CancellationToken.None, runLock));
            Assert.Equal((1, 1), (result.ExpiredSnapshots, result.KeptSnapshots));
        }
        Assert.NotNull(other);
        var committed = await other;
        Assert.True(committed.Succeeded, committed.Log.Error);

        var newest = Directory.GetFiles(Path.Combine(table, "metadata"), "v*.metadata.json").Max(f => long.Parse(Path.GetFileName(f)[1..^".metadata.json".Length]));
        Assert.Equal(4, newest);
        Assert.Equal(newest.ToString(), File.ReadAllText(Path.Combine(table, "metadata", "version-hint.text")).Trim());
        Assert.True(claimedAtTheHint, "the expiry wrote its hint without holding the table's commit claim");
        Assert.Equal(4, lake.Manifest().Tables["test/orders"].RowCount);
        var read = TableReaders.Icebird($"file://{table}");
        Assert.Equal([4L, 5, 6, 7], read["rows"]!.AsArray().Select(r => long.Parse(r!["id"]!.ToString())).Order());
        Assert.False(File.Exists(claimed));
    }

    [Fact]
    public async Task Refreshing_the_version_hint_never_moves_it_back_when_a_newer_metadata_version_exists()
    {
        using var lake = new TempLake();
        PipelineDefinition P(string input) => lake.Pipeline("orders", input, p => p with { Destination = p.Destination with { TableFormat = TableFormats.Iceberg } });
        Assert.True((await TempLake.RunAsync(P(lake.WriteSinger("a", Orders(1, 3))))).Succeeded);
        Assert.True((await TempLake.RunAsync(P(lake.WriteSinger("b", Orders(4, 5))))).Succeeded);
        var hint = Path.Combine(lake.Root, "raw/test/orders/metadata/version-hint.text");
        Assert.Equal("2", File.ReadAllText(hint).Trim());

        await using var store = new ObjectStoreFactory().Open(lake.Bucket);
        await new IcebergTable(store, TimeProvider.System).RefreshVersionHintAsync("raw/test/orders/", 1, CancellationToken.None);
        Assert.Equal("2", File.ReadAllText(hint).Trim());
        // A hint that lags (a committer stopped before writing it) is still brought forward.
        File.WriteAllText(hint, "1");
        await new IcebergTable(store, TimeProvider.System).RefreshVersionHintAsync("raw/test/orders/", 2, CancellationToken.None);
        Assert.Equal("2", File.ReadAllText(hint).Trim());
    }

    [Fact]
    public async Task An_expiry_stopped_while_it_holds_the_tables_commit_claim_leaves_it_to_the_next_maintain_or_run_of_its_pipeline_to_release()
    {
        using var lake = new TempLake();
        PipelineDefinition P(string name, string input) => lake.Pipeline(name, input, p => p with { Destination = p.Destination with { TableFormat = TableFormats.Iceberg } });
        Assert.True((await TempLake.RunAsync(P("orders", lake.WriteSinger("a", Orders(1, 3))))).Succeeded);
        var claim = DataSpoc.Pipe.Lake.LakePaths.TableCommitClaimKey("raw/test/orders/");

        // The claim's release fails, as a process killed after the expiry's metadata would leave it.
        await using (var stopped = new FaultingStore(new ObjectStoreFactory().Open(lake.Bucket), failDelete: k => k == claim))
            await Assert.ThrowsAsync<IOException>(() => new TableMaintenance(stopped, TimeProvider.System).RunAsync("orders", TimeSpan.FromDays(7), CancellationToken.None));
        Assert.True(File.Exists(Path.Combine(lake.Root, claim)));
        Assert.True(File.Exists(Path.Combine(lake.Root, DataSpoc.Pipe.Lake.LakePaths.JournalKey("orders"))));

        await using var store = new ObjectStoreFactory().Open(lake.Bucket);
        var notice = (await new DataSpoc.Pipe.Lake.LakeCommitter(store, TimeProvider.System).RecoverAsync("orders", CancellationToken.None))?.Notice;
        Assert.StartsWith("released the table commit claims of e", notice);
        Assert.False(File.Exists(Path.Combine(lake.Root, claim)));
        Assert.True((await TempLake.RunAsync(P("orders_too", lake.WriteSinger("b", Orders(4, 5))))).Succeeded);
        Assert.Equal(5, lake.Manifest().Tables["test/orders"].RowCount);
    }
}
