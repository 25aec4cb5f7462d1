using System.Text.Json.Nodes;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Tables;

/// <summary>
/// What the commit that added a live data file did besides: the files it removed, and whether it changed the table's
/// rows (an Iceberg <c>replace</c> snapshot or a Delta add with <c>dataChange: false</c>, as a compaction writes, did
/// not: the file holds rows of the files it replaced). Null from <see cref="TableFileOrigins.OfAsync"/> when the
/// commit removed nothing (an append) or when the table's history no longer tells (expired snapshots or log entries).
/// </summary>
internal sealed record TableFileOrigin(bool ChangesData, IReadOnlyList<string> ReplacedKeys)
{
    /// <summary>
    /// When the commit replaced files but the history no longer names them (an Iceberg snapshot whose parent expired),
    /// why, as a clause naming the commit; <see cref="ReplacedKeys"/> is then empty.
    /// </summary>
    public string? ReplacedUnknownBecause { get; init; }
}

/// <summary>
/// Finds the <see cref="TableFileOrigin"/> of a table's live files, and of the files those replaced (a compaction may
/// have rewritten an earlier compaction's file), reading only the history needed, once: for Iceberg the snapshot that
/// added the file and its parent's live files, for Delta the log entries back from the latest one to the entry that added it.
/// </summary>
internal sealed class TableFileOrigins(IObjectStore store, string prefix, string location, string format)
{
    private readonly IcebergTable _iceberg = new(store, TimeProvider.System /* reads only */);
    private readonly DeltaTable _delta = new(store, TimeProvider.System /* reads only */);
    private readonly Dictionary<long, Dictionary<string, long>?> _icebergLive = [];
    private JsonObject? _icebergMetadata;
    private Dictionary<string, long>? _icebergAddedBy;
    private readonly Dictionary<string, long> _deltaAddedIn = new(StringComparer.Ordinal);
    private readonly Dictionary<long, List<JsonObject>> _deltaCommits = [];
    private long? _deltaNextToRead;

    public async Task<TableFileOrigin?> OfAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            return format == TableFormatCommitter.Iceberg
                ? await IcebergOfAsync(key, cancellationToken).ConfigureAwait(false)
                : await DeltaOfAsync(key, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is StorageException or InvalidDataException or InvalidCastException)
        {
            // History the reader cannot follow (an expired snapshot's manifests, another writer's manifest shape) tells
            // nothing: the file is then taken as it was before origins were known, as new.
            return null;
        }
    }

    private async Task<TableFileOrigin?> IcebergOfAsync(string key, CancellationToken cancellationToken)
    {
        if (_icebergAddedBy is null)
        {
            (_, _icebergMetadata) = await _iceberg.LoadCurrentAsync(prefix, cancellationToken).ConfigureAwait(false);
            var current = _icebergMetadata is null ? null : IcebergTable.CurrentSnapshot(_icebergMetadata);
            _icebergAddedBy = current is null ? [] : await _iceberg.LiveFileSnapshotsAsync(Table(), current, cancellationToken).ConfigureAwait(false) ?? [];
        }
        // A file no longer live was replaced by a later commit, whose parent's live files (read to find what it replaced) name it.
        if (!(_icebergAddedBy.TryGetValue(key, out var snapshotId) || _icebergLive.Values.Any(live => live?.TryGetValue(key, out snapshotId) == true))
            || Snapshot(snapshotId) is not { } snapshot) return null;
        var operation = snapshot["summary"]?["operation"]?.GetValue<string>();
        if (operation is null or "append") return null;
        if (snapshot["parent-snapshot-id"]?.GetValue<long>() is not { } parentId) return null;
        // What it replaced is the parent's live files it does not keep: with the parent expired, only that it replaced some is known.
        if (Snapshot(parentId) is not { } parent)
            return new TableFileOrigin(operation != "replace", [])
            {
                ReplacedUnknownBecause = $"the Iceberg snapshot that added it ({snapshotId}, operation {operation}) replaced files of its parent snapshot {parentId}, " +
                    "which has expired (maintain --expire-older-than), so which files it replaced is unknown",
            };
        if (await LiveAsync(parentId, parent).ConfigureAwait(false) is not { } before
            || await LiveAsync(snapshotId, snapshot).ConfigureAwait(false) is not { } after) return null;
        var replaced = before.Keys.Where(k => !after.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        return replaced.Count == 0 ? null : new TableFileOrigin(operation != "replace", replaced);

        JsonObject? Snapshot(long id) =>
            _icebergMetadata?["snapshots"]?.AsArray().FirstOrDefault(s => s?["snapshot-id"]?.GetValue<long>() == id)?.AsObject();

        async Task<Dictionary<string, long>?> LiveAsync(long id, JsonObject s)
        {
            if (!_icebergLive.TryGetValue(id, out var live))
                _icebergLive[id] = live = await _iceberg.LiveFileSnapshotsAsync(Table(), s, cancellationToken).ConfigureAwait(false);
            return live;
        }
    }

    private TableMetadataCommit Table() => new()
    {
        Prefix = prefix,
        Location = _icebergMetadata?["location"]?.GetValue<string>() is { Length: > 0 } recorded ? recorded.TrimEnd('/') : location,
        Formats = [TableFormatCommitter.Iceberg],
    };

    private async Task<TableFileOrigin?> DeltaOfAsync(string key, CancellationToken cancellationToken)
    {
        _deltaNextToRead ??= await _delta.LatestVersionAsync(prefix, cancellationToken).ConfigureAwait(false);
        // Newest entries first: a file a reader has not read yet was most likely added lately.
        while (!_deltaAddedIn.ContainsKey(key) && _deltaNextToRead >= 0)
        {
            var version = _deltaNextToRead.Value;
            List<JsonObject> actions;
            try
            {
                actions = await _delta.ReadCommitAsync(prefix, version, cancellationToken).ConfigureAwait(false);
            }
            catch (StorageException)
            {
                _deltaNextToRead = -1; // entries before a checkpoint may be deleted: older history is unknown
                break;
            }
            _deltaCommits[version] = actions;
            foreach (var add in actions.Select(a => a["add"]).OfType<JsonObject>())
                if (add["path"]?.GetValue<string>() is { } path) _deltaAddedIn.TryAdd(DeltaTable.KeyOf(prefix, path), version);
            _deltaNextToRead = version - 1;
        }
        if (!_deltaAddedIn.TryGetValue(key, out var addedIn)) return null;
        var commit = _deltaCommits[addedIn];
        var replaced = commit.Select(a => a["remove"]?["path"]?.GetValue<string>()).OfType<string>()
            .Select(path => DeltaTable.KeyOf(prefix, path)).Order(StringComparer.Ordinal).ToList();
        if (replaced.Count == 0) return null;
        var added = commit.Select(a => a["add"]).OfType<JsonObject>().First(a => DeltaTable.KeyOf(prefix, a["path"]!.GetValue<string>()) == key);
        return new TableFileOrigin(added["dataChange"]?.GetValue<bool>() != false, replaced);
    }
}
