namespace DataSpoc.Pipe.Storage;

/// <summary>
/// URI scheme -> object store, as a lookup table. The engine knows only <c>file</c>; the cloud package adds
/// <c>s3</c>, <c>gs</c> and <c>az</c> (see DataSpoc.Pipe.Cloud's <c>CloudStores.Register</c>).
/// </summary>
public sealed class ObjectStoreFactory
{
    private readonly Dictionary<string, Func<BucketUri, IReadOnlyDictionary<string, string>, IObjectStore>> _openers = new(StringComparer.Ordinal)
    {
        ["file"] = (uri, _) => new LocalObjectStore(uri),
    };

    /// <summary>Adds or replaces the store for a scheme (<c>s3</c>, <c>gs</c>, <c>az</c>).</summary>
    public ObjectStoreFactory Register(string scheme, Func<BucketUri, IReadOnlyDictionary<string, string>, IObjectStore> open)
    {
        _openers[scheme] = open;
        return this;
    }

    /// <summary>Opens the store for a bucket URI; <paramref name="options"/> is the pipeline's <c>destination.storage_options</c>.</summary>
    public IObjectStore Open(string bucketUri, IReadOnlyDictionary<string, string>? options = null)
    {
        var uri = BucketUri.Parse(bucketUri);
        if (!_openers.TryGetValue(uri.Scheme, out var open))
            throw new StorageException($"no storage backend is registered for '{uri.Scheme}://' (bucket '{bucketUri}')");
        return open(uri, options ?? new Dictionary<string, string>());
    }
}
