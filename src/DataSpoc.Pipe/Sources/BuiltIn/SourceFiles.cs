using DataSpoc.Pipe.Storage;
using Microsoft.Extensions.FileSystemGlobbing;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>One input file of a file-based tap: a local path or an object in a bucket.</summary>
internal sealed record SourceFile(string Location, long Size, DateTimeOffset Modified, Func<CancellationToken, Task<Stream>> Open)
{
    /// <summary>The file's content: its bytes, decompressed and checked whole when its name ends in <c>.gz</c> (<see cref="CheckedGzipStream"/>).</summary>
    public async Task<Stream> OpenContentAsync(CancellationToken cancellationToken)
    {
        var bytes = await Open(cancellationToken).ConfigureAwait(false);
        return Location.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)
            ? new CheckedGzipStream(bytes, Location, () => Open(CancellationToken.None).GetAwaiter().GetResult())
            : bytes;
    }

    /// <summary>The file name without directory and without its last extension (and a trailing <c>.gz</c>).</summary>
    public string BaseName
    {
        get
        {
            var name = Location[(Location.LastIndexOf('/') + 1)..];
            if (name.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)) name = name[..^3];
            var dot = name.LastIndexOf('.');
            return dot > 0 ? name[..dot] : name;
        }
    }

    public string FileName => Location[(Location.LastIndexOf('/') + 1)..];

    public bool IsLocal => !Location.Contains("://", StringComparison.Ordinal);
}

/// <summary>
/// Resolves a file tap's <c>files</c> / <c>path</c> entries (local paths, globs, folders, or bucket URIs such as
/// <c>s3://bucket/raw/*.csv</c>) to the files they name, sorted by location. A folder stands for the tap's default
/// pattern inside it. An entry that matches nothing is an error, so a typo never reads as "no new data".
/// </summary>
internal sealed class SourceFiles(string tap, ObjectStoreFactory stores, IReadOnlyDictionary<string, string> storageOptions) : IAsyncDisposable
{
    private readonly List<IObjectStore> _opened = [];

    /// <summary>Closes the bucket stores opened while resolving (after the files have been read).</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var store in _opened) await store.DisposeAsync().ConfigureAwait(false);
        _opened.Clear();
    }

    public async Task<List<SourceFile>> ResolveAsync(IEnumerable<string> entries, IReadOnlyList<string> folderPatterns, CancellationToken cancellationToken)
    {
        var found = new Dictionary<string, SourceFile>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            var files = entry.Contains("://", StringComparison.Ordinal)
                ? await ResolveInBucketAsync(entry, folderPatterns, cancellationToken).ConfigureAwait(false)
                : ResolveLocal(entry, folderPatterns);
            if (files.Count == 0) throw new TapException($"{tap} tap: '{entry}' matches no file");
            foreach (var f in files) found.TryAdd(f.Location, f);
        }
        return found.Values.OrderBy(f => f.Location, StringComparer.Ordinal).ToList();
    }

    private static bool HasWildcard(string segment) => segment.IndexOfAny(['*', '?', '[', '{']) >= 0;

    private static List<SourceFile> ResolveLocal(string entry, IReadOnlyList<string> folderPatterns)
    {
        var full = Path.GetFullPath(entry);
        if (File.Exists(full)) return [Local(new FileInfo(full))];
        string root;
        IReadOnlyList<string> patterns;
        if (Directory.Exists(full))
        {
            root = full;
            patterns = folderPatterns;
        }
        else
        {
            (root, var pattern) = SplitAtWildcard(full);
            if (pattern.Length == 0 || !Directory.Exists(root)) return [];
            patterns = [pattern];
        }
        var matcher = new Matcher(StringComparison.Ordinal);
        matcher.AddIncludePatterns(patterns);
        return matcher.GetResultsInFullPath(root).Select(p => Local(new FileInfo(p))).ToList();
    }

    private static SourceFile Local(FileInfo info)
    {
        var path = info.FullName;
        return new SourceFile(path, info.Length, new DateTimeOffset(info.LastWriteTimeUtc, TimeSpan.Zero),
            _ => Task.FromResult<Stream>(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan)));
    }

    private async Task<List<SourceFile>> ResolveInBucketAsync(string entry, IReadOnlyList<string> folderPatterns, CancellationToken cancellationToken)
    {
        // scheme://bucket/key...: open the store on the bucket alone and match keys, so a glob may sit anywhere in the key.
        var sep = entry.IndexOf("://", StringComparison.Ordinal);
        var afterScheme = entry[(sep + 3)..];
        var scheme = entry[..sep];
        if (scheme.Equals("file", StringComparison.OrdinalIgnoreCase)) return ResolveLocal(afterScheme, folderPatterns);
        var slash = afterScheme.IndexOf('/');
        var bucketUri = slash < 0 ? entry : entry[..(sep + 3 + slash)];
        var keyPart = slash < 0 ? "" : afterScheme[(slash + 1)..];
        IObjectStore store;
        try
        {
            store = stores.Open(bucketUri, storageOptions);
        }
        catch (Exception e) when (e is StorageException or FormatException)
        {
            throw new TapException($"{tap} tap: cannot open '{entry}': {e.Message}", e);
        }
        _opened.Add(store);
        string listPrefix;
        IReadOnlyList<string> patterns;
        if (HasWildcard(keyPart))
        {
            var (root, rest) = SplitAtWildcard(keyPart);
            listPrefix = root.Length == 0 ? "" : root.TrimEnd('/') + "/";
            patterns = [rest];
        }
        else
        {
            // A single object, or a folder (prefix) holding the tap's default patterns.
            var key = keyPart.TrimEnd('/');
            if (key.Length > 0)
                await foreach (var o in store.ListAsync(key, cancellationToken).ConfigureAwait(false))
                    if (o.Key == key) return [Remote(store, bucketUri, o)];
            listPrefix = key.Length == 0 ? "" : key + "/";
            patterns = folderPatterns;
        }
        var matcher = new Matcher(StringComparison.Ordinal);
        matcher.AddIncludePatterns(patterns);
        var listed = new Dictionary<string, ObjectInfo>(StringComparer.Ordinal);
        await foreach (var o in store.ListAsync(listPrefix, cancellationToken).ConfigureAwait(false))
            listed[o.Key[listPrefix.Length..]] = o;
        var matched = matcher.Match("/", listed.Keys.Select(k => "/" + k));
        return matched.Files.Select(f => Remote(store, bucketUri, listed[f.Path])).ToList();
    }

    private static SourceFile Remote(IObjectStore store, string bucketUri, ObjectInfo info)
        => new(bucketUri.TrimEnd('/') + "/" + info.Key, info.Size, info.LastModified, ct => store.OpenReadAsync(info.Key, ct));

    /// <summary>Splits <c>/a/b/*/c*.csv</c> into the literal folder <c>/a/b</c> and the glob <c>*/c*.csv</c>.</summary>
    private static (string Root, string Pattern) SplitAtWildcard(string path)
    {
        var segments = path.Split('/');
        var first = Array.FindIndex(segments, HasWildcard);
        if (first < 0) return (path, "");
        var root = string.Join('/', segments[..first]);
        if (path.StartsWith('/') && root.Length == 0) root = "/";
        return (root, string.Join('/', segments[first..]));
    }
}
