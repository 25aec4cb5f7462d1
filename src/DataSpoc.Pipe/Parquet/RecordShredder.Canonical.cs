using System.Buffers;
using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
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
    /// needs the tokenizer path. On success the row is counted in the batch, and its undeclared properties in
    /// <see cref="DroppedProperties"/>.
    /// </summary>
    public bool TryShredCanonical(ColumnBatch batch, ReadOnlySpan<byte> json, ref int position)
    {
        _lastCounted = default;
        _scratch.Rounded.BeginRecord();
        if (!batch.Schema.HasPlainNames || position >= json.Length || json[position] != '{') return false;
        _recordDrops.Clear();
        var root = batch.Schema.Root;
        var start = position;
        if (batch.Schema.FlatFields is { } fields)
        {
            var at = position;
            if (TryFlatRecord(batch.Columns, fields, root, json, ref at))
            {
                position = at;
                batch.Rows++;
                CountDrops(batch, json, start);
                return true;
            }
            batch.UndoUnfinishedRow();
            _recordDrops.Clear();
            _scratch.Rounded.BeginRecord();
        }
        if (!TryStruct(batch, root, json, ref position, 0, 0)) return false;
        batch.Rows++;
        CountDrops(batch, json, start);
        return true;
    }

    /// <summary>
    /// The commonest record of all in one loop: a record of scalar properties only. Its properties are expected in the
    /// order the previous flat record of this shredder wrote them (at first the schema's), so a tap that writes them in
    /// any consistent order pays one key comparison per property; a property out of that order is looked up among the
    /// ones not yet seen and moved into place for the next record. Missing ones are null; undeclared ones are skipped
    /// and counted. Anything else returns false and the general scan (<see cref="TryStruct"/>) takes the record from
    /// its start.
    /// </summary>
    private bool TryFlatRecord(LeafBuffer[] columns, FlatField[] fields, StructNode root, ReadOnlySpan<byte> json, ref int p)
    {
        var order = FlatOrder(fields);
        var undeclaredAt = _flatUndeclaredAt;
        var scratch = _scratch;
        p++; // the '{'
        var i = 0;
        SkipSpace(json, ref p);
        if ((uint)p < (uint)json.Length && json[p] == '}') p++;
        else
        {
            while (true)
            {
                if ((uint)p >= (uint)json.Length || json[p] != '"') return false;
                p++;
                if ((uint)i < (uint)order.Length && fields[order[i]].Key.IsAt(json, p)) p += fields[order[i]].Key.Length;
                else
                {
                    var found = KeyUndeclared;
                    var undeclared = undeclaredAt[i];
                    // The undeclared property the last flat record had here, written the same way: one comparison.
                    if (undeclared >= 0 && _undeclared[undeclared] is var known && ReferenceEquals(known.Parent, root) && known.CompactKey.IsAt(json, p))
                        p += known.CompactKey.Length;
                    else
                    {
                        // `"name": value` as Python writes it, another order, or a property the schema does not declare.
                        found = FindFlatKey(fields, order, i, root, json, ref p, out undeclared);
                        if (found == KeyNotPlain || !TryColon(json, ref p)) return false;
                        if (found == KeyUndeclared) undeclaredAt[i] = undeclared;
                    }
                    if (found == KeyUndeclared)
                    {
                        SkipSpace(json, ref p);
                        if (!TrySkipUndeclared(undeclared, json, ref p) || !TryAfterValue(json, ref p, out var further)) return false;
                        if (!further) break;
                        continue;
                    }
                }
                ref readonly var field = ref fields[order[i]];
                SkipSpace(json, ref p);
                if ((uint)p >= (uint)json.Length) return false;
                if (field.Leaf is not { } leaf)
                {
                    if (!TrySkipValue(json, ref p, 0)) return false;
                }
                else if (json[p] == 'n')
                {
                    if (!json[p..].StartsWith("null"u8)) return false;
                    p += 4;
                    columns[field.Column].AddNull(0, 0);
                }
                else if (!TryLeaf(columns[field.Column], leaf, json, ref p, 0, scratch)) return false;
                i++;
                if (!TryAfterValue(json, ref p, out var more)) return false;
                if (!more) break;
            }
        }
        for (; i < order.Length; i++)
            if (fields[order[i]].Column >= 0) columns[fields[order[i]].Column].AddNull(0, 0);
        return true;
    }

    private const int KeyNotPlain = -2, KeyUndeclared = -1;

    /// <summary>
    /// The key at <paramref name="p"/> (just after its opening quote) when it is not the expected one: the flat field
    /// it names among those not yet seen (<c>order[seen..]</c>), swapped into position <paramref name="seen"/> so the
    /// next record expects it there; <see cref="KeyUndeclared"/> for a key the schema does not declare (<paramref name="undeclared"/>
    /// says which, <see cref="UndeclaredIndex"/>); <see cref="KeyNotPlain"/> for an escaped key or a repeated one (the
    /// tokenizer reports it). Moves past the key's closing quote.
    /// </summary>
    private int FindFlatKey(FlatField[] fields, int[] order, int seen, StructNode root, ReadOnlySpan<byte> json, ref int p, out int undeclared)
    {
        undeclared = -1;
        var close = json[p..].IndexOfAny((byte)'"', (byte)'\\');
        if (close < 0 || json[p + close] != '"') return KeyNotPlain;
        var key = json.Slice(p, close);
        // An undeclared property met before is never a field: known ones are looked up first.
        if ((undeclared = KnownUndeclared(root, key)) >= 0)
        {
            p += close + 1;
            return KeyUndeclared;
        }
        for (var j = seen; j < order.Length; j++)
        {
            if (!key.SequenceEqual(fields[order[j]].KeyUtf8)) continue;
            (order[seen], order[j]) = (order[j], order[seen]);
            p += close + 1;
            return order[seen];
        }
        for (var j = 0; j < seen; j++)
            if (key.SequenceEqual(fields[order[j]].KeyUtf8)) return KeyNotPlain;
        if ((undeclared = UndeclaredIndex(root, key)) < 0) return KeyNotPlain;
        p += close + 1;
        return KeyUndeclared;
    }

    /// <summary>The flat fields <see cref="_flatOrder"/> orders (a new schema starts again from its order).</summary>
    private FlatField[]? _flatOrderOf;

    /// <summary>Indices into <see cref="_flatOrderOf"/> in the order the last flat record wrote its properties (kept per shredder: per thread).</summary>
    private int[] _flatOrder = [];

    /// <summary>
    /// Per position of <see cref="_flatOrder"/> (and one past its end), the undeclared property (an index into
    /// <see cref="_undeclared"/>) the last flat record had before that field, or -1: a tap that writes the same undeclared
    /// properties in every record pays one key comparison for each, as for a declared one.
    /// </summary>
    private int[] _flatUndeclaredAt = [];

    /// <summary>This shredder's expected order of a flat schema's fields (indices into it), as the last record wrote them.</summary>
    private int[] FlatOrder(FlatField[] fields)
    {
        if (!ReferenceEquals(_flatOrderOf, fields))
        {
            _flatOrderOf = fields;
            _flatOrder = [.. Enumerable.Range(0, fields.Length)];
            _flatUndeclaredAt = [.. Enumerable.Repeat(-1, fields.Length + 1)];
        }
        return _flatOrder;
    }

    /// <summary>Deepest nesting of a skipped value the scan walks itself; a deeper one is left to the tokenizer.</summary>
    private const int MaxSkipDepth = 16;

    /// <summary>
    /// Moves past any JSON value that is not stored (an undeclared property's, or one a transform removes), checking it
    /// as strictly as the tokenizer's skip does; false for anything malformed, text that is not UTF-8 or nesting beyond
    /// <see cref="MaxSkipDepth"/>, which the tokenizer then skips or reports.
    /// </summary>
    private static bool TrySkipValue(ReadOnlySpan<byte> json, ref int p, int depth)
    {
        if ((uint)p >= (uint)json.Length) return false;
        var c = json[p];
        if (c == 'n')
        {
            if (!json[p..].StartsWith("null"u8)) return false;
            p += 4;
            return true;
        }
        if (c is (byte)'{' or (byte)'[') return depth < MaxSkipDepth && TrySkipContainer(json, ref p, depth);
        return TryLocateScalar(json, ref p, out var token, out var bytes, out var form) && IsText(token, bytes, form);
    }

    private static bool TrySkipContainer(ReadOnlySpan<byte> json, ref int p, int depth)
    {
        var isObject = json[p] == '{';
        var close = isObject ? (byte)'}' : (byte)']';
        p++;
        SkipSpace(json, ref p);
        if ((uint)p < (uint)json.Length && json[p] == close)
        {
            p++;
            return true;
        }
        while (true)
        {
            if (isObject)
            {
                if ((uint)p >= (uint)json.Length || json[p] != '"' || !TryLocateString(json, ref p, out var key, out var form)
                    || !IsText(JsonTokenType.String, key, form) || !TryColon(json, ref p)) return false;
                SkipSpace(json, ref p);
            }
            if (!TrySkipValue(json, ref p, depth + 1)) return false;
            SkipSpace(json, ref p);
            if ((uint)p >= (uint)json.Length) return false;
            var d = json[p++];
            if (d == close) return true;
            if (d != ',') return false;
            SkipSpace(json, ref p);
        }
    }

    /// <summary>Whether a located scalar is one the tokenizer reads as text: a string without escapes must be valid UTF-8.</summary>
    private static bool IsText(JsonTokenType token, ReadOnlySpan<byte> bytes, StringForm form) =>
        token != JsonTokenType.String || form != StringForm.Unchecked || Utf8.IsValid(bytes);

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
                    if (index < 0)
                    {
                        // A property the schema does not declare (or a transform removes); an escaped key goes to the tokenizer.
                        if (p == keyStart) return false;
                        var key = json[keyStart..(p - 1)];
                        if (!TryColon(json, ref p)) return false;
                        SkipSpace(json, ref p);
                        var skipped = IsIgnored(s, key) ? TrySkipValue(json, ref p, 0) : TrySkipUndeclared(UndeclaredIndex(s, key), json, ref p);
                        if (!skipped || !TryAfterValue(json, ref p, out var further)) return false;
                        if (!further) break;
                        continue;
                    }
                    if (seen.Has(index)) return false; // a repeated property: the tokenizer reports it
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

    /// <summary>Whether <paramref name="key"/> (as written, unescaped) is a property a transform removes.</summary>
    private static bool IsIgnored(StructNode s, ReadOnlySpan<byte> key)
    {
        var ignored = s.IgnoredKeysUtf8;
        if (ignored.Length == 0) return false;
        foreach (var k in ignored)
            if (key.SequenceEqual(k)) return true;
        return false;
    }

    /// <summary>
    /// Skips the value of an undeclared property (<paramref name="entry"/>, <see cref="UndeclaredIndex"/>; -1 when it
    /// cannot be counted here) and notes it, to count if the record is taken.
    /// </summary>
    private bool TrySkipUndeclared(int entry, ReadOnlySpan<byte> json, ref int p)
    {
        if (entry < 0 || !TrySkipValue(json, ref p, 0)) return false;
        _recordDrops.Add(entry);
        return true;
    }

    /// <summary>The undeclared property <paramref name="key"/> of <paramref name="s"/> if this shredder has met it, else -1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int KnownUndeclared(StructNode s, ReadOnlySpan<byte> key)
    {
        var known = _undeclared;
        for (var i = 0; i < known.Count; i++)
            if (ReferenceEquals(known[i].Parent, s) && key.SequenceEqual(known[i].Key)) return i;
        return -1;
    }

    /// <summary>
    /// The undeclared property <paramref name="key"/> (as written, not escaped) of <paramref name="s"/>, learnt on first
    /// sight; -1 when it is not valid UTF-8, holds a control character (not JSON: the tokenizer reports the line), or too
    /// many are known (the tokenizer then counts it).
    /// </summary>
    private int UndeclaredIndex(StructNode s, ReadOnlySpan<byte> key)
    {
        var i = KnownUndeclared(s, key);
        if (i >= 0) return i;
        if (_undeclared.Count >= MaxUndeclared || !Utf8.IsValid(key) || key.IndexOfAnyInRange((byte)0, (byte)0x1F) >= 0) return -1;
        _undeclared.Add(new UndeclaredProperty(s, key.ToArray(), DroppedName(s, Encoding.UTF8.GetString(key))));
        return _undeclared.Count - 1;
    }

    /// <summary>
    /// Undeclared properties this shredder's scan has met (by parent and key, as written): looked up linearly, since
    /// records of a stream carry few of them; beyond this many the tokenizer takes records with new ones.
    /// </summary>
    private const int MaxUndeclared = 64;

    private readonly List<UndeclaredProperty> _undeclared = [];

    /// <summary>An undeclared property the scan met, and how many taken records held it since its count was last folded into <see cref="DroppedProperties"/>.</summary>
    private sealed class UndeclaredProperty(StructNode parent, byte[] key, string name)
    {
        public StructNode Parent { get; } = parent;
        public byte[] Key { get; } = key;
        /// <summary>The key as a compact record writes it after the opening quote (<c>key":</c>).</summary>
        public CompactKey CompactKey { get; } = new([.. key, (byte)'"', (byte)':']);
        public string Name { get; } = name;
        public long Unfolded;
    }

    /// <summary>The undeclared properties met in the record being scanned (indices into <see cref="_undeclared"/>).</summary>
    private readonly List<int> _recordDrops = [];

    /// <summary>Some <see cref="UndeclaredProperty.Unfolded"/> count is not zero.</summary>
    private bool _dropsUnfolded;

    /// <summary>
    /// The record the scan took last, when it had undeclared properties: a caller that rolls the row back after all
    /// (the rest of its line is malformed) hands the record to <see cref="Shred"/>, which counts them itself.
    /// </summary>
    private (ColumnBatch? Batch, int Rows, nint At) _lastCounted;

    /// <summary>
    /// Counts the taken record's undeclared properties (folded into <see cref="DroppedProperties"/> when it is read) and
    /// rounded numbers (<see cref="RoundedNumbers"/>).
    /// </summary>
    private unsafe void CountDrops(ColumnBatch batch, ReadOnlySpan<byte> json, int start)
    {
        var rounded = _scratch.Rounded;
        rounded.TakeRecord();
        if (_recordDrops.Count == 0 && !rounded.RecordCounted) return;
        foreach (var entry in _recordDrops) _undeclared[entry].Unfolded++;
        _dropsUnfolded = true;
        _lastCounted = (batch, batch.Rows, (nint)Unsafe.AsPointer(ref Unsafe.AsRef(in json[start])));
    }

    /// <summary>Adds the scan's counts of undeclared properties to <see cref="DroppedProperties"/>.</summary>
    private void FoldDrops(Lake.CappedCounts dropped)
    {
        _dropsUnfolded = false;
        foreach (var property in _undeclared)
        {
            if (property.Unfolded == 0) continue;
            dropped.Add(property.Name, property.Unfolded);
            property.Unfolded = 0;
        }
    }

    /// <summary>
    /// Before the tokenizer shreds a record: when it is the one the scan just took and counted, rolled back since (same
    /// batch, one row fewer, same bytes), its undeclared properties are uncounted, so the tokenizer counts them once.
    /// </summary>
    private unsafe void UncountRolledBackRecord(ColumnBatch batch, ref Utf8JsonReader reader)
    {
        var last = _lastCounted;
        _lastCounted = default;
        if (!ReferenceEquals(last.Batch, batch) || batch.Rows != last.Rows - 1 || reader.HasValueSequence || reader.ValueSpan.IsEmpty
            || (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(reader.ValueSpan)) != last.At) return;
        foreach (var entry in _recordDrops) _undeclared[entry].Unfolded--;
        _dropsUnfolded = true;
        _scratch.Rounded.UncountRecord();
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
                return TryLeaf(batch.Columns[leaf.ColumnIndex], leaf, json, ref p, rep, _scratch);
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

    /// <summary>
    /// Decodes the scalar value at <paramref name="p"/> into the leaf's column, moving past it: the scan locates the
    /// value, its column type decodes it (<see cref="ColumnType.TryDecodeJson"/>; a common number in the same pass,
    /// <see cref="ColumnType.TryDecodeLeadingNumber"/>). False for an object or array, for
    /// anything malformed and for a value the type refuses: the tokenizer then stores it or reports the same reason.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryLeaf(LeafBuffer buf, LeafNode leaf, ReadOnlySpan<byte> json, ref int p, short rep, DecodeScratch scratch)
    {
        if (json[p] is (>= (byte)'0' and <= (byte)'9') or (byte)'-')
        {
            // A number: its column type may decode it as it finds its end, in one pass.
            var length = ColumnType.TryDecodeLeadingNumber(buf, leaf, json[p..], rep);
            if (length > 0)
            {
                p += length;
                return true;
            }
        }
        var at = p;
        if (!TryLocateScalar(json, ref at, out var token, out var bytes, out var form)
            || !ColumnType.TryDecodeJson(buf, leaf, token, bytes, form, rep, scratch, out _)) return false;
        p = at;
        return true;
    }

    /// <summary>
    /// Locates the string, number, true or false at <paramref name="p"/> (not null: callers take it first) and moves past
    /// it; false for anything else or anything malformed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryLocateScalar(ReadOnlySpan<byte> json, ref int p, out JsonTokenType token, out ReadOnlySpan<byte> bytes, out StringForm form)
    {
        var c = json[p];
        form = StringForm.Ascii;
        if (c == '"')
        {
            token = JsonTokenType.String;
            return TryLocateString(json, ref p, out bytes, out form);
        }
        if (c == 't')
        {
            token = JsonTokenType.True;
            bytes = "true"u8;
            if (!json[p..].StartsWith(bytes)) return false;
            p += 4;
            return true;
        }
        if (c == 'f')
        {
            token = JsonTokenType.False;
            bytes = "false"u8;
            if (!json[p..].StartsWith(bytes)) return false;
            p += 5;
            return true;
        }
        token = JsonTokenType.Number;
        return TryLocateNumber(json, ref p, out bytes);
    }

    /// <summary>A string: its bytes between the quotes, and whether they are plain ASCII, other UTF-8 or escaped.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryLocateString(ReadOnlySpan<byte> json, ref int p, out ReadOnlySpan<byte> bytes, out StringForm form)
    {
        var body = json[(p + 1)..];
        var end = PlainAsciiRun(body);
        form = StringForm.Ascii;
        bytes = default;
        if (end == body.Length || body[end] != '"')
        {
            // Kept out of line and returning plain integers, so the usual path stays in registers.
            var rest = OtherStringEnd(body, end);
            if (rest < 0) return false;
            end = rest >> 1;
            form = (rest & 1) != 0 ? StringForm.Escaped : StringForm.Unchecked;
        }
        bytes = body[..end];
        p += end + 2;
        return true;
    }

    /// <summary>
    /// Where the string whose body is <paramref name="body"/> ends when it is not plain ASCII up to <paramref name="from"/>:
    /// past non-ASCII bytes and escapes (checked as JSON spells them, since a skipped string is never unescaped) to the
    /// closing quote, as <c>end * 2 + (escaped ? 1 : 0)</c>; -1 on a control byte, a malformed escape or no closing quote.
    /// </summary>
    private static int OtherStringEnd(ReadOnlySpan<byte> body, int from)
    {
        var escaped = 0;
        var end = from;
        while (true)
        {
            var next = body[end..].IndexOfAny(StringStops);
            if (next < 0) return -1;
            end += next;
            var c = body[end];
            if (c == '"') return end * 2 + escaped;
            if (c != '\\' || end + 1 >= body.Length) return -1; // a control byte
            escaped = 1;
            var escape = body[end + 1];
            if (escape == 'u')
            {
                if (!JsonString.TryHex4(body, end + 2, out _)) return -1;
                end += 6;
            }
            else if ("\"\\/bfnrt"u8.Contains(escape)) end += 2;
            else return -1;
        }
    }

    /// <summary>A number in JSON's syntax (<c>-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?</c>): its text.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryLocateNumber(ReadOnlySpan<byte> json, ref int p, out ReadOnlySpan<byte> bytes)
    {
        bytes = default;
        var i = p;
        if (json[i] == '-') i++;
        if ((uint)i >= (uint)json.Length) return false;
        if (json[i] == '0') i++;
        else if (!Digits(json, ref i)) return false;
        if (i < json.Length && json[i] == '.')
        {
            i++;
            if (!Digits(json, ref i)) return false;
        }
        if (i < json.Length && json[i] is (byte)'e' or (byte)'E')
        {
            i++;
            if (i < json.Length && json[i] is (byte)'+' or (byte)'-') i++;
            if (!Digits(json, ref i)) return false;
        }
        bytes = json[p..i];
        p = i;
        return true;
    }

    /// <summary>Moves past a run of ASCII digits; false when there is none.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Digits(ReadOnlySpan<byte> json, ref int i)
    {
        var start = i;
        while (i < json.Length && (uint)(json[i] - '0') <= 9) i++;
        return i > start;
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SkipSpace(ReadOnlySpan<byte> json, ref int p)
    {
        if (p >= json.Length || json[p] > ' ') return;
        while (p < json.Length && json[p] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') p++;
    }
}
