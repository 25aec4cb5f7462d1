using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tables;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// What a folder or glob entry of the <c>parquet</c> tap reads inside a table with Iceberg or Delta metadata (a lake
/// table written with <c>table_format</c>, or any table kept as files): the table's live data files, not every Parquet
/// file on storage. Such a table keeps the files a full refresh, merge or compaction replaced (for time travel, until
/// <c>maintain</c> expires them), and Delta's checkpoints are Parquet files too: a glob would read rows the table no
/// longer holds again, and <c>_delta_log</c> as a table of its own. The live files are the table's own answer
/// (<see cref="TableFiles.LiveDataFileKeysOfFolderAsync"/>: the current Iceberg snapshot when the folder has Iceberg
/// metadata, else the latest Delta version), so a table with both formats reads as Iceberg says.
/// </summary>
internal static class LakeTableFolders
{
    /// <summary>How to look into the folders of one entry, each named by its location (a local path or a bucket URI).</summary>
    public interface IFolders
    {
        /// <summary>Whether the folder holds Iceberg metadata (<c>metadata/*.metadata.json</c>) or a Delta log (<c>_delta_log/*.json</c>).</summary>
        bool HasTableMetadata(string folder);

        /// <summary>A store the folder's files are read from, the folder's key prefix in it and the folder as a URI.</summary>
        (IObjectStore Store, string Prefix, string Uri) Open(string folder);
    }

    private const string DeltaLogFolder = "_delta_log";

    /// <summary>A table's live files by location, and a partitioned Delta table's partition values of each (by location too).</summary>
    private sealed record Table(string Format, HashSet<string> Live, Dictionary<string, DeltaPartitionValues>? Partitions,
        Func<string, CancellationToken, Task<SourceFileOrigin?>> Origin);

    /// <summary>
    /// <paramref name="files"/> (what the entry matched below its literal folder <paramref name="root"/>) without the
    /// files of a Delta log, and, for a file inside a table folder at or below the root, only if the table holds it now
    /// (the nearest such folder above the file is its table), carrying its partition values when the table is a partitioned
    /// Delta table (<see cref="SourceFile.DeltaPartition"/>). When the entry is a whole folder
    /// (<paramref name="wholeFolder"/>), a live file that is not on storage is an error: the table could not be read whole.
    /// </summary>
    public static async Task<List<SourceFile>> LiveFilesAsync(string tap, string entry, string root, List<SourceFile> files, bool wholeFolder,
        IFolders folders, CancellationToken cancellationToken)
    {
        root = root.TrimEnd('/');
        var tables = new Dictionary<string, Table?>(StringComparer.Ordinal);
        // Every file the entry matched, the ones a table no longer holds too (what a compaction's origin may point to).
        var listed = new Lazy<Dictionary<string, SourceFile>>(() => files.DistinctBy(f => f.Location).ToDictionary(f => f.Location, StringComparer.Ordinal));
        var kept = new List<SourceFile>();
        foreach (var file in files)
        {
            // A Delta log is never data, whether or not the folder above it is read as a table.
            if (file.Location[root.Length..].Split('/').Contains(DeltaLogFolder, StringComparer.Ordinal)) continue;
            var table = await TableOfAsync(file.Location).ConfigureAwait(false);
            if (table is null) kept.Add(file);
            else if (table.Value.Table is { } live && live.Live.Contains(file.Location))
                kept.Add(file with
                {
                    DeltaPartition = live.Partitions?.GetValueOrDefault(file.Location),
                    Origin = ct => live.Origin(file.Location, ct),
                });
        }
        if (wholeFolder)
        {
            var found = files.Select(f => f.Location).ToHashSet(StringComparer.Ordinal);
            foreach (var (folder, table) in tables)
                if (table?.Live.FirstOrDefault(live => !found.Contains(live)) is { } missing)
                    throw new TapException($"{tap} tap: '{entry}': {folder} is {Article(table.Format)} table whose live files include {missing}, which is not on storage " +
                        "(or not a .parquet file): the table cannot be read whole");
        }
        return kept;

        // The table folder nearest above a file, at or below the root; null when it is in none.
        async Task<(string Folder, Table Table)?> TableOfAsync(string location)
        {
            for (var folder = Parent(location); folder is not null && folder.Length >= root.Length; folder = Parent(folder))
            {
                if (!tables.TryGetValue(folder, out var table))
                    tables[folder] = table = folders.HasTableMetadata(folder) ? await ReadAsync(folder).ConfigureAwait(false) : null;
                if (table is not null) return (folder, table);
            }
            return null;
        }

        async Task<Table> ReadAsync(string folder)
        {
            var (store, prefix, uri) = folders.Open(folder);
            (string Format, List<string> Keys, Dictionary<string, DeltaPartitionValues>? Partitions)? live;
            try
            {
                live = await TableFiles.LiveDataFileKeysOfFolderAsync(store, prefix, uri, cancellationToken).ConfigureAwait(false);
            }
            catch (StorageException e)
            {
                throw new TapException($"{tap} tap: '{entry}': {folder} is an Iceberg or Delta table this tap cannot read (its metadata is missing or damaged, or the table needs what this reader does not implement), " +
                    $"so which of its files are live and what rows they hold is unknown: {e.Message}", e);
            }
            if (live is not { } table)
                throw new TapException($"{tap} tap: '{entry}': {folder} holds Iceberg metadata but no version-hint.text or v<N>.metadata.json telling its current version, " +
                    "so which of its files are live is unknown; name the data files to read in 'files'");
            string Location(string key) => folder + "/" + key[prefix.Length..];
            var origins = new TableFileOrigins(store, prefix, uri, table.Format);
            return new Table(table.Format, table.Keys.Select(Location).ToHashSet(StringComparer.Ordinal),
                table.Partitions?.ToDictionary(p => Location(p.Key), p => p.Value, StringComparer.Ordinal), OriginAsync);

            async Task<SourceFileOrigin?> OriginAsync(string location, CancellationToken ct) =>
                await origins.OfAsync(prefix + location[(folder.Length + 1)..], ct).ConfigureAwait(false) is { } origin
                    ? new SourceFileOrigin(origin.ChangesData, [.. origin.ReplacedKeys.Select(Location)])
                    {
                        OriginOf = OriginAsync,
                        Stored = listed.Value.GetValueOrDefault,
                        ReplacedUnknownBecause = origin.ReplacedUnknownBecause,
                    }
                    : null;
        }
    }

    /// <summary>
    /// Whether a file outside any Iceberg or Delta table is one <c>maintain --compact</c> wrote into a plain lake table
    /// (<c>orders/orders_0003_c1a2b3c4.parquet</c>, its table's folder above any <c>key=value</c> partition folders): such
    /// a table's compaction deletes the files it rewrote and records nothing else, so only the name tells.
    /// </summary>
    public static bool IsPlainTableCompaction(SourceFile file)
    {
        if (file.Origin is not null) return false;
        var parts = file.Location.Split('/');
        var table = parts[..^1].LastOrDefault(p => !p.Contains('='));
        return table is not null && TableCompaction.IsCompactionId(Lake.LakePaths.DataFileRunId(table, parts[^1]));
    }

    private static string? Parent(string location)
    {
        var slash = location.LastIndexOf('/');
        return slash <= 0 ? null : location[..slash];
    }

    private static string Article(string format) => format == TableFormatCommitter.Iceberg ? "an Iceberg" : "a Delta";
}
