using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Tables;

/// <summary>
/// Snapshots that remove some files and add others on the table as it is: a compaction's <c>replace</c> (the spec's "data
/// and delete files were added and removed without changing table data") and a merge's <c>overwrite</c>.
/// </summary>
internal sealed partial class IcebergTable
{
    /// <summary>
    /// Commits one <c>replace</c> (compaction) or <c>overwrite</c> (<see cref="TableMetadataCommit.Merge"/>) snapshot on
    /// the current one: every manifest that lists a file of <see cref="TableMetadataCommit.Removed"/> is rewritten with
    /// that file DELETED (by this snapshot) and its other files EXISTING (their snapshot ids and sequence numbers
    /// explicit, as the spec requires outside ADDED); the other manifests are carried as they are, so files another
    /// commit added since the run read the table stay; one new manifest adds <see cref="TableMetadataCommit.Files"/>. The
    /// list is then finished as an append's is (<see cref="FinishManifestListAsync"/>: carried manifests without live
    /// files left out, small ones merged), a compaction's always consolidated. A
    /// compaction keeps schema and partition spec; a merge evolves them as an append does. Idempotent per run, like
    /// <see cref="CommitAsync"/>. Returns the key of the metadata file now current.
    /// </summary>
    public async Task<string> ReplaceAsync(TableMetadataCommit commit, string runId, CancellationToken cancellationToken)
    {
        var prefix = commit.Prefix;
        var snapshotId = NewSnapshotId();
        var nonce = Guid.NewGuid().ToString("N");
        var removed = commit.Removed.ToHashSet(StringComparer.Ordinal);
        for (var attempt = 1; ; attempt++)
        {
            var (version, current) = await LoadCurrentAsync(prefix, cancellationToken).ConfigureAwait(false);
            var parent = current is null ? null : CurrentSnapshot(current);
            if (current is null || parent is null)
                throw new StorageException($"Iceberg table {commit.Location} has no current snapshot: there is nothing to compact");
            if (parent["summary"]?[RunIdProperty]?.GetValue<string>() == runId)
            {
                // Committed already (before a crash, or by an attempt whose answer was lost): the hint may still lag.
                await RefreshVersionHintAsync(prefix, version, cancellationToken).ConfigureAwait(false);
                return MetadataKey(prefix, version);
            }

            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            var metadata = current.DeepClone().AsObject();
            var schemaId = metadata["current-schema-id"]!.GetValue<int>();
            var merge = commit.Operation == TableMetadataCommit.Merge;
            if (merge)
            {
                var currentSchema = metadata["schemas"]!.AsArray().First(s => s!["schema-id"]!.GetValue<int>() == schemaId)!.AsObject();
                schemaId = EvolveSchema(metadata, commit, version, currentSchema["fields"]?.AsArray());
            }
            var schema = metadata["schemas"]!.AsArray().First(s => s!["schema-id"]!.GetValue<int>() == schemaId)!.AsObject();
            var specId = merge ? EvolveSpec(metadata, IcebergSchema.PartitionFieldOf(schema, commit.PartitionBy), out _) : metadata["default-spec-id"]!.GetValue<int>();
            var sequenceNumber = metadata["last-sequence-number"]!.GetValue<long>() + 1;
            var written = new List<string>();

            var (addedPartition, addedSpecFields) = Spec(metadata, specId);
            var planned = new List<PlannedManifest>
            {
                NewManifest(commit, MetadataPrefix(prefix) + $"{nonce}-m{attempt}-added.avro", AddedEntries(commit, commit.Files),
                    addedPartition, addedSpecFields, schema, specId, snapshotId, sequenceNumber),
            };
            var found = new List<DataFileFacts>();
            var listKey = KeyOf(commit, parent["manifest-list"]!.GetValue<string>());
            var list = await store.GetAsync(listKey, cancellationToken).ConfigureAwait(false)
                ?? throw new StorageException($"{store.Bucket}/{listKey} (the current snapshot's manifest list) is missing");
            var rewrittenIndex = 0;
            foreach (var listed in IcebergManifests.ReadList(list.Content.Span, $"{store.Bucket}/{listKey}"))
            {
                var manifestKey = KeyOf(commit, listed.Path);
                var stored = await store.GetAsync(manifestKey, cancellationToken).ConfigureAwait(false)
                    ?? throw new StorageException($"{store.Bucket}/{manifestKey} (a manifest of the current snapshot) is missing");
                var all = IcebergManifests.ReadEntries(stored.Content.Span, listed, $"{store.Bucket}/{manifestKey}");
                var live = all.Where(e => e.Status != IcebergManifests.ManifestEntry.Deleted).ToList();
                if (!live.Any(e => removed.Contains(KeyOf(commit, e.File.Key))))
                {
                    planned.Add(new PlannedManifest(listed, all));
                    continue;
                }
                var rewritten = live.Select(e => removed.Contains(KeyOf(commit, e.File.Key))
                    ? e with { Status = IcebergManifests.ManifestEntry.Deleted, SnapshotId = snapshotId }
                    : e with { Status = IcebergManifests.ManifestEntry.Existing }).ToList();
                found.AddRange(rewritten.Where(e => e.Status == IcebergManifests.ManifestEntry.Deleted).Select(e => e.File));
                var (partition, specFields) = Spec(metadata, listed.SpecId);
                planned.Add(NewManifest(commit, MetadataPrefix(prefix) + $"{nonce}-m{attempt}-r{rewrittenIndex++}.avro", rewritten,
                    partition, specFields, schema, listed.SpecId, snapshotId, sequenceNumber));
            }
            if (found.Count != removed.Count)
            {
                var missing = removed.Except(found.Select(f => KeyOf(commit, f.Key)), StringComparer.Ordinal).Order(StringComparer.Ordinal).First();
                throw new StorageException($"Iceberg table {commit.Location}: {store.Bucket}/{missing} is no longer in the current snapshot (the table " +
                    $"changed after this {(merge ? "merge" : "compaction")} planned it, and it was not claimed); no snapshot was written");
            }

            // A compaction (maintain --compact) leaves a consolidated list; a merge merges as an append does.
            var entries = await FinishManifestListAsync(commit, metadata, schema, planned, snapshotId, sequenceNumber,
                MetadataPrefix(prefix) + $"{nonce}-m{attempt}", consolidate: !merge, written, cancellationToken).ConfigureAwait(false);
            DropUnboundSpecs(metadata, schema, entries);
            var listName = MetadataPrefix(prefix) + $"snap-{snapshotId.ToString(CultureInfo.InvariantCulture)}-{attempt}-{nonce}.avro";
            await store.PutAsync(listName, IcebergManifests.WriteList(entries, snapshotId, parent["snapshot-id"]!.GetValue<long>(), sequenceNumber),
                WriteCondition.None, cancellationToken).ConfigureAwait(false);
            written.Add(listName);

            var snapshot = new JsonObject
            {
                ["snapshot-id"] = snapshotId,
                ["parent-snapshot-id"] = parent["snapshot-id"]!.GetValue<long>(),
                ["sequence-number"] = sequenceNumber,
                ["timestamp-ms"] = now,
                ["manifest-list"] = UriOf(commit, listName),
                ["summary"] = ReplaceSummary(merge ? "overwrite" : "replace", commit, found, parent["summary"]?.AsObject(), runId),
                ["schema-id"] = schemaId,
            };
            if (await PublishSnapshotAsync(commit, metadata, current, version, snapshot, now, cancellationToken).ConfigureAwait(false) is { } published)
                return published;
            // Another committer created v<N+1> first: re-plan the manifests on the new base.
            foreach (var key in written) await store.DeleteAsync(key, cancellationToken).ConfigureAwait(false);
            await CommitAttempts.PauseOrGiveUpAsync(attempt, MaxAttempts, $"Iceberg table {commit.Location}: {MaxAttempts} replace attempts", cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>A partition spec of the table metadata: its single date field (or none) and its fields as JSON.</summary>
    private static (PartitionField? Field, JsonArray Fields) Spec(JsonObject metadata, int specId)
    {
        var spec = metadata["partition-specs"]!.AsArray().FirstOrDefault(s => s!["spec-id"]!.GetValue<int>() == specId)
            ?? throw new StorageException($"Iceberg table {metadata["location"]} has no partition spec {specId}");
        var fields = spec["fields"]!.AsArray();
        if (fields.Count == 0) return (null, []);
        var f = fields[0]!;
        return (new PartitionField(f["source-id"]!.GetValue<int>(), f["field-id"]!.GetValue<int>(), f["name"]!.GetValue<string>(), f["transform"]!.GetValue<string>()),
            fields.DeepClone().AsArray());
    }

    private static JsonObject ReplaceSummary(string operation, TableMetadataCommit commit, List<DataFileFacts> removed, JsonObject? previous, string runId)
    {
        long Prev(string key) => previous?[key]?.GetValue<string>() is { } s && long.TryParse(s, CultureInfo.InvariantCulture, out var v) ? v : 0;
        string S(long v) => v.ToString(CultureInfo.InvariantCulture);
        var addedBytes = commit.Files.Sum(f => f.Bytes);
        var removedBytes = removed.Sum(f => f.Bytes);
        return new JsonObject
        {
            ["operation"] = operation,
            ["added-data-files"] = S(commit.Files.Count),
            ["deleted-data-files"] = S(removed.Count),
            ["added-records"] = S(commit.Files.Sum(f => f.Records)),
            ["deleted-records"] = S(removed.Sum(f => f.Records)),
            ["added-files-size"] = S(addedBytes),
            ["removed-files-size"] = S(removedBytes),
            ["total-data-files"] = S(Prev("total-data-files") + commit.Files.Count - removed.Count),
            ["total-records"] = S(Prev("total-records") + commit.Files.Sum(f => f.Records) - removed.Sum(f => f.Records)),
            ["total-files-size"] = S(Prev("total-files-size") + addedBytes - removedBytes),
            ["total-delete-files"] = "0",
            ["total-position-deletes"] = "0",
            ["total-equality-deletes"] = "0",
            [RunIdProperty] = runId,
        };
    }
}
