using System.Buffers;
using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Unicode;

namespace DataSpoc.Pipe.Parquet;

/// <summary>
/// The canonical fast path: a record written the way taps almost always write it (declared properties only, values
/// of their declared JSON type, no escapes) is shredded by scanning its UTF-8 directly, without a tokenizer.
/// Whenever anything is out of the ordinary it returns false, possibly having written part of the row (the caller
/// rolls the batch back to its mark), and the tokenizer path (<see cref="Shred"/>) then handles the record and
/// reports whatever is wrong. So both paths accept exactly the same input and store the same values.
/// Locals are not zeroed on entry (<c>SkipLocalsInit</c>): every local is assigned before use, and the
/// per-field methods here are entered millions of times.
/// </summary>
[SkipLocalsInit]
internal sealed partial class RecordShredder
{
    /// <summary>Bytes that end a string or make it need the tokenizer: the quote, a backslash and control bytes.</summary>
    private static readonly SearchValues<byte> StringStops = SearchValues.Create(
        [.. Enumerable.Range(0, 0x20).Select(b => (byte)b), (byte)'"', (byte)'\\']);

    /// <summary>
    /// Shreds the object starting at <paramref name="position"/> (its '{') and moves past it; false when the record
    /// needs the tokenizer path. On success the row is counted in the batch.
    /// </summary>
    public bool TryShredCanonical(ColumnBatch batch, ReadOnlySpan<byte> json, ref int position)
    {
        if (!batch.Schema.HasPlainNames || position >= json.Length || json[position] != '{') return false;
        var root = batch.Schema.Root;
        if (batch.Schema.FlatFields is { } fields)
        {
            var at = position;
            if (TryFlatRecord(batch.Columns, fields, json, ref at))
            {
                position = at;
                batch.Rows++;
                return true;
            }
            batch.UndoUnfinishedRow();
        }
        if (!TryStruct(batch, root, json, ref position, 0, 0)) return false;
        batch.Rows++;
        return true;
    }

    /// <summary>
    /// The commonest record of all in one loop: a record of scalar properties only, written in schema order (missing
    /// trailing ones are null). No per-property bookkeeping; anything else returns false and the general scan
    /// (<see cref="TryStruct"/>) takes the record from its start.
    /// </summary>
    private static bool TryFlatRecord(LeafBuffer[] columns, FlatField[] fields, ReadOnlySpan<byte> json, ref int p)
    {
        p++; // the '{'
        var i = 0;
        SkipSpace(json, ref p);
        if ((uint)p < (uint)json.Length && json[p] == '}') p++;
        else
        {
            while (true)
            {
                if ((uint)i >= (uint)fields.Length || (uint)p >= (uint)json.Length || json[p] != '"') return false;
                p++;
                ref readonly var field = ref fields[i];
                if (field.Key.IsAt(json, p)) p += field.Key.Length;
                else if (!TryKey(field.KeyUtf8, json, ref p) || !TryColon(json, ref p)) return false; // `"name": value`, as Python writes it
                SkipSpace(json, ref p);
                if ((uint)p >= (uint)json.Length) return false;
                if (field.Leaf is not { } leaf)
                {
                    if (!TrySkipScalar(json, ref p)) return false;
                }
                else if (json[p] == 'n')
                {
                    if (!json[p..].StartsWith("null"u8)) return false;
                    p += 4;
                    columns[field.Column].AddNull(0, 0);
                }
                else if (!TryLeaf(columns[field.Column], leaf, json, ref p, 0)) return false;
                i++;
                if (!TryAfterValue(json, ref p, out var more)) return false;
                if (!more) break;
            }
        }
        for (; i < fields.Length; i++)
            if (fields[i].Column >= 0) columns[fields[i].Column].AddNull(0, 0);
        return true;
    }

    /// <summary>
    /// Moves past a scalar value a transform removes (null, a boolean, a number, a string); false for an object or
    /// array or anything malformed, which the tokenizer path then skips or reports.
    /// </summary>
    private static bool TrySkipScalar(ReadOnlySpan<byte> json, ref int p)
    {
        var c = json[p];
        if (c == 'n') return Literal(json, ref p, "null"u8);
        if (c == 't') return Literal(json, ref p, "true"u8);
        if (c == 'f') return Literal(json, ref p, "false"u8);
        if (c == '"')
        {
            for (var i = p + 1; i < json.Length;)
            {
                var next = json[i..].IndexOfAny(StringStops);
                if (next < 0) return false;
                i += next;
                if (json[i] == '"')
                {
                    p = i + 1;
                    return true;
                }
                if (json[i] != '\\' || i + 1 >= json.Length) return false; // a control byte
                var escape = json[i + 1];
                if (escape == 'u')
                {
                    if (!TryHex4(json, i + 2, out _)) return false;
                    i += 6;
                }
                else if ("\"\\/bfnrt"u8.Contains(escape)) i += 2;
                else return false;
            }
            return false;
        }
        return TryDouble(json, ref p, out _);

        static bool Literal(ReadOnlySpan<byte> json, ref int p, ReadOnlySpan<byte> literal)
        {
            if (!json[p..].StartsWith(literal)) return false;
            p += literal.Length;
            return true;
        }
    }

