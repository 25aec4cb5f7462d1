using System.Globalization;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Tables;

/// <summary>
/// A Delta table's state at a version (protocol "Action Reconciliation"): its protocol and metaData, its live files (path
/// -> add action) and its remove tombstones.
/// </summary>
internal sealed record DeltaSnapshot(long Version, JsonObject Protocol, JsonObject MetaData, Dictionary<string, JsonObject> Adds, List<JsonObject> Removes);

/// <summary>Rebuilding a version's state from the log, ours or any other writer's, and refusing a table this reader cannot read right.</summary>
internal sealed partial class DeltaTable
{
    /// <summary>
    /// The reader features (protocol "Table Features") this reader implements: the snapshot is right with them, and the
    /// data files are plain Parquet. <c>deletionVectors</c> and <c>columnMapping</c> only while unused (checked per table:
    /// no live file with a deletion vector, mapping mode <c>none</c>); every other feature is refused.
    /// </summary>
    private static readonly string[] ReaderFeatures = ["timestampNtz", "vacuumProtocolCheck", "v2Checkpoint", "deletionVectors", "columnMapping"];

    /// <summary>
    /// The table's state at <paramref name="version"/>: the newest complete checkpoint at or before it (any naming scheme,
    /// see <see cref="DeltaCheckpoint.ReadAsync"/>), then the JSON entries after it, in order; from version 0 when there is
    /// none. A long-lived table's older entries are deleted once a checkpoint covers them (protocol "Metadata Cleanup"),
    /// so the entries before the checkpoint are never read. The log is listed whole (its latest entry must be found
    /// anyway, and stores list no "from this key on"): <c>_last_checkpoint</c>, a shortcut for listing from a key, is
    /// not needed, so a stale one (older than the newest checkpoint, or naming a deleted one) cannot mislead the reader;
    /// a multi-part checkpoint with a part missing is not complete and is passed over. A table this reader cannot read
    /// right (a reader feature it lacks, mapped column names, a live file with a deletion vector) is a
    /// <see cref="StorageException"/> naming the log file and what is missing.
    /// </summary>
    public async Task<DeltaSnapshot> SnapshotAsync(string tablePrefix, long version, CancellationToken cancellationToken)
    {
        var log = LogPrefix(tablePrefix);
        var commits = new HashSet<long>();
        var singles = new List<DeltaCheckpoint.Checkpoint>();
        var multiParts = new Dictionary<(long Version, int Parts), SortedDictionary<int, string>>();
        await foreach (var obj in store.ListAsync(log, cancellationToken).ConfigureAwait(false))
        {
            var name = obj.Key[log.Length..];
            if (name.Contains('/')) continue; // _sidecars/, _staged_commits/: named by checkpoints and catalogs, not by version
            if (IsCommitName(name, out var v)) commits.Add(v);
            else if (DeltaCheckpoint.ParseName(name) is { } c && c.Version <= version)
            {
                if (c.Parts == 1) singles.Add(new DeltaCheckpoint.Checkpoint(c.Version, [obj.Key], 1));
                else
                {
                    if (!multiParts.TryGetValue((c.Version, c.Parts), out var parts)) multiParts[(c.Version, c.Parts)] = parts = [];
                    parts[c.Part] = obj.Key;
                }
            }
        }
        // Newest first; at one version a single file (the classic name before a UUID-named one) before a multi-part set.
        var checkpoint = singles
            .Concat(multiParts.Where(m => m.Value.Count == m.Key.Parts).Select(m => new DeltaCheckpoint.Checkpoint(m.Key.Version, [.. m.Value.Values], m.Key.Parts)))
            .OrderByDescending(c => c.Version).ThenBy(c => c.Parts).ThenBy(c => c.Keys[0].Length).ThenBy(c => c.Keys[0], StringComparer.Ordinal)
            .FirstOrDefault();
        var from = checkpoint is null ? 0 : checkpoint.Version + 1;
        for (var v = from; v <= version; v++)
            if (!commits.Contains(v))
                throw new StorageException($"{store.Bucket}/{CommitKey(tablePrefix, v)} is missing from the Delta log, and no complete checkpoint at a version from {v} to " +
                    $"{version} covers it ({(checkpoint is null ? "the log holds no checkpoint" : $"the newest is at version {checkpoint.Version}")}): the table's state at " +
                    $"version {version} cannot be rebuilt");

        JsonObject? protocol = null, metaData = null;
        string? protocolKey = null, metaDataKey = null;
        // Logical files are (path, deletion vector) pairs: the same data file with another deletion vector is another one.
        var adds = new Dictionary<(string Path, string? Dv), (JsonObject Add, string Key)>();
        var removes = new Dictionary<(string Path, string? Dv), JsonObject>();
        void Apply(JsonObject action, string key)
        {
            if (action["protocol"] is JsonObject p) (protocol, protocolKey) = (p, key);
            else if (action["metaData"] is JsonObject m) (metaData, metaDataKey) = (m, key);
            else if (action["add"] is JsonObject a) { var id = FileId(a, key); adds[id] = (a, key); removes.Remove(id); }
            else if (action["remove"] is JsonObject r) { var id = FileId(r, key); adds.Remove(id); removes[id] = r; }
        }
        if (checkpoint is not null)
        {
            var key = checkpoint.Keys[0] + (checkpoint.Parts > 1 ? $" (the first of the {checkpoint.Parts} parts of a checkpoint)" : "");
            foreach (var action in await new DeltaCheckpoint(store).ReadAsync(this, tablePrefix, checkpoint, cancellationToken).ConfigureAwait(false))
                Apply(action, key);
        }
        for (var v = from; v <= version; v++)
            foreach (var action in await ReadCommitAsync(tablePrefix, v, cancellationToken).ConfigureAwait(false))
                Apply(action, CommitKey(tablePrefix, v));
        if (protocol is null || metaData is null)
            throw new StorageException($"Delta log {store.Bucket}/{log} has no protocol or metaData up to version {version}");

        RefuseUnreadable(protocol, protocolKey!, metaData, metaDataKey![tablePrefix.Length..], version);
        var live = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        foreach (var ((path, dv), (add, key)) in adds)
        {
            if (dv is not null)
                throw new StorageException($"{store.Bucket}/{key}: the Delta table's live file {path} (version {version}) has a deletion vector (rows deleted from it " +
                    "without rewriting it), which this reader does not apply: reading the file would return the deleted rows. Rewrite the table's " +
                    "files without deletion vectors (e.g. Spark's REORG TABLE … APPLY (PURGE)) or read it with a Delta reader");
            live[path] = add;
        }
        return new DeltaSnapshot(version, protocol, metaData, live, [.. removes.Values]);
    }

