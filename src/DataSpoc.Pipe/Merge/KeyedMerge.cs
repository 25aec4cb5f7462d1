using System.Collections;
using System.Globalization;
using System.Text.Json;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Parquet;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Singer;
using DataSpoc.Pipe.Sources.BuiltIn;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Merge;

/// <summary>
/// <c>write_mode: merge</c> on a plain Parquet table, copy-on-write, computed before the commit:
/// <list type="number">
/// <item>the run's records (already in spool files) are reduced to one per key: the last one, or the greatest
/// <c>order_by</c>; a key whose winner has <c>_sdc_deleted_at</c> set is dropped under <c>hard_delete</c>;</item>
/// <item>each existing data file whose key statistics may hold an incoming key has its key columns read; a file with
/// at least one superseded row is rewritten without those rows (into its own partition) and deleted by the commit;</item>
/// <item>the kept incoming rows and the rewritten rows are written by one <see cref="TableWriter"/> into new spool files.</item>
/// </list>
/// Memory holds the incoming keys (and, per rewritten file, the numbers of its superseded rows), never the table:
/// files are read row group by row group (a file of a remote bucket is downloaded to the spool folder once, and kept
/// there until it is rewritten). The new files, the deletions and the manifest's totals then land in the
/// run's one journaled commit, so a crash leaves the previous table or the merged one.
/// </summary>
internal sealed class KeyedMerge(IObjectStore store, MergeSettings settings, WriteLimits limits, Compression compression, string spoolDirectory, bool spoolIsInLake)
{
    /// <summary>The merged table's new files and what leaves it (<c>Superseded</c> files, their rows and bytes).</summary>
    public sealed record Outcome(IReadOnlyList<SpooledFile> Files, IReadOnlyList<string> Superseded, long RemovedRows, long RemovedBytes,
        long RowsReplaced, long RowsDeleted, long KeysMarkedDeleted, long FilesScanned);

    /// <summary>A key's record: its place among the run's rows as the spool files hold them, and where it arrived among them in input order.</summary>
    private readonly record struct Winner(long Sequence, OrderValue Order, bool Deleted, int Arrival);

    /// <summary>An existing data file with superseded rows (their numbers, ascending), waiting to be rewritten without them.</summary>
    private sealed record Rewrite(string Key, LocalFile Local, List<long> Superseded, Partition Partition);

