using System.Buffers;
using System.Runtime.CompilerServices;
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
    /// <summary>Room for the decodes of this shredder's thread (the column types are shared and hold none).</summary>
    private readonly DecodeScratch _scratch = new();

    /// <summary>The records are rows of the lake's own files, whose values must land unchanged (see <see cref="DecodeScratch.StoredValues"/>).</summary>
    public bool StoredValues
    {
        get => _scratch.StoredValues;
        set => _scratch.StoredValues = value;
    }

    /// <summary>Per struct node, which children the current record set (reused; a node never contains itself).</summary>
    private readonly Dictionary<StructNode, bool[]> _seen = new(ReferenceEqualityComparer.Instance);

    /// <summary>
    /// Properties present in records but absent from the schema, by dotted name. The canonical scan keeps its own counts
    /// (no dictionary update per record); reading this folds them in first.
    /// </summary>
    public Lake.CappedCounts DroppedProperties
    {
        get
        {
            if (_dropsUnfolded) FoldDrops(_droppedProperties);
            return _droppedProperties;
        }
    }

    private readonly Lake.CappedCounts _droppedProperties = new(Config.MergeSettings.DeletedAtColumn);

    /// <summary>Shreds the object at the reader's current StartObject token; leaves the reader on its EndObject.</summary>
    public void Shred(ColumnBatch batch, ref Utf8JsonReader reader)
    {
        if (_lastCounted.Batch is not null) UncountRolledBackRecord(batch, ref reader);
        // Python's bare NaN / Infinity, quoted in a copy of the line being read again: only a reader over that copy has them.
        _namedFloats = NamedFloatLiterals.Current is { } quoted && !reader.HasValueSequence && quoted.Line.Overlaps(reader.ValueSpan) ? quoted : null;
        _droppedThisRecord.Clear();
        _scratch.Rounded.BeginRecord();
        try
        {
            WriteStruct(batch, batch.Schema.Root, ref reader, 0, 0);
        }
        catch (JsonException)
        {
            // Not JSON (the line may be read again with its NaN quoted): the caller rolls the row back, this takes back its drops.
            UncountRecordDrops();
            throw;
        }
        finally
        {
            _namedFloats = null;
        }
        batch.Rows++;
        _scratch.Rounded.TakeRecord();
    }

    /// <summary>
    /// The numbers DOUBLE columns stored rounded, in the records taken (a caller that rolls a taken row back calls
    /// <see cref="RoundedNumbers.UncountRecord"/>, as it restores <see cref="DroppedProperties"/>).
    /// </summary>
    public RoundedNumbers RoundedNumbers => _scratch.Rounded;

    /// <summary>
    /// Takes back the undeclared properties the last <see cref="Shred"/> counted: its record was rejected (a value its
    /// column does not take), and a rejected record counts as rejected, whole.
    /// </summary>
    public void UncountRecordDrops()
    {
        foreach (var key in _droppedThisRecord) DroppedProperties.Add(key, -1);
        _droppedThisRecord.Clear();
    }

    /// <summary>The quoted NaN / Infinity of the line the record being shredded comes from, when it is being read again with them.</summary>
    private NamedFloatLiterals.Rewrite? _namedFloats;

    /// <summary>The undeclared properties the record being shredded counted so far.</summary>
    private readonly List<string> _droppedThisRecord = [];

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
                if (r.TokenType != JsonTokenType.StartObject) throw Invalid(s.Path, $"expected an object, got {JsonTokenNames.Describe(r.TokenType)}");
                WriteStruct(batch, s, ref r, s.DefLevel, rep);
                break;
            case ListNode l:
                if (r.TokenType != JsonTokenType.StartArray) throw Invalid(l.Path, $"expected an array, got {JsonTokenNames.Describe(r.TokenType)}");
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
            if (seen[index]) throw Invalid(children[index].Path, "the property appears twice in the record");
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
        return s.IndexOfKey(r.GetString()!);
    }

    /// <summary>
    /// <see cref="Shred"/> counts the undeclared properties it skips; off while it shreds a record a map rewrote, whose
    /// tap record <see cref="CountUndeclared"/> counted before the map (a map's copy is not what the tap sent).
    /// </summary>
    public bool CountsUndeclared { get; set; } = true;

    /// <summary>
    /// Counts the undeclared properties of the record at the reader (on its StartObject) against <paramref name="tapColumns"/>,
    /// the stream's columns as the tap's records spell them, writing nothing; leaves the reader on its EndObject.
    /// </summary>
    public void CountUndeclared(StructNode tapColumns, ref Utf8JsonReader r)
    {
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            var name = r.GetString()!;
            var index = tapColumns.IndexOfKey(name);
            if (index < 0)
            {
                Drop(tapColumns, name, ref r);
                continue;
            }
            r.Read();
            CountUndeclaredIn(tapColumns.Children[index], ref r);
        }
    }

    private void CountUndeclaredIn(SchemaNode node, ref Utf8JsonReader r)
    {
        switch (node)
        {
            case StructNode s when r.TokenType == JsonTokenType.StartObject:
                CountUndeclared(s, ref r);
                break;
            case ListNode l when r.TokenType == JsonTokenType.StartArray:
                while (r.Read() && r.TokenType != JsonTokenType.EndArray) CountUndeclaredIn(l.Element, ref r);
                break;
            default:
                r.Skip();
                break;
        }
    }

    /// <summary>
    /// Skips a property the schema does not declare, counting it (dropped, never silently); one a transform removes
    /// is skipped without counting.
    /// </summary>
    private void Drop(StructNode s, string name, ref Utf8JsonReader r)
    {
        r.Read();
        r.Skip();
        if (s.IgnoredKeys.Contains(name) || !CountsUndeclared) return;
        var key = DroppedName(s, name);
        DroppedProperties.Add(key);
        _droppedThisRecord.Add(key);
    }

    /// <summary>
    /// How <see cref="DroppedProperties"/> names an undeclared property <paramref name="name"/> of <paramref name="s"/>: its
    /// path in the record (<c>meta.x</c>, <c>lines.data[].extra</c>), each name escaped so that a top-level <c>a.c</c>
    /// (<c>a\.c</c>) is not struct <c>a</c>'s field <c>c</c>.
    /// </summary>
    private static string DroppedName(StructNode s, string name) => ColumnPaths.Child(s.RecordPath, name);

    private static void WriteNulls(ColumnBatch batch, SchemaNode node, short def, short rep)
    {
        foreach (var leaf in node.Leaves) batch.Columns[leaf.ColumnIndex].AddNull(def, rep);
    }

    /// <summary>
    /// Hands the value at the reader to the leaf's column type (<see cref="ColumnType.TryDecodeJson"/>), which decodes it
    /// or says why it does not fit; an object or array reaches only a type that stores JSON text, as its compact text.
    /// </summary>
    private void WriteLeaf(LeafBuffer buf, LeafNode leaf, ref Utf8JsonReader r, short rep)
    {
        var token = r.TokenType;
        if (_namedFloats is not null && WriteNamedFloat(buf, leaf, ref r, rep)) return;
        ReadOnlySpan<byte> bytes = token switch
        {
            JsonTokenType.String or JsonTokenType.Number => r.HasValueSequence ? r.ValueSequence.ToArray() : r.ValueSpan,
            JsonTokenType.True => "true"u8,
            JsonTokenType.False => "false"u8,
            _ when leaf.Type.TakesJsonText => CompactValue(ref r, leaf),
            _ => default,
        };
        var form = token == JsonTokenType.String && r.ValueIsEscaped ? StringForm.Escaped : StringForm.Unchecked;
        if (!ColumnType.TryDecodeJson(buf, leaf, token, bytes, form, rep, _scratch, out var problem)) throw Invalid(leaf.Path, problem!);
    }

    /// <summary>
    /// A bare NaN / Infinity / -Infinity of the line (now a quoted token): a number column stores the double; any other
    /// column refuses it by name (a JSON text column too: JSON has no such number). False for any other token.
    /// </summary>
    private bool WriteNamedFloat(LeafBuffer buf, LeafNode leaf, ref Utf8JsonReader r, short rep)
    {
        var start = r.TokenStartIndex;
        if (r.TokenType == JsonTokenType.String)
        {
            if (!_namedFloats!.TryGet(start, out var value)) return false;
            if (leaf.Kind != LeafKind.Double)
                throw Invalid(leaf.Path, $"{NamedFloatLiterals.Word(value)} (Python's float('nan') or an infinity) fits a \"number\" column only, not this {leaf.Kind.ToString().ToLowerInvariant()} column");
            buf.AddDouble(value, rep);
            return true;
        }
        if (r.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray && leaf.Type.TakesJsonText)
        {
            var probe = r;
            probe.Skip();
            if (_namedFloats!.FirstWithin(start, probe.BytesConsumed) is { } word)
                throw Invalid(leaf.Path, $"{word} inside a JSON value: JSON text has no such number (Python's json.dumps writes it for a float('nan') or an infinity)");
        }
        return false;
    }

    /// <summary>The current object or array re-written compactly (the reader ends on its last token).</summary>
    private ReadOnlySpan<byte> CompactValue(ref Utf8JsonReader r, LeafNode leaf)
    {
        var writer = _scratch.StartJson();
        try
        {
            CopyValue(ref r, writer);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            // A string inside that is no text: an escaped lone surrogate, or bytes that are not UTF-8.
            throw Invalid(leaf.Path, "a string in the value holds an escaped lone surrogate (such as \\udc00) or bytes that are not UTF-8");
        }
        return _scratch.Written;
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

    private static InvalidValueException Invalid(string field, string reason) => new(field, reason);
}

