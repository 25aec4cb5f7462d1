using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.Extensions.FileSystemGlobbing;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>A stream of a file tap: its name, the pattern that claims files for it, and the files it got.</summary>
internal interface IFileStream
{
    string Name { get; }
    Matcher? Pattern { get; }
    string? PatternText { get; }
    IReadOnlyList<string> KeyProperties { get; }
    List<SourceFile> Files { get; }
}

/// <summary>
/// How file taps (csv, jsonl, parquet) turn files into streams: each file goes to the first configured stream whose
/// <c>pattern</c> matches its name (or, when the pattern has a <c>/</c>, its location), or that is named after it;
/// any other file is a stream of its own, named after the file without extension.
/// </summary>
internal static class FileStreams
{
    /// <summary>The config keys every file tap reads: where its files are, how to open them, and its <c>streams</c>.</summary>
    public static readonly string[] ConfigKeys = ["files", "path", "storage_options", "streams"];

    /// <summary>The keys of a <c>streams[]</c> entry every file tap reads.</summary>
    public static readonly string[] StreamKeys = ["name", "pattern", "key_properties"];

    /// <summary>The <c>files</c> and <c>path</c> entries of a file tap's config (at least one is required).</summary>
    public static List<string> Entries(string tap, TapConfig config)
    {
        var entries = config.Strings("files");
        if (config.String("path") is { } path) entries.Add(path);
        if (entries.Count == 0) throw TapException.Configuration($"{tap} tap: config needs 'files' (paths or globs) or 'path' (a folder or file)");
        return entries;
    }

    /// <summary>How many rows per stream a tap reads to infer its columns: <c>sample_rows</c>, at least 1; when absent
    /// 20,480, DuckDB's <c>sample_size</c>, so a file gets the types DuckDB's sniffer gives it (a column whose first
    /// 1,000 values are whole and a later one is <c>2000.5</c> is a number, not a failing integer).</summary>
    public const int DefaultSampleRows = 20_480;

    public static int SampleRows(TapConfig config)
    {
        var sampleRows = config.Int("sample_rows") ?? DefaultSampleRows;
        if (sampleRows < 1) throw config.Wrong("sample_rows", "at least 1");
        return sampleRows;
    }

    /// <summary>Parses <c>streams: [{name, pattern, …}]</c>; <paramref name="create"/> reads the tap's own keys, <paramref name="streamKeys"/> all an entry may have.</summary>
    public static List<T> Configured<T>(string tap, TapConfig config, IReadOnlyCollection<string> streamKeys, Func<TapConfig, string, string, Matcher?, string?, T> create) where T : IFileStream
    {
        var result = new List<T>();
        var list = config.Array("streams") ?? [];
        for (var i = 0; i < list.Count; i++)
        {
            var where = $"streams[{i}]";
            if (list[i] is not JsonObject s) throw config.Wrong(where, "an object");
            var stream = new TapConfig(tap, s).OnlyKeys(streamKeys, where);
            var name = stream.String("name") ?? throw TapException.Configuration($"{tap} tap: config key '{where}.name' is required");
            var pattern = stream.String("pattern");
            Matcher? matcher = null;
            if (pattern is not null)
            {
                matcher = new Matcher(StringComparison.Ordinal);
                matcher.AddInclude(pattern.TrimStart('/'));
            }
            if (result.Any(p => p.Name == name)) throw TapException.Configuration($"{tap} tap: stream name '{name}' is configured twice");
            result.Add(create(stream, where, name, matcher, pattern));
        }
        return result;
    }

