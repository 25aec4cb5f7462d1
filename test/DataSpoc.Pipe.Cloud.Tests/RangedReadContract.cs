using DataSpoc.Pipe.Cloud.Tests.Runs;
using DataSpoc.Pipe.Cloud.Tests.Servers;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Cloud.Tests;

/// <summary>
/// Ranged reads (<see cref="IObjectStore.OpenReadRangeAsync"/>) and the footer-only Parquet read built on them, on every
/// store; run once per store by the subclasses.
/// </summary>
public abstract class RangedReadContract
{
    protected abstract StoreTarget Target { get; }

    private static CancellationToken Timeout(int seconds = 120) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;

    private static async Task<byte[]> ReadAllAsync(Stream stream)
    {
        await using (stream)
        {
            var buffer = new MemoryStream();
            await stream.CopyToAsync(buffer);
            return buffer.ToArray();
        }
    }

    [Fact]
    public async Task A_range_reads_exactly_those_bytes_of_the_object_cut_at_its_end()
    {
        await using var store = Target.Open(StoreTarget.NewPrefix());
        const int size = (3 << 20) + 4321;
        var (path, _) = TestFiles.Random(size, seed: 31);
        try
        {
            var whole = await File.ReadAllBytesAsync(path);
            await store.PutFileAsync("raw/s/t/t_0000_a1b2c3d4.parquet", path, Timeout());
            (long Offset, long Length)[] ranges =
            [
                (0, 1), (0, 100), ((1 << 20) + 7, 123_457), (size - 8, 8), (size - 1, 1), (size - 1000, 5000), (0, size), (0, size + 10L), (size, 10), (size + 5, 1),
            ];
            foreach (var (offset, length) in ranges)
            {
                var expected = whole.AsSpan((int)Math.Min(offset, size), (int)Math.Clamp(size - offset, 0, length)).ToArray();
                var read = await ReadAllAsync(await store.OpenReadRangeAsync("raw/s/t/t_0000_a1b2c3d4.parquet", offset, length, Timeout()));
                Assert.True(expected.AsSpan().SequenceEqual(read), $"{Target}: range {offset}+{length} read {read.Length} bytes, not the object's {expected.Length} there");
            }
        }
        finally { TestFiles.Delete(path); }
    }

    [Fact]
    public async Task A_range_of_a_missing_key_throws_file_not_found()
    {
        await using var store = Target.Open(StoreTarget.NewPrefix());
        await store.PutAsync("raw/present.parquet", "PAR1"u8.ToArray(), WriteCondition.None, Timeout());
        await Assert.ThrowsAsync<FileNotFoundException>(() => store.OpenReadRangeAsync("raw/missing.parquet", 0, 8, Timeout()));
    }

    [Fact]
    public async Task A_footer_read_from_the_tail_gives_the_metadata_the_whole_file_gives()
    {
        await using var lake = new CloudLake(Target);
        var run = await lake.RunAsync(lake.Pipeline("footer", 5_000, pad: 40));
        Assert.True(run.Succeeded, run.Log.Error);
        var data = Assert.Single(await lake.Store.ListAsync("raw/shop/orders/", Timeout()).ToListAsync());

        // A compaction's file of it (written by the engine's concatenation), whose key-value metadata makes its footer
        // larger than the footer read's first request: the rest of it is read by a second one.
        var local = Path.Combine(Path.GetTempPath(), "footer-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using (var source = await lake.Store.OpenReadAsync(data.Key, Timeout()))
            await using (var target = File.Create(local + ".in.parquet"))
                await source.CopyToAsync(target);
            var keyValues = new Dictionary<string, string?>
            {
                [ReplaceBaseline.InputsWrittenBeforeKey] = ReplaceBaseline.InputsWrittenBeforeValue(data.LastModified),
                ["test.padding"] = new string('x', 100_000),
            };
            Parquet.ParquetConcatenation.Concatenate([local + ".in.parquet"], local + ".out.parquet", Config.Compression.Zstd, keyValues);
            var compactedKey = data.Key.Replace(".parquet", "_c1a2b3c4.parquet", StringComparison.Ordinal);
            File.Copy(local + ".out.parquet", local + ".up.parquet"); // a file:// store moves what it lands
            await lake.Store.PutFileAsync(compactedKey, local + ".up.parquet", Timeout());
            var compacted = Assert.Single(await lake.Store.ListAsync(compactedKey, Timeout()).ToListAsync());

            foreach (var (file, localPath) in new[] { (data, local + ".in.parquet"), (compacted, local + ".out.parquet") })
            {
                var fromTail = await StoredParquetFooter.ReadAsync(lake.Store, file, Facts, Timeout());
                using var reader = new ParquetSharp.ParquetFileReader(localPath);
                using var meta = reader.FileMetaData;
                Assert.Equal(Facts(meta), fromTail);
            }
            var compactedFacts = await StoredParquetFooter.ReadAsync(lake.Store, compacted, Facts, Timeout());
            Assert.Equal(5_000, compactedFacts.Rows);
            Assert.Contains($"{ReplaceBaseline.InputsWrittenBeforeKey}={ReplaceBaseline.InputsWrittenBeforeValue(data.LastModified)}", compactedFacts.KeyValues);
            Assert.True(compacted.Size - data.Size > 64 << 10, "the compacted file's footer should exceed the first read");
        }
        finally
        {
            File.Delete(local + ".in.parquet");
            File.Delete(local + ".out.parquet");
            File.Delete(local + ".up.parquet");
        }
    }

