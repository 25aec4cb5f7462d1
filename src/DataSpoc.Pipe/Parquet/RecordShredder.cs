using System.Buffers;
using System.Buffers.Text;
using System.Text;
using System.Text.Json;

namespace DataSpoc.Pipe.Parquet;

/// <summary>
/// Writes one RECORD's JSON object straight into a <see cref="ColumnBatch"/>'s leaf buffers (Dremel shredding:
/// definition and repetition levels plus typed values), with no intermediate object per record.
/// A value that does not fit its column throws <see cref="InvalidValueException"/>; the caller rolls the batch back.
/// </summary>
internal sealed partial class RecordShredder
{
    private readonly ArrayBufferWriter<byte> _json = new(256);
    private readonly Utf8JsonWriter _jsonWriter;

    /// <summary>Per struct node, which children the current record set (reused; a node never contains itself).</summary>
    private readonly Dictionary<StructNode, bool[]> _seen = new(ReferenceEqualityComparer.Instance);

    public RecordShredder()
    {
        _jsonWriter = new Utf8JsonWriter(_json, new JsonWriterOptions { SkipValidation = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }

    /// <summary>Properties present in records but absent from the schema, by dotted name.</summary>
    public Dictionary<string, long> DroppedProperties { get; } = new(StringComparer.Ordinal);

    /// <summary>Shreds the object at the reader's current StartObject token; leaves the reader on its EndObject.</summary>
    public void Shred(ColumnBatch batch, ref Utf8JsonReader reader)
    {
        WriteStruct(batch, batch.Schema.Root, ref reader, 0, 0);
        batch.Rows++;
    }

    private void WriteNode(ColumnBatch batch, SchemaNode node, ref Utf8JsonReader r, short parentDef, short rep)
    {
        if (r.TokenType == JsonTokenType.Null)
        {
            WriteNulls(batch, node, parentDef, rep);
            return;
        }
        switch (node)
        {
            case LeafNode leaf:
                WriteLeaf(batch.Columns[leaf.ColumnIndex], leaf, ref r, rep);
                break;
            case StructNode s:
                if (r.TokenType != JsonTokenType.StartObject) throw Invalid(s.Leaves.Count > 0 ? PathOf(s) : s.Name, $"expected an object, got {Describe(r.TokenType)}");
                WriteStruct(batch, s, ref r, s.DefLevel, rep);
                break;
            case ListNode l:
                if (r.TokenType != JsonTokenType.StartArray) throw Invalid(PathOf(l), $"expected an array, got {Describe(r.TokenType)}");
                var i = 0;
                while (r.Read() && r.TokenType != JsonTokenType.EndArray)
                {
                    WriteNode(batch, l.Element, ref r, (short)(l.DefLevel + 1), i == 0 ? rep : l.Element.RepLevel);
                    i++;
                }
                if (i == 0) WriteNulls(batch, l, l.DefLevel, rep); // present but empty list
                break;
        }
    }

    private void WriteStruct(ColumnBatch batch, StructNode s, ref Utf8JsonReader r, short def, short rep)
    {
        var children = s.Children;
        if (!_seen.TryGetValue(s, out var seen)) _seen[s] = seen = new bool[children.Count];
        Array.Clear(seen);
        var expected = 0;
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            // Taps write properties in schema order almost always: try the next expected one first.
            int index;
            if (expected < children.Count && r.ValueTextEquals(children[expected].NameUtf8)) index = expected;
            else index = Find(s, ref r);
            if (index < 0)
            {
                Drop(s, r.GetString()!, ref r);
                continue;
            }
            r.Read();
            if (seen[index]) throw Invalid(PathOf(children[index]), "the property appears twice in the record");
            seen[index] = true;
            expected = index + 1;
            WriteNode(batch, children[index], ref r, def, rep);
        }
        for (var i = 0; i < children.Count; i++)
            if (!seen[i]) WriteNulls(batch, children[i], def, rep);
    }

    private static int Find(StructNode s, ref Utf8JsonReader r)
    {
        Span<char> buffer = stackalloc char[128];
        var length = r.HasValueSequence ? (int)r.ValueSequence.Length : r.ValueSpan.Length;
        if (length <= buffer.Length && !r.ValueIsEscaped && !r.HasValueSequence)
        {
            var n = Encoding.UTF8.GetChars(r.ValueSpan, buffer);
            return s.Lookup.TryGetValue(buffer[..n], out var i) ? i : -1;
        }
        return s.IndexOf(r.GetString()!);
    }

    /// <summary>Skips a property the schema does not declare, counting it (dropped, never silently).</summary>
    private void Drop(StructNode s, string name, ref Utf8JsonReader r)
    {
        r.Read();
        r.Skip();
        var key = s.Name.Length == 0 ? name : s.Name + "." + name;
        DroppedProperties[key] = DroppedProperties.GetValueOrDefault(key) + 1;
    }

    private static void WriteNulls(ColumnBatch batch, SchemaNode node, short def, short rep)
    {
        foreach (var leaf in node.Leaves) batch.Columns[leaf.ColumnIndex].AddNull(def, rep);
    }

    private void WriteLeaf(LeafBuffer buf, LeafNode leaf, ref Utf8JsonReader r, short rep)
    {
        switch (leaf.Kind)
        {
            case LeafKind.Int64:
                if (r.TokenType != JsonTokenType.Number) throw Invalid(leaf.Path, $"expected an integer, got {Describe(r.TokenType)}");
                if (r.TryGetInt64(out var l)) { buf.AddLong(l, rep); return; }
                if (WholeNumber.TryParseInt64(r.HasValueSequence ? r.ValueSequence.ToArray() : r.ValueSpan, out var whole))
                {
                    buf.AddLong(whole, rep);
                    return;
                }
                throw Invalid(leaf.Path, $"{Text(ref r)} is not a 64-bit integer (out of range or not whole)");
            case LeafKind.Double:
                if (r.TokenType != JsonTokenType.Number) throw Invalid(leaf.Path, $"expected a number, got {Describe(r.TokenType)}");
                if (r.TryGetDouble(out var x) && double.IsFinite(x)) { buf.AddDouble(x, rep); return; }
                throw Invalid(leaf.Path, $"{Text(ref r)} is out of the range of a double");
            case LeafKind.Boolean:
                if (r.TokenType is JsonTokenType.True or JsonTokenType.False) { buf.AddBool(r.TokenType == JsonTokenType.True, rep); return; }
                throw Invalid(leaf.Path, $"expected true or false, got {Describe(r.TokenType)}");
            case LeafKind.String:
                WriteString(buf, leaf, ref r, rep);
                return;
            case LeafKind.Json:
                WriteJson(buf, ref r, rep);
                return;
            case LeafKind.Timestamp:
            {
                var s = StringValue(ref r, leaf, "a date-time string");
                if (TemporalParser.TryParseTimestampMicros(s, out var micros)) { buf.AddLong(micros, rep); return; }
                throw Invalid(leaf.Path, $"'{Encoding.UTF8.GetString(s)}' is not an ISO-8601 date-time");
            }
            case LeafKind.Date:
            {
                var s = StringValue(ref r, leaf, "a date string");
                if (TemporalParser.TryParseDateDays(s, out var days)) { buf.AddInt(days, rep); return; }
                throw Invalid(leaf.Path, $"'{Encoding.UTF8.GetString(s)}' is not an ISO-8601 date");
            }
            case LeafKind.Time:
            {
                var s = StringValue(ref r, leaf, "a time string");
                if (TemporalParser.TryParseTimeMicros(s, out var micros)) { buf.AddLong(micros, rep); return; }
                throw Invalid(leaf.Path, $"'{Encoding.UTF8.GetString(s)}' is not an ISO-8601 time");
            }
            case LeafKind.Decimal:
                WriteDecimal(buf, leaf, ref r, rep);
                return;
        }
    }

    private byte[] _unescaped = new byte[256];

    /// <summary>The unescaped UTF-8 of a string token (a view of the input when it has no escapes).</summary>
    private ReadOnlySpan<byte> StringValue(ref Utf8JsonReader r, LeafNode leaf, string what)
    {
        if (r.TokenType != JsonTokenType.String) throw Invalid(leaf.Path, $"expected {what}, got {Describe(r.TokenType)}");
        if (!r.ValueIsEscaped && !r.HasValueSequence) return r.ValueSpan;
        var max = r.HasValueSequence ? (int)r.ValueSequence.Length : r.ValueSpan.Length;
        if (_unescaped.Length < max) _unescaped = new byte[Math.Max(max, _unescaped.Length * 2)];
        var n = r.CopyString(_unescaped);
        return _unescaped.AsSpan(0, n);
    }

    private void WriteString(LeafBuffer buf, LeafNode leaf, ref Utf8JsonReader r, short rep)
    {
        switch (r.TokenType)
        {
            case JsonTokenType.String:
                if (!r.ValueIsEscaped && !r.HasValueSequence)
                {
                    // The reader does not check the UTF-8 of unescaped strings; Parquet STRING must be valid UTF-8.
                    if (!System.Text.Unicode.Utf8.IsValid(r.ValueSpan)) throw Invalid(leaf.Path, "the string is not valid UTF-8");
                    buf.AddBytes(r.ValueSpan, rep);
                    return;
                }
                var max = r.HasValueSequence ? (int)r.ValueSequence.Length : r.ValueSpan.Length;
                var n = r.CopyString(buf.BeginBytes(max));
                buf.EndBytes(n, rep);
                return;
            case JsonTokenType.Number or JsonTokenType.True or JsonTokenType.False:
                // The widest common type of mixed scalars is their JSON text.
                buf.AddBytes(r.HasValueSequence ? r.ValueSequence.ToArray() : r.ValueSpan, rep);
                return;
            default:
                WriteJson(buf, ref r, rep);
                return;
        }
    }

    private void WriteJson(LeafBuffer buf, ref Utf8JsonReader r, short rep)
    {
        _json.ResetWrittenCount();
        _jsonWriter.Reset();
        CopyValue(ref r, _jsonWriter);
        _jsonWriter.Flush();
        buf.AddBytes(_json.WrittenSpan, rep);
    }

    /// <summary>Re-writes the current JSON value compactly (the reader ends on the value's last token).</summary>
    private static void CopyValue(ref Utf8JsonReader r, Utf8JsonWriter w)
    {
        var depth = r.CurrentDepth;
        do
        {
            switch (r.TokenType)
            {
                case JsonTokenType.StartObject: w.WriteStartObject(); break;
                case JsonTokenType.EndObject: w.WriteEndObject(); break;
                case JsonTokenType.StartArray: w.WriteStartArray(); break;
                case JsonTokenType.EndArray: w.WriteEndArray(); break;
                case JsonTokenType.PropertyName:
                    if (r.ValueIsEscaped || r.HasValueSequence) w.WritePropertyName(r.GetString()!);
                    else w.WritePropertyName(r.ValueSpan);
                    break;
                case JsonTokenType.String:
                    if (r.ValueIsEscaped || r.HasValueSequence) w.WriteStringValue(r.GetString());
                    else w.WriteStringValue(r.ValueSpan);
                    break;
                case JsonTokenType.Number: w.WriteRawValue(r.HasValueSequence ? r.ValueSequence.ToArray() : r.ValueSpan, skipInputValidation: true); break;
                case JsonTokenType.True: w.WriteBooleanValue(true); break;
                case JsonTokenType.False: w.WriteBooleanValue(false); break;
                case JsonTokenType.Null: w.WriteNullValue(); break;
            }
            if (r.CurrentDepth == depth && r.TokenType is not (JsonTokenType.StartObject or JsonTokenType.StartArray)) return;
        } while (r.Read());
    }

    private static void WriteDecimal(LeafBuffer buf, LeafNode leaf, ref Utf8JsonReader r, short rep)
    {
        if (r.TokenType != JsonTokenType.Number) throw Invalid(leaf.Path, $"expected a number, got {Describe(r.TokenType)}");
        if (!Utf8Parser.TryParse(r.ValueSpan, out decimal value, out var consumed, 'E') || consumed != r.ValueSpan.Length)
            if (!Utf8Parser.TryParse(r.ValueSpan, out value, out consumed) || consumed != r.ValueSpan.Length)
                throw Invalid(leaf.Path, $"{Text(ref r)} does not fit a decimal(38, {leaf.Scale})");
        var scaled = value * DecimalWriter.Pow10(leaf.Scale);
        if (scaled != decimal.Truncate(scaled))
            throw Invalid(leaf.Path, $"{Text(ref r)} has more than {leaf.Scale} digits after the point (multipleOf {1m / DecimalWriter.Pow10(leaf.Scale)})");
        DecimalWriter.WriteBigEndian128(decimal.Truncate(scaled), buf.BeginBytes(16));
        buf.EndBytes(16, rep);
    }

    private static string PathOf(SchemaNode node) => node is LeafNode l ? l.Path : node.Leaves.Count > 0 ? ParentPath(node.Leaves[0].Path, node.Name) : node.Name;

    private static string ParentPath(string leafPath, string name)
    {
        var i = leafPath.IndexOf(name, StringComparison.Ordinal);
        return i >= 0 ? leafPath[..(i + name.Length)] : name;
    }

    private static string Text(ref Utf8JsonReader r) => Encoding.UTF8.GetString(r.HasValueSequence ? r.ValueSequence.ToArray() : r.ValueSpan);

    private static InvalidValueException Invalid(string field, string reason) => new(field, reason);

    internal static string Describe(JsonTokenType t) => t switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => t.ToString(),
    };
}

/// <summary>A record value that does not fit its declared type.</summary>
internal sealed class InvalidValueException(string field, string reason) : Exception($"field '{field}': {reason}")
{
    public string Field { get; } = field;
    public string Reason { get; } = reason;
}

/// <summary>Decimal values as Parquet FIXED_LEN_BYTE_ARRAY(16) big-endian two's complement unscaled integers.</summary>
internal static class DecimalWriter
{
    private static readonly decimal[] Powers = Enumerable.Range(0, 29).Select(i => Enumerable.Repeat(10m, i).Aggregate(1m, (a, b) => a * b)).ToArray();

    public static decimal Pow10(int scale) => Powers[scale];

    public static void WriteBigEndian128(decimal unscaledIntegral, Span<byte> dest)
    {
        var bits = decimal.GetBits(unscaledIntegral);
        var magnitude = ((Int128)(uint)bits[2] << 64) | ((Int128)(uint)bits[1] << 32) | (uint)bits[0];
        var value = bits[3] < 0 ? -magnitude : magnitude;
        System.Buffers.Binary.BinaryPrimitives.WriteInt128BigEndian(dest, value);
    }
}
