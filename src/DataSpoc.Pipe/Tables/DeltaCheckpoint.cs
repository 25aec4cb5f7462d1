using System.Globalization;
using System.Runtime.InteropServices;
using Encoding = System.Text.Encoding;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Storage;
using ParquetSharp;
using ParquetSharp.Schema;

namespace DataSpoc.Pipe.Tables;

/// <summary>
/// Delta checkpoints (protocol "Checkpoints"), read and written. Written: a classic checkpoint
/// (<c>&lt;version&gt;.checkpoint.parquet</c>, V1 spec) with the table state at a version: protocol, metaData, the live
/// add actions and the remove tombstones, one action per row in the protocol's checkpoint schema; then
/// <c>_last_checkpoint</c>. Written after every <see cref="DeltaTable.CheckpointInterval"/>th commit, so readers replay
/// at most that many JSON entries. Read (<see cref="ReadAsync"/>, for <see cref="DeltaTable.SnapshotAsync"/>): every
/// naming scheme a reader must know (classic, multi-part, UUID-named in Parquet or JSON) in either spec (V1, or V2 with
/// its actions in sidecar files), ours or another writer's.
/// </summary>
internal sealed class DeltaCheckpoint(IObjectStore store)
{
    public static string CheckpointKey(string tablePrefix, long version) =>
        DeltaTable.LogPrefix(tablePrefix) + version.ToString("D20", CultureInfo.InvariantCulture) + ".checkpoint.parquet";
    public static string LastCheckpointKey(string tablePrefix) => DeltaTable.LogPrefix(tablePrefix) + "_last_checkpoint";

    /// <summary>
    /// One checkpoint of a version, as the log lists it: one file (classic, UUID-named) or the <see cref="Parts"/> files
    /// of a multi-part checkpoint, in part order.
    /// </summary>
    public sealed record Checkpoint(long Version, List<string> Keys, int Parts);

    /// <summary>
    /// A checkpoint file's name (in <c>_delta_log/</c>, no folder) parsed: its version, and its part number and part count
    /// (1 of 1 for a classic or UUID-named checkpoint); null for any other name.
    /// </summary>
    public static (long Version, int Part, int Parts)? ParseName(string name)
    {
        if (name.Length < 20 + ".checkpoint.parquet".Length || !long.TryParse(name.AsSpan(0, 20), NumberStyles.None, CultureInfo.InvariantCulture, out var version)) return null;
        var rest = name[20..];
        if (rest == ".checkpoint.parquet") return (version, 1, 1);
        if (!rest.StartsWith(".checkpoint.", StringComparison.Ordinal)) return null;
        rest = rest[".checkpoint.".Length..];
        // Multi-part: <part>.<parts>.parquet, both 10 digits.
        if (rest.Length == 10 + 1 + 10 + ".parquet".Length && rest.EndsWith(".parquet", StringComparison.Ordinal) && rest[10] == '.'
            && int.TryParse(rest.AsSpan(0, 10), NumberStyles.None, CultureInfo.InvariantCulture, out var part)
            && int.TryParse(rest.AsSpan(11, 10), NumberStyles.None, CultureInfo.InvariantCulture, out var parts) && part >= 1 && part <= parts)
            return (version, part, parts);
        // UUID-named (V2 spec): <uuid>.parquet or <uuid>.json.
        var dot = rest.LastIndexOf('.');
        return dot > 0 && rest[(dot + 1)..] is "parquet" or "json" && Guid.TryParse(rest[..dot], out _) ? (version, 1, 1) : null;
    }