    /// <summary>
    /// Assigns files to streams; returns the streams that got at least one file, configured ones first.
    /// <paramref name="ownTable"/> names the stream of an unclaimed file and says which table it is a part of (default:
    /// the file name without extension, and the file itself): the files of one table share its stream, and two tables
    /// with one name (<c>a/orders/</c> and <c>b/orders/</c>, or <c>x.jsonl</c> next to <c>x.jsonl.gz</c>) are an error
    /// rather than one stream mixing their rows.
    /// </summary>
    public static List<T> Assign<T>(string tap, IEnumerable<SourceFile> files, IEnumerable<T> configured, Func<string, T> ownStream,
        Func<SourceFile, (string Name, string Table)>? ownTable = null) where T : IFileStream
    {
        var plans = configured.ToList();
        foreach (var p in plans) p.Files.Clear();
        var configuredCount = plans.Count;
        var own = new Dictionary<string, (T Plan, string Table)>(StringComparer.Ordinal);
        foreach (var file in files)
        {
            // Only configured streams claim files by pattern or name; an unclaimed file's own stream is found by its table.
            var plan = plans.Take(configuredCount).FirstOrDefault(p => Matches(p, file));
            if (plan is null)
            {
                var (name, table) = ownTable?.Invoke(file) ?? (file.BaseName, file.Location);
                if (own.TryGetValue(name, out var other))
                {
                    if (other.Table != table)
                        throw new TapException($"{tap} tap: files {other.Plan.Files[0].Location} and {file.Location} would both be stream '{name}' " +
                            "(they are not parts of one table); configure a stream with a pattern for them");
                    plan = other.Plan;
                }
                else
                {
                    plan = ownStream(name);
                    own[name] = (plan, table);
                    plans.Add(plan);
                }
            }
            plan.Files.Add(file);
        }
        return plans.Where(p => p.Files.Count > 0).ToList();
    }

    private static bool Matches(IFileStream stream, SourceFile file)
    {
        // A stream without a pattern takes the files named after it (orders.csv for stream orders).
        if (stream.Pattern is null || stream.PatternText is null) return file.BaseName == stream.Name;
        var subject = stream.PatternText.Contains('/') ? file.Location : file.FileName;
        return stream.Pattern.Match("/", ["/" + subject.TrimStart('/')]).HasMatches;
    }

    /// <summary>
    /// How often a sync sends a STATE while it reads a stream's files. Each STATE holds every file's bookmark, so one after
    /// each file would make a run of n new files cost n² (bench/README.md, session 29); by time, their number grows with
    /// the run's length only.
    /// </summary>
    private static readonly TimeSpan StateInterval = TimeSpan.FromSeconds(1);

    /// <summary>What avoids reading a table's compaction whole once the files it replaced expired.</summary>
    private const string RunBeforeExpiry = "(run this pipeline between a table's compaction and the expiry of the files it replaced)";

