using System.Runtime.CompilerServices;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Tests.Support;

/// <summary>A real store, passing every call on, that sums the bytes read through the streams it opens (whole or ranged).</summary>
public sealed class ReadCountingStore(IObjectStore inner) : IObjectStore
{
    private long _bytesRead;

    /// <summary>Bytes read so far through every stream this store returned.</summary>
    public long BytesRead => Interlocked.Read(ref _bytesRead);

    public BucketUri Bucket => inner.Bucket;
    public string? LocalRoot => inner.LocalRoot;

    public Task PutFileAsync(string key, string localPath, CancellationToken cancellationToken) => inner.PutFileAsync(key, localPath, cancellationToken);
    public Task<bool> PutAsync(string key, ReadOnlyMemory<byte> content, WriteCondition condition, CancellationToken cancellationToken) => inner.PutAsync(key, content, condition, cancellationToken);
    public Task<StoredObject?> GetAsync(string key, CancellationToken cancellationToken) => inner.GetAsync(key, cancellationToken);
    public Task DeleteAsync(string key, CancellationToken cancellationToken) => inner.DeleteAsync(key, cancellationToken);
    public ValueTask DisposeAsync() => inner.DisposeAsync();

    public async Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken) =>
        new Counted(await inner.OpenReadAsync(key, cancellationToken), this);

    public async Task<Stream> OpenReadRangeAsync(string key, long offset, long length, CancellationToken cancellationToken) =>
        new Counted(await inner.OpenReadRangeAsync(key, offset, length, cancellationToken), this);

    public async IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var o in inner.ListAsync(prefix, cancellationToken)) yield return o;
    }

    private sealed class Counted(Stream stream, ReadCountingStore store) : DataSpoc.Pipe.OwningReadOnlyStream
    {
        protected override Stream Owned => stream;

        public override int Read(byte[] buffer, int offset, int count) => Count(stream.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await stream.ReadAsync(buffer, cancellationToken));

        public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            Count(await stream.ReadAsync(buffer.AsMemory(offset, count), cancellationToken));

        private int Count(int read)
        {
            Interlocked.Add(ref store._bytesRead, read);
            return read;
        }
    }
}