    private bool TryStruct(ColumnBatch batch, StructNode s, ReadOnlySpan<byte> json, ref int p, short def, short rep)
    {
        p++; // the '{'
        var children = s.ChildArray;
        var keys = s.CompactKeys;
        var seen = new SeenSet(children.Length > 64 ? WideSeen(s) : null);
        SkipSpace(json, ref p);
        if ((uint)p < (uint)json.Length && json[p] == '}') p++;
        else
        {
            var expected = 0;
            while (true)
            {
                if ((uint)p >= (uint)json.Length || json[p] != '"') return false;
                p++;
                int index;
                if ((uint)expected < (uint)keys.Length && keys[expected].IsAt(json, p))
                {
                    // The usual case in one comparison: the next property in schema order, written compactly.
                    index = expected;
                    p += keys[expected].Length;
                    if (seen.Has(index)) return false;
                }
                else
                {
                    var keyStart = p;
                    index = MatchKey(children, expected, json, ref p);
                    if (index < 0 && IsIgnored(s, json, keyStart, p))
                    {
                        if (!TryColon(json, ref p)) return false;
                        SkipSpace(json, ref p);
                        if ((uint)p >= (uint)json.Length || !TrySkipScalar(json, ref p) || !TryAfterValue(json, ref p, out var further)) return false;
                        if (!further) break;
                        continue;
                    }
                    if (index < 0 || seen.Has(index)) return false; // an undeclared or repeated property: the tokenizer counts or reports it
                    if (!TryColon(json, ref p)) return false;
                }
                SkipSpace(json, ref p);
                if (!TryNode(batch, children[index], json, ref p, def, rep)) return false;
                seen.Add(index);
                expected = index + 1;
                if (!TryAfterValue(json, ref p, out var more)) return false;
                if (!more) break;
            }
        }
        if (!seen.HasAll(children.Length))
            for (var i = 0; i < children.Length; i++)
                if (!seen.Has(i)) WriteNulls(batch, children[i], def, rep);
        return true;
    }

    /// <summary>Whether the key that ended at <paramref name="end"/> (past its closing quote) is one a transform removes.</summary>
    private static bool IsIgnored(StructNode s, ReadOnlySpan<byte> json, int start, int end)
    {
        var ignored = s.IgnoredKeysUtf8;
        if (ignored.Length == 0 || end <= start) return false;
        var key = json[start..(end - 1)];
        foreach (var k in ignored)
            if (key.SequenceEqual(k)) return true;
        return false;
    }

    private bool[] WideSeen(StructNode s)
    {
        if (!_seen.TryGetValue(s, out var seen)) _seen[s] = seen = new bool[s.Children.Count];
        Array.Clear(seen);
        return seen;
    }

    /// <summary>Which properties of an object a record set: bits for up to 64 (no allocation), else an array.</summary>
    private struct SeenSet(bool[]? wide)
    {
        private ulong _bits;
        private int _count;

        public readonly bool Has(int i) => wide is null ? (_bits & (1UL << i)) != 0 : wide[i];

        public void Add(int i)
        {
            if (wide is null) _bits |= 1UL << i;
            else wide[i] = true;
            _count++;
        }

        public readonly bool HasAll(int children) => _count == children;
    }

    /// <summary>The child whose name is the key at <paramref name="p"/> (just after its opening quote); -1 if none or escaped.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int MatchKey(SchemaNode[] children, int expected, ReadOnlySpan<byte> json, ref int p)
    {
        // Taps write properties in schema order almost always: try the next expected one first.
        if (expected < children.Length && TryKey(children[expected].NameUtf8, json, ref p)) return expected;
        return FindKey(children, json, ref p);
    }

