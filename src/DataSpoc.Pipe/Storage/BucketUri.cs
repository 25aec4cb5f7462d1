namespace DataSpoc.Pipe.Storage;

/// <summary>
/// A parsed bucket URI: <c>file:///abs/dir</c>, <c>s3://bucket/prefix</c>, <c>gs://bucket</c>, <c>az://container</c>.
/// Aliases are normalised: <c>gcs</c> -> <c>gs</c>; <c>abfs</c>/<c>abfss</c> -> <c>az</c>.
/// </summary>
public sealed record BucketUri(string Scheme, string Bucket, string Prefix, string Original)
{
    /// <summary>For file://, the absolute local directory of the bucket.</summary>
    public string LocalPath => Scheme == "file" ? "/" + Bucket + (Prefix.Length > 0 ? "/" + Prefix : "") : throw new InvalidOperationException("not a file:// bucket");

    /// <summary>The URI with its canonical scheme and no trailing slash, e.g. for the manifest's <c>location</c>.</summary>
    public string Canonical => Scheme == "file"
        ? "file://" + LocalPath
        : $"{Scheme}://{Bucket}" + (Prefix.Length > 0 ? "/" + Prefix : "");

    /// <summary>
    /// The key prefix (ending in '/') of <paramref name="location"/>, a folder URI as a lake commit writes it into the
    /// manifest (<see cref="Canonical"/> + '/' + keys), when it lies inside this bucket and its prefix; else null.
    /// Whoever can write the bucket can edit its manifest, so a location is followed no further than that: no other
    /// scheme, bucket or sibling folder, and no '.', '..' or empty segment that could climb out once resolved.
    /// </summary>
    public string? KeyPrefixOf(string location)
    {
        if (!location.StartsWith(Canonical + "/", StringComparison.Ordinal)) return null;
        var key = location[(Canonical.Length + 1)..].TrimEnd('/');
        var inside = key.Length > 0 && !key.Any(char.IsControl) && HasPlainSegments(key);
        return inside ? key + "/" : null;
    }

    /// <summary>
    /// Whether every '/'-separated segment of <paramref name="path"/> (a bucket prefix, <c>destination.path</c>, a key)
    /// is a name: not empty, '.' or '..'. The one rule for every path the lake builds keys from: a store sends such a
    /// segment as it is, and whoever resolves the URL (the Azure SDK's <see cref="Uri"/>, a client that mirrors the
    /// bucket to disk, a reader that normalises the location) ends up in another folder or container than the one named.
    /// </summary>
    internal static bool HasPlainSegments(string path) => path.Split('/').All(segment => segment is not ("" or "." or ".."));

    /// <summary>
    /// Parses a bucket URI; throws <see cref="FormatException"/> with the reason. A cloud bucket and its prefix must be
    /// plain names (<see cref="HasPlainSegments"/>): <c>az://lake/../victim</c> would write into container <c>victim</c>,
    /// <c>s3://lake/../x</c> into literal <c>../x/</c> keys. A <c>file://</c> path is a local path and is resolved as
    /// the operating system does (<c>file:///data/lake/../x</c> is <c>/data/x</c>): its <see cref="Canonical"/> form,
    /// which the manifest and the lock record, names the directory actually written.
    /// </summary>
    public static BucketUri Parse(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        var text = uri.Trim();
        var sep = text.IndexOf("://", StringComparison.Ordinal);
        if (sep <= 0)
            throw new FormatException($"bucket '{uri}' has no scheme: use file:///abs/dir, s3://bucket, gs://bucket or az://container");
        var scheme = text[..sep].ToLowerInvariant() switch
        {
            "gcs" => "gs",
            "abfs" or "abfss" => "az",
            var s => s,
        };
        var rest = text[(sep + 3)..];
        if (scheme == "file")
        {
            if (!rest.StartsWith('/'))
                throw new FormatException($"bucket '{uri}' must be an absolute path: file:///abs/dir");
            var full = Path.GetFullPath(rest).TrimEnd('/');
            if (full.Length == 0)
                throw new FormatException($"bucket '{uri}' cannot be the root directory");
            RefuseUriDelimiters(uri, full);
            return new BucketUri("file", full.TrimStart('/'), "", uri);
        }
        if (scheme is not ("s3" or "gs" or "az"))
            throw new FormatException($"bucket '{uri}' has unsupported scheme '{scheme}://': use file://, s3://, gs:// (gcs://) or az:// (abfs://, abfss://)");
        rest = rest.Trim('/');
        // abfs(s)://container@account.dfs.core.windows.net/prefix names the container before '@'.
        var slash = rest.IndexOf('/');
        var bucket = slash < 0 ? rest : rest[..slash];
        var prefix = slash < 0 ? "" : rest[(slash + 1)..].Trim('/');
        var at = bucket.IndexOf('@');
        if (at >= 0) bucket = bucket[..at];
        if (bucket.Length == 0)
            throw new FormatException($"bucket '{uri}' names no bucket");
        if (!HasPlainSegments(bucket) || (prefix.Length > 0 && !HasPlainSegments(prefix)))
            throw new FormatException($"bucket '{uri}' must not contain empty, '.' or '..' segments in its bucket name or prefix");
        RefuseUriDelimiters(uri, bucket + "/" + prefix);
        return new BucketUri(scheme, bucket, prefix, uri);
    }

    private static void RefuseUriDelimiters(string uri, string path)
    {
        if (Lake.LakeNames.UriDelimiterIn(path) is { } delimiter)
            throw new FormatException($"bucket '{uri}' must not contain '{delimiter}': {Lake.LakeNames.UriDelimiterWhy}");
    }

    public override string ToString() => Canonical;
}