/// <summary>A record value that does not fit its declared type.</summary>
internal sealed class InvalidValueException(string field, string reason) : Exception($"field '{field}': {reason}")
{
    public string Field { get; } = field;
    public string Reason { get; } = reason;
}

internal enum DecimalFit { Fits, TooPrecise, TooLarge }

/// <summary>
/// Decimal values as Parquet FIXED_LEN_BYTE_ARRAY(16) big-endian two's complement unscaled integers: DECIMAL(38, s)
/// holds every value of up to 38 digits, so the JSON number's digits are read straight into a 128-bit integer
/// (System.Decimal holds only 28-29 digits).
/// </summary>
internal static class DecimalWriter
{
    private static readonly UInt128[] Powers = Enumerable.Range(0, 39).Select(i => Enumerable.Repeat((UInt128)10, i).Aggregate((UInt128)1, (a, b) => a * b)).ToArray();

    /// <summary><c>multipleOf</c> of a scale, as written in a schema: 1, 0.1, 0.01, ...</summary>
    public static string Step(int scale) => scale == 0 ? "1" : "0." + new string('0', scale - 1) + "1";

    /// <summary>
    /// The <c>multipleOf</c> of a DECIMAL(p, scale) a built-in tap declares: the exact <see cref="Step"/> as a JSON number
    /// (a System.Decimal holds only 28 places, so 10^-29 and finer would print as 0).
    /// </summary>
    /// <summary>
    /// The JSON number text of an unscaled value at <paramref name="scale"/> (<c>-150</c>, 2 -> <c>-1.50</c>): how a source
    /// hands a decimal beyond System.Decimal to the lake, whose decimal column reads these digits exactly.
    /// </summary>
    public static byte[] Text(System.Numerics.BigInteger unscaled, int scale)
    {
        var digits = System.Numerics.BigInteger.Abs(unscaled).ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(scale + 1, '0');
        return System.Text.Encoding.ASCII.GetBytes((unscaled.Sign < 0 ? "-" : "") + (scale == 0 ? digits : digits[..^scale] + "." + digits[^scale..]));
    }

