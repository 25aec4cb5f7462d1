using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Tables;

/// <summary>
/// What maintenance did to one table: snapshots expired and kept, files deleted by expiry, and (<c>--compact</c>) how
/// many small files were rewritten into how many.
/// </summary>
public sealed record TableMaintenanceResult(string Table, int ExpiredSnapshots, int KeptSnapshots, IReadOnlyList<string> DeletedFiles,
    int CompactedFiles = 0, int WrittenFiles = 0)
{
    /// <summary>The result as every front end prints it (<c>maintain --output json</c>, the MCP tool).</summary>
    public JsonObject ToJson() => new()
    {
        ["table"] = Table,
        ["expired_snapshots"] = ExpiredSnapshots,
        ["kept_snapshots"] = KeptSnapshots,
        ["deleted_files"] = new JsonArray([.. DeletedFiles.Select(f => (JsonNode)JsonValue.Create(f))]),
        ["compacted_files"] = CompactedFiles,
        ["written_files"] = WrittenFiles,
    };
}

/// <summary>
/// Expires a pipeline's Iceberg snapshots older than a cutoff (never the current one) with a new metadata version,
/// and deletes the files that only expired snapshots, or Delta removes older than the cutoff, still referenced:
/// a file any kept snapshot, the live Delta version or a newer Delta remove needs is never deleted, and files no table
/// metadata ever listed (e.g. written before the table had a table format) are left alone.
/// </summary>
internal sealed class TableMaintenance(IObjectStore store, TimeProvider time)
{
    public async Task<List<TableMaintenanceResult>> RunAsync(string pipeline, TimeSpan expireOlderThan, CancellationToken cancellationToken)
    {
        var manifest = await new ManifestStore(store, time).ReadAsync(cancellationToken).ConfigureAwait(false);
        var results = new List<TableMaintenanceResult>();
        var cutoff = time.GetUtcNow() - expireOlderThan;
        foreach (var (key, table) in manifest.Tables)
        {
            if (table.Pipeline != pipeline || table.TableFormats is not { Count: > 0 } formats) continue;
            var prefix = store.Bucket.KeyPrefixOf(table.Location)
                ?? throw new StorageException($"table {key} is at {table.Location}, outside {store.Bucket}");
            var commit = new TableMetadataCommit { Prefix = prefix, Location = table.Location };
            var candidates = new HashSet<string>(StringComparer.Ordinal);
            var keep = new HashSet<string>(StringComparer.Ordinal);
            int expired = 0, kept = 0;
            if (formats.Contains(TableFormatCommitter.Iceberg))
                (expired, kept) = await ExpireIcebergAsync(commit, cutoff, candidates, keep, cancellationToken).ConfigureAwait(false);
            if (formats.Contains(TableFormatCommitter.Delta))
                await CollectDeltaAsync(prefix, cutoff, candidates, keep, cancellationToken).ConfigureAwait(false);
            var deleted = candidates.Where(k => !keep.Contains(k) && k.StartsWith(prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
            foreach (var file in deleted) await store.DeleteAsync(file, cancellationToken).ConfigureAwait(false);
            results.Add(new TableMaintenanceResult(key, expired, kept, deleted));
        }
        return results;
    }

    private async Task<(int Expired, int Kept)> ExpireIcebergAsync(TableMetadataCommit commit, DateTimeOffset cutoff,
        HashSet<string> candidates, HashSet<string> keep, CancellationToken cancellationToken)
    {
        var iceberg = new IcebergTable(store, time);
        var (version, metadata) = await iceberg.LoadCurrentAsync(commit.Prefix, cancellationToken).ConfigureAwait(false);
        if (metadata is null) return (0, 0);
        var currentId = metadata["current-snapshot-id"]?.GetValue<long>() ?? -1;
        var snapshots = metadata["snapshots"]!.AsArray().Select(s => s!.AsObject()).ToList();
        var expired = snapshots.Where(s => s["snapshot-id"]!.GetValue<long>() != currentId && s["timestamp-ms"]!.GetValue<long>() < cutoff.ToUnixTimeMilliseconds()).ToList();
        var manifestFiles = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var snapshot in snapshots)
        {
            var into = expired.Contains(snapshot) ? candidates : keep;
            var listKey = IcebergTable.KeyOf(commit, snapshot["manifest-list"]!.GetValue<string>());
            into.Add(listKey);
            var list = await store.GetAsync(listKey, cancellationToken).ConfigureAwait(false);
            if (list is null) continue;
            foreach (var entry in IcebergManifests.ReadList(list.Content.Span, $"{store.Bucket}/{listKey}"))
            {
                var manifestKey = IcebergTable.KeyOf(commit, entry.Path);
                into.Add(manifestKey);
                if (!manifestFiles.TryGetValue(manifestKey, out var files))
                {
                    var manifest = await store.GetAsync(manifestKey, cancellationToken).ConfigureAwait(false);
                    files = manifest is null ? [] : IcebergManifests.LiveFilePaths(manifest.Content.Span, $"{store.Bucket}/{manifestKey}").Select(p => IcebergTable.KeyOf(commit, p)).ToList();
                    manifestFiles[manifestKey] = files;
                }
                into.UnionWith(files);
            }
        }
        if (expired.Count == 0) return (0, snapshots.Count);

        var next = metadata.DeepClone().AsObject();
        var keptIds = snapshots.Except(expired).Select(s => s["snapshot-id"]!.GetValue<long>()).ToHashSet();
        next["snapshots"] = new JsonArray([.. snapshots.Except(expired).Select(s => (JsonNode)s.DeepClone())]);
        next["snapshot-log"] = new JsonArray([.. metadata["snapshot-log"]!.AsArray().Where(e => keptIds.Contains(e!["snapshot-id"]!.GetValue<long>())).Select(e => e!.DeepClone())]);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        next["last-updated-ms"] = now;
        next["metadata-log"]!.AsArray().Add((JsonNode)new JsonObject
        {
            ["timestamp-ms"] = metadata["last-updated-ms"]!.GetValue<long>(),
            ["metadata-file"] = commit.Location + "/" + IcebergTable.MetadataKey(commit.Prefix, version)[commit.Prefix.Length..],
        });
        var nextKey = IcebergTable.MetadataKey(commit.Prefix, version + 1);
        if (!await store.PutAsync(nextKey, Encoding.UTF8.GetBytes(next.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true })), WriteCondition.IfAbsent, cancellationToken).ConfigureAwait(false))
            throw new StorageException($"Iceberg table {commit.Location} changed during maintenance (v{version + 1} appeared); nothing was deleted: run maintain again");
        await store.PutAsync(IcebergTable.VersionHintKey(commit.Prefix), Encoding.ASCII.GetBytes((version + 1).ToString(CultureInfo.InvariantCulture)), WriteCondition.None, cancellationToken).ConfigureAwait(false);
        return (expired.Count, keptIds.Count);
    }

    private async Task CollectDeltaAsync(string prefix, DateTimeOffset cutoff, HashSet<string> candidates, HashSet<string> keep, CancellationToken cancellationToken)
    {
        var delta = new DeltaTable(store, time);
        var latest = await delta.LatestVersionAsync(prefix, cancellationToken).ConfigureAwait(false);
        if (latest < 0) return;
        var removedAt = new Dictionary<string, long>(StringComparer.Ordinal);
        var live = new HashSet<string>(StringComparer.Ordinal);
        for (var v = 0L; v <= latest; v++)
            foreach (var action in await delta.ReadCommitAsync(prefix, v, cancellationToken).ConfigureAwait(false))
            {
                if (action["add"] is JsonObject add) { live.Add(Key(add)); removedAt.Remove(Key(add)); }
                else if (action["remove"] is JsonObject remove) { live.Remove(Key(remove)); removedAt[Key(remove)] = remove["deletionTimestamp"]?.GetValue<long>() ?? 0; }
            }
        keep.UnionWith(live);
        foreach (var (file, at) in removedAt)
            (at < cutoff.ToUnixTimeMilliseconds() ? candidates : keep).Add(file);

        string Key(JsonObject action) => prefix + Uri.UnescapeDataString(action["path"]!.GetValue<string>());
    }
}
