using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Lake;

/// <summary>
/// What a replace (full refresh) may delete: the table's files written before the run began. Its tap's snapshot of the
/// source is taken after that, so it holds their rows. A file another run wrote since (an incremental pipeline of the same
/// source committing during a long reload) may hold rows newer than that snapshot, which the other run's state is already
/// past: deleting it would lose them for good. Such files are kept, and the run log says their rows may be there twice.
/// The start is taken on the store's clock (the time it stamped an object the run wrote as it began: its lock, a split
/// run's plan), the clock it stamps every data file with; a file's stamp is never earlier than the extraction of its rows.
/// A compaction's file is the exception (its stamp is later than its rows): it records its inputs' latest stamp, by which
/// a replace deletes one made only of files from before it began (<see cref="CompactedFromBeforeAsync"/>).
/// </summary>
public static class ReplaceBaseline
{
    /// <summary>The store's time of <paramref name="key"/> (an object just written), or null when the store gives none.</summary>
    public static async Task<DateTimeOffset?> StoreTimeOfAsync(IObjectStore store, string key, CancellationToken cancellationToken)
    {
        await foreach (var obj in store.ListAsync(key, cancellationToken).ConfigureAwait(false))
            if (obj.Key == key && obj.LastModified != default) return obj.LastModified;
        return null;
    }

    /// <summary>
    /// Whether <paramref name="file"/> of <paramref name="table"/> was written at or after <paramref name="since"/>. Equal
    /// stamps count as after, since S3 and Azure stamp to the second: a file of the same second is kept (its rows may be
    /// there twice), never lost. A file of <paramref name="lastRunAtStart"/> (the run that last committed the table when
    /// this one read the manifest, after its lock and before its tap) is before whatever its stamp, so a replace run in the
    /// same second as the table's last commit still removes that commit's files.
    /// </summary>
    public static bool WrittenSince(ObjectInfo file, DateTimeOffset? since, string table, string? lastRunAtStart = null) =>
        since is { } start && file.LastModified >= start && (lastRunAtStart is null || RunIdOf(table, file.Key) != lastRunAtStart);

    /// <summary>
    /// The Parquet key-value metadata in which a compaction's file records the latest store time of the files whose rows it
    /// holds (round-trip ISO 8601): a compacted file's own stamp is its compaction's, later than any of its rows.
    /// </summary>
    public const string InputsWrittenBeforeKey = "dataspoc.inputs_written_before";

    /// <summary>The store time in the <see cref="InputsWrittenBeforeKey"/> of local Parquet file <paramref name="localPath"/>, or null (not a compaction's file, or an older build's).</summary>
    public static DateTimeOffset? InputsWrittenBefore(string localPath)
    {
        using var reader = new ParquetSharp.ParquetFileReader(localPath);
        using var meta = reader.FileMetaData;
        return InputsWrittenBefore(meta.KeyValueMetadata);
    }

    private static DateTimeOffset? InputsWrittenBefore(IReadOnlyDictionary<string, string> keyValues) =>
        keyValues.TryGetValue(InputsWrittenBeforeKey, out var text)
        && DateTimeOffset.TryParseExact(text, "O", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out var time) ? time : null;

    /// <summary><paramref name="latest"/> as <see cref="InputsWrittenBeforeKey"/>'s value.</summary>
    public static string InputsWrittenBeforeValue(DateTimeOffset latest) => latest.ToString("O", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// The files of <paramref name="writtenSince"/> (<see cref="WrittenSince"/> the start) that a compaction wrote from files
    /// all written before <paramref name="since"/>, by the same rule (an input of the start's very stamp counts as after):
    /// they hold only rows from before the run began, which its snapshot holds too, so it deletes them as it deletes the
    /// files they replaced. Only compactions' files are read (their footers); one that does not record its inputs' time
    /// (written by an older build) stays kept.
    /// </summary>
    public static async Task<List<ObjectInfo>> CompactedFromBeforeAsync(IObjectStore store, IReadOnlyList<ObjectInfo> writtenSince, DateTimeOffset? since, string table,
        CancellationToken cancellationToken)
    {
        var fromBefore = new List<ObjectInfo>();
        if (since is not { } start) return fromBefore;
        foreach (var file in writtenSince)
            if (Tables.TableCompaction.IsCompactionId(RunIdOf(table, file.Key))
                && await StoredParquetFooter.ReadAsync(store, file, meta => InputsWrittenBefore(meta.KeyValueMetadata), cancellationToken).ConfigureAwait(false) < start)
                fromBefore.Add(file);
        return fromBefore;
    }

    /// <summary>The rows, files and bytes of <paramref name="files"/> (from their Parquet footers), for the manifest's totals.</summary>
    public static async Task<KeptFiles> CountAsync(IObjectStore store, IReadOnlyList<ObjectInfo> files, CancellationToken cancellationToken)
    {
        long rows = 0;
        foreach (var file in files)
            rows += await StoredParquetFooter.ReadAsync(store, file, meta => meta.NumRows, cancellationToken).ConfigureAwait(false);
        return new KeptFiles(files.Count, rows, files.Sum(f => f.Size));
    }

    /// <summary>The run log's sentence for kept files of a replaced table: which runs wrote them, and what it means for readers.</summary>
    public static string Notice(string stream, string tableKey, string table, IReadOnlyList<ObjectInfo> kept, ManifestTable? entry) =>
        $"stream '{stream}': kept {Files(tableKey, table, kept, entry)}: their rows may be newer than this run's snapshot of the source, and the other " +
        "pipeline's state is past them; rows this run read too are in the table twice until the next full reload";

    /// <summary>
    /// The error of a replace of an Iceberg/Delta table that such files joined: its overwrite makes the table exactly the
    /// run's files, so it is refused before anything lands (state untouched); a run started after them takes them in.
    /// </summary>
    public static string Refusal(string stream, string tableKey, string table, IReadOnlyList<ObjectInfo> kept, ManifestTable? entry, string formats) =>
        $"stream '{stream}': {Files(tableKey, table, kept, entry)}: their rows may be newer than this run's snapshot of the source, and the other pipeline's " +
        $"state is past them, so this {formats} replace, which makes the table exactly its own files, would lose them; nothing of this run was committed: run it again";

    private static string Files(string tableKey, string table, IReadOnlyList<ObjectInfo> kept, ManifestTable? entry)
    {
        var runs = kept.Select(f => RunIdOf(table, f.Key)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var writer = entry?.Pipeline is { Length: > 0 } pipeline && runs.Contains(entry.Stats.LastRunId ?? "") ? $" (the last of them by pipeline '{pipeline}')" : "";
        return $"{kept.Count} file(s) of table {tableKey} that run(s) {string.Join(", ", runs)}{writer} wrote after this full reload began " +
            $"({string.Join(", ", kept.Select(f => f.Key).Take(5))}{(kept.Count > 5 ? ", ..." : "")})";
    }

    /// <summary>The run id in a data file's name (<c>orders_0007_1a2b3c4d.parquet</c> -> <c>1a2b3c4d</c>; "?" for older names without one).</summary>
    private static string RunIdOf(string table, string key) => LakePaths.DataFileRunId(table, key[(key.LastIndexOf('/') + 1)..]) ?? "?";
}

/// <summary>Files a replace kept (another run wrote them after it began): added to the table's totals in the manifest.</summary>
public sealed record KeptFiles(
    [property: System.Text.Json.Serialization.JsonPropertyName("files")] long Files,
    [property: System.Text.Json.Serialization.JsonPropertyName("rows")] long Rows,
    [property: System.Text.Json.Serialization.JsonPropertyName("bytes")] long Bytes);
