using System.Globalization;
using System.Text;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Cloud.Tests;

/// <summary>
/// Conditional writes, which the manifest, the pipeline lock and data files rely on. Run against the stores whose test
/// server enforces them: file://, Azurite, the GCS stand-in and Ceph RGW (s3rver ignores If-None-Match / If-Match).
/// </summary>
public abstract class ConditionalWriteContract
{
    protected abstract StoreTarget Target { get; }

    private static CancellationToken Timeout(int seconds = 120) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;

    [Fact]
    public async Task Create_if_absent_succeeds_once_and_refuses_the_second_writer()
    {
        await using var store = Target.Open(StoreTarget.NewPrefix());
        Assert.True(await store.PutAsync(".dataspoc/locks/orders.lock", "run-1"u8.ToArray(), WriteCondition.IfAbsent, Timeout()));
        Assert.False(await store.PutAsync(".dataspoc/locks/orders.lock", "run-2"u8.ToArray(), WriteCondition.IfAbsent, Timeout()));
        Assert.Equal("run-1"u8.ToArray(), (await store.GetAsync(".dataspoc/locks/orders.lock", Timeout()))!.Content.ToArray());
    }

    [Fact]
    public async Task A_write_with_a_stale_version_is_refused_and_with_the_current_version_succeeds()
    {
        await using var store = Target.Open(StoreTarget.NewPrefix());
        await store.PutAsync("m.json", "v1"u8.ToArray(), WriteCondition.None, Timeout());
        var v1 = (await store.GetAsync("m.json", Timeout()))!.Version;
        Assert.True(await store.PutAsync("m.json", "v2"u8.ToArray(), WriteCondition.IfVersion(v1), Timeout()));
        Assert.False(await store.PutAsync("m.json", "v3"u8.ToArray(), WriteCondition.IfVersion(v1), Timeout()));
        var current = await store.GetAsync("m.json", Timeout());
        Assert.Equal("v2"u8.ToArray(), current!.Content.ToArray());
        Assert.True(await store.PutAsync("m.json", "v3"u8.ToArray(), WriteCondition.IfVersion(current.Version), Timeout()));
    }

    [Fact]
    public async Task A_versioned_write_to_a_missing_object_is_refused()
    {
        await using var store = Target.Open(StoreTarget.NewPrefix());
        await store.PutAsync("gone.json", "v1"u8.ToArray(), WriteCondition.None, Timeout());
        var version = (await store.GetAsync("gone.json", Timeout()))!.Version;
        await store.DeleteAsync("gone.json", Timeout());
        Assert.False(await store.PutAsync("gone.json", "v2"u8.ToArray(), WriteCondition.IfVersion(version), Timeout()));
        Assert.Null(await store.GetAsync("gone.json", Timeout()));
    }

