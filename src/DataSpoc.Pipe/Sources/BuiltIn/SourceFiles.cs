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

    /// <summary>
    /// For a live file of a partitioned Delta table read as a table (<see cref="LakeTableFolders"/>), the values of its
    /// partition columns, which only the table's log holds; else null.
    /// </summary>
    public Tables.DeltaPartitionValues? DeltaPartition { get; init; }

    /// <summary>
    /// For a live file of an Iceberg or Delta table read as a table (<see cref="LakeTableFolders"/>), what the commit
    /// that added it replaced (null when it replaced nothing or the table's history no longer tells); else null.
    /// </summary>
    public Func<CancellationToken, Task<SourceFileOrigin?>>? Origin { get; init; }
}

/// <summary>
/// The files (locations) a table's commit removed when it added a file, and whether it changed the table's rows: a
/// compaction (Iceberg <c>replace</c>, Delta <c>dataChange: false</c>) did not, a merge or overwrite did.
/// </summary>
internal sealed record SourceFileOrigin(bool ChangesData, IReadOnlyList<string> Replaced)
{
    /// <summary>The origin of one of <see cref="Replaced"/> (an earlier compaction's file a later one rewrote has one too).</summary>
    public Func<string, CancellationToken, Task<SourceFileOrigin?>> OriginOf { get; init; } = (_, _) => Task.FromResult<SourceFileOrigin?>(null);

    /// <summary>
    /// One of <see cref="Replaced"/> as it is still on storage (a table keeps replaced files for time travel until
    /// <c>maintain</c> expires them), so its rows can be read instead of the file that holds them now; null when gone.
    /// </summary>
    public Func<string, SourceFile?> Stored { get; init; } = _ => null;

    /// <summary>Why <see cref="Replaced"/> is empty though the commit replaced files (its history expired); see <see cref="Tables.TableFileOrigin.ReplacedUnknownBecause"/>.</summary>
    public string? ReplacedUnknownBecause { get; init; }
}

/// <summary>
/// Resolves a file tap's <c>files</c> / <c>path</c> entries (local paths, globs, folders, or bucket URIs such as
/// <c>s3://bucket/raw/*.csv</c>) to the files they name, oldest first (by modification time, then location). A folder stands for the tap's default
/// pattern inside it. An entry that matches nothing is an error, so a typo never reads as "no new data". With
/// <paramref name="lakeTables"/> (the parquet tap), a folder or glob reads a table with Iceberg or Delta metadata as
/// the table holds it now (<see cref="LakeTableFolders"/>).
/// </summary>
internal sealed class SourceFiles(string tap, ObjectStoreFactory stores, IReadOnlyDictionary<string, string> storageOptions, bool lakeTables = false) : IAsyncDisposable
{
    /// <summary>What one entry matched: its files, and for a folder or glob the literal folder they were matched in.</summary>
    private sealed record Resolved(List<SourceFile> Files, string? Root = null, bool WholeFolder = false, LakeTableFolders.IFolders? Folders = null)
    {
        /// <summary>For a folder none of whose files its patterns took, the files' names (to say why nothing was read).</summary>
        public IReadOnlyList<string> Unmatched { get; init; } = [];
    }

    private readonly List<IObjectStore> _opened = [];
    private readonly List<string> _notices = [];

