using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Tables;

/// <summary>
/// An Iceberg v2 table kept as files (the spec's "File System Tables"): <c>&lt;table&gt;/metadata/v&lt;N&gt;.metadata.json</c>,
/// the manifest lists and manifests (Avro) beside them, and <c>version-hint.text</c> naming the current N. A commit
/// creates <c>v&lt;N+1&gt;.metadata.json</c> only if absent (the store's conditional create: the atomic step), then
/// updates the hint; a committer that loses the race re-reads the new base and retries. One snapshot per run.
/// </summary>
internal sealed partial class IcebergTable(IObjectStore store, TimeProvider time)
{
    public const string RunIdProperty = "dataspoc.run-id";
    private const int MaxAttempts = 32;

    public static string MetadataPrefix(string tablePrefix) => tablePrefix + "metadata/";
    public static string VersionHintKey(string tablePrefix) => MetadataPrefix(tablePrefix) + "version-hint.text";
    public static string MetadataKey(string tablePrefix, long version) =>
        MetadataPrefix(tablePrefix) + "v" + version.ToString(CultureInfo.InvariantCulture) + ".metadata.json";

    /// <summary>The N of a <c>metadata/v&lt;N&gt;.metadata.json</c> key of the table, else null.</summary>
    public static long? VersionOf(string tablePrefix, string key)
    {
        var folder = MetadataPrefix(tablePrefix);
        if (!key.StartsWith(folder + "v", StringComparison.Ordinal) || !key.EndsWith(".metadata.json", StringComparison.Ordinal)) return null;
        var digits = key.AsSpan(folder.Length + 1, key.Length - folder.Length - 1 - ".metadata.json".Length);
        return long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var version) && version > 0 ? version : null;
    }

    /// <summary>
    /// The table property (Iceberg's, as its own writers read it) bounding <c>metadata-log</c>: a commit keeps the newest
    /// that many earlier metadata files in it (at least 1, as Iceberg's writers do), <see cref="DefaultPreviousVersionsMax"/>
    /// when the table does not set it. <c>maintain</c> deletes the metadata files the log no longer lists.
    /// </summary>
    public const string PreviousVersionsMaxProperty = "write.metadata.previous-versions-max";
    public const int DefaultPreviousVersionsMax = 100;

    /// <summary>
    /// Adds the metadata file <paramref name="next"/> follows (<paramref name="previousFile"/>, made at
    /// <paramref name="previousTimestampMs"/>) to <paramref name="next"/>'s <c>metadata-log</c>, dropping the oldest entries
    /// beyond <see cref="PreviousVersionsMaxProperty"/>: unbounded, every version would carry one entry per earlier
    /// version (a table committed every 5 minutes would write megabytes of log for a one-row append within months).
    /// </summary>
    public static void AddToMetadataLog(JsonObject next, string previousFile, long previousTimestampMs)
    {
        var max = DefaultPreviousVersionsMax;
        if (next["properties"]?[PreviousVersionsMaxProperty] is { } set)
        {
            var text = set.ToString();
            if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out max))
                throw new StorageException($"Iceberg table {next["location"]}: table property {PreviousVersionsMaxProperty} is '{text}', not a whole number");
        }
        var log = next["metadata-log"]?.AsArray() ?? [];
        next["metadata-log"] = log;
        log.Add((JsonNode)new JsonObject { ["timestamp-ms"] = previousTimestampMs, ["metadata-file"] = previousFile });
        while (log.Count > Math.Max(1, max)) log.RemoveAt(0);
    }

    /// <summary>The current metadata file's version and content; (0, null) for a table without Iceberg metadata yet.</summary>
    public async Task<(long Version, JsonObject? Metadata)> LoadCurrentAsync(string tablePrefix, CancellationToken cancellationToken)
    {
        long version = 0;
        if (await store.GetAsync(VersionHintKey(tablePrefix), cancellationToken).ConfigureAwait(false) is { } hint
            && long.TryParse(Encoding.UTF8.GetString(hint.Content.Span).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var hinted))
            version = hinted;
        // The hint may lag behind (a committer stopped between creating v<N+1> and updating the hint): the newest
        // existing version is the table's current one.
        JsonObject? metadata = null;
        if (version > 0)
            metadata = await ReadMetadataAsync(tablePrefix, version, cancellationToken).ConfigureAwait(false);
        // No hint, or it names a version no longer stored (maintain deletes versions the metadata log no longer lists;
        // another tool may too): the newest stored version is the start. Never "no table": a commit would then create
        // a v<N> maintain deleted, as a new table.
        if (metadata is null)
        {
            var newest = 0L;
            await foreach (var obj in store.ListAsync(MetadataPrefix(tablePrefix) + "v", cancellationToken).ConfigureAwait(false))
                if (VersionOf(tablePrefix, obj.Key) is { } listed) newest = Math.Max(newest, listed);
            if (newest > 0 && await ReadMetadataAsync(tablePrefix, newest, cancellationToken).ConfigureAwait(false) is { } found)
                (version, metadata) = (newest, found);
        }
        while (await ReadMetadataAsync(tablePrefix, version + 1, cancellationToken).ConfigureAwait(false) is { } newer)
        {
            version++;
            metadata = newer;
        }
        return (version, metadata);
    }

    private async Task<JsonObject?> ReadMetadataAsync(string tablePrefix, long version, CancellationToken cancellationToken)
    {
        var key = MetadataKey(tablePrefix, version);
        if (await store.GetAsync(key, cancellationToken).ConfigureAwait(false) is not { } stored) return null;
        try
        {
            return TableJson.Parse(stored.Content.Span)?.AsObject() ?? throw new System.Text.Json.JsonException("empty");
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException)
        {
            throw new StorageException($"{store.Bucket}/{key} is not valid Iceberg table metadata ({e.Message})", e);
        }
    }

    /// <summary>The field ids a run's data files must carry: the current schema's, continuing after <c>last-column-id</c>.</summary>
    public async Task<IcebergFieldIds> FieldIdsAsync(string tablePrefix, CancellationToken cancellationToken)
    {
        var (_, metadata) = await LoadCurrentAsync(tablePrefix, cancellationToken).ConfigureAwait(false);
        if (metadata is null) return IcebergFieldIds.Empty();
        var currentId = metadata["current-schema-id"]!.GetValue<int>();
        var schema = metadata["schemas"]!.AsArray().FirstOrDefault(s => s!["schema-id"]!.GetValue<int>() == currentId)?.AsObject();
        return IcebergFieldIds.FromSchema(schema, metadata["last-column-id"]!.GetValue<int>());
    }

    /// <summary>
    /// Why <paramref name="commit"/>'s files cannot join the table as it is now (<paramref name="current"/>, version
    /// <paramref name="version"/>): another commit since the run took its ids gave one of the ids its files carry for a
    /// new column to another column (<see cref="IcebergFieldIds.Collisions"/>). Null when they fit, or when the commit
    /// does not say which ids it took (a journal of an older build).
    /// </summary>
    public static string? ColumnIdConflict(TableMetadataCommit commit, JsonObject? current, long version)
    {
        if (current is null || commit.BaseLastColumnId is not { } baseLast || !commit.Has(TableFormatCommitter.Iceberg)) return null;
        var collisions = IcebergFieldIds.Collisions(commit.Schema["fields"]!.AsArray(), baseLast, current);
        if (collisions.Count == 0) return null;
        var by = CurrentSnapshot(current)?["summary"]?[RunIdProperty]?.GetValue<string>() is { } run ? $", run {run}" : "";
        return $"Iceberg table {commit.Location}: another commit numbered new columns while this run ran (the table is at version v{version}{by}; " +
            $"this run took its field ids when the table's last-column-id was {baseLast}), and this run's data files carry those ids for other columns: " +
            string.Join("; ", collisions) + ". A table cannot hold two columns with one field id (Iceberg readers would read one column's values as the other's)";
    }

    /// <summary>
    /// Commits the run's snapshot; returns the key of the metadata file now current. Idempotent per run: when the
    /// current snapshot already carries <paramref name="runId"/> (a commit completed before a crash), nothing is written.
    /// </summary>
    public async Task<string> CommitAsync(TableMetadataCommit commit, string runId, CancellationToken cancellationToken)
    {
        var prefix = commit.Prefix;
        var snapshotId = NewSnapshotId();
        var nonce = Guid.NewGuid().ToString("N");
        for (var attempt = 1; ; attempt++)
        {
            var (version, current) = await LoadCurrentAsync(prefix, cancellationToken).ConfigureAwait(false);
            if (current is not null && CurrentSnapshot(current)?["summary"]?[RunIdProperty]?.GetValue<string>() == runId)
            {
                // Committed already (before a crash, or by an attempt whose answer was lost): the hint may still lag.
                await RefreshVersionHintAsync(prefix, version, cancellationToken).ConfigureAwait(false);
                return MetadataKey(prefix, version);
            }

            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            var metadata = current?.DeepClone().AsObject() ?? NewTable(commit.Location, now);
            var currentSchema = current is null ? null : metadata["schemas"]!.AsArray()
                .FirstOrDefault(s => s!["schema-id"]!.GetValue<int>() == current["current-schema-id"]!.GetValue<int>());
            var schemaId = EvolveSchema(metadata, commit, version, currentSchema?["fields"]?.AsArray());
            var schema = metadata["schemas"]!.AsArray().First(s => s!["schema-id"]!.GetValue<int>() == schemaId)!.AsObject();
            var partition = IcebergSchema.PartitionFieldOf(schema, commit.PartitionBy);
            var specId = EvolveSpec(metadata, partition, out partition);
            var specFields = IcebergSchema.SpecFields(partition);

            var parent = CurrentSnapshot(current ?? []);
            var sequenceNumber = metadata["last-sequence-number"]!.GetValue<long>() + 1;
            var previousSummary = parent?["summary"]?.AsObject();
            // The new manifest first (Iceberg's order: the one a merge waits to merge), then the parent's, for an append.
            var planned = new List<PlannedManifest>();
            if (commit.Files.Count > 0)
                planned.Add(NewManifest(commit, MetadataPrefix(prefix) + $"{nonce}-m{attempt - 1}.avro", AddedEntries(commit, commit.Files),
                    partition, specFields, schema, specId, snapshotId, sequenceNumber));
            if (commit.Operation == TableMetadataCommit.Append && parent?["manifest-list"]?.GetValue<string>() is { } previousList)
            {
                var listKey = KeyOf(commit, previousList);
                var stored = await store.GetAsync(listKey, cancellationToken).ConfigureAwait(false)
                    ?? throw new StorageException($"{store.Bucket}/{listKey} (the current snapshot's manifest list) is missing");
                planned.AddRange(IcebergManifests.ReadList(stored.Content.Span, $"{store.Bucket}/{listKey}").Select(row => new PlannedManifest(row)));
            }
            var written = new List<string>();
            var entries = await FinishManifestListAsync(commit, metadata, schema, planned, snapshotId, sequenceNumber,
                MetadataPrefix(prefix) + $"{nonce}-m{attempt - 1}", consolidate: false, written, cancellationToken).ConfigureAwait(false);
            DropUnboundSpecs(metadata, schema, entries);
            var listName = MetadataPrefix(prefix) + $"snap-{snapshotId.ToString(CultureInfo.InvariantCulture)}-{attempt}-{nonce}.avro";
            await store.PutAsync(listName, IcebergManifests.WriteList(entries, snapshotId, parent?["snapshot-id"]?.GetValue<long>(), sequenceNumber),
                WriteCondition.None, cancellationToken).ConfigureAwait(false);
            written.Add(listName);

            var summary = SnapshotSummary(commit, previousSummary, runId);
            var snapshot = new JsonObject
            {
                ["snapshot-id"] = snapshotId,
                ["sequence-number"] = sequenceNumber,
                ["timestamp-ms"] = now,
                ["manifest-list"] = UriOf(commit, listName),
                ["summary"] = summary,
                ["schema-id"] = schemaId,
            };
            if (parent?["snapshot-id"]?.GetValue<long>() is { } parentId) snapshot["parent-snapshot-id"] = parentId;
            if (await PublishSnapshotAsync(commit, metadata, current, version, snapshot, now, cancellationToken).ConfigureAwait(false) is { } published)
                return published;
            // Another committer created v<N+1> first: our manifest list was based on the old snapshot. Retry on the new base.
            foreach (var key in written) await store.DeleteAsync(key, cancellationToken).ConfigureAwait(false);
            await CommitAttempts.PauseOrGiveUpAsync(attempt, MaxAttempts, $"Iceberg table {commit.Location}: {MaxAttempts} commit attempts", cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Makes <paramref name="snapshot"/> the current snapshot of <paramref name="metadata"/> (refs, logs, sequence number) and
    /// publishes it as version N+1 with a conditional create, the commit point. Returns the new metadata key, or null when
    /// another committer created that version first (the caller re-plans on the new base).
    /// </summary>
    private async Task<string?> PublishSnapshotAsync(TableMetadataCommit commit, JsonObject metadata, JsonObject? current, long version,
        JsonObject snapshot, long now, CancellationToken cancellationToken)
    {
        var prefix = commit.Prefix;
        var snapshotId = snapshot["snapshot-id"]!.GetValue<long>();
        metadata["snapshots"]!.AsArray().Add((JsonNode)snapshot);
        metadata["current-snapshot-id"] = snapshotId;
        metadata["last-sequence-number"] = snapshot["sequence-number"]!.GetValue<long>();
        metadata["last-updated-ms"] = now;
        metadata["refs"] = new JsonObject { ["main"] = new JsonObject { ["snapshot-id"] = snapshotId, ["type"] = "branch" } };
        metadata["snapshot-log"]!.AsArray().Add((JsonNode)new JsonObject { ["timestamp-ms"] = now, ["snapshot-id"] = snapshotId });
        if (current is not null)
            AddToMetadataLog(metadata, UriOf(commit, MetadataKey(prefix, version)), current["last-updated-ms"]!.GetValue<long>());

        var next = MetadataKey(prefix, version + 1);
        var bytes = Encoding.UTF8.GetBytes(metadata.ToJsonString(TableJson.Indented));
        if (!await store.PutAsync(next, bytes, WriteCondition.IfAbsent, cancellationToken).ConfigureAwait(false)) return null;
        await store.PutAsync(VersionHintKey(prefix), Encoding.ASCII.GetBytes((version + 1).ToString(CultureInfo.InvariantCulture)), WriteCondition.None, cancellationToken).ConfigureAwait(false);
        return next;
    }

    /// <summary>
    /// Points <c>version-hint.text</c> at the current version. A commit stopped between its metadata file and the hint
    /// (a maintain's expiry, or a run's: stopped, or its metadata PUT answered only to a retry) leaves it behind; readers
    /// that trust the hint would read an older version. Never backwards: when a newer version exists by now (another
    /// committer's), the hint is that committer's to write, and this one's would take readers back to older data.
    /// </summary>
    public async Task RefreshVersionHintAsync(string prefix, long version, CancellationToken cancellationToken)
    {
        var hintKey = VersionHintKey(prefix);
        var text = version.ToString(CultureInfo.InvariantCulture);
        if (await store.GetAsync(hintKey, cancellationToken).ConfigureAwait(false) is { } hint && Encoding.UTF8.GetString(hint.Content.Span).Trim() == text) return;
        if (await store.ExistsAsync(MetadataKey(prefix, version + 1), cancellationToken).ConfigureAwait(false)) return;
        await store.PutAsync(hintKey, Encoding.ASCII.GetBytes(text), WriteCondition.None, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The keys of the data files the current snapshot reads (none for a table without one), for a merge.</summary>
    public async Task<List<string>> LiveDataFileKeysAsync(TableMetadataCommit table, CancellationToken cancellationToken)
    {
        var (_, current) = await LoadCurrentAsync(table.Prefix, cancellationToken).ConfigureAwait(false);
        var keys = new List<string>();
        if (current is null || CurrentSnapshot(current)?["manifest-list"]?.GetValue<string>() is not { } list) return keys;
        await foreach (var (manifestKey, manifest, _) in DataManifestsAsync(table, list, "the current snapshot", "the current snapshot's manifest list", cancellationToken).ConfigureAwait(false))
            keys.AddRange(IcebergManifests.LiveFilePaths(manifest.Span, $"{store.Bucket}/{manifestKey}").Select(p => KeyOf(table, p)));
        return keys;
    }

    /// <summary>
    /// The live data files of <paramref name="snapshot"/> (keys), each with the id of the snapshot that added it; null
    /// when the snapshot names no manifest list.
    /// </summary>
    public async Task<Dictionary<string, long>?> LiveFileSnapshotsAsync(TableMetadataCommit table, JsonObject snapshot, CancellationToken cancellationToken)
    {
        if (snapshot["manifest-list"]?.GetValue<string>() is not { } list) return null;
        var files = new Dictionary<string, long>(StringComparer.Ordinal);
        var name = $"snapshot {snapshot["snapshot-id"]}";
        await foreach (var (manifestKey, manifest, entry) in DataManifestsAsync(table, list, name, $"the manifest list of {name}", cancellationToken).ConfigureAwait(false))
            foreach (var e in IcebergManifests.ReadEntries(manifest.Span, entry, $"{store.Bucket}/{manifestKey}"))
                if (e.Status != IcebergManifests.ManifestEntry.Deleted) files[KeyOf(table, e.File.Key)] = e.SnapshotId ?? -1;
        return files;
    }

    /// <summary>
    /// The data manifests a snapshot's manifest list names (<paramref name="snapshotName"/> and <paramref name="listName"/>
    /// word the errors), each read whole.
    /// </summary>
    private async IAsyncEnumerable<(string Key, ReadOnlyMemory<byte> Content, IcebergManifests.ListEntry Entry)> DataManifestsAsync(TableMetadataCommit table,
        string list, string snapshotName, string listName, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var listKey = KeyOf(table, list);
        var stored = await store.GetAsync(listKey, cancellationToken).ConfigureAwait(false)
            ?? throw new StorageException($"{store.Bucket}/{listKey} ({listName}) is missing");
        foreach (var entry in IcebergManifests.ReadList(stored.Content.Span, $"{store.Bucket}/{listKey}"))
        {
            var manifestKey = KeyOf(table, entry.Path);
            // A delete manifest (another writer's row-level deletes) lists files of deleted rows, not data: its rows
            // cannot be taken as data, nor left out without a word (the data files would then read deleted rows).
            if (entry.Content != 0)
                throw new StorageException($"{store.Bucket}/{manifestKey}: {snapshotName} has row-level delete files, which this tool does not apply");
            var manifest = await store.GetAsync(manifestKey, cancellationToken).ConfigureAwait(false)
                ?? throw new StorageException($"{store.Bucket}/{manifestKey} (a manifest of {snapshotName}) is missing");
            yield return (manifestKey, manifest.Content, entry);
        }
    }

    private static long NewSnapshotId() => Random.Shared.NextInt64(1, long.MaxValue);

    public static JsonObject? CurrentSnapshot(JsonObject metadata)
    {
        if (metadata["current-snapshot-id"]?.GetValue<long>() is not { } id || id < 0) return null;
        return metadata["snapshots"]?.AsArray().FirstOrDefault(s => s!["snapshot-id"]!.GetValue<long>() == id)?.AsObject();
    }

    private static JsonObject NewTable(string location, long now) => new()
    {
        ["format-version"] = 2,
        ["table-uuid"] = Guid.NewGuid().ToString(),
        ["location"] = location,
        ["last-sequence-number"] = 0L,
        ["last-updated-ms"] = now,
        ["last-column-id"] = 0,
        ["current-schema-id"] = 0,
        ["schemas"] = new JsonArray(),
        ["default-spec-id"] = 0,
        ["partition-specs"] = new JsonArray(),
        ["last-partition-id"] = IcebergSchema.FirstPartitionFieldId - 1,
        ["default-sort-order-id"] = 0,
        ["sort-orders"] = new JsonArray((JsonNode)new JsonObject { ["order-id"] = 0, ["fields"] = new JsonArray() }),
        ["properties"] = new JsonObject { ["write.format.default"] = "parquet", ["created-by"] = "dataspoc-pipe " + ToolVersion.Current },
        ["current-snapshot-id"] = -1L,
        ["refs"] = new JsonObject(),
        ["snapshots"] = new JsonArray(),
        ["snapshot-log"] = new JsonArray(),
        ["metadata-log"] = new JsonArray(),
    };

    /// <summary>
    /// Makes the table's schema after <paramref name="commit"/> (<see cref="TableMetadataCommit.FieldsKeepingEarlier"/> of
    /// the <paramref name="currentFields"/> of version <paramref name="version"/>, which <paramref name="metadata"/> still
    /// is) the current schema: the existing one with equal fields, else a new schema id. Refuses ids its files carry that
    /// the table gave other columns since the run took them: the commit's claims (<see cref="Lake.LakeCommitter"/>) keep
    /// dataspoc-pipe commits from getting here with one, so only another writer can (an older build, another engine).
    /// </summary>
    private static int EvolveSchema(JsonObject metadata, TableMetadataCommit commit, long version, JsonArray? currentFields)
    {
        if (ColumnIdConflict(commit, metadata, version) is { } conflict) throw new StorageException(conflict);
        var fields = new JsonObject { ["fields"] = commit.FieldsKeepingEarlier(commit.Schema["fields"]!.AsArray(), currentFields) };
        var schemas = metadata["schemas"]!.AsArray();
        var maxId = fields["fields"]!.AsArray().Max(f => MaxId(f!));
        metadata["last-column-id"] = Math.Max(metadata["last-column-id"]!.GetValue<int>(), maxId);
        var same = schemas.FirstOrDefault(s => IcebergSchema.SameFields(s!.AsObject(), fields));
        int id;
        if (same is not null) id = same["schema-id"]!.GetValue<int>();
        else
        {
            id = schemas.Count == 0 ? 0 : schemas.Max(s => s!["schema-id"]!.GetValue<int>()) + 1;
            var schema = new JsonObject { ["type"] = "struct", ["schema-id"] = id, ["fields"] = fields["fields"]!.DeepClone() };
            schemas.Add((JsonNode)schema);
        }
        metadata["current-schema-id"] = id;
        return id;
    }

    private static int MaxId(JsonNode field)
    {
        var max = field["id"]?.GetValue<int>() ?? 0;
        var type = field["type"];
        if (type is JsonObject o)
        {
            if (o["fields"] is JsonArray children) max = Math.Max(max, children.Max(c => MaxId(c!)));
            if (o["element-id"] is { } element) max = Math.Max(max, Math.Max(element.GetValue<int>(), MaxId(new JsonObject { ["type"] = o["element"]!.DeepClone() })));
        }
        return max;
    }

    /// <summary>The default spec when it matches <paramref name="wanted"/> (same source and transform), else a new spec with a new field id.</summary>
    private static int EvolveSpec(JsonObject metadata, PartitionField? wanted, out PartitionField? partition)
    {
        var specs = metadata["partition-specs"]!.AsArray();
        foreach (var spec in specs)
        {
            var fields = spec!["fields"]!.AsArray();
            if (wanted is null ? fields.Count == 0
                : fields.Count == 1 && fields[0]!["source-id"]!.GetValue<int>() == wanted.SourceId && fields[0]!["transform"]!.GetValue<string>() == wanted.Transform)
            {
                partition = wanted is null ? null : wanted with { FieldId = fields[0]!["field-id"]!.GetValue<int>(), Name = fields[0]!["name"]!.GetValue<string>() };
                var found = spec["spec-id"]!.GetValue<int>();
                metadata["default-spec-id"] = found;
                return found;
            }
        }
        var id = specs.Count == 0 ? 0 : specs.Max(s => s!["spec-id"]!.GetValue<int>()) + 1;
        partition = wanted is null ? null : wanted with { FieldId = metadata["last-partition-id"]!.GetValue<int>() + 1 };
        if (partition is not null) metadata["last-partition-id"] = partition.FieldId;
        specs.Add((JsonNode)new JsonObject { ["spec-id"] = id, ["fields"] = IcebergSchema.SpecFields(partition) });
        metadata["default-spec-id"] = id;
        return id;
    }

    private static IcebergManifests.FieldSummary Summary(List<DataFileFacts> files)
    {
        var dates = files.Where(f => f.PartitionDate is not null).Select(f => IcebergManifests.DaysSinceEpoch(f.PartitionDate!.Value)).ToList();
        return new IcebergManifests.FieldSummary(
            files.Any(f => f.PartitionDate is null), null,
            dates.Count > 0 ? BitConverter.GetBytes(dates.Min()) : null,
            dates.Count > 0 ? BitConverter.GetBytes(dates.Max()) : null);
    }

    private static JsonObject SnapshotSummary(TableMetadataCommit commit, JsonObject? previous, string runId)
    {
        long Prev(string key) => previous?[key]?.GetValue<string>() is { } s && long.TryParse(s, CultureInfo.InvariantCulture, out var v) ? v : 0;
        var addedFiles = commit.Files.Count;
        var addedRecords = commit.Files.Sum(f => f.Records);
        var addedBytes = commit.Files.Sum(f => f.Bytes);
        var overwrite = commit.Operation == TableMetadataCommit.Overwrite;
        var summary = new JsonObject { ["operation"] = overwrite ? "overwrite" : "append" };
        string S(long v) => v.ToString(CultureInfo.InvariantCulture);
        summary["added-data-files"] = S(addedFiles);
        summary["added-records"] = S(addedRecords);
        summary["added-files-size"] = S(addedBytes);
        if (overwrite)
        {
            summary["deleted-data-files"] = S(Prev("total-data-files"));
            summary["deleted-records"] = S(Prev("total-records"));
            summary["removed-files-size"] = S(Prev("total-files-size"));
        }
        summary["total-data-files"] = S(addedFiles + (overwrite ? 0 : Prev("total-data-files")));
        summary["total-records"] = S(addedRecords + (overwrite ? 0 : Prev("total-records")));
        summary["total-files-size"] = S(addedBytes + (overwrite ? 0 : Prev("total-files-size")));
        summary["total-delete-files"] = "0";
        summary["total-position-deletes"] = "0";
        summary["total-equality-deletes"] = "0";
        summary[RunIdProperty] = runId;
        return summary;
    }

    /// <summary>A key's full URI under the table location (metadata paths are absolute, as the spec requires).</summary>
    private static string UriOf(TableMetadataCommit commit, string key) =>
        commit.Location + "/" + key[commit.Prefix.Length..];

    /// <summary>The key of a URI under the table location.</summary>
    public static string KeyOf(TableMetadataCommit commit, string uri) =>
        uri.StartsWith(commit.Location + "/", StringComparison.Ordinal)
            ? commit.Prefix + uri[(commit.Location.Length + 1)..]
            : throw new StorageException($"Iceberg table {commit.Location} references {uri}, which is outside the table's location");
}