    [Fact]
    public async Task A_data_file_is_created_only_if_absent_and_a_second_writer_of_its_key_is_refused()
    {
        await using var store = Target.Open(StoreTarget.NewPrefix());
        const string key = "raw/shop/orders/dt=2025-01-20/orders_0000_abc12345.parquet";
        var first = Path.GetTempFileName();
        var second = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(first, "first writer");
            await File.WriteAllTextAsync(second, "second writer");
            await store.PutFileAsync(key, first, Timeout());
            var refused = await Assert.ThrowsAsync<StorageException>(() => store.PutFileAsync(key, second, Timeout()));
            Assert.Contains("already exists (another writer created it)", refused.Message);
            Assert.Equal("first writer"u8.ToArray(), (await store.GetAsync(key, Timeout()))!.Content.ToArray());
        }
        finally
        {
            File.Delete(first);
            File.Delete(second);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Of_eight_writers_creating_one_key_at_once_exactly_one_wins_and_its_content_reads_back_whole(bool claim)
    {
        const int writers = 8, rounds = 20;
        var prefix = StoreTarget.NewPrefix();
        var condition = WriteCondition.IfAbsent with { IsClaim = claim };
        await using var reader = Target.Open(prefix);
        for (var round = 0; round < rounds; round++)
        {
            var key = $".dataspoc/claims/raw/shop/orders/_table-commit.claim";
            // Each writer has its own store and its own content (big enough that a torn read would show), released together.
            using var start = new ManualResetEventSlim();
            var attempts = Enumerable.Range(0, writers).Select(writer => Task.Run(async () =>
            {
                await using var store = Target.Open(prefix);
                var content = Encoding.UTF8.GetBytes(new string((char)('a' + writer), 64 * 1024));
                start.Wait();
                return (content, won: await store.PutAsync(key, content, condition, Timeout()));
            })).ToList();
            start.Set();
            var results = await Task.WhenAll(attempts);
            var winners = results.Where(r => r.won).ToList();
            Assert.True(winners.Count == 1, $"round {round}: {winners.Count} writers created {key}");
            Assert.Equal(winners[0].content, (await reader.GetAsync(key, Timeout()))!.Content.ToArray());
            await reader.DeleteAsync(key, Timeout());
        }
    }

    [Fact]
    public async Task Of_eight_writers_landing_one_data_file_at_once_exactly_one_wins()
    {
        const int writers = 8, rounds = 20;
        var prefix = StoreTarget.NewPrefix();
        await using var reader = Target.Open(prefix);
        var folder = Directory.CreateTempSubdirectory("dsp-land-").FullName;
        try
        {
            for (var round = 0; round < rounds; round++)
            {
                var key = $"raw/shop/orders/orders_{round:0000}_abc12345.parquet";
                using var start = new ManualResetEventSlim();
                var attempts = Enumerable.Range(0, writers).Select(writer => Task.Run(async () =>
                {
                    await using var store = Target.Open(prefix);
                    var local = Path.Combine(folder, $"{round}-{writer}");
                    await File.WriteAllTextAsync(local, $"writer {writer}");
                    start.Wait();
                    try { await store.PutFileAsync(key, local, Timeout()); return (writer, won: true); }
                    catch (StorageException e) when (e.Message.Contains("already exists", StringComparison.Ordinal)) { return (writer, won: false); }
                })).ToList();
                start.Set();
                var results = await Task.WhenAll(attempts);
                var winners = results.Where(r => r.won).ToList();
                Assert.True(winners.Count == 1, $"round {round}: {winners.Count} writers landed {key}");
                Assert.Equal($"writer {winners[0].writer}", Encoding.UTF8.GetString((await reader.GetAsync(key, Timeout()))!.Content.Span));
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_file_put_if_absent_lands_its_exact_bytes_and_a_second_is_refused_leaving_the_first()
    {
        // Above 16 MB: Azure's staged blocks (the condition on the block-list commit), GCS's chunks; S3 one PUT still.
        const string key = "raw/shop/orders/_delta_log/00000000000000000000.json";
        await using var store = Target.Open(StoreTarget.NewPrefix());
        var (first, firstSha) = TestFiles.Random((20L << 20) + 7, seed: 21);
        var (second, _) = TestFiles.Random((20L << 20) + 7, seed: 22);
        try
        {
            Assert.True(await store.PutFileIfAbsentAsync(key, first, Timeout()));
            Assert.Equal(firstSha, await TestFiles.Sha256Async(await store.OpenReadAsync(key, Timeout())));
            Assert.False(await store.PutFileIfAbsentAsync(key, second, Timeout()));
            Assert.False(await store.PutAsync(key, "third"u8.ToArray(), WriteCondition.IfAbsent, Timeout()));
            Assert.Equal(firstSha, await TestFiles.Sha256Async(await store.OpenReadAsync(key, Timeout())));
        }
        finally
        {
            TestFiles.Delete(first);
            TestFiles.Delete(second);
        }
    }

    [Fact]
    public async Task Of_eight_writers_putting_one_file_if_absent_at_once_exactly_one_wins()
    {
        const int writers = 8, rounds = 10;
        var prefix = StoreTarget.NewPrefix();
        await using var reader = Target.Open(prefix);
        var folder = Directory.CreateTempSubdirectory("dsp-entry-").FullName;
        try
        {
            for (var round = 0; round < rounds; round++)
            {
                var key = $"raw/shop/orders/_delta_log/{round:00000000000000000000}.json";
                using var start = new ManualResetEventSlim();
                var attempts = Enumerable.Range(0, writers).Select(writer => Task.Run(async () =>
                {
                    await using var store = Target.Open(prefix);
                    var local = Path.Combine(folder, $"{round}-{writer}");
                    await File.WriteAllTextAsync(local, new string((char)('a' + writer), 64 * 1024));
                    start.Wait();
                    return (writer, won: await store.PutFileIfAbsentAsync(key, local, Timeout()));
                })).ToList();
                start.Set();
                var results = await Task.WhenAll(attempts);
                var winners = results.Where(r => r.won).ToList();
                Assert.True(winners.Count == 1, $"round {round}: {winners.Count} writers created {key}");
                Assert.Equal(new string((char)('a' + winners[0].writer), 64 * 1024), Encoding.UTF8.GetString((await reader.GetAsync(key, Timeout()))!.Content.Span));
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task Eight_concurrent_read_modify_write_loops_lose_no_update()
    {
        const int writers = 8, increments = 10;
        var prefix = StoreTarget.NewPrefix();
        await using (var seed = Target.Open(prefix))
            Assert.True(await seed.PutAsync(".dataspoc/manifest.json", "0"u8.ToArray(), WriteCondition.IfAbsent, Timeout()));
        var conflicts = 0;
        // Each writer has its own store (own client and connections), as eight pipeline processes would.
        await Task.WhenAll(Enumerable.Range(0, writers).Select(async _ =>
        {
            await using var store = Target.Open(prefix);
            for (var done = 0; done < increments;)
            {
                var current = await store.GetAsync(".dataspoc/manifest.json", Timeout());
                var next = int.Parse(Encoding.UTF8.GetString(current!.Content.Span), CultureInfo.InvariantCulture) + 1;
                if (await store.PutAsync(".dataspoc/manifest.json", Encoding.UTF8.GetBytes(next.ToString(CultureInfo.InvariantCulture)), WriteCondition.IfVersion(current.Version), Timeout()))
                    done++;
                else
                    Interlocked.Increment(ref conflicts);
            }
        }));
        await using var reader = Target.Open(prefix);
        var final = await reader.GetAsync(".dataspoc/manifest.json", Timeout());
        Assert.Equal((writers * increments).ToString(CultureInfo.InvariantCulture), Encoding.UTF8.GetString(final!.Content.Span));
    }
}