    /// <summary>
    /// The actions of a checkpoint, one single-field object per action as a log entry holds them (<c>{"add": {...}}</c>),
    /// with the file actions of the sidecars a V2 checkpoint names in place of its <c>sidecar</c> actions. Only the
    /// actions a snapshot needs are read (protocol, metaData, add, remove); string maps read as JSON objects.
    /// </summary>
    public async Task<List<JsonObject>> ReadAsync(DeltaTable table, string tablePrefix, Checkpoint checkpoint, CancellationToken cancellationToken)
    {
        var actions = new List<JsonObject>();
        var sidecars = new List<string>();
        foreach (var key in checkpoint.Keys)
            foreach (var action in key.EndsWith(".json", StringComparison.Ordinal)
                         ? await table.ReadLogJsonAsync(key, missing: "missing from the Delta log", cancellationToken).ConfigureAwait(false)
                         : await ReadParquetAsync(key, ["protocol", "metaData", "add", "remove", "sidecar"], cancellationToken).ConfigureAwait(false))
            {
                if (action["sidecar"] is JsonObject sidecar)
                {
                    // Sidecars always live in _delta_log/_sidecars/; the path may still be written as a longer URI.
                    var path = Uri.UnescapeDataString(sidecar["path"]?.GetValue<string>() ?? throw new StorageException($"{store.Bucket}/{key}: a sidecar action without a path"));
                    sidecars.Add(DeltaTable.LogPrefix(tablePrefix) + "_sidecars/" + path[(path.LastIndexOf('/') + 1)..]);
                }
                else if (action.Count == 1 && action.First().Key is "protocol" or "metaData" or "add" or "remove") actions.Add(action);
            }
        foreach (var key in sidecars)
            actions.AddRange(await ReadParquetAsync(key, ["add", "remove"], cancellationToken).ConfigureAwait(false));
        return actions;
    }

    /// <summary>The non-null action of each row of a checkpoint (or sidecar) Parquet file, among <paramref name="kinds"/>.</summary>
    private async Task<List<JsonObject>> ReadParquetAsync(string key, string[] kinds, CancellationToken cancellationToken)
    {
        var local = Lake.LakePaths.ScratchFile("delta-checkpoint", ".parquet");
        try
        {
            try
            {
                await using (var source = await store.OpenReadAsync(key, cancellationToken).ConfigureAwait(false))
                await using (var target = File.Create(local))
                    await source.CopyToAsync(target, cancellationToken).ConfigureAwait(false);
            }
            catch (FileNotFoundException e)
            {
                throw new StorageException($"{store.Bucket}/{key} is missing from the Delta log", e);
            }
            var actions = new List<JsonObject>();
            var location = $"{store.Bucket}/{key}";
            try
            {
                Sources.BuiltIn.ParquetRows.ForEach(local, kinds.ToHashSet(StringComparer.Ordinal), null, (json, _) =>
                {
                    var row = JsonNode.Parse(json)!.AsObject();
                    foreach (var kind in kinds)
                        if (row[kind] is JsonObject action)
                        {
                            row.Remove(kind);
                            StringMapsAsObjects(action);
                            actions.Add(new JsonObject { [kind] = action });
                            break;
                        }
                }, location, cancellationToken);
            }
            catch (Exception e) when (e is InvalidDataException or ParquetException)
            {
                throw new StorageException($"{location} cannot be read as a Delta checkpoint: {e.Message}", e);
            }
            return actions;
        }
        finally
        {
            File.Delete(local);
        }
    }

    /// <summary>
    /// The checkpoint schema's string maps (partitionValues, tags, configuration, format.options), which a Parquet
    /// reader gives as lists of key/value entries, as the JSON objects a log entry holds.
    /// </summary>
    private static void StringMapsAsObjects(JsonObject action)
    {
        foreach (var (parent, name) in new[] { (action, "partitionValues"), (action, "tags"), (action, "configuration"), (action["format"] as JsonObject, "options") })
            if (parent?[name] is JsonArray entries)
            {
                var map = new JsonObject();
                foreach (var entry in entries)
                    if (entry?["key"]?.GetValue<string>() is { } k) map[k] = entry["value"]?.DeepClone();
                parent[name] = map;
            }
    }