    public static System.Text.Json.Nodes.JsonValue StepValue(int scale) => System.Text.Json.Nodes.JsonValue.Create(System.Text.Json.JsonElement.Parse(Step(scale)))!;

    /// <summary>
    /// The unscaled value (value x 10^scale) of a JSON number (<c>-?int[.frac][e[+-]exp]</c>, as the reader validated it),
    /// exactly: <see cref="DecimalFit.TooPrecise"/> when a non-zero digit lies beyond <paramref name="scale"/> digits
    /// after the point, <see cref="DecimalFit.TooLarge"/> when it needs more than 38 digits. Trailing zeros and
    /// exponents are fine (<c>1.50000</c>, <c>15e-1</c>). No allocation.
    /// </summary>
    public static DecimalFit TryParseUnscaled(ReadOnlySpan<byte> number, int scale, out Int128 unscaled)
    {
        unscaled = 0;
        var i = 0;
        var negative = number.Length > 0 && number[0] == '-';
        if (negative) i++;
        var digitsStart = i;
        var integerDigits = 0;
        while (i < number.Length && char.IsAsciiDigit((char)number[i])) { i++; integerDigits++; }
        var fractionStart = -1;
        var fractionDigits = 0;
        if (i < number.Length && number[i] == '.')
        {
            fractionStart = ++i;
            while (i < number.Length && char.IsAsciiDigit((char)number[i])) { i++; fractionDigits++; }
        }
        long exponent = 0;
        if (i < number.Length && number[i] is (byte)'e' or (byte)'E')
        {
            i++;
            var expNegative = i < number.Length && number[i] == '-';
            if (i < number.Length && number[i] is (byte)'+' or (byte)'-') i++;
            // Clamped: any exponent beyond a million puts every non-zero digit out of range anyway.
            while (i < number.Length && char.IsAsciiDigit((char)number[i])) { exponent = Math.Min(exponent * 10 + (number[i] - '0'), 1_000_000); i++; }
            if (expNegative) exponent = -exponent;
        }
        if (i != number.Length || integerDigits == 0) return DecimalFit.TooLarge; // not a JSON number: cannot happen after the reader

        // Digit k (0-based over integer then fraction digits) stands for 10^(integerDigits - 1 - k + exponent).
        int first = -1, last = -1;
        for (var k = 0; k < integerDigits + fractionDigits; k++)
        {
            if (Digit(number, digitsStart, fractionStart, integerDigits, k) == 0) continue;
            if (first < 0) first = k;
            last = k;
        }
        if (first < 0) return DecimalFit.Fits; // zero
        var highest = integerDigits - 1 - first + exponent + scale;
        var lowest = integerDigits - 1 - last + exponent + scale;
        if (lowest < 0) return DecimalFit.TooPrecise;
        if (highest > 37) return DecimalFit.TooLarge;
        UInt128 magnitude = 0;
        for (var k = first; k <= last; k++) magnitude = magnitude * 10 + (uint)Digit(number, digitsStart, fractionStart, integerDigits, k);
        magnitude *= Powers[lowest];
        unscaled = negative ? -(Int128)magnitude : (Int128)magnitude;
        return DecimalFit.Fits;
    }

    private static int Digit(ReadOnlySpan<byte> number, int digitsStart, int fractionStart, int integerDigits, int k) =>
        (k < integerDigits ? number[digitsStart + k] : number[fractionStart + k - integerDigits]) - '0';
}
