using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Parquet;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Tables;

/// <summary>
/// A Delta Lake table over the same Parquet files (Delta protocol: reader 1, writer 2, no table features):
/// <c>&lt;table&gt;/_delta_log/&lt;20-digit version&gt;.json</c>, one commit per run, created only if absent (the
/// protocol's mutual exclusion on the log entry); a committer that loses the race retries on the new version.
/// Every commit carries the table's <c>metaData</c> (the same id each time), so the latest entry alone tells the
/// schema; appends add files, an overwrite also removes every live file (found by replaying the log).
/// </summary>
internal sealed partial class DeltaTable(IObjectStore store, TimeProvider time)
{
    public const string RunIdField = "dataspoc.runId";
    private const int MaxAttempts = 32;
    public const int CheckpointInterval = 10;

    public static string LogPrefix(string tablePrefix) => tablePrefix + "_delta_log/";
    public static string CommitKey(string tablePrefix, long version) =>
        LogPrefix(tablePrefix) + version.ToString("D20", CultureInfo.InvariantCulture) + ".json";

    /// <summary>The version of a <c>_delta_log/&lt;20-digit version&gt;.json</c> key of the table, else null.</summary>
    public static long? VersionOf(string tablePrefix, string key)
    {
        var log = LogPrefix(tablePrefix);
        var name = key.StartsWith(log, StringComparison.Ordinal) ? key[log.Length..] : "";
        return IsCommitName(name, out var v) ? v : null;
    }

    /// <summary>The newest committed version, or -1 for a table without a log.</summary>
    public async Task<long> LatestVersionAsync(string tablePrefix, CancellationToken cancellationToken)
    {
        var latest = -1L;
        await foreach (var obj in store.ListAsync(LogPrefix(tablePrefix), cancellationToken).ConfigureAwait(false))
            if (VersionOf(tablePrefix, obj.Key) is { } v) latest = Math.Max(latest, v);
        return latest;
    }

    /// <summary>The key of a file the log names by <paramref name="path"/> (relative to the table, percent-encoded as the protocol's URI paths are).</summary>
    public static string KeyOf(string tablePrefix, string path) => tablePrefix + string.Join('/', path.Split('/').Select(Uri.UnescapeDataString));

    /// <summary>Whether a <c>_delta_log/</c> file name is a log entry's (<c>&lt;20-digit version&gt;.json</c>), and its version.</summary>
    private static bool IsCommitName(string name, out long version)
    {
        version = -1;
        return name.Length == 25 && name.EndsWith(".json", StringComparison.Ordinal)
            && long.TryParse(name.AsSpan(0, 20), NumberStyles.None, CultureInfo.InvariantCulture, out version);
    }

    /// <summary>The actions of one log entry, one JSON object per line.</summary>
    public Task<List<JsonObject>> ReadCommitAsync(string tablePrefix, long version, CancellationToken cancellationToken) =>
        ReadLogJsonAsync(CommitKey(tablePrefix, version), "missing from the Delta log", cancellationToken);