    public async Task WriteAsync(DeltaTable table, string tablePrefix, long version, DateTimeOffset now, CancellationToken cancellationToken)
    {
        // The state at the version as any reader rebuilds it: the previous checkpoint, then the entries after it.
        var snapshot = await table.SnapshotAsync(tablePrefix, version, cancellationToken).ConfigureAwait(false);
        var rows = new List<(string Kind, JsonObject Action)> { ("protocol", snapshot.Protocol), ("metaData", snapshot.MetaData) };
        rows.AddRange(snapshot.Adds.Values.Select(a => ("add", a)));
        rows.AddRange((await UnexpiredTombstonesAsync(tablePrefix, snapshot, now, cancellationToken).ConfigureAwait(false)).Select(r => ("remove", r)));
        var local = Lake.LakePaths.ScratchFile("delta-checkpoint", ".parquet");
        try
        {
            Write(local, rows);
            var size = new FileInfo(local).Length; // measured first: a file:// store may move the file into the lake
            var key = CheckpointKey(tablePrefix, version);
            await store.PutFileAsync(key, local, cancellationToken).ConfigureAwait(false);
            var last = new JsonObject
            {
                ["version"] = version,
                ["size"] = rows.Count,
                ["sizeInBytes"] = size,
                ["numOfAddFiles"] = snapshot.Adds.Count,
            };
            await store.PutAsync(LastCheckpointKey(tablePrefix), Encoding.UTF8.GetBytes(last.ToJsonString()), WriteCondition.None, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(local);
        }
    }

    /// <summary>
    /// The snapshot's <c>remove</c> tombstones a checkpoint keeps: the protocol keeps them "until they are expired", older
    /// than the table's <c>delta.deletedFileRetentionDuration</c> (default 1 week), so a checkpoint would otherwise carry
    /// every file a merge, full refresh or compaction ever replaced, and every reader and <c>maintain</c> re-read them.
    /// An expired tombstone is dropped only once its file is gone from storage (<c>maintain</c> deleted it): <c>maintain</c>
    /// finds the files to delete through the tombstones, so dropping one whose file is still there would leave that
    /// file on storage for good. A retention this build cannot read keeps every tombstone.
    /// </summary>
    private async Task<List<JsonObject>> UnexpiredTombstonesAsync(string tablePrefix, DeltaSnapshot snapshot, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (DeltaRetention.DeletedFileRetention(snapshot.MetaData) is not { } retention) return snapshot.Removes;
        var expiredBefore = (now - retention).ToUnixTimeMilliseconds();
        static long DeletedAt(JsonObject remove) => remove["deletionTimestamp"]?.GetValue<long>() ?? long.MaxValue;
        if (!snapshot.Removes.Any(r => DeletedAt(r) < expiredBefore)) return snapshot.Removes;
        var stored = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var o in store.ListAsync(tablePrefix, cancellationToken).ConfigureAwait(false)) stored.Add(o.Key);
        // A path that is a URI (another writer's) is not checked: kept.
        return [.. snapshot.Removes.Where(r => DeletedAt(r) >= expiredBefore || r["path"]?.GetValue<string>() is not { } path
            || path.Contains("://", StringComparison.Ordinal) || stored.Contains(tablePrefix + Uri.UnescapeDataString(path)))];
    }

    /// <summary>One leaf column: its path, physical type and, per row, its entries (definition level, repetition level, value).</summary>
    private sealed record Leaf(PhysicalType Type, Func<string, JsonObject, List<(short Def, short Rep, object? Value)>> Entries);

    private static Node Str(string name) => new PrimitiveNode(name, Repetition.Optional, LogicalType.String(), PhysicalType.ByteArray);
    private static Node Long(string name) => new PrimitiveNode(name, Repetition.Optional, LogicalType.None(), PhysicalType.Int64);
    private static Node Int(string name) => new PrimitiveNode(name, Repetition.Optional, LogicalType.None(), PhysicalType.Int32);
    private static Node Bool(string name) => new PrimitiveNode(name, Repetition.Optional, LogicalType.None(), PhysicalType.Boolean);
    private static Node StringMap(string name) => new GroupNode(name, Repetition.Optional,
        [new GroupNode("key_value", Repetition.Repeated, [new PrimitiveNode("key", Repetition.Required, LogicalType.String(), PhysicalType.ByteArray), Str("value")])], LogicalType.Map());
    private static Node StringList(string name) => new GroupNode(name, Repetition.Optional,
        [new GroupNode("list", Repetition.Repeated, [Str("element")])], LogicalType.List());