    /// <summary>
    /// The sync every file tap shares: the selected streams in plan order, only the files changed since their bookmark
    /// (a table's file holding only rows of files already read counts as read: <see cref="SourceFile.Origin"/>),
    /// a STATE after a file once <see cref="StateInterval"/> passed since the last one and at the end of each stream read
    /// (or, when none is read, one at the end); a STATE always follows the rows of the files it marks read.
    /// <paramref name="openStream"/> starts a stream (its SCHEMA) and returns what writes one file's rows, or null when
    /// the files hold nothing (they are marked read all the same).
    /// </summary>
    public static async Task SyncAsync<TStream>(IEnumerable<TStream> streams, JsonObject? state, JsonObject? catalog, RecordSink sink,
        Func<TStream, IReadOnlyList<SourceFile>, TapCatalog, Task<Func<SourceFile, Task>?>> openStream, CancellationToken cancellationToken)
        where TStream : IFileStream
    {
        var selection = new TapCatalog(catalog);
        var bookmarks = new FileBookmarks(state);
        // The bookmarks change only when a file is marked read, and each stream read ends with its STATE: the closing
        // STATE is needed only when nothing was read (it hands the given state back), else it would repeat the last.
        var stateWritten = false;
        var sinceState = Stopwatch.StartNew();
        void WriteState()
        {
            // A copy: a sink may hold a STATE until the rows before it are in the lake, while the bookmarks move on.
            sink.WriteState(bookmarks.State.DeepClone());
            stateWritten = true;
            sinceState.Restart();
        }
        foreach (var stream in streams)
        {
            if (!selection.IsSelected(stream.Name)) continue;
            var toRead = new List<SourceFile>();
            // Compactions' files whose unread rows are read from the files they replaced: marked read once those are.
            var readInstead = new List<SourceFile>();
            var startedUnchanged = stream.Files.Where(f => bookmarks.IsUnchanged(stream.Name, f)).ToHashSet();
            // Found once per stream, and only when a file new to it is met.
            var gone = new Lazy<List<(string Key, JsonObject Entry)>>(() => bookmarks.GoneSinceRead(stream.Name, stream.Files));
            foreach (var file in stream.Files.Where(f => !startedUnchanged.Contains(f)))
            {
                if (bookmarks.WasReadBefore(stream.Name, file))
                {
                    // A changed file is read again whole (a file cannot be known to have only grown): say what that does to a table.
                    sink.WriteNotice($"stream '{stream.Name}': {file.Location} changed since an earlier run read it and is read again whole: " +
                        (bookmarks.LandedNoRowsBefore(stream.Name, file) ? "no row of it landed before (it was empty or held only a header), so none lands twice"
                            : AgainWhole("its earlier rows")));
                }
                else if (file.Origin is not null && await file.Origin(cancellationToken).ConfigureAwait(false) is { } origin
                    && await RowsOfAsync(stream.Name, origin).ConfigureAwait(false) is { Read.Count: > 0 } rows)
                {
                    // A table's commit that changed no rows (a compaction) wrote rows of the files it replaced, some already read.
                    if (!origin.ChangesData && rows.Unread.Count == 0)
                    {
                        bookmarks.MarkRead(stream.Name, file);
                        sink.NoteFileSkippedAsRead();
                        sink.WriteNotice($"stream '{stream.Name}': {file.Location} holds only rows of {string.Join(", ", rows.Read)}, which an earlier run read " +
                            "(the table rewrote them without changing its rows, as a compaction does): not read again");
                        continue;
                    }
                    var stored = rows.Unread.Select(origin.Stored).ToList();
                    if (!origin.ChangesData && stored.All(f => f is not null))
                    {
                        // The rows not read yet are those of the replaced files the table still keeps: read them, not the file holding both.
                        toRead.AddRange(stored.Select(f => f! with { DeltaPartition = file.DeltaPartition /* a compaction rewrites within a partition */ }));
                        readInstead.Add(file);
                        sink.WriteNotice($"stream '{stream.Name}': {file.Location} holds rows of {string.Join(", ", rows.Read)}, which an earlier run read, and of " +
                            $"{string.Join(", ", rows.Unread)}, which none did (the table rewrote them without changing its rows, as a compaction does): " +
                            "those are read instead (the table still keeps them on storage), so no row lands twice");
                        continue;
                    }
                    var expired = origin.ChangesData ? "" : $"; {string.Join(", ", rows.Unread.Where(r => origin.Stored(r) is null))}, whose rows it holds too and no run read, " +
                        "are no longer on storage (maintain expired them), so its rows cannot be told apart " + RunBeforeExpiry;
                    sink.WriteNotice($"stream '{stream.Name}': {file.Location} replaces {string.Join(", ", rows.Read)}, which an earlier run read " +
                        $"(the table rewrote them{(origin.ChangesData ? ", e.g. by a merge or overwrite" : " with files not read before")}{expired}), and is read whole: " +
                        AgainWhole("their unchanged rows"));
                }
                else if (file.Origin is not null && await file.Origin(cancellationToken).ConfigureAwait(false) is { ReplacedUnknownBecause: { } unknown } rewrite
                    && gone.Value is { Count: > 0 })
                {
                    // Some of the gone files may be what it replaced, their rows in it again.
                    sink.WriteNotice($"stream '{stream.Name}': {file.Location} is new to this pipeline: {unknown}; " +
                        $"{GoneFiles(gone.Value)} an earlier run read are gone, so it is read whole: " +
                        AgainWhole(rewrite.ChangesData ? "the unchanged rows of those it replaced" : "the rows of those it replaced") + " " + RunBeforeExpiry);
                }
                else if (LakeTableFolders.IsPlainTableCompaction(file) && gone.Value is { Count: > 0 })
                {
                    sink.WriteNotice($"stream '{stream.Name}': {file.Location} is a compaction's file of a plain Parquet lake table (its name carries a compaction id), " +
                        $"and {GoneFiles(gone.Value)} an earlier run read are gone: " +
                        "a plain table keeps no record of which files a compaction replaced, so it is read whole: " + AgainWhole("the rows of the files it replaced") +
                        "; a table written with table_format: iceberg or delta records it, and its compactions are not read again");
                }
                else if (bookmarks.ReadUnderAnotherName(stream.Name, file, gone.Value) is { Count: > 0 } earlier)
                {
                    sink.WriteNotice($"stream '{stream.Name}': {file.Location} is new to this pipeline but looks like {string.Join(", ", earlier)}, which an earlier run read " +
                        "(renamed, moved or compressed: same size and modification time, or its name without .gz), and is read whole as a new file: " + AgainWhole("those rows"));
                }
                toRead.Add(file);
            }
            if (toRead.Count == 0)
            {
                // Files counted as read without reading them: their bookmarks are saved all the same.
                if (stream.Files.Any(f => !startedUnchanged.Contains(f)))
                {
                    sink.WriteState(bookmarks.State.DeepClone());
                    stateWritten = true;
                }
                continue;
            }
            var emit = await openStream(stream, toRead, selection).ConfigureAwait(false);
            if (emit is null)
                sink.WriteNotice($"stream '{stream.Name}': {string.Join(", ", toRead.Select(f => f.Location))} hold(s) nothing (empty): nothing landed, and a table it has keeps its rows");
            foreach (var file in toRead)
            {
                var recordsBefore = sink.Records;
                if (emit is not null) await emit(file).ConfigureAwait(false);
                bookmarks.MarkRead(stream.Name, file, landedRows: sink.Records > recordsBefore);
                if (sinceState.Elapsed >= StateInterval) WriteState();
                await sink.FlushIfFullAsync(cancellationToken).ConfigureAwait(false);
            }
            foreach (var compacted in readInstead) bookmarks.MarkRead(stream.Name, compacted);
            WriteState();
        }
        if (!stateWritten) WriteState();
        await sink.FlushAsync(cancellationToken).ConfigureAwait(false);

        // The files whose rows a file a table's commit added holds, those an earlier run read and those none did, back
        // through the earlier compactions a compaction rewrote (a file none read whose own rows were all read before
        // counts as read, a compaction none of whose rows were read as a file not read).
        async Task<(List<string> Read, List<string> Unread)> RowsOfAsync(string stream, SourceFileOrigin origin)
        {
            var (read, unread) = (new List<string>(), new List<string>());
            foreach (var replaced in origin.Replaced)
            {
                if (bookmarks.WasReadBefore(stream, replaced)) read.Add(replaced);
                else if (!origin.ChangesData && await origin.OriginOf(replaced, cancellationToken).ConfigureAwait(false) is { ChangesData: false } earlier
                    && await RowsOfAsync(stream, earlier).ConfigureAwait(false) is { Read.Count: > 0 } rows)
                {
                    read.AddRange(rows.Read);
                    unread.AddRange(rows.Unread);
                }
                else unread.Add(replaced);
            }
            return (read, unread);
        }

        static string GoneFiles(List<(string Key, JsonObject Entry)> gone) =>
            $"{gone.Count} file(s) ({string.Join(", ", gone.Take(3).Select(g => g.Key))}{(gone.Count > 3 ? ", ..." : "")})";

        string AgainWhole(string rows) => sink.MergesByKey ? $"write_mode merge replaces {rows} by key"
            : $"an appended table then holds {rows} twice (write_mode: merge with key_properties replaces them instead)";
    }
}
