using System.Runtime.CompilerServices;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Tests.Support;

/// <summary>
/// A store that fails the writes or deletes a test picks (by key), as a process killed or a store failing at that point
/// would: everything before it happened, nothing after it does.
/// </summary>
public sealed class FaultingStore(IObjectStore inner, Func<string, bool>? failPut = null, Func<string, bool>? failDelete = null) : IObjectStore
{
    public BucketUri Bucket => inner.Bucket;

    public string? LocalRoot => inner.LocalRoot;

    public Task PutFileAsync(string key, string localPath, CancellationToken cancellationToken) =>
        failPut?.Invoke(key) == true ? throw Fault("writing", key) : inner.PutFileAsync(key, localPath, cancellationToken);

    public Task<bool> PutAsync(string key, ReadOnlyMemory<byte> content, WriteCondition condition, CancellationToken cancellationToken) =>
        failPut?.Invoke(key) == true ? throw Fault("writing", key) : inner.PutAsync(key, content, condition, cancellationToken);

    public Task<StoredObject?> GetAsync(string key, CancellationToken cancellationToken) => inner.GetAsync(key, cancellationToken);

    public Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken) => inner.OpenReadAsync(key, cancellationToken);

    public async IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var o in inner.ListAsync(prefix, cancellationToken).ConfigureAwait(false)) yield return o;
    }

    public Task DeleteAsync(string key, CancellationToken cancellationToken) =>
        failDelete?.Invoke(key) == true ? throw Fault("deleting", key) : inner.DeleteAsync(key, cancellationToken);

    public ValueTask DisposeAsync() => inner.DisposeAsync();

    private static IOException Fault(string doing, string key) => new($"simulated failure {doing} {key}");
}