    private static void Write(string path, List<(string Kind, JsonObject Action)> rows)
    {
        using var schema = new GroupNode("schema", Repetition.Required,
        [
            new GroupNode("protocol", Repetition.Optional, [Int("minReaderVersion"), Int("minWriterVersion")]),
            new GroupNode("metaData", Repetition.Optional,
            [
                Str("id"), Str("name"), Str("description"),
                new GroupNode("format", Repetition.Optional, [Str("provider"), StringMap("options")]),
                Str("schemaString"), StringList("partitionColumns"), Long("createdTime"), StringMap("configuration"),
            ]),
            new GroupNode("add", Repetition.Optional,
                [Str("path"), StringMap("partitionValues"), Long("size"), Long("modificationTime"), Bool("dataChange"), Str("stats")]),
            new GroupNode("remove", Repetition.Optional,
                [Str("path"), Long("deletionTimestamp"), Bool("dataChange"), Bool("extendedFileMetadata"), StringMap("partitionValues"), Long("size")]),
        ]);
        // Leaves in schema order. Levels: the action struct is level 1, its field 2, a nested struct's field 3; a map's
        // key_value entry adds one (repeated) level, an optional value one more.
        Leaf[] leaves =
        [
            Scalar("protocol", a => a["minReaderVersion"], PhysicalType.Int32, 2),
            Scalar("protocol", a => a["minWriterVersion"], PhysicalType.Int32, 2),
            Scalar("metaData", a => a["id"], PhysicalType.ByteArray, 2),
            Scalar("metaData", a => a["name"], PhysicalType.ByteArray, 2),
            Scalar("metaData", a => a["description"], PhysicalType.ByteArray, 2),
            Nested("metaData", a => a["format"]?["provider"], PhysicalType.ByteArray, a => a["format"] is not null, 3),
            MapPart("metaData", a => a["format"]?["options"] as JsonObject, a => a["format"] is not null, 3, key: true),
            MapPart("metaData", a => a["format"]?["options"] as JsonObject, a => a["format"] is not null, 3, key: false),
            Scalar("metaData", a => a["schemaString"], PhysicalType.ByteArray, 2),
            ListPart("metaData", a => a["partitionColumns"] as JsonArray),
            Scalar("metaData", a => a["createdTime"], PhysicalType.Int64, 2),
            MapPart("metaData", a => a["configuration"] as JsonObject, _ => true, 2, key: true),
            MapPart("metaData", a => a["configuration"] as JsonObject, _ => true, 2, key: false),
            Scalar("add", a => a["path"], PhysicalType.ByteArray, 2),
            MapPart("add", a => a["partitionValues"] as JsonObject, _ => true, 2, key: true),
            MapPart("add", a => a["partitionValues"] as JsonObject, _ => true, 2, key: false),
            Scalar("add", a => a["size"], PhysicalType.Int64, 2),
            Scalar("add", a => a["modificationTime"], PhysicalType.Int64, 2),
            Scalar("add", a => a["dataChange"], PhysicalType.Boolean, 2),
            Scalar("add", a => a["stats"], PhysicalType.ByteArray, 2),
            Scalar("remove", a => a["path"], PhysicalType.ByteArray, 2),
            Scalar("remove", a => a["deletionTimestamp"], PhysicalType.Int64, 2),
            Scalar("remove", a => a["dataChange"], PhysicalType.Boolean, 2),
            Scalar("remove", a => a["extendedFileMetadata"], PhysicalType.Boolean, 2),
            MapPart("remove", a => a["partitionValues"] as JsonObject, _ => true, 2, key: true),
            MapPart("remove", a => a["partitionValues"] as JsonObject, _ => true, 2, key: false),
            Scalar("remove", a => a["size"], PhysicalType.Int64, 2),
        ];
        using var builder = new WriterPropertiesBuilder();
        using var properties = builder.Compression(ParquetSharp.Compression.Snappy).Build();
        using var writer = new ParquetFileWriter(path, schema, properties);
        using (var rowGroup = writer.AppendRowGroup())
        using (var buffer = new ByteBuffer(4096))
            foreach (var leaf in leaves)
            {
                var entries = rows.SelectMany(r => leaf.Entries(r.Kind, r.Action)).ToList();
                var defs = entries.Select(e => e.Def).ToArray();
                var reps = entries.Select(e => e.Rep).ToArray();
                var values = entries.Where(e => e.Value is not null).Select(e => e.Value!).ToList();
                using var column = rowGroup.NextColumn();
                switch (column)
                {
                    case ColumnWriter<int> w: w.WriteBatch(entries.Count, defs, reps, values.Select(v => ((JsonNode)v).GetValue<int>()).ToArray()); break;
                    case ColumnWriter<long> w: w.WriteBatch(entries.Count, defs, reps, values.Select(v => ((JsonNode)v).GetValue<long>()).ToArray()); break;
                    case ColumnWriter<bool> w: w.WriteBatch(entries.Count, defs, reps, values.Select(v => ((JsonNode)v).GetValue<bool>()).ToArray()); break;
                    case ColumnWriter<ByteArray> w: w.WriteBatch(entries.Count, defs, reps, values.Select(v => Bytes(buffer, Text(v))).ToArray()); break;
                    default: throw new InvalidOperationException(column.GetType().Name);
                }
            }
        writer.Close();
    }

