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
}