    /// <summary>
    /// Merges the stream's records into the table <paramref name="tableKey"/> of <paramref name="existing"/> files. An
    /// existing row with a null key column is refused before anything is rewritten: no incoming key can match it, so
    /// the entity it holds would stay beside its merged row. With table metadata the rewritten
    /// files carry <paramref name="fieldIds"/>, the table's Iceberg column ids, for a column only earlier files hold too:
    /// Iceberg readers find its values by that id.
    /// </summary>
    public async Task<Outcome> MergeAsync(StreamState stream, string tableKey, string tablePrefix, IReadOnlyList<string> existing,
        Tables.IcebergFieldIds? fieldIds, CancellationToken cancellationToken)
    {
        var schema = stream.Schema!;
        var keys = new MergeKeys(stream.Name, stream.KeyProperties, schema, settings);
        // The shredder drops a property the SCHEMA does not declare: the delete would land as an update that nulls the row.
        if (!keys.DeclaresDeletedAt && stream.DroppedProperties.TryGetValue(MergeSettings.DeletedAtColumn, out var undeclaredDeletes))
            throw new MergeException($"stream '{stream.Name}': {undeclaredDeletes} record(s) carry {MergeSettings.DeletedAtColumn}, which the stream's SCHEMA does not " +
                $"declare: write_mode merge reads deletes from that column only, and would land them as updates that null the row; declare it in the SCHEMA " +
                $"(\"{MergeSettings.DeletedAtColumn}\": {{\"type\": [\"null\", \"string\"], \"format\": \"date-time\"}}), or drop it with a transform to land them as updates");

        // 1. The run's records: one winner per key, the last to arrive (or the greatest order_by, of equals the last). A
        // partition's files hold its rows in input order, one partition's after another's: with a partition column,
        // where each row arrived is read beside its file from the run's arrival order (stream.Arrivals).
        var winners = new Dictionary<RowKey, Winner>();
        var firstKeys = new List<FirstKey>();
        var rowsOfPartition = new Dictionary<Partition, long>();
        long sequence = 0, keyless = 0;
        (long Record, string Column)? firstKeyless = null;
        foreach (var file in stream.Files)
        {
            var before = rowsOfPartition.GetValueOrDefault(file.Partition);
            using var arrivals = stream.Arrivals?.Of(file.Partition, before).GetEnumerator();
            var fileFirst = sequence;
            ParquetRows.ForEach(file.LocalPath, keys.Fields, null, (json, _) =>
            {
                var row = keys.Read(json);
                var seq = sequence++;
                // Without a partition column the files hold the rows in input order.
                var arrival = arrivals is null ? (int)seq : arrivals.MoveNext() ? arrivals.Current
                    : throw new InvalidOperationException($"stream '{stream.Name}': the run's arrival order ends before row {seq - fileFirst + 1} of spool file {file.LocalPath}");
                // A row without its key matches no row, and all such rows would share one "null" key: refused, never collapsed.
                if (row.MissingKey is { } column)
                {
                    keyless++;
                    firstKeyless ??= (seq + 1, column);
                    return;
                }
                if (row.NaNKey is { } nan)
                    throw new MergeException($"stream '{stream.Name}': key property '{nan}' is NaN in record {seq + 1} of the stream: NaN equals no value " +
                        "(not even NaN), so no row can be matched or replaced by it; fix the source, or use write_mode append");
                if (winners.TryGetValue(row.Key, out var held))
                {
                    var order = settings.OrderBy is null ? 0 : row.Order.CompareTo(held.Order);
                    if (order < 0 || (order == 0 && arrival < held.Arrival)) return;
                }
                else firstKeys.Add(row.First);
                winners[row.Key] = new Winner(seq, row.Order, row.Deleted, arrival);
            }, namedFloatsAsStrings: true);
            rowsOfPartition[file.Partition] = before + sequence - fileFirst;
        }
        if (firstKeyless is { } at)
            throw new MergeException($"stream '{stream.Name}': {keyless} of this run's {sequence} record(s) have no value for key property " +
                $"'{at.Column}' (null or absent; the first: record {at.Record} of the stream): write_mode merge needs the whole key in every " +
                "record. Fix the source, drop such rows with a transforms filter (filter: \"" + at.Column + " != null\"), or use write_mode append");
        if (stream.Arrivals is { } noted && noted.Count != sequence)
            throw new InvalidOperationException($"stream '{stream.Name}': the run's arrival order holds {noted.Count} row(s), its spool files {sequence}");
        var incomingRows = sequence;
        var keep = new BitArray(checked((int)Math.Max(incomingRows, 1)));
        long markedDeleted = 0;
        foreach (var w in winners.Values)
        {
            if (w.Deleted && settings.HardDelete) { markedDeleted++; continue; }
            keep[(int)w.Sequence] = true;
        }
        var incomingAsIs = winners.Count == incomingRows && markedDeleted == 0;

        // 2. Existing files that may hold an incoming key: their superseded rows, and the columns (and struct fields) only they hold.
        var ranges = new KeyRanges(firstKeys);
        var rewrites = new List<Rewrite>();
        var olderColumns = new List<(string Name, System.Text.Json.Nodes.JsonNode Schema)>();
        void AddColumnsOnlyIn(string parquetFile)
        {
            using var reader = new ParquetSharp.ParquetFileReader(parquetFile);
            using var meta = reader.FileMetaData;
            foreach (var column in ParquetShape.Of(meta.Schema))
            {
                var held = olderColumns.FindIndex(c => c.Name == column.Name);
                // A struct's fields may differ from file to file: the union of what they hold.
                if (held >= 0) ColumnSchema.AddMissingProperties(olderColumns[held].Schema.AsObject(), column.Schema());
                else olderColumns.Add((column.Name, column.Schema()));
            }
        }
        // The run's own files written under an earlier SCHEMA of the stream may hold a column its last one dropped.
        foreach (var file in stream.Files.Where(f => f.Schema != schema)) AddColumnsOnlyIn(file.LocalPath);
        long replaced = 0, deletedRows = 0, scanned = 0;
        var firstKeyName = keys.Names[0];
        // Per key column, the table's rows without a value in it (footer statistics; a row group without them is read).
        var nullKeys = new long[keys.Names.Length];

        // Another pipeline's merge (or a compaction) of this table removed a file while it was read: the run plans again.
        Task ThrowIfRemovedAsync(string key) => CommitAttempts.ThrowIfRemovedAsync(store, key, "this merge", cancellationToken);

        try
        {
            foreach (var key in existing)
            {
                cancellationToken.ThrowIfCancellationRequested();
                try
                {
                    var local = await LocalFile.OfAsync(store, key, spoolDirectory, cancellationToken).ConfigureAwait(false);
                    var hits = new List<long>();
                    var countNullKeysOfRows = false;
                    try
                    {
                        ParquetRows.ForEach(local.Path, keys.Fields, g =>
                        {
                            countNullKeysOfRows = !keys.TryCountNullKeys(g, nullKeys);
                            var may = countNullKeysOfRows || ranges.MayHold(g, firstKeyName);
                            if (may) scanned++;
                            return may;
                        }, (json, row) =>
                        {
                            var read = keys.Read(json);
                            if (read.MissingKey is { } column)
                            {
                                if (countNullKeysOfRows) nullKeys[Array.IndexOf(keys.Names, column)]++;
                                return;
                            }
                            if (read.NaNKey is null && winners.TryGetValue(read.Key, out var winner))
                            {
                                hits.Add(row);
                                if (winner.Deleted && settings.HardDelete) deletedRows++;
                                else replaced++;
                            }
                        }, namedFloatsAsStrings: true);
                    }
                    catch
                    {
                        await local.DisposeAsync().ConfigureAwait(false);
                        throw;
                    }
                    var partition = PartitionOf(tablePrefix, key);
                    if (hits.Count == 0)
                    {
                        await local.DisposeAsync().ConfigureAwait(false);
                        continue;
                    }
                    rewrites.Add(new Rewrite(key, local, hits, partition));
                    AddColumnsOnlyIn(local.Path);
                }
                catch (Exception e) when (e is not OperationCanceledException and not MergeException)
                {
                    await ThrowIfRemovedAsync(key).ConfigureAwait(false);
                    throw;
                }
            }

            if (nullKeys.Any(n => n > 0))
                throw new MergeException($"stream '{stream.Name}': table {tableKey} holds rows with a null merge key: " +
                    string.Join(", ", keys.Names.Select((name, k) => (name, k)).Where(c => nullKeys[c.k] > 0).Select(c => $"key property '{c.name}' is null in {nullKeys[c.k]} row(s)")) +
                    " (written before the column was in the source, or before the table was merged by it). No incoming record can match such a row, so it " +
                    "would stay beside the merged row of its entity. Nothing was written; a full refresh (run --full) reloads the table with the key in every row");

            // 3. The kept incoming rows and the rewritten files' other rows, written under the stream's schema by column
            // name, with the columns and struct fields only the rewritten files hold (a column or a field the SCHEMA no
            // longer declares keeps its values).
            var writerLimits = limits with { ParseLanes = 1 };
            var merged = schema.ByColumnName(olderColumns);
            fieldIds?.Assign(merged);
            var writer = new TableWriter(merged, compression, writerLimits, spoolDirectory, stream.Table + "-merged", spoolIsInLake);
            // Every row it shreds is already stored (a kept file's, or the run's own spooled one): a value the current
            // schema would change (a date-time's time of day in a date column) fails the merge instead.
            writer.Shredders[0].StoredValues = true;
            try
            {
                if (!incomingAsIs)
                {
                    long seq = 0;
                    foreach (var file in stream.Files)
                        ParquetRows.ForEach(file.LocalPath, null, null, (json, row) =>
                        {
                            if (keep[(int)seq++]) Add(writer, merged, json, file.Partition, file.LocalPath, file.LocalPath, row);
                        }, namedFloatsAsStrings: true);
                }
                long removedRows = 0, removedBytes = 0;
                foreach (var rewrite in rewrites)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var next = 0;
                    var hits = rewrite.Superseded;
                    try
                    {
                        ParquetRows.ForEach(rewrite.Local.Path, null, null, (json, row) =>
                        {
                            if (next < hits.Count && hits[next] == row) { next++; return; }
                            Add(writer, merged, json, PartitionOfKept(json, stream.PartitionKeyUtf8, rewrite.Partition), rewrite.Key, rewrite.Local.Path, row);
                        }, namedFloatsAsStrings: true);
                        using (var reader = new ParquetSharp.ParquetFileReader(rewrite.Local.Path))
                        using (var meta = reader.FileMetaData) removedRows += meta.NumRows;
                        removedBytes += new FileInfo(rewrite.Local.Path).Length;
                    }
                    catch (Exception e) when (e is not OperationCanceledException and not MergeException)
                    {
                        await ThrowIfRemovedAsync(rewrite.Key).ConfigureAwait(false);
                        throw;
                    }
                }

                var files = new List<SpooledFile>();
                if (incomingAsIs) files.AddRange(stream.Files);
                files.AddRange(await writer.CompleteAsync().ConfigureAwait(false));
                return new Outcome(files, [.. rewrites.Select(r => r.Key)], removedRows, removedBytes, replaced, deletedRows, markedDeleted, scanned);
            }
            finally
            {
                await writer.DisposeAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            foreach (var rewrite in rewrites) await rewrite.Local.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Shreds one row of <paramref name="file"/> (read from <paramref name="localPath"/>) back into the writer; a row that
    /// no longer fits the stream's <paramref name="schema"/> fails the merge, naming it, the field and the column's types.
    /// </summary>
    private static void Add(TableWriter writer, ColumnSchema schema, ReadOnlySpan<byte> json, Partition partition, string file, string localPath, long row)
    {
        var batch = writer.BatchFor(0, partition);
        batch.Mark();
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = SingerMessageReader.MaxDepth });
        reader.Read();
        try
        {
            writer.Shredders[0].Shred(batch, ref reader);
        }
        catch (InvalidValueException e)
        {
            batch.RollbackToMark();
            throw new MergeException($"merge: {file} row {row} does not fit the stream's current schema ({e.Message}{TypeChange(schema, localPath, e.Field)}); " +
                "nothing was committed; write_mode replace (or --full) rewrites the table", e);
        }
        writer.RowAdded(0, partition, batch);
    }