    private static string Text(object value) => value switch
    {
        string s => s,
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonNode n => n.ToJsonString(),
        _ => value.ToString()!,
    };

    private static ByteArray Bytes(ByteBuffer buffer, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var array = buffer.Allocate(bytes.Length);
        if (bytes.Length > 0) Marshal.Copy(bytes, 0, array.Pointer, bytes.Length);
        return array;
    }

    /// <summary>A field of an action struct: def 0 (other action), <paramref name="max"/>-1 (null) or <paramref name="max"/>.</summary>
    private static Leaf Scalar(string kind, Func<JsonObject, JsonNode?> value, PhysicalType type, short max) =>
        new(type, (k, a) => k != kind ? [(0, 0, null)] : value(a) is { } v ? [(max, 0, v)] : [((short)(max - 1), 0, null)]);

    /// <summary>A field of a struct inside the action (metaData.format.provider).</summary>
    private static Leaf Nested(string kind, Func<JsonObject, JsonNode?> value, PhysicalType type, Func<JsonObject, bool> parentPresent, short max) =>
        new(type, (k, a) => k != kind ? [(0, 0, null)] : !parentPresent(a) ? [((short)(max - 2), 0, null)] : value(a) is { } v ? [(max, 0, v)] : [((short)(max - 1), 0, null)]);

    /// <summary>
    /// A string map's key or value column. <paramref name="mapLevel"/> is the map's own definition level; an empty map
    /// is defined at it, each entry at mapLevel+1 (key, required) or mapLevel+2 (value present).
    /// </summary>
    private static Leaf MapPart(string kind, Func<JsonObject, JsonObject?> map, Func<JsonObject, bool> parentPresent, short mapLevel, bool key) =>
        new(PhysicalType.ByteArray, (k, a) =>
        {
            if (k != kind) return [(0, 0, null)];
            if (!parentPresent(a)) return [((short)(mapLevel - 2), 0, null)];
            var m = map(a);
            if (m is null || m.Count == 0) return [(m is null ? (short)(mapLevel - 1) : mapLevel, 0, null)];
            var result = new List<(short, short, object?)>();
            var first = true;
            foreach (var (name, v) in m)
            {
                short rep = first ? (short)0 : (short)1;
                first = false;
                if (key) result.Add(((short)(mapLevel + 1), rep, name));
                else result.Add(v is null ? ((short)(mapLevel + 1), rep, null) : ((short)(mapLevel + 2), rep, Text(v)));
            }
            return result;
        });

    /// <summary>metaData.partitionColumns: list at level 2, element entries at 3 (null) or 4.</summary>
    private static Leaf ListPart(string kind, Func<JsonObject, JsonArray?> list) =>
        new(PhysicalType.ByteArray, (k, a) =>
        {
            if (k != kind) return [(0, 0, null)];
            var l = list(a);
            if (l is null || l.Count == 0) return [(l is null ? (short)1 : (short)2, 0, null)];
            return l.Select((v, i) => v is null ? ((short)3, (short)(i == 0 ? 0 : 1), (object?)null) : ((short)4, (short)(i == 0 ? 0 : 1), (object?)Text(v))).ToList();
        });
}