    /// <summary>A file action's logical file: its path and its deletion vector's unique id (protocol "Deletion Vectors", derived fields).</summary>
    private (string Path, string? Dv) FileId(JsonObject action, string key)
    {
        var path = action["path"]?.GetValue<string>() ?? throw new StorageException($"{store.Bucket}/{key}: a file action without a path");
        if (action["deletionVector"] is not JsonObject dv) return (path, null);
        var offset = dv["offset"]?.GetValue<long>();
        return (path, $"{dv["storageType"]?.GetValue<string>()}{dv["pathOrInlineDv"]?.GetValue<string>()}{(offset is null ? "" : "@" + offset.Value.ToString(CultureInfo.InvariantCulture))}");
    }

    /// <summary>Refuses a table whose protocol needs what this reader lacks (protocol "Reader Version Requirements", "Table Features").</summary>
    private void RefuseUnreadable(JsonObject protocol, string protocolKey, JsonObject metaData, string metaDataEntry, long version)
    {
        var readerVersion = protocol["minReaderVersion"]?.GetValue<int>() ?? 1;
        var where = $"{store.Bucket}/{protocolKey}: the Delta table (version {version}) requires";
        if (readerVersion > 3)
            throw new StorageException($"{where} reader version {readerVersion}; this reader implements reader version 3 with the features {string.Join(", ", ReaderFeatures)}");
        var features = readerVersion == 3 ? protocol["readerFeatures"] as JsonArray ?? [] : [];
        var unsupported = features.Select(f => f?.GetValue<string>() ?? "null").Where(f => !ReaderFeatures.Contains(f, StringComparer.Ordinal)).ToList();
        if (unsupported.Count > 0)
            throw new StorageException($"{where} the reader feature(s) {string.Join(", ", unsupported)}, which this reader does not implement (it implements " +
                $"{string.Join(", ", ReaderFeatures)}): reading its files as plain Parquet could return wrong rows or values");
        // Reader version 2 is column mapping; with reader features, only when listed.
        var columnMapping = readerVersion == 2 || features.Any(f => f?.GetValue<string>() == "columnMapping");
        var mode = metaData["configuration"]?["delta.columnMapping.mode"]?.GetValue<string>();
        if (columnMapping && mode is not (null or "none"))
            throw new StorageException($"{where} column mapping, and the table's {metaDataEntry} maps its columns (delta.columnMapping.mode = {mode}): its data files name columns by " +
                "physical names (or field ids) this reader does not translate to the table's column names");
    }
}
