using System.Text;
using DataSpoc.Pipe.Storage;
using Xunit.Abstractions;

namespace DataSpoc.Pipe.Cloud.Tests;

/// <summary>What every bucket (file://, s3://, gs://, az://) must do; run once per store by the subclasses.</summary>
public abstract class ObjectStoreContract(ITestOutputHelper output)
{
    protected abstract StoreTarget Target { get; }

    protected ITestOutputHelper Output { get; } = output;

    private static CancellationToken Timeout(int seconds = 120) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;

    [Fact]
    public async Task Put_then_get_returns_the_same_bytes_and_a_version()
    {
        await using var store = Target.Open(StoreTarget.NewPrefix());
        var content = Encoding.UTF8.GetBytes("{\"version\":\"1.0\",\"tables\":[]}\n\u00e9\u4e2d");
        Assert.True(await store.PutAsync(".dataspoc/manifest.json", content, WriteCondition.None, Timeout()));
        var stored = await store.GetAsync(".dataspoc/manifest.json", Timeout());
        Assert.NotNull(stored);
        Assert.Equal(content, stored.Content.ToArray());
        Assert.False(string.IsNullOrEmpty(stored.Version));
    }

    [Fact]
    public async Task Overwriting_an_object_changes_its_content_and_version()
    {
        await using var store = Target.Open(StoreTarget.NewPrefix());
        await store.PutAsync("a.json", "one"u8.ToArray(), WriteCondition.None, Timeout());
        var first = await store.GetAsync("a.json", Timeout());
        await store.PutAsync("a.json", "two!"u8.ToArray(), WriteCondition.None, Timeout());
        var second = await store.GetAsync("a.json", Timeout());
        Assert.Equal("two!"u8.ToArray(), second!.Content.ToArray());
        Assert.NotEqual(first!.Version, second.Version);
    }

    [Fact]
    public async Task A_missing_key_reads_as_null_and_opening_it_throws_file_not_found()
    {
        await using var store = Target.Open(StoreTarget.NewPrefix());
        Assert.Null(await store.GetAsync("nope/none.json", Timeout()));
        await Assert.ThrowsAsync<FileNotFoundException>(() => store.OpenReadAsync("nope/none.json", Timeout()));
    }

    [Fact]
    public async Task A_small_file_uploads_and_streams_back_byte_for_byte()
    {
        await using var store = Target.Open(StoreTarget.NewPrefix());
        var (path, sha) = TestFiles.Random(3 << 20, seed: 7);
        try
        {
            await store.PutFileAsync("raw/csv/orders/dt=2025-01-20/orders_0000.parquet", path, Timeout());
            Assert.Equal(sha, await TestFiles.Sha256Async(await store.OpenReadAsync("raw/csv/orders/dt=2025-01-20/orders_0000.parquet", Timeout())));
        }
        finally { TestFiles.Delete(path); }
    }

    [Fact]
    public async Task A_file_larger_than_one_part_uploads_in_parts_and_streams_back_byte_for_byte()
    {
        await using var store = Target.Open(StoreTarget.NewPrefix());
        var (path, sha) = TestFiles.Random((40L << 20) + 12345, seed: 8);
        try
        {
            await store.PutFileAsync("big/part.bin", path, Timeout());
            Assert.Equal(sha, await TestFiles.Sha256Async(await store.OpenReadAsync("big/part.bin", Timeout())));
            var listed = await store.ListAsync("big/", Timeout()).ToListAsync();
            Assert.Equal((40L << 20) + 12345, Assert.Single(listed).Size);
        }
        finally { TestFiles.Delete(path); }
    }

    [Fact]
    public Task A_200_MB_file_uploads_in_parts_with_bounded_memory() =>
        // Holding the file (or half of it) in memory would exceed the bound; parts in flight fit well below it.
        UploadsWithBoundedMemory("upload", "big/200mb.bin", seed: 9, (store, key, path) => store.PutFileAsync(key, path, Timeout(600)));

    [Fact]
    public Task A_200_MB_file_put_if_absent_is_streamed_from_disk_with_bounded_memory() =>
        // What a Delta log entry of a run writing many files goes up as: it must not be read into memory to be made conditional.
        UploadsWithBoundedMemory("put if absent", "raw/shop/orders/_delta_log/00000000000000000000.json", seed: 10,
            async (store, key, path) => Assert.True(await store.PutFileIfAbsentAsync(key, path, Timeout(600))));

