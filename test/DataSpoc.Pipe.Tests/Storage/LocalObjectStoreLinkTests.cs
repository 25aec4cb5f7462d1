using System.Text.Json.Nodes;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Failures;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Storage;

/// <summary>
/// Symbolic links planted in a file:// bucket: a table folder, a partition folder or a file that leads outside the
/// bucket is never written, read or deleted through; links that stay inside the bucket work. And a replace deletes
/// only the table's own data files.
/// </summary>
public sealed class LocalObjectStoreLinkTests : IDisposable
{
    private readonly TempLake _lake = new();
    private readonly string _outside = Path.Combine(Path.GetTempPath(), "dsp-outside-" + Guid.NewGuid().ToString("N")[..10]);

    public LocalObjectStoreLinkTests() => Directory.CreateDirectory(_outside);

    public void Dispose()
    {
        _lake.Dispose();
        try { Directory.Delete(_outside, true); } catch (IOException) { }
    }

    private JsonObject Config(int maxId) => new() { ["max_id"] = maxId };

    [Fact]
    public async Task A_table_folder_linked_outside_the_bucket_fails_the_run_naming_the_link_and_nothing_outside_is_written_or_deleted()
    {
        var victim = Path.Combine(_outside, "precious.parquet");
        File.WriteAllText(victim, "not ours");
        Directory.CreateDirectory(Path.Combine(_lake.Root, "raw", "test"));
        Directory.CreateSymbolicLink(Path.Combine(_lake.Root, "raw", "test", "items"), _outside);

        var full = await TempLake.RunAsync(ScriptedTap.Pipeline(_lake, "linked", Config(5)), full: true);

        Assert.False(full.Succeeded);
        Assert.Contains("is a symbolic link to '" + _outside + "', outside the bucket; refusing to follow it", full.Log.Error);
        Assert.Equal(["precious.parquet"], Directory.GetFiles(_outside).Select(Path.GetFileName));
        Assert.Equal("not ours", File.ReadAllText(victim));
    }

    [Fact]
    public async Task A_partition_folder_or_file_linked_outside_is_refused_by_every_store_operation()
    {
        await using var store = new LocalObjectStore(BucketUri.Parse(_lake.Bucket));
        Directory.CreateDirectory(Path.Combine(_lake.Root, "t"));
        Directory.CreateSymbolicLink(Path.Combine(_lake.Root, "t", "dt=2025-01-01"), _outside);
        File.WriteAllText(Path.Combine(_outside, "x.parquet"), "outside");
        File.CreateSymbolicLink(Path.Combine(_lake.Root, "t", "file.json"), Path.Combine(_outside, "x.parquet"));
        var local = Path.Combine(_lake.Root, "upload.bin");
        File.WriteAllText(local, "data");

        foreach (var key in new[] { "t/dt=2025-01-01/x.parquet", "t/file.json" })
        {
            await Assert.ThrowsAsync<StorageException>(() => store.PutAsync(key, "new"u8.ToArray(), WriteCondition.None, default));
            await Assert.ThrowsAsync<StorageException>(() => store.GetAsync(key, default));
            await Assert.ThrowsAsync<StorageException>(() => store.DeleteAsync(key, default));
            await Assert.ThrowsAsync<StorageException>(() => store.PutFileAsync(key, local, default));
        }
        await Assert.ThrowsAsync<StorageException>(async () => { await foreach (var _ in store.ListAsync("t/dt=2025-01-01/", default)) { } });
        Assert.Equal("outside", File.ReadAllText(Path.Combine(_outside, "x.parquet")));
        Assert.Single(Directory.GetFiles(_outside));
    }

    [Fact]
    public async Task A_listing_that_reaches_a_folder_or_file_linked_outside_below_its_prefix_is_refused_and_one_without_lists_every_file()
    {
        await using var store = new LocalObjectStore(BucketUri.Parse(_lake.Bucket));
        async Task<List<string>> List(string prefix)
        {
            var keys = new List<string>();
            await foreach (var obj in store.ListAsync(prefix, default)) keys.Add(obj.Key);
            return keys;
        }
        File.WriteAllText(Path.Combine(_outside, "x.parquet"), "outside");
        // Many files in a few folders (each folder is checked once per listing), then a link further down.
        foreach (var folder in new[] { "a/t/dt=2025-01-01", "a/t/dt=2025-01-02", "b/t/metadata" })
        {
            Directory.CreateDirectory(Path.Combine(_lake.Root, folder));
            for (var i = 0; i < 3; i++) File.WriteAllText(Path.Combine(_lake.Root, folder, $"f{i}.avro"), "x");
        }
        Assert.Equal(9, (await List("")).Count);
        Directory.CreateSymbolicLink(Path.Combine(_lake.Root, "a", "t", "dt=2025-01-03"), _outside);
        File.CreateSymbolicLink(Path.Combine(_lake.Root, "b", "t", "metadata", "linked.avro"), Path.Combine(_outside, "x.parquet"));

        foreach (var prefix in new[] { "a/", "a/t/", "b/t/", "b/t/metadata/", "" })
        {
            var error = await Assert.ThrowsAsync<StorageException>(() => List(prefix));
            Assert.Contains("outside the bucket; refusing to follow it", error.Message);
        }
        Assert.Equal(["a/t/dt=2025-01-01/f0.avro", "a/t/dt=2025-01-01/f1.avro", "a/t/dt=2025-01-01/f2.avro"], await List("a/t/dt=2025-01-01/"));
    }

    [Fact]
    public async Task A_link_that_stays_inside_the_bucket_is_followed()
    {
        await using var store = new LocalObjectStore(BucketUri.Parse(_lake.Bucket));
        Directory.CreateDirectory(Path.Combine(_lake.Root, "real"));
        Directory.CreateSymbolicLink(Path.Combine(_lake.Root, "alias"), Path.Combine(_lake.Root, "real"));
        Assert.True(await store.PutAsync("alias/a.json", "{}"u8.ToArray(), WriteCondition.None, default));
        Assert.True(File.Exists(Path.Combine(_lake.Root, "real", "a.json")));
    }

    [Fact]
    public async Task A_full_refresh_deletes_the_tables_own_files_and_leaves_files_the_lake_did_not_write()
    {
        var first = await TempLake.RunAsync(ScriptedTap.Pipeline(_lake, "replace", Config(5)));
        Assert.True(first.Succeeded, first.Log.Error);
        var ours = Assert.Single(_lake.ParquetKeys());
        var folder = Path.GetDirectoryName(Path.Combine(_lake.Root, ours))!;
        var foreign = new[] { Path.Combine(folder, "notes.parquet"), Path.Combine(folder, "items_backup.parquet"), Path.Combine(folder, "..", "keep", "items_0000.parquet") };
        foreach (var f in foreign)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(f)!);
            File.WriteAllText(f, "user file");
        }

        var full = await TempLake.RunAsync(ScriptedTap.Pipeline(_lake, "replace", Config(3)), full: true);

        Assert.True(full.Succeeded, full.Log.Error);
        Assert.All(foreign, f => Assert.Equal("user file", File.ReadAllText(f)));
        Assert.Contains(full.Log.Notices, n => n.Contains("left 3 Parquet file(s) under raw/test/items/ in place", StringComparison.Ordinal));
        var landed = Assert.Single(_lake.ParquetKeys(), k => System.Text.RegularExpressions.Regex.IsMatch(k, @"/dt=[^/]+/items_\d{4}_[0-9a-f]+\.parquet$"));
        Assert.Equal([["3"]], _lake.Query($"SELECT count(*) FROM read_parquet('{{lake}}/{landed}')"));
    }
}