    /// <summary>What the run log should say about the resolved files (two names of one file, read once).</summary>
    public IReadOnlyList<string> Notices => _notices;

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
            var resolved = entry.Contains("://", StringComparison.Ordinal)
                ? await ResolveInBucketAsync(entry, folderPatterns, cancellationToken).ConfigureAwait(false)
                : ResolveLocal(entry, folderPatterns);
            if (resolved.Files.Count == 0)
                throw TapException.Configuration($"{tap} tap: '{entry}' matches no file" + (resolved.Unmatched.Count == 0 ? ""
                    : $": its {resolved.Unmatched.Count} file(s) ({string.Join(", ", resolved.Unmatched.Order(StringComparer.Ordinal).Take(5))}" +
                      $"{(resolved.Unmatched.Count > 5 ? ", ..." : "")}) are not named {string.Join(", ", folderPatterns)}: name them in 'files'"));
            var files = lakeTables && resolved is { Root: { } root, Folders: { } folders }
                ? await LakeTableFolders.LiveFilesAsync(tap, entry, root, resolved.Files, resolved.WholeFolder, folders, cancellationToken).ConfigureAwait(false)
                : resolved.Files;
            foreach (var f in files) found.TryAdd(f.Location, f);
        }
        // In the order they arrived, as incremental runs read them: a key in several files then keeps the newest file's row
        // in a merge, in a full reload too (by name, day10.csv would come before day9.csv).
        return OneNamePerFile(found.Values).OrderBy(f => f.Modified).ThenBy(f => f.Location, StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// A local file named twice (<c>latest.csv -> day1.csv</c> beside its target, a folder reached through a link) is
    /// read once, under one name: the file's own path when it is among the names, else the first in ordinal order.
    /// Its bookmark is kept by the resolved path, so reading it under both names would land its rows twice.
    /// </summary>
    private IEnumerable<SourceFile> OneNamePerFile(IEnumerable<SourceFile> files)
    {
        var paths = new ResolvedPaths();
        foreach (var group in files.GroupBy(f => f.IsLocal ? paths.Resolve(f.Location) : f.Location, StringComparer.Ordinal))
        {
            var names = group.OrderBy(f => f.Location == group.Key ? 0 : 1).ThenBy(f => f.Location, StringComparer.Ordinal).ToList();
            if (names.Count > 1)
                _notices.Add($"{string.Join(", ", names.Skip(1).Select(f => f.Location))} name(s) the same file as {names[0].Location} " +
                    $"({group.Key}, through a symlink): read once, as {names[0].Location}");
            yield return names[0];
        }
    }

    private static bool HasWildcard(string segment) => segment.IndexOfAny(['*', '?', '[', '{']) >= 0;

    /// <summary>
    /// A folder's default patterns name extensions, which a file may spell in any case (<c>x.JSONL</c>, <c>x.Jsonl.GZ</c>);
    /// a glob the user wrote matches as written.
    /// </summary>
    private static Matcher MatcherFor(IReadOnlyList<string> patterns, bool folderPatterns)
    {
        var matcher = new Matcher(folderPatterns ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal);
        matcher.AddIncludePatterns(patterns);
        return matcher;
    }

    private Resolved ResolveLocal(string entry, IReadOnlyList<string> folderPatterns)
    {
        var full = Path.GetFullPath(Config.PipeHome.ExpandHome(entry));
        if (File.Exists(full)) return new([Local(new FileInfo(full))]);
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
            if (pattern.Length == 0 || !Directory.Exists(root)) return new([]);
            patterns = [pattern];
        }
        var files = MatcherFor(patterns, root == full).GetResultsInFullPath(root).Select(p => Local(new FileInfo(p))).ToList();
        return new(files, root, WholeFolder: root == full, new LocalFolders(_opened))
        {
            Unmatched = files.Count == 0 && root == full ? Directory.EnumerateFiles(root).Select(Path.GetFileName).OfType<string>().ToList() : [],
        };
    }

    /// <summary>Local folders: their table metadata is looked for on disk, and a table is read through a store on its folder.</summary>
    private sealed class LocalFolders(List<IObjectStore> opened) : LakeTableFolders.IFolders
    {
        public bool HasTableMetadata(string folder) =>
            Holds(Path.Combine(folder, "metadata"), "*.metadata.json") || Holds(Path.Combine(folder, "_delta_log"), "*.json");

        private static bool Holds(string directory, string pattern) => Directory.Exists(directory) && Directory.EnumerateFiles(directory, pattern).Any();

        public (IObjectStore Store, string Prefix, string Uri) Open(string folder)
        {
            IObjectStore store;
            try
            {
                store = new LocalObjectStore(BucketUri.Parse("file://" + folder));
            }
            catch (FormatException e)
            {
                throw new TapException($"cannot read the table at {folder}: {e.Message}", e);
            }
            opened.Add(store);
            return (store, "", store.Bucket.Canonical);
        }
    }

    /// <summary>Bucket folders: their table metadata is looked for in the entry's listing, and a table is read through the bucket's store.</summary>
    private sealed class BucketFolders(IObjectStore store, string bucketUri, IEnumerable<string> keys) : LakeTableFolders.IFolders
    {
        private readonly HashSet<string> _tables = keys.Select(TableKeyOf).OfType<string>()
            .Select(folderKey => folderKey.Length == 0 ? bucketUri : bucketUri + "/" + folderKey).ToHashSet(StringComparer.Ordinal);

        /// <summary>The folder (key, no trailing '/') whose table metadata <paramref name="key"/> is, or null.</summary>
        private static string? TableKeyOf(string key)
        {
            var parts = key.Split('/');
            if (parts.Length < 2) return null;
            var metadata = parts[^2] == "metadata" && parts[^1].EndsWith(".metadata.json", StringComparison.Ordinal)
                || parts[^2] == "_delta_log" && parts[^1].EndsWith(".json", StringComparison.Ordinal);
            return metadata ? string.Join('/', parts[..^2]) : null;
        }

        public bool HasTableMetadata(string folder) => _tables.Contains(folder);

        public (IObjectStore Store, string Prefix, string Uri) Open(string folder)
        {
            var key = folder.Length > bucketUri.Length ? folder[(bucketUri.Length + 1)..] : "";
            return (store, key.Length == 0 ? "" : key + "/", folder);
        }
    }

    private static SourceFile Local(FileInfo info)
    {
        var path = info.FullName;
        // A symlink's own size and time are those of its link text: a target that grows or is replaced would never
        // change them, so the bookmark takes the target's (stat, not lstat). A dangling link fails when read.
        var stat = info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is FileInfo { Exists: true } target ? target : info;
        return new SourceFile(path, stat.Length, new DateTimeOffset(stat.LastWriteTimeUtc, TimeSpan.Zero),
            _ => Task.FromResult<Stream>(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan)));
    }

    private async Task<Resolved> ResolveInBucketAsync(string entry, IReadOnlyList<string> folderPatterns, CancellationToken cancellationToken)
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
                    if (o.Key == key) return new([Remote(store, bucketUri, o)]);
            listPrefix = key.Length == 0 ? "" : key + "/";
            patterns = folderPatterns;
        }
        var matcher = MatcherFor(patterns, !HasWildcard(keyPart));
        var listed = new Dictionary<string, ObjectInfo>(StringComparer.Ordinal);
        await foreach (var o in store.ListAsync(listPrefix, cancellationToken).ConfigureAwait(false))
            listed[o.Key[listPrefix.Length..]] = o;
        var matched = matcher.Match("/", listed.Keys.Select(k => "/" + k));
        var listRoot = bucketUri.TrimEnd('/') + (listPrefix.Length == 0 ? "" : "/" + listPrefix.TrimEnd('/'));
        return new(matched.Files.Select(f => Remote(store, bucketUri, listed[f.Path])).ToList(), listRoot, WholeFolder: !HasWildcard(keyPart),
            new BucketFolders(store, bucketUri.TrimEnd('/'), listed.Values.Select(o => o.Key)))
        {
            Unmatched = !matched.HasMatches && !HasWildcard(keyPart) ? listed.Keys.Where(k => !k.Contains('/')).ToList() : [],
        };
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