    /// <summary>Whether the key at <paramref name="p"/> (just after its opening quote) is <paramref name="name"/>, unescaped; if so moves past its closing quote.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryKey(byte[] name, ReadOnlySpan<byte> json, ref int p)
    {
        var end = p + name.Length;
        if (end >= json.Length || json[end] != '"' || !json.Slice(p, name.Length).SequenceEqual(name)) return false;
        p = end + 1;
        return true;
    }

    /// <summary>Moves past the ':' after a key (and the spaces before it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryColon(ReadOnlySpan<byte> json, ref int p)
    {
        SkipSpace(json, ref p);
        if ((uint)p >= (uint)json.Length || json[p] != ':') return false;
        p++;
        return true;
    }

    /// <summary>
    /// After a property's value: moves past the ',' before the next property (<paramref name="more"/>) or the object's
    /// closing '}'; false on anything else.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryAfterValue(ReadOnlySpan<byte> json, ref int p, out bool more)
    {
        more = false;
        SkipSpace(json, ref p);
        if ((uint)p >= (uint)json.Length) return false;
        var c = json[p++];
        if (c == '}') return true;
        if (c != ',') return false;
        SkipSpace(json, ref p);
        more = true;
        return true;
    }

    private static int FindKey(SchemaNode[] children, ReadOnlySpan<byte> json, ref int p)
    {
        var close = json[p..].IndexOfAny((byte)'"', (byte)'\\');
        if (close < 0 || json[p + close] != '"') return -1;
        var key = json.Slice(p, close);
        p += close + 1;
        for (var i = 0; i < children.Length; i++)
            if (key.SequenceEqual(children[i].NameUtf8)) return i;
        return -1;
    }