    /// <summary>
    /// The actions of a JSON log file (an entry, a JSON checkpoint), one object per line, read as a stream;
    /// <paramref name="missing"/> says what its absence means. With <paramref name="only"/>, just the actions of those
    /// kinds: the other lines are skipped unparsed, so memory holds the actions kept, not the file.
    /// </summary>
    internal async Task<List<JsonObject>> ReadLogJsonAsync(string key, string missing, CancellationToken cancellationToken, IReadOnlySet<string>? only = null)
    {
        Stream stored;
        try { stored = await store.OpenReadAsync(key, cancellationToken).ConfigureAwait(false); }
        catch (FileNotFoundException e) { throw new StorageException($"{store.Bucket}/{key} is {missing}", e); }
        var actions = new List<JsonObject>();
        var lineNumber = 0;
        await using (stored.ConfigureAwait(false))
        using (var reader = new StreamReader(stored, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, bufferSize: 1 << 16))
            while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
            {
                lineNumber++;
                if (line.Trim().Length == 0 || (only is not null && ActionKind(line) is { } kind && !only.Contains(kind))) continue;
                JsonObject action;
                try { action = TableJson.Parse(line)!.AsObject(); }
                catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException)
                {
                    throw new StorageException($"{store.Bucket}/{key}:{lineNumber}: not a JSON action ({e.Message})", e);
                }
                if (only is null || only.Any(action.ContainsKey)) actions.Add(action);
            }
        return actions;
    }

    /// <summary>The name of a log line's action (<c>add</c> in <c>{"add": {...}}</c>), read without parsing the line; null when it does not start that plainly.</summary>
    private static string? ActionKind(string line)
    {
        var rest = line.AsSpan().TrimStart();
        if (rest.IsEmpty || rest[0] != '{') return null;
        rest = rest[1..].TrimStart();
        if (rest.IsEmpty || rest[0] != '"') return null;
        var end = rest[1..].IndexOfAny('"', '\\');
        return end < 0 || rest[1 + end] != '"' ? null : rest.Slice(1, end).ToString();
    }

    /// <summary>The actions a commit needs of the latest entry: who wrote it and the table's metaData (not its files).</summary>
    private static readonly IReadOnlySet<string> CommitContext = new HashSet<string>(["commitInfo", "metaData"], StringComparer.Ordinal);

    /// <summary>
    /// What a commit on <paramref name="version"/> needs of the log: whether that entry is <paramref name="runId"/>'s (its
    /// commit landed before a retry) and, when not, the table's metaData. Our entries all carry metaData; another writer's (a blind
    /// append) need not, and then the newest entry before it that does tells, or the snapshot once entries before a
    /// checkpoint are cleaned up. Only commitInfo and metaData lines are parsed: an entry lists every file its run wrote
    /// (tens of megabytes after a run of many partitions), which a commit does not need.
    /// </summary>
    internal async Task<(bool ByRun, JsonObject? MetaData)> LatestCommitContextAsync(string tablePrefix, long version, string? runId, CancellationToken cancellationToken)
    {
        var byRun = false;
        for (var v = version; v >= 0; v--)
        {
            List<JsonObject> actions;
            try { actions = await ReadLogJsonAsync(CommitKey(tablePrefix, v), "missing from the Delta log", cancellationToken, CommitContext).ConfigureAwait(false); }
            catch (StorageException) when (v < version) { break; } // cleaned up: the snapshot (from a checkpoint) tells
            if (v == version) byRun = runId is not null && actions.Any(a => a["commitInfo"]?[RunIdField]?.GetValue<string>() == runId);
            if (byRun) return (true, null);
            if (actions.Select(a => a["metaData"]).OfType<JsonObject>().FirstOrDefault() is { } metaData) return (false, metaData);
        }
        return (false, (await SnapshotAsync(tablePrefix, version, cancellationToken).ConfigureAwait(false)).MetaData);
    }

    /// <summary>The live files' relative paths at <paramref name="version"/>, each with its add action (see <see cref="SnapshotAsync"/>); none before version 0.</summary>
    public async Task<Dictionary<string, JsonObject>> LiveFilesAsync(string tablePrefix, long version, CancellationToken cancellationToken) =>
        version < 0 ? new(StringComparer.Ordinal) : (await SnapshotAsync(tablePrefix, version, cancellationToken).ConfigureAwait(false)).Adds;

    /// <summary>
    /// Computes what the commit writes from the plan alone, where a failure is still harmless (see
    /// <see cref="TableFormatCommitter.Prepare"/>): the schema string of an append or overwrite and every file's stats.
    /// </summary>
    public static void Prepare(TableMetadataCommit commit)
    {
        // Built once here to fail where a failure is harmless; the commit builds it again joined with the table's latest schema.
        if (commit.Operation != TableMetadataCommit.Replace) _ = SchemaString(commit, PartitionColumn(commit), previousMeta: null);
        foreach (var file in commit.Files) file.DeltaStats ??= Stats(file, commit.Schema);
    }

    /// <summary>Writes the run's log entry; returns its key. Idempotent per run (the latest entry carrying the run id is the run's).</summary>
    public async Task<string> CommitAsync(TableMetadataCommit commit, string runId, CancellationToken cancellationToken)
    {
        var prefix = commit.Prefix;
        Prepare(commit);
        for (var attempt = 1; ; attempt++)
        {
            var latest = await LatestVersionAsync(prefix, cancellationToken).ConfigureAwait(false);
            JsonObject? previousMeta = null;
            if (latest >= 0)
            {
                (var byRun, previousMeta) = await LatestCommitContextAsync(prefix, latest, runId, cancellationToken).ConfigureAwait(false);
                if (byRun) return CommitKey(prefix, latest);
            }
            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            var overwrite = commit.Operation == TableMetadataCommit.Overwrite;
            var partitionColumn = PartitionColumn(commit);
            var actions = new List<JsonObject>
            {
                new()
                {
                    ["commitInfo"] = new JsonObject
                    {
                        ["timestamp"] = now,
                        ["operation"] = "WRITE",
                        ["operationParameters"] = new JsonObject { ["mode"] = overwrite ? "Overwrite" : "Append", ["partitionBy"] = new JsonArray(partitionColumn is null ? [] : [JsonValue.Create(partitionColumn)]).ToJsonString() },
                        ["isBlindAppend"] = !overwrite,
                        ["engineInfo"] = "dataspoc-pipe/" + ToolVersion.Current,
                        [RunIdField] = runId,
                    },
                },
            };
            if (latest < 0) actions.Add(new JsonObject { ["protocol"] = new JsonObject { ["minReaderVersion"] = 1, ["minWriterVersion"] = 2 } });
            actions.Add(new JsonObject
            {
                ["metaData"] = new JsonObject
                {
                    ["id"] = previousMeta?["id"]?.GetValue<string>() ?? Guid.NewGuid().ToString(),
                    ["format"] = new JsonObject { ["provider"] = "parquet", ["options"] = new JsonObject() },
                    // The run's columns, then those only earlier live files hold (the previous schema's).
                    ["schemaString"] = SchemaString(commit, partitionColumn, previousMeta),
                    ["partitionColumns"] = new JsonArray(partitionColumn is null ? [] : [JsonValue.Create(partitionColumn)]),
                    // The table's properties (set by another engine: delta.logRetentionDuration, say) stay: a metaData
                    // action replaces the whole metaData.
                    ["configuration"] = previousMeta?["configuration"]?.DeepClone() as JsonObject ?? new JsonObject(),
                    ["createdTime"] = previousMeta?["createdTime"]?.GetValue<long>() ?? now,
                },
            });
            // An overwrite makes the table exactly the commit's files: live files it lists again (a merge keeps them) are
            // neither removed nor added again.
            var listed = commit.Files.Select(f => RelativePath(f.Key[prefix.Length..])).ToHashSet(StringComparer.Ordinal);
            var live = overwrite && latest >= 0 ? await LiveFilesAsync(prefix, latest, cancellationToken).ConfigureAwait(false) : new Dictionary<string, JsonObject>();
            var removes = live.Where(f => !listed.Contains(f.Key)).Select(f => RemoveAction(f.Key, f.Value, now, dataChange: true));
            var adds = commit.Files.Where(f => !live.ContainsKey(RelativePath(f.Key[prefix.Length..])))
                .Select(f => AddAction(f, prefix, partitionColumn, now, dataChange: true));
            var key = CommitKey(prefix, latest + 1);
            if (await PutEntryIfAbsentAsync(key, actions.Concat(removes).Concat(adds), cancellationToken).ConfigureAwait(false))
            {
                if (latest + 1 > 0 && (latest + 1) % CheckpointInterval == 0)
                    await new DeltaCheckpoint(store).WriteAsync(this, prefix, latest + 1, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
                return key;
            }
            await CommitAttempts.PauseOrGiveUpAsync(attempt, MaxAttempts, $"Delta table {commit.Location}: {MaxAttempts} commit attempts", cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Writes a log entry, one action per line, created only if absent (the commit point); false when another committer
    /// took the version. The entry lists every file of a run, so each action is written to a spool file as it is made and
    /// the store uploads that file: memory holds one action, not the entry. Nothing is visible until the upload completes.
    /// </summary>
    private async Task<bool> PutEntryIfAbsentAsync(string key, IEnumerable<JsonObject> actions, CancellationToken cancellationToken)
    {
        var local = Lake.LakePaths.ScratchFile("delta-entry", ".json");
        try
        {
            await using (var file = new FileStream(local, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            await using (var json = new System.Text.Json.Utf8JsonWriter(file))
            {
                foreach (var action in actions)
                {
                    action.WriteTo(json);
                    await json.FlushAsync(cancellationToken).ConfigureAwait(false);
                    file.WriteByte((byte)'\n');
                    json.Reset();
                }
            }
            return await store.PutFileIfAbsentAsync(key, local, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(local);
        }
    }

    /// <summary>
    /// Delta partition columns have no transforms: extraction-date partitioning is the column <c>_extraction_date</c>
    /// (in no data file, its value in each add's partitionValues), a date column is itself; a date-time column's day
    /// cannot be expressed, so such tables are unpartitioned for Delta (file statistics still prune).
    /// </summary>
    private static string? PartitionColumn(TableMetadataCommit commit)
    {
        if (commit.PartitionBy == PartitionBySettings.None) return null;
        if (commit.PartitionBy == PartitionBySettings.ExtractionDate) return IcebergFieldIds.ExtractionDateColumn;
        var field = commit.Schema["fields"]!.AsArray().FirstOrDefault(f => f!["name"]!.GetValue<string>() == commit.PartitionBy);
        return field?["type"]?.GetValue<string>() == "date" ? commit.PartitionBy : null;
    }

    /// <summary>A path relative to the table root, percent-encoded as the protocol's URI paths are.</summary>
    private static string RelativePath(string path) => string.Join('/', path.Split('/').Select(Uri.EscapeDataString));

    /// <summary>The commit's columns in Delta's types, with those only the table's earlier files hold (from <paramref name="previousMeta"/>).</summary>
    private static string SchemaString(TableMetadataCommit commit, string? partitionColumn, JsonObject? previousMeta)
    {
        var fields = new JsonArray();
        foreach (var f in commit.Schema["fields"]!.AsArray())
        {
            var name = f!["name"]!.GetValue<string>();
            if (name == IcebergFieldIds.ExtractionDateColumn && partitionColumn != IcebergFieldIds.ExtractionDateColumn) continue;
            fields.Add((JsonNode)Field(f.AsObject()));
        }
        var earlier = previousMeta?["schemaString"]?.GetValue<string>() is { } text ? TableJson.Parse(text)?["fields"]?.AsArray() : null;
        return new JsonObject { ["type"] = "struct", ["fields"] = commit.FieldsKeepingEarlier(fields, earlier) }.ToJsonString();
    }

    private static JsonObject Field(JsonObject icebergField) => new()
    {
        ["name"] = icebergField["name"]!.GetValue<string>(),
        ["type"] = TypeOf(icebergField["type"]!),
        ["nullable"] = true,
        ["metadata"] = new JsonObject(),
    };

    /// <summary>Iceberg type -> Delta type (timestamptz is Delta's timestamp; Delta has no time type: its microseconds as long).</summary>
    private static JsonNode TypeOf(JsonNode iceberg) => iceberg switch
    {
        JsonValue v => JsonValue.Create(v.GetValue<string>() switch
        {
            "timestamptz" => "timestamp",
            "time" => "long",
            var decimalType when decimalType.StartsWith("decimal(", StringComparison.Ordinal) => decimalType.Replace(" ", "", StringComparison.Ordinal),
            var other => other,
        }),
        JsonObject { } o when o["type"]!.GetValue<string>() == "struct" => new JsonObject
        {
            ["type"] = "struct",
            ["fields"] = new JsonArray([.. o["fields"]!.AsArray().Select(f => (JsonNode)Field(f!.AsObject()))]),
        },
        JsonObject { } o => new JsonObject { ["type"] = "array", ["elementType"] = TypeOf(o["element"]!), ["containsNull"] = true },
        _ => throw new InvalidOperationException("unknown Iceberg type"),
    };

    /// <summary>The log's <c>add</c> action of a data file (its path relative to the table, partition value and its prepared stats).</summary>
    private static JsonObject AddAction(DataFileFacts file, string prefix, string? partitionColumn, long now, bool dataChange)
    {
        var partitionValues = new JsonObject();
        if (partitionColumn is not null)
            partitionValues[partitionColumn] = file.PartitionDate?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        return new JsonObject
        {
            ["add"] = new JsonObject
            {
                ["path"] = RelativePath(file.Key[prefix.Length..]),
                ["partitionValues"] = partitionValues,
                ["size"] = file.Bytes,
                ["modificationTime"] = now,
                ["dataChange"] = dataChange,
                ["stats"] = file.DeltaStats ?? throw new InvalidOperationException($"{file.Key}: Delta stats not prepared"),
            },
        };
    }

    /// <summary>The log's <c>remove</c> action of a live file, from the <c>add</c> that made it live.</summary>
    private static JsonObject RemoveAction(string path, JsonObject add, long now, bool dataChange) => new()
    {
        ["remove"] = new JsonObject
        {
            ["path"] = path,
            ["deletionTimestamp"] = now,
            ["dataChange"] = dataChange,
            ["extendedFileMetadata"] = true,
            ["partitionValues"] = add["partitionValues"]?.DeepClone() ?? new JsonObject(),
            ["size"] = add["size"]?.GetValue<long>() ?? 0,
        },
    };

    /// <summary>
    /// The add action's stats: numRecords, and for top-level columns minValues, maxValues and nullCount. A bound Delta
    /// cannot express is left out on its own (the other side still prunes); a reader never skips on a missing one.
    /// </summary>
    private static string Stats(DataFileFacts file, JsonObject schema)
    {
        var types = schema["fields"]!.AsArray().ToDictionary(f => f!["id"]!.GetValue<int>(), f => f!["type"]!);
        var min = new JsonObject();
        var max = new JsonObject();
        var nulls = new JsonObject();
        foreach (var c in file.Columns)
        {
            if (c.Name.Contains('.', StringComparison.Ordinal) || !types.TryGetValue(c.FieldId, out var type) || type is not JsonValue t) continue;
            if (c.Nulls is { } n) nulls[c.Name] = n;
            if (c.Lower is null || c.Upper is null) continue;
            if (ColumnType.OfIcebergName(t.GetValue<string>()) is not { } columnType) continue;
            if (columnType.DeltaStatistic(c.Lower, roundUp: false) is { } lo) min[c.Name] = lo;
            if (!c.HasNaN && columnType.DeltaStatistic(c.Upper, roundUp: true) is { } hi) max[c.Name] = hi;
        }
        return new JsonObject { ["numRecords"] = file.Records, ["minValues"] = min, ["maxValues"] = max, ["nullCount"] = nulls }.ToJsonString();
    }
}
