using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Storage;

/// <summary>A log entry too large to hold in memory lands from a spool file, created only if absent: the commit point of a Delta log.</summary>
public class LocalObjectStorePutFileIfAbsentTests
{
    [Fact]
    public async Task A_file_put_if_absent_creates_the_key_once_and_never_replaces_it()
    {
        using var lake = new TempLake();
        var store = new LocalObjectStore(BucketUri.Parse(lake.Bucket));
        var first = Path.Combine(lake.Root, "first.json");
        var second = Path.Combine(lake.Root, "second.json");
        await File.WriteAllTextAsync(first, "{\"a\":1}\n");
        await File.WriteAllTextAsync(second, "{\"b\":2}\n");

        Assert.True(await store.PutFileIfAbsentAsync("t/_delta_log/00000000000000000000.json", first, CancellationToken.None));
        Assert.False(await store.PutFileIfAbsentAsync("t/_delta_log/00000000000000000000.json", second, CancellationToken.None));
        // A conditional put of the same key is refused as well: both take the key's sidecar lock.
        Assert.False(await store.PutAsync("t/_delta_log/00000000000000000000.json", "{\"c\":3}\n"u8.ToArray(), WriteCondition.IfAbsent, CancellationToken.None));

        var stored = await store.GetAsync("t/_delta_log/00000000000000000000.json", CancellationToken.None);
        Assert.Equal("{\"a\":1}\n", System.Text.Encoding.UTF8.GetString(stored!.Content.Span));
    }
}