    /// <summary>Uploads a 200 MB file with <paramref name="upload"/>: the managed heap must grow by less than 100 MB, and it reads back whole.</summary>
    private async Task UploadsWithBoundedMemory(string what, string key, int seed, Func<IObjectStore, string, string, Task> upload)
    {
        const long size = 200L << 20;
        await using var store = Target.Open(StoreTarget.NewPrefix());
        var (path, sha) = TestFiles.Random(size, seed);
        try
        {
            long heap, workingSet;
            var started = DateTime.UtcNow;
            await using (var probe = new MemoryProbe())
            {
                await upload(store, key, path);
                heap = probe.HeapPeak;
                workingSet = probe.WorkingSetPeak;
            }
            var seconds = (DateTime.UtcNow - started).TotalSeconds;
            Output.WriteLine($"{Target}: 200 MB {what} in {seconds:0.0} s; managed heap peak +{heap >> 20} MB, working set peak +{workingSet >> 20} MB");
            Assert.True(heap < 100L << 20, $"managed heap grew by {heap >> 20} MB in a 200 MB {what}");
            Assert.Equal(sha, await TestFiles.Sha256Async(await store.OpenReadAsync(key, Timeout(600))));
        }
        finally { TestFiles.Delete(path); }
    }

    [Fact]
    public async Task Listing_a_prefix_returns_every_key_under_it_across_pages_in_key_order_and_nothing_else()
    {
        await using var store = Target.Open(StoreTarget.NewPrefix());
        var keys = Enumerable.Range(0, 1_050).Select(i => $"raw/src/t/dt=2025-01-{1 + i % 28:00}/t_{i:0000}.parquet").ToList();
        await Parallel.ForEachAsync(keys, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (key, ct) =>
            await store.PutAsync(key, Encoding.UTF8.GetBytes(key), WriteCondition.None, ct));
        await store.PutAsync("raw/src/tt/other.parquet", "x"u8.ToArray(), WriteCondition.None, Timeout());
        await store.PutAsync("raw/other/t/x.parquet", "x"u8.ToArray(), WriteCondition.None, Timeout());

        var listed = await store.ListAsync("raw/src/t/", Timeout()).ToListAsync();

        // In key order: run log expiry stops at the first log young enough to keep.
        Assert.Equal(keys.Order(StringComparer.Ordinal), listed.Select(o => o.Key));
        Assert.All(listed, o => Assert.Equal(Encoding.UTF8.GetByteCount(o.Key), o.Size));
        Assert.Equal(keys.Count + 2, (await store.ListAsync("", Timeout()).ToListAsync()).Count);
    }

    [Fact]
    public async Task Deleting_removes_the_object_and_deleting_it_again_is_not_an_error()
    {
        await using var store = Target.Open(StoreTarget.NewPrefix());
        await store.PutAsync(".dataspoc/locks/p.lock", "held"u8.ToArray(), WriteCondition.None, Timeout());
        await store.DeleteAsync(".dataspoc/locks/p.lock", Timeout());
        Assert.Null(await store.GetAsync(".dataspoc/locks/p.lock", Timeout()));
        Assert.Empty(await store.ListAsync(".dataspoc/", Timeout()).ToListAsync());
        await store.DeleteAsync(".dataspoc/locks/p.lock", Timeout());
        await store.DeleteAsync("never/existed.json", Timeout());
    }

    [Fact]
    public async Task Keys_are_written_below_the_bucket_uri_prefix()
    {
        var prefix = StoreTarget.NewPrefix();
        await using var nested = Target.Open(prefix + "/lake/one");
        await nested.PutAsync("raw/a.json", "a"u8.ToArray(), WriteCondition.None, Timeout());
        await using var outer = Target.Open(prefix);
        var listed = await outer.ListAsync("", Timeout()).ToListAsync();
        Assert.Equal("lake/one/raw/a.json", Assert.Single(listed).Key);
        Assert.Equal("raw/a.json", Assert.Single(await nested.ListAsync("", Timeout()).ToListAsync()).Key);
    }
}
