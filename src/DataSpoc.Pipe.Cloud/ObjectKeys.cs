using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Cloud;

/// <summary>Maps store keys to object names under the bucket URI's prefix (<c>s3://bucket/some/prefix</c>) and back.</summary>
internal sealed class ObjectKeys(BucketUri bucket)
{
    private readonly string _prefix = bucket.Prefix.Length > 0 ? bucket.Prefix.Trim('/') + "/" : "";

    /// <summary>The full object name of a key; rejects keys that are empty, absolute, or have empty/dot segments.</summary>
    public string Name(string key)
    {
        if (!BucketUri.HasPlainSegments(key))
            throw new ArgumentException($"invalid object key '{key}'", nameof(key));
        return _prefix + key;
    }

    /// <summary>The full name prefix to list for a key prefix (which may be empty or end in '/').</summary>
    public string ListPrefix(string keyPrefix) => _prefix + keyPrefix;

    /// <summary>The store key of a full object name.</summary>
    public string Key(string name) => name.StartsWith(_prefix, StringComparison.Ordinal) ? name[_prefix.Length..] : name;

    /// <summary>The URI of a key for messages, e.g. <c>s3://bucket/prefix/key</c>.</summary>
    public string Describe(string? key) => key is null ? bucket.Canonical : $"{bucket.Scheme}://{bucket.Bucket}/{_prefix}{key}";
}
