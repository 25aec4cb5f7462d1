using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Tables;

/// <summary>
/// The data files a lake table holds now, as a reader must take them: an Iceberg table's current snapshot, else a Delta
/// table's latest version (both leave replaced files on storage until <c>maintain</c> expires them, so a folder
/// glob would read rows the table no longer holds); a plain Parquet table's data files in its folder.
/// </summary>
internal static class TableFiles
{
    public static async Task<List<string>> LiveDataFileKeysAsync(IObjectStore store, string tableKey, ManifestTable table, CancellationToken cancellationToken)
    {
        var prefix = store.Bucket.KeyPrefixOf(table.Location)
            ?? throw new StorageException($"table {tableKey} is at {table.Location}, outside {store.Bucket}");
        var formats = table.TableFormats ?? [];
        if (formats.Count > 0)
            return await new TableFormatCommitter(store, TimeProvider.System /* reads only */)
                .LiveDataFileKeysAsync(new TableMetadataCommit { Prefix = prefix, Location = table.Location, Formats = [.. formats] }, cancellationToken).ConfigureAwait(false);
        var keys = new List<string>();
        await foreach (var obj in store.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
            if (LakePaths.IsDataFileKey(prefix, table.Table, obj.Key)) keys.Add(obj.Key);
        return keys;
    }

    /// <summary>
    /// The live data files of the table in the folder <paramref name="prefix"/> (no manifest entry needed: a reader
    /// pointed at a table folder), told by its own metadata, and the format that told them (the same rule as above:
    /// Iceberg's current snapshot when the folder has one, else Delta's latest version); null when the folder has
    /// neither an Iceberg version (<c>metadata/version-hint.text</c>, <c>metadata/v&lt;N&gt;.metadata.json</c>) nor a
    /// Delta log entry. <paramref name="location"/> is the folder as a URI; an Iceberg table's manifests name its files
    /// under the location its metadata records, which is taken instead (a table copied elsewhere still reads its own
    /// files here). For a partitioned Delta table, <c>Partitions</c> gives each file's partition values by key (they are
    /// in no data file: <see cref="DeltaPartitionValues"/>); null otherwise.
    /// </summary>
    public static async Task<(string Format, List<string> Keys, Dictionary<string, DeltaPartitionValues>? Partitions)?> LiveDataFileKeysOfFolderAsync(
        IObjectStore store, string prefix, string location, CancellationToken cancellationToken)
    {
        var time = TimeProvider.System; // reads only
        var (_, iceberg) = await new IcebergTable(store, time).LoadCurrentAsync(prefix, cancellationToken).ConfigureAwait(false);
        if (iceberg is not null)
        {
            if (iceberg["location"]?.GetValue<string>() is { Length: > 0 } recorded) location = recorded.TrimEnd('/');
            var keys = await new TableFormatCommitter(store, time)
                .LiveDataFileKeysAsync(new TableMetadataCommit { Prefix = prefix, Location = location, Formats = [TableFormatCommitter.Iceberg] }, cancellationToken).ConfigureAwait(false);
            return (TableFormatCommitter.Iceberg, keys, null);
        }
        var delta = new DeltaTable(store, time);
        var latest = await delta.LatestVersionAsync(prefix, cancellationToken).ConfigureAwait(false);
        if (latest < 0) return null;
        // The snapshot once, for both the live files and their partition values.
        var snapshot = await delta.SnapshotAsync(prefix, latest, cancellationToken).ConfigureAwait(false);
        return (TableFormatCommitter.Delta, [.. snapshot.Adds.Keys.Select(path => DeltaTable.KeyOf(prefix, path))], DeltaPartitionValues.Of(snapshot, prefix, store.Bucket));
    }
}
