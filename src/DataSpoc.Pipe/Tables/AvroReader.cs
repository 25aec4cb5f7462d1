using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;

namespace DataSpoc.Pipe.Tables;

/// <summary>
/// Reads an Avro object container file by its own (writer's) schema: records become dictionaries by field name,
/// arrays lists, unions their branch's value. Codecs null and deflate (what Iceberg writers use for metadata).
/// Used to carry a table's earlier manifests into a new snapshot and by <c>maintain</c>; manifests of other
/// writers (Spark, Trino) read the same way.
/// </summary>
internal static class AvroReader
{
    public sealed record Container(JsonNode Schema, IReadOnlyDictionary<string, string> Metadata, List<object?> Records);

    public static Container Read(ReadOnlySpan<byte> file, string what)
    {
        var r = new Cursor(file.ToArray(), what);
        if (file.Length < 4 || file[0] != 'O' || file[1] != 'b' || file[2] != 'j' || file[3] != 1)
            throw new InvalidDataException($"{what} is not an Avro container file (no 'Obj\\x01' header)");
        r.Position = 4;
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var n = r.Long(); n != 0; n = r.Long())
        {
            if (n < 0) { n = -n; r.Long(); }
            for (var i = 0; i < n; i++) metadata[r.String()] = Encoding.UTF8.GetString(r.Bytes());
        }
        var sync = r.Take(16);
        if (!metadata.TryGetValue("avro.schema", out var schemaText)) throw new InvalidDataException($"{what} has no avro.schema");
        var schema = JsonNode.Parse(schemaText) ?? throw new InvalidDataException($"{what} has an empty avro.schema");
        var codec = metadata.GetValueOrDefault("avro.codec", "null");
        var names = new Dictionary<string, JsonNode>(StringComparer.Ordinal);
        var records = new List<object?>();
        while (r.Position < r.Data.Length)
        {
            var count = r.Long();
            var size = r.Long();
            var block = r.Take(checked((int)size));
            if (!r.Take(16).AsSpan().SequenceEqual(sync))
                throw new InvalidDataException($"{what}: a block's sync marker does not match the header's");
            var data = codec switch
            {
                "null" => block,
                "deflate" => Inflate(block),
                _ => throw new InvalidDataException($"{what} uses the Avro codec '{codec}'; only null and deflate are read"),
            };
            var b = new Cursor(data, what);
            for (var i = 0; i < count; i++) records.Add(b.Datum(schema, names));
        }
        return new Container(schema, metadata, records);
    }

    private static byte[] Inflate(byte[] block)
    {
        using var input = new DeflateStream(new MemoryStream(block), CompressionMode.Decompress);
        using var output = new MemoryStream();
        input.CopyTo(output);
        return output.ToArray();
    }

    private sealed class Cursor(byte[] data, string what)
    {
        public byte[] Data { get; } = data;
        public int Position { get; set; }

        public long Long()
        {
            ulong n = 0;
            var shift = 0;
            while (true)
            {
                if (Position >= Data.Length) throw new InvalidDataException($"{what} ends inside a number");
                var b = Data[Position++];
                n |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80) break;
                shift += 7;
                if (shift > 63) throw new InvalidDataException($"{what} holds a malformed number");
            }
            return (long)(n >> 1) ^ -(long)(n & 1);
        }

        public byte[] Take(int length)
        {
            if (length < 0 || Position + length > Data.Length) throw new InvalidDataException($"{what} is truncated");
            var result = Data.AsSpan(Position, length).ToArray();
            Position += length;
            return result;
        }

        public byte[] Bytes() => Take(checked((int)Long()));
        public string String() => Encoding.UTF8.GetString(Bytes());

        public object? Datum(JsonNode schema, Dictionary<string, JsonNode> names)
        {
            switch (schema)
            {
                case JsonArray union:
                    var branch = (int)Long();
                    if (branch < 0 || branch >= union.Count) throw new InvalidDataException($"{what} has a union branch out of range");
                    return Datum(union[branch]!, names);
                case JsonValue v:
                    var type = v.GetValue<string>();
                    return names.TryGetValue(type, out var named) ? Datum(named, names) : Primitive(type);
            }
            var obj = schema.AsObject();
            var kind = obj["type"]!;
            if (kind is not JsonValue) return Datum(kind, names);
            var name = kind.GetValue<string>();
            if (obj["name"] is JsonValue n && name is "record" or "fixed" or "enum") names[n.GetValue<string>()] = schema;
            switch (name)
            {
                case "record":
                    var record = new Dictionary<string, object?>(StringComparer.Ordinal);
                    foreach (var field in obj["fields"]!.AsArray())
                        record[field!["name"]!.GetValue<string>()] = Datum(field["type"]!, names);
                    return record;
                case "array":
                    var list = new List<object?>();
                    for (var count = Long(); count != 0; count = Long())
                    {
                        if (count < 0) { count = -count; Long(); }
                        for (var i = 0; i < count; i++) list.Add(Datum(obj["items"]!, names));
                    }
                    return list;
                case "map":
                    var map = new Dictionary<string, object?>(StringComparer.Ordinal);
                    for (var count = Long(); count != 0; count = Long())
                    {
                        if (count < 0) { count = -count; Long(); }
                        for (var i = 0; i < count; i++) map[String()] = Datum(obj["values"]!, names);
                    }
                    return map;
                case "fixed": return Take(obj["size"]!.GetValue<int>());
                case "enum": return obj["symbols"]![(int)Long()]!.GetValue<string>();
                default: return Primitive(name);
            }
        }

        private object? Primitive(string type) => type switch
        {
            "null" => null,
            "boolean" => Take(1)[0] != 0,
            "int" => (int)Long(),
            "long" => Long(),
            "float" => BitConverter.ToSingle(Take(4)),
            "double" => BitConverter.ToDouble(Take(8)),
            "bytes" => Bytes(),
            "string" => String(),
            _ => throw new InvalidDataException($"{what} uses the unknown Avro type '{type}'"),
        };
    }
}