    private bool TryNode(ColumnBatch batch, SchemaNode node, ReadOnlySpan<byte> json, ref int p, short parentDef, short rep)
    {
        if (p >= json.Length) return false;
        var c = json[p];
        if (c == 'n')
        {
            if (!json[p..].StartsWith("null"u8)) return false;
            p += 4;
            WriteNulls(batch, node, parentDef, rep);
            return true;
        }
        switch (node)
        {
            case LeafNode leaf:
                return TryLeaf(batch.Columns[leaf.ColumnIndex], leaf, json, ref p, rep);
            case StructNode s:
                return c == '{' && TryStruct(batch, s, json, ref p, s.DefLevel, rep);
            case ListNode l:
                if (c != '[') return false;
                p++;
                SkipSpace(json, ref p);
                if (p < json.Length && json[p] == ']')
                {
                    p++;
                    WriteNulls(batch, l, l.DefLevel, rep); // present but empty list
                    return true;
                }
                for (var i = 0; ; i++)
                {
                    if (!TryNode(batch, l.Element, json, ref p, (short)(l.DefLevel + 1), i == 0 ? rep : l.Element.RepLevel)) return false;
                    SkipSpace(json, ref p);
                    if (p >= json.Length) return false;
                    var d = json[p++];
                    if (d == ']') return true;
                    if (d != ',') return false;
                    SkipSpace(json, ref p);
                }
            default:
                return false;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryLeaf(LeafBuffer buf, LeafNode leaf, ReadOnlySpan<byte> json, ref int p, short rep)
    {
        var kind = leaf.Kind;
        if (kind == LeafKind.Int64)
        {
            if (!TryInteger(json, ref p, out var l)) return false;
            buf.AddLong(l, rep);
            return true;
        }
        if (kind == LeafKind.Double)
        {
            if (leaf.ExactIntegers && IsWideIntegerLiteral(json, p)) return false; // the tokenizer checks it is exact
            if (!TryDouble(json, ref p, out var x)) return false;
            buf.AddDouble(x, rep);
            return true;
        }
        if (kind == LeafKind.Boolean)
        {
            if (json[p..].StartsWith("true"u8)) { p += 4; buf.AddBool(true, rep); return true; }
            if (json[p..].StartsWith("false"u8)) { p += 5; buf.AddBool(false, rep); return true; }
            return false;
        }
        if (kind is LeafKind.Json or LeafKind.Decimal) return false; // the tokenizer path
        // Every other kind is a string in JSON: one scan for all of them.
        if (!TryPlainString(json, ref p, out var text)) return kind == LeafKind.String && TryEscapedString(buf, json, ref p, rep);
        switch (kind)
        {
            case LeafKind.String:
                buf.AddBytes(text, rep);
                return true;
            case LeafKind.Timestamp:
                if (!TemporalParser.TryParseTimestampMicros(text, out var micros)) return false;
                buf.AddLong(micros, rep);
                return true;
            case LeafKind.Date:
                if (!TemporalParser.TryParseDateDays(text, out var days)) return false;
                buf.AddInt(days, rep);
                return true;
            case LeafKind.Time:
                if (!TemporalParser.TryParseTimeMicros(text, out var timeMicros)) return false;
                buf.AddLong(timeMicros, rep);
                return true;
            default:
                return false;
        }
    }

    /// <summary>A string with no escapes and no control bytes, valid UTF-8; the value is its bytes between the quotes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryPlainString(ReadOnlySpan<byte> json, ref int p, out ReadOnlySpan<byte> value)
    {
        value = default;
        if (json[p] != '"') return false;
        var body = json[(p + 1)..];
        var end = PlainAsciiRun(body);
        if (end == body.Length) return false;
        if (body[end] != '"')
        {
            if (body[end] < 0x80) return false; // an escape or a control byte
            var rest = body[end..].IndexOfAny(StringStops);
            if (rest < 0 || body[end + rest] != '"') return false;
            end += rest;
            if (!Utf8.IsValid(body[..end])) return false;
        }
        value = body[..end];
        p += end + 2;
        return true;
    }

    /// <summary>
    /// How many bytes from the start are printable ASCII other than the quote and the backslash: 16 at a time (the
    /// signed comparison catches control bytes and non-ASCII bytes at once); <c>text.Length</c> when all are.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int PlainAsciiRun(ReadOnlySpan<byte> text)
    {
        ref var start = ref MemoryMarshal.GetReference(text);
        var i = 0;
        if (Vector128.IsHardwareAccelerated)
        {
            for (; i + 16 <= text.Length; i += 16)
            {
                var v = Vector128.LoadUnsafe(ref start, (nuint)i);
                var stops = Vector128.Equals(v, Vector128.Create((byte)'"'))
                    | Vector128.Equals(v, Vector128.Create((byte)'\\'))
                    | Vector128.LessThan(v.AsSByte(), Vector128.Create((sbyte)0x20)).AsByte();
                var bits = stops.ExtractMostSignificantBits();
                if (bits != 0) return i + BitOperations.TrailingZeroCount(bits);
            }
        }
        for (; i < text.Length; i++)
        {
            var c = Unsafe.Add(ref start, i);
            if (c is (byte)'"' or (byte)'\\' || (sbyte)c < 0x20) return i;
        }
        return text.Length;
    }

    /// <summary>
    /// A string with escapes (Python's json.dumps writes every non-ASCII character as <c>\uXXXX</c>), unescaped
    /// straight into the column; false on a control byte, a malformed escape, a lone surrogate or invalid UTF-8.
    /// </summary>
    private static bool TryEscapedString(LeafBuffer buf, ReadOnlySpan<byte> json, ref int p, short rep)
    {
        if (p >= json.Length || json[p] != '"') return false;
        // Find the closing quote first: the unescaped value is never longer than the text.
        var start = p + 1;
        var end = start;
        while (true)
        {
            var next = json[end..].IndexOfAny(StringStops);
            if (next < 0) return false;
            end += next;
            if (json[end] == '"') break;
            if (json[end] != '\\' || end + 1 >= json.Length) return false; // a control byte
            end += json[end + 1] == 'u' ? 6 : 2;
            if (end > json.Length) return false;
        }
        var text = json[start..end];
        var dest = buf.BeginBytes(text.Length);
        var n = 0;
        for (var i = 0; i < text.Length;)
        {
            var escape = text[i..].IndexOf((byte)'\\');
            var run = escape < 0 ? text[i..] : text.Slice(i, escape);
            run.CopyTo(dest[n..]);
            n += run.Length;
            i += run.Length;
            if (escape < 0) break;
            var code = text[i + 1];
            i += 2;
            byte simple = code switch
            {
                (byte)'"' => (byte)'"',
                (byte)'\\' => (byte)'\\',
                (byte)'/' => (byte)'/',
                (byte)'b' => (byte)'\b',
                (byte)'f' => (byte)'\f',
                (byte)'n' => (byte)'\n',
                (byte)'r' => (byte)'\r',
                (byte)'t' => (byte)'\t',
                _ => 0,
            };
            if (simple != 0)
            {
                dest[n++] = simple;
                continue;
            }
            if (code != 'u' || !TryHex4(text, i, out var unit)) return false;
            i += 4;
            int scalar = unit;
            if (char.IsHighSurrogate((char)unit))
            {
                if (i + 6 > text.Length || text[i] != '\\' || text[i + 1] != 'u' || !TryHex4(text, i + 2, out var low) || !char.IsLowSurrogate((char)low))
                    return false;
                scalar = char.ConvertToUtf32((char)unit, (char)low);
                i += 6;
            }
            else if (char.IsLowSurrogate((char)unit))
            {
                return false;
            }
            n += new Rune(scalar).EncodeToUtf8(dest[n..]);
        }
        if (!Utf8.IsValid(dest[..n])) return false;
        buf.EndBytes(n, rep);
        p = end + 1;
        return true;
    }

    private static bool TryHex4(ReadOnlySpan<byte> text, int at, out ushort value)
    {
        value = 0;
        if (at + 4 > text.Length) return false;
        for (var k = 0; k < 4; k++)
        {
            var h = HexValue(text[at + k]);
            if (h < 0) return false;
            value = (ushort)(value << 4 | h);
        }
        return true;
    }

    private static int HexValue(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
        _ => -1,
    };

    /// <summary>A JSON integer of at most 18 digits (anything larger, or with a fraction or exponent, takes the tokenizer path).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryInteger(ReadOnlySpan<byte> json, ref int p, out long value)
    {
        value = 0;
        var i = p;
        if (!TryIntegerPart(json, ref i, out var negative, out var v, out var digits) || digits > 18) return false;
        if (i < json.Length && json[i] is (byte)'.' or (byte)'e' or (byte)'E') return false;
        value = negative ? -(long)v : (long)v;
        p = i;
        return true;
    }

    private static readonly double[] PowersOf10 = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

    /// <summary>
    /// A JSON number as a double, correctly rounded: exactly when its digits fit 2^53 and it has no exponent
    /// (one division of two exact doubles), else by the framework's parser.
    /// </summary>
    private static bool TryDouble(ReadOnlySpan<byte> json, ref int p, out double value)
    {
        value = 0;
        var i = p;
        if (!TryIntegerPart(json, ref i, out var negative, out var mantissa, out var digits)) return false;
        var fraction = 0;
        if (i < json.Length && json[i] == '.')
        {
            i++;
            fraction = Digits(json, ref i, ref mantissa);
            if (fraction == 0) return false;
            digits += fraction;
        }
        var exponent = false;
        if (i < json.Length && json[i] is (byte)'e' or (byte)'E')
        {
            exponent = true;
            i++;
            if (i < json.Length && json[i] is (byte)'+' or (byte)'-') i++;
            var exponentStart = i;
            while (i < json.Length && (uint)(json[i] - '0') <= 9) i++;
            if (i == exponentStart) return false;
        }
        if (!exponent && digits <= 15 && fraction < PowersOf10.Length)
        {
            value = fraction == 0 ? mantissa : mantissa / PowersOf10[fraction];
            if (negative) value = -value;
        }
        else if (!double.TryParse(json[p..i], NumberStyles.Float, CultureInfo.InvariantCulture, out value) || !double.IsFinite(value))
        {
            return false;
        }
        p = i;
        return true;
    }

    /// <summary>An integer literal of 16 digits or more (no point, no exponent): one a double may not hold exactly.</summary>
    private static bool IsWideIntegerLiteral(ReadOnlySpan<byte> json, int p)
    {
        var i = p < json.Length && json[p] == '-' ? p + 1 : p;
        var start = i;
        while (i < json.Length && (uint)(json[i] - '0') <= 9) i++;
        return i - start >= 16 && (i == json.Length || json[i] is not ((byte)'.' or (byte)'e' or (byte)'E'));
    }

    /// <summary>A JSON number's sign and integer part (no leading zeros); <paramref name="i"/> moves past it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryIntegerPart(ReadOnlySpan<byte> json, ref int i, out bool negative, out ulong value, out int digits)
    {
        negative = i < json.Length && json[i] == '-';
        if (negative) i++;
        var first = i;
        value = 0;
        digits = Digits(json, ref i, ref value);
        return digits > 0 && (json[first] != '0' || digits == 1);
    }

    /// <summary>Reads a run of ASCII digits on into <paramref name="value"/> and returns how many (callers check the count: past 19 it wraps).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Digits(ReadOnlySpan<byte> json, ref int i, ref ulong value)
    {
        var start = i;
        while (i < json.Length && (uint)(json[i] - '0') <= 9)
        {
            value = value * 10 + (uint)(json[i] - '0');
            i++;
        }
        return i - start;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SkipSpace(ReadOnlySpan<byte> json, ref int p)
    {
        if (p >= json.Length || json[p] > ' ') return;
        while (p < json.Length && json[p] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') p++;
    }
}
