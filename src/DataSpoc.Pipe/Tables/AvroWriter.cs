using System.Buffers;
using System.Text;

namespace DataSpoc.Pipe.Tables;

/// <summary>
/// Writes one Avro object container file (null codec, one block) of records encoded by the caller.
/// Ours rather than Apache.Avro's: Iceberg readers resolve manifest columns by the <c>field-id</c>, <c>element-id</c>
/// and map <c>logicalType</c> attributes of the written schema, and Apache.Avro 1.12 re-serialises a parsed schema
/// from its own model (custom attributes are kept only where it models them, and its generic writer needs
/// reflection, which the AOT build refuses). Here the schema text is written byte for byte as the spec states it,
/// and values are encoded with the Avro binary encoding (zig-zag varints, length-prefixed bytes, union branch index).
/// </summary>
internal sealed class AvroWriter
{
    private static readonly byte[] Magic = [(byte)'O', (byte)'b', (byte)'j', 1];
    private readonly ArrayBufferWriter<byte> _block = new(4096);
    private long _count;

    /// <summary>Starts the next record (the caller then writes its fields in schema order).</summary>
    public AvroWriter Record()
    {
        _count++;
        return this;
    }

    public long Count => _count;

    public void Long(long value)
    {
        var n = (ulong)((value << 1) ^ (value >> 63));
        Span<byte> buffer = stackalloc byte[10];
        var i = 0;
        while (n >= 0x80)
        {
            buffer[i++] = (byte)(n | 0x80);
            n >>= 7;
        }
        buffer[i++] = (byte)n;
        _block.Write(buffer[..i]);
    }

    public void Int(int value) => Long(value);

    public void Bool(bool value) => _block.Write([(byte)(value ? 1 : 0)]);

    public void Bytes(ReadOnlySpan<byte> value)
    {
        Long(value.Length);
        _block.Write(value);
    }

    public void String(string value) => Bytes(Encoding.UTF8.GetBytes(value));

    /// <summary>The branch of a <c>["null", T]</c> union: 0 for null (nothing follows), 1 for a value (the caller writes it).</summary>
    public void Union(bool present) => Long(present ? 1 : 0);

    /// <summary>An array of <paramref name="items"/>, each written by <paramref name="item"/> (one block, then the end marker).</summary>
    public void Array<T>(IReadOnlyCollection<T> items, Action<AvroWriter, T> item)
    {
        if (items.Count > 0)
        {
            Long(items.Count);
            foreach (var x in items) item(this, x);
        }
        Long(0);
    }

    /// <summary>The container: header (schema, codec, <paramref name="metadata"/>), the records in one block, its sync marker.</summary>
    public byte[] ToContainer(string schemaJson, IEnumerable<KeyValuePair<string, string>> metadata)
    {
        var file = new AvroWriter();
        file._block.Write(Magic);
        var entries = new List<KeyValuePair<string, string>> { new("avro.schema", schemaJson), new("avro.codec", "null") };
        entries.AddRange(metadata);
        file.Long(entries.Count);
        foreach (var (key, value) in entries)
        {
            file.String(key);
            file.String(value);
        }
        file.Long(0);
        var sync = Guid.NewGuid().ToByteArray();
        file._block.Write(sync);
        if (_count > 0)
        {
            file.Long(_count);
            file.Long(_block.WrittenCount);
            file._block.Write(_block.WrittenSpan);
            file._block.Write(sync);
        }
        return file._block.WrittenSpan.ToArray();
    }
}
