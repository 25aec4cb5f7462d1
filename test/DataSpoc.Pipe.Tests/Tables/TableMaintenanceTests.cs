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
            File.WriteAllText(path, "{}");
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow - age);
            return "raw/test/orders/" + name;
        }
        var old = new[] { Leftover("metadata/v2.metadata.json.tmp-0a1b2c3d4e5f", TimeSpan.FromHours(2)), Leftover("_delta_log/00000000000000000001.json.tmp-1a2b3c4d5e6f", TimeSpan.FromHours(2)) };
        var recent = Leftover("metadata/snap-1.avro.tmp-2a3b4c5d6e7f", TimeSpan.FromMinutes(1));

        await using var store = new ObjectStoreFactory().Open(lake.Bucket);
        var result = Assert.Single(await new TableMaintenance(store, TimeProvider.System).RunAsync("orders", TimeSpan.FromDays(7), CancellationToken.None));
        Assert.Equal(old.Order(StringComparer.Ordinal), result.DeletedFiles);
        Assert.All(old, key => Assert.False(File.Exists(Path.Combine(lake.Root, key)), key));
        Assert.True(File.Exists(Path.Combine(lake.Root, recent)), "a temp file of a commit that may still be running stays");
        Assert.Equal([1L, 2, 3], TableReaders.Icebird($"file://{table}")["rows"]!.AsArray().Select(r => long.Parse(r!["id"]!.ToString())).Order());
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
}
