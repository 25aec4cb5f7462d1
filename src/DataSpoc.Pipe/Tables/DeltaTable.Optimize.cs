using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Tables;

/// <summary>Log entries that remove some files and add others on the latest version: a compaction's OPTIMIZE, a merge's MERGE.</summary>
internal sealed partial class DeltaTable
{
    /// <summary>
    /// Writes one log entry that removes <see cref="TableMetadataCommit.Removed"/> and adds
    /// <see cref="TableMetadataCommit.Files"/> on the latest version (files other commits added since stay). A compaction's
    /// actions carry <c>dataChange: false</c> (the same rows, rearranged: streaming readers skip it) and repeat the latest
    /// <c>metaData</c> unchanged; a <see cref="TableMetadataCommit.Merge"/>'s carry <c>dataChange: true</c> and the schema
    /// the run's columns make, as an append's do. Either keeps "the latest entry alone tells the schema". Idempotent per
    /// run; returns the entry's key.
    /// </summary>
    public async Task<string> OptimizeAsync(TableMetadataCommit commit, string runId, CancellationToken cancellationToken)
    {
        var prefix = commit.Prefix;
        Prepare(commit);
        for (var attempt = 1; ; attempt++)
        {
            var latest = await LatestVersionAsync(prefix, cancellationToken).ConfigureAwait(false);
            if (latest < 0) throw new StorageException($"Delta table {commit.Location} has no log: there is nothing to compact");
            var (byRun, latestMetaData) = await LatestCommitContextAsync(prefix, latest, runId, cancellationToken).ConfigureAwait(false);
            if (byRun) return CommitKey(prefix, latest);
            var metaData = latestMetaData!;
            var merge = commit.Operation == TableMetadataCommit.Merge;
            var partitionColumn = merge ? PartitionColumn(commit) : metaData["partitionColumns"]?.AsArray().FirstOrDefault()?.GetValue<string>();
            if (merge)
            {
                metaData = (JsonObject)metaData.DeepClone();
                metaData["schemaString"] = SchemaString(commit, partitionColumn, metaData);
                metaData["partitionColumns"] = new JsonArray(partitionColumn is null ? [] : [JsonValue.Create(partitionColumn)]);
            }
            var live = await LiveFilesAsync(prefix, latest, cancellationToken).ConfigureAwait(false);
            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            var lines = new List<JsonObject>
            {
                new()
                {
                    ["commitInfo"] = new JsonObject
                    {
                        ["timestamp"] = now,
                        ["operation"] = merge ? "MERGE" : "OPTIMIZE",
                        ["operationParameters"] = merge ? new JsonObject { ["predicate"] = "[]" } : new JsonObject { ["predicate"] = "[]", ["targetSize"] = "" },
                        ["isBlindAppend"] = false,
                        ["engineInfo"] = "dataspoc-pipe/" + ToolVersion.Current,
                        [RunIdField] = runId,
                    },
                },
                new() { ["metaData"] = metaData.DeepClone() },
            };
            foreach (var key in commit.Removed)
            {
                var path = RelativePath(key[prefix.Length..]);
                if (!live.TryGetValue(path, out var add))
                    throw new StorageException($"Delta table {commit.Location}: {store.Bucket}/{key} is no longer in the table's live files (the table " +
                        $"changed after this {(merge ? "merge" : "compaction")} planned it, and it was not claimed); no log entry was written");
                lines.Add(RemoveAction(path, add, now, dataChange: merge));
            }
            var adds = commit.Files.Select(file => AddAction(file, prefix, partitionColumn, now, dataChange: merge));
            var entryKey = CommitKey(prefix, latest + 1);
            if (await PutEntryIfAbsentAsync(entryKey, lines.Concat(adds), cancellationToken).ConfigureAwait(false))
            {
                if ((latest + 1) % CheckpointInterval == 0)
                    await new DeltaCheckpoint(store).WriteAsync(this, prefix, latest + 1, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
                return entryKey;
            }
            await CommitAttempts.PauseOrGiveUpAsync(attempt, MaxAttempts, $"Delta table {commit.Location}: {MaxAttempts} optimize attempts", cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The table's current schema in the Iceberg shape the stats need (<c>fields</c> with id, name, type), from the
    /// latest <c>metaData</c>, for a Delta-only table: column ids are those of <paramref name="sample"/>'s footer, by name.
    /// </summary>
    public async Task<JsonObject> StatsSchemaAsync(string tablePrefix, DataFileFacts sample, CancellationToken cancellationToken)
    {
        var latest = await LatestVersionAsync(tablePrefix, cancellationToken).ConfigureAwait(false);
        var metaData = latest < 0 ? null : (await LatestCommitContextAsync(tablePrefix, latest, runId: null, cancellationToken).ConfigureAwait(false)).MetaData;
        var fields = new JsonArray();
        if (metaData?["schemaString"]?.GetValue<string>() is { } schemaString && TableJson.Parse(schemaString)?["fields"] is JsonArray deltaFields)
            foreach (var f in deltaFields)
            {
                var name = f!["name"]!.GetValue<string>();
                if (f["type"] is not JsonValue type || sample.Columns.FirstOrDefault(c => c.Name == name) is not { } column) continue;
                var icebergType = type.GetValue<string>() switch { "timestamp" => "timestamptz", var other => other };
                fields.Add((JsonNode)new JsonObject { ["id"] = column.FieldId, ["name"] = name, ["type"] = icebergType });
            }
        return new JsonObject { ["type"] = "struct", ["fields"] = fields };
    }
}
