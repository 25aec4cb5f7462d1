using System.Globalization;
using System.Runtime.InteropServices;
using Encoding = System.Text.Encoding;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Storage;
using ParquetSharp;
using ParquetSharp.Schema;

namespace DataSpoc.Pipe.Tables;

/// <summary>
/// A classic Delta checkpoint (<c>&lt;version&gt;.checkpoint.parquet</c>, V1 spec) with the table state at a version:
/// protocol, metaData, the live add actions and the remove tombstones, one action per row in the protocol's
/// checkpoint schema; then <c>_last_checkpoint</c>. Written after every <see cref="DeltaTable.CheckpointInterval"/>th
/// commit, so readers replay at most that many JSON entries.
/// </summary>
internal sealed class DeltaCheckpoint(IObjectStore store)
{
    public static string CheckpointKey(string tablePrefix, long version) =>
        DeltaTable.LogPrefix(tablePrefix) + version.ToString("D20", CultureInfo.InvariantCulture) + ".checkpoint.parquet";
    public static string LastCheckpointKey(string tablePrefix) => DeltaTable.LogPrefix(tablePrefix) + "_last_checkpoint";

    public async Task WriteAsync(DeltaTable table, string tablePrefix, long version, CancellationToken cancellationToken)
    {
        JsonObject? protocol = null, metaData = null;
        var adds = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        var removes = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        for (var v = 0L; v <= version; v++)
            foreach (var action in await table.ReadCommitAsync(tablePrefix, v, cancellationToken).ConfigureAwait(false))
            {
                if (action["protocol"] is JsonObject p) protocol = p;
                else if (action["metaData"] is JsonObject m) metaData = m;
                else if (action["add"] is JsonObject a) { adds[a["path"]!.GetValue<string>()] = a; removes.Remove(a["path"]!.GetValue<string>()); }
                else if (action["remove"] is JsonObject r) { adds.Remove(r["path"]!.GetValue<string>()); removes[r["path"]!.GetValue<string>()] = r; }
            }
        if (protocol is null || metaData is null) throw new StorageException($"Delta log {store.Bucket}/{DeltaTable.LogPrefix(tablePrefix)} has no protocol or metaData up to version {version}");

        var rows = new List<(string Kind, JsonObject Action)> { ("protocol", protocol), ("metaData", metaData) };
        rows.AddRange(adds.Values.Select(a => ("add", a)));
        rows.AddRange(removes.Values.Select(r => ("remove", r)));
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
                ["numOfAddFiles"] = adds.Count,
            };
            await store.PutAsync(LastCheckpointKey(tablePrefix), Encoding.UTF8.GetBytes(last.ToJsonString()), WriteCondition.None, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(local);
        }
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