    /// <summary>"; column 'amt' is int64 in that file, double in the stream's current schema", or nothing when the types agree.</summary>
    private static string TypeChange(ColumnSchema schema, string localPath, string field)
    {
        var now = schema.Root.Children.FirstOrDefault(c => field == c.Name || field.StartsWith(c.Name + ".", StringComparison.Ordinal) || field.StartsWith(c.Name + "[", StringComparison.Ordinal));
        if (now is null) return "";
        using var reader = new ParquetSharp.ParquetFileReader(localPath);
        using var meta = reader.FileMetaData;
        var held = ParquetShape.Of(meta.Schema).FirstOrDefault(c => c.Name == now.Name);
        if (held is null) return "";
        var old = ColumnSchema.ArrowTypeOf(now.Name, held.Schema());
        return old == now.ArrowType ? "" : $"; column '{now.Name}' is {old} in that file, {now.ArrowType} in the stream's current schema";
    }

    /// <summary>
    /// The partition a kept row of a rewritten file lands in: by the stream's partition column when it has one (after a
    /// <c>partition_by</c> change the file's folder is the old column's date, and Iceberg's partition tuple and Delta's
    /// <c>partitionValues</c> are taken from the folder a file lands in), else its file's <paramref name="folder"/>
    /// (the extraction date it was landed on, or none).
    /// </summary>
    private static Partition PartitionOfKept(ReadOnlySpan<byte> json, byte[] partitionKeyUtf8, Partition folder)
    {
        if (partitionKeyUtf8.Length == 0) return folder;
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = SingerMessageReader.MaxDepth });
        reader.Read();
        return Runs.RunIngest.PartitionOf(reader, partitionKeyUtf8);
    }

    /// <summary>The partition a data file lives in, from its <c>dt=</c> folder (none when it sits in the table folder).</summary>
    internal static Partition PartitionOf(string tablePrefix, string key)
    {
        var rest = key[tablePrefix.Length..];
        var slash = rest.IndexOf('/');
        if (slash < 0 || !rest.StartsWith("dt=", StringComparison.Ordinal)) return Partition.Unpartitioned;
        var value = rest[3..slash];
        if (value == LakePaths.HiveNullPartition) return new Partition(null);
        return new Partition(DateOnly.ParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture));
    }

    /// <summary>An existing data file as a local path: itself in a file:// bucket, else a download into the spool folder.</summary>
    private sealed class LocalFile(string path, bool temporary) : IAsyncDisposable
    {
        public string Path { get; } = path;

        public static async Task<LocalFile> OfAsync(IObjectStore store, string key, string spoolDirectory, CancellationToken cancellationToken)
        {
            if (store.LocalRoot is { } root)
                return new LocalFile(System.IO.Path.Combine(root, key), false);
            Directory.CreateDirectory(spoolDirectory);
            var path = Lake.LakePaths.ScratchFile("merge-source", ".parquet", spoolDirectory);
            await using (var source = await store.OpenReadAsync(key, cancellationToken).ConfigureAwait(false))
            await using (var target = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
                await source.CopyToAsync(target, cancellationToken).ConfigureAwait(false);
            return new LocalFile(path, true);
        }

        public ValueTask DisposeAsync()
        {
            if (temporary) File.Delete(Path);
            return ValueTask.CompletedTask;
        }
    }
}