    /// <summary>What a footer tells, comparable by value.</summary>
    private sealed record FooterFacts(long Rows, int RowGroups, string CreatedBy, string Columns, string KeyValues);

    private static FooterFacts Facts(ParquetSharp.FileMetaData meta) => new(
        meta.NumRows,
        meta.NumRowGroups,
        meta.CreatedBy,
        string.Join(",", Enumerable.Range(0, meta.NumColumns).Select(c => $"{string.Join(".", meta.Schema.Column(c).Path.ToDotVector())}:{meta.Schema.Column(c).PhysicalType}")),
        string.Join(";", meta.KeyValueMetadata.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value}")));

    [Fact]
    public async Task A_footer_read_of_an_object_that_is_not_parquet_fails_naming_it()
    {
        await using var store = Target.Open(StoreTarget.NewPrefix());
        await store.PutAsync("raw/s/t/t_0000_a1b2c3d4.parquet", "id,name\n1,a\n2,b\n3,c\n"u8.ToArray(), WriteCondition.None, Timeout());
        // The right magic, with a footer length past the start of the object.
        await store.PutAsync("raw/s/t/t_0001_a1b2c3d4.parquet", (byte[])[.. "PAR1"u8, .. new byte[20], 0x00, 0x10, 0x00, 0x00, .. "PAR1"u8], WriteCondition.None, Timeout());
        var listed = await store.ListAsync("raw/s/t/", Timeout()).ToListAsync();

        var csv = await Assert.ThrowsAsync<StorageException>(() => StoredParquetFooter.ReadAsync(store, listed[0], m => m.NumRows, Timeout()));
        Assert.Equal($"{store.Bucket}/raw/s/t/t_0000_a1b2c3d4.parquet is not a readable Parquet file: it does not end in PAR1", csv.Message);
        var cut = await Assert.ThrowsAsync<StorageException>(() => StoredParquetFooter.ReadAsync(store, listed[1], m => m.NumRows, Timeout()));
        Assert.Equal($"{store.Bucket}/raw/s/t/t_0001_a1b2c3d4.parquet is not a readable Parquet file: its footer length (4096 bytes) is more than its 32 bytes hold", cut.Message);
    }

    /// <summary>
    /// A range of a 4 MB object, read through a proxy counting what the server sends: the server sent the range (and
    /// headers), not the object. For the stores with a server (the subclasses expose it as a test).
    /// </summary>
    protected async Task Only_the_range_comes_from_the_server()
    {
        var prefix = StoreTarget.NewPrefix();
        await using var proxy = new TcpFaultProxy(Target.ServerPort);
        await using var store = Target.Open(prefix, proxy.Port);
        var (path, _) = TestFiles.Random(4 << 20, seed: 32);
        try
        {
            await store.PutFileAsync("big.bin", path, Timeout());
            var before = proxy.Downloaded;
            var read = await ReadAllAsync(await store.OpenReadRangeAsync("big.bin", (2 << 20) + 3, 10_000, Timeout()));
            var sent = proxy.Downloaded - before;
            Assert.Equal(10_000, read.Length);
            Assert.True(sent < 64 << 10, $"{Target}: the server sent {sent:N0} bytes for a 10,000-byte range of a 4 MB object");
        }
        finally { TestFiles.Delete(path); }
    }
}
