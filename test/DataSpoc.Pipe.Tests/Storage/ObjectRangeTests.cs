using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Storage;

/// <summary>The ranged read a store gets by default (a third-party store that only streams whole objects).</summary>
public sealed class ObjectRangeTests : IDisposable
{
    private readonly TempLake _lake = new();

    public void Dispose() => _lake.Dispose();

    [Fact]
    public async Task A_store_without_ranged_reads_serves_a_range_from_the_whole_object()
    {
        var whole = new byte[300_000];
        new Random(3).NextBytes(whole);
        // FaultingStore implements no ranged read of its own: the interface's default reads the object and skips.
        IObjectStore store = new FaultingStore(new ObjectStoreFactory().Open(_lake.Bucket));
        await store.PutAsync("raw/t.bin", whole, WriteCondition.None, CancellationToken.None);

        foreach (var (offset, length) in new (long, long)[] { (0, 1), (70_001, 100_000), (whole.Length - 8, 8), (whole.Length - 10, 100), (whole.Length, 1), (whole.Length + 1, 5) })
        {
            await using var range = await store.OpenReadRangeAsync("raw/t.bin", offset, length, CancellationToken.None);
            var read = new MemoryStream();
            await range.CopyToAsync(read);
            var expected = whole.AsSpan((int)Math.Min(offset, whole.Length), (int)Math.Clamp(whole.Length - offset, 0, length)).ToArray();
            Assert.Equal(expected, read.ToArray());
            // A body that cannot seek (an HTTP response that ignored Range) is read through to the offset instead.
            await using var forward = ObjectRange.Of(new ForwardOnly(new MemoryStream(whole)), offset, length);
            read.SetLength(0);
            await forward.CopyToAsync(read);
            Assert.Equal(expected, read.ToArray());
        }
        await Assert.ThrowsAsync<FileNotFoundException>(() => store.OpenReadRangeAsync("raw/none.bin", 0, 8, CancellationToken.None));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => store.OpenReadRangeAsync("raw/t.bin", 0, 0, CancellationToken.None));
    }

    private sealed class ForwardOnly(Stream inner) : ReadOnlyStream
    {
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
    }
}
