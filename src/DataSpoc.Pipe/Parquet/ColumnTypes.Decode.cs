using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace DataSpoc.Pipe.Parquet;

/// <summary>
/// Each column type's decode of a JSON value into its <see cref="LeafBuffer"/>: the one definition of which JSON values
/// a type accepts and what it stores for them. Both scanners (the canonical scan and the tokenizer) only locate a value
/// and hand over its token and bytes; so both accept exactly the same values and store the same. The bytes: a number's
/// text (valid JSON number syntax); a string's bytes between its quotes as written (<see cref="StringForm"/> says what
/// the scanner saw in them); true and false their literal; an object or array (handed over only to a type that
/// <see cref="TakesJsonText"/>) its compact text. Null never reaches a type: the scanners write it as a missing value.
/// The value is three parameters, not a struct: a struct holding the span was copied through the stack on every call
/// (see bench/README.md "Column types").
/// </summary>
internal abstract partial class ColumnType
{
    /// <summary>
    /// Decodes the value (<paramref name="token"/>, <paramref name="bytes"/>, <paramref name="form"/>) into <paramref name="buffer"/> as a value of <paramref name="leaf"/>; false with
    /// the reason (without the field's name) when the value does not fit the type.
    /// </summary>
    /// <remarks>
    /// The switch is not a second definition of the types: it names the sealed class of the kinds whose decode is a few
    /// instructions (numbers, booleans, plain strings), so the call is direct and inlined into the scan's loop. Any other
    /// type (the temporal ones call their parser anyway) is decoded through the virtual call, which keeps the inlined
    /// loop small; a new type only needs its own class.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryDecodeJson(LeafBuffer buffer, LeafNode leaf, JsonTokenType token, ReadOnlySpan<byte> bytes, StringForm form, short rep, DecodeScratch scratch, out string? problem)
    {
        var type = leaf.Type;
        switch (leaf.Kind)
        {
            case LeafKind.Int64: return Unsafe.As<Int64Type>(type).DecodeJson(buffer, leaf, token, bytes, form, rep, scratch, out problem);
            case LeafKind.Double: return Unsafe.As<DoubleType>(type).DecodeJson(buffer, leaf, token, bytes, form, rep, scratch, out problem);
            case LeafKind.Boolean: return Unsafe.As<BooleanType>(type).DecodeJson(buffer, leaf, token, bytes, form, rep, scratch, out problem);
            case LeafKind.String: return Unsafe.As<StringType>(type).DecodeJson(buffer, leaf, token, bytes, form, rep, scratch, out problem);
            default: return type.DecodeJson(buffer, leaf, token, bytes, form, rep, scratch, out problem);
        }
    }

    /// <summary>
    /// The one-pass decode of a number for the types that have one: <paramref name="text"/> is the scanner's bytes from the
    /// value's first byte on (a digit or '-'), not yet located. Returns the number's length when it is in the type's
    /// common form and stored, else 0: the scanner then locates the value and hands it to <see cref="TryDecodeJson"/>,
    /// which stores it or says why not. Both must store the same for every number they both take.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int TryDecodeLeadingNumber(LeafBuffer buffer, LeafNode leaf, ReadOnlySpan<byte> text, short rep) => leaf.Kind switch
    {
        LeafKind.Int64 => Int64Type.DecodeLeadingNumber(buffer, text, rep),
        LeafKind.Double => DoubleType.DecodeLeadingNumber(buffer, text, rep),
        _ => 0,
    };

    /// <summary>Whether a number that ends at <paramref name="end"/> of <paramref name="text"/> really ends there (the byte after it cannot continue a JSON number).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool EndsNumber(ReadOnlySpan<byte> text, int end) =>
        (uint)end < (uint)text.Length && text[end] is not ((>= (byte)'0' and <= (byte)'9') or (byte)'.' or (byte)'e' or (byte)'E');

    /// <summary>
    /// The digits from <paramref name="i"/> on, appended to <paramref name="value"/> (which may overflow: callers bound the
    /// digit count); where they end.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int AddDigits(ReadOnlySpan<byte> text, int i, ref ulong value)
    {
        for (; (uint)i < (uint)text.Length; i++)
        {
            var digit = (uint)(text[i] - '0');
            if (digit > 9) break;
            value = value * 10 + digit;
        }
        return i;
    }

    /// <summary>A JSON number's integer part from <paramref name="i"/> (<c>0</c>, or digits not starting with 0) into <paramref name="value"/>; where it ends.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int AddIntegerPart(ReadOnlySpan<byte> text, int i, ref ulong value) =>
        (uint)i < (uint)text.Length && text[i] == '0' ? i + 1 : AddDigits(text, i, ref value);

    /// <summary>See <see cref="TryDecodeJson"/>.</summary>
    protected abstract bool DecodeJson(LeafBuffer buffer, LeafNode leaf, JsonTokenType token, ReadOnlySpan<byte> bytes, StringForm form, short rep, DecodeScratch scratch, out string? problem);

    /// <summary>
    /// The type stores any JSON value as its compact text (an object or array included), so the tokenizer hands over the
    /// compact text of a structured value; for any other type such a value is only an error.
    /// </summary>
    public virtual bool TakesJsonText => false;

    /// <summary>The reason for a value of the wrong JSON type (kept out of the inlined decodes).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static string Expected(string what, JsonTokenType got) => $"expected {what}, got {JsonTokenNames.Describe(got)}";

    /// <summary>A value as an error message shows it: its first 100 bytes (cut at a character), then how long it was.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static string Quoted(ReadOnlySpan<byte> text)
    {
        const int Shown = 100;
        if (text.Length <= Shown) return Encoding.UTF8.GetString(text);
        var cut = Shown;
        while (cut > 0 && (text[cut] & 0xC0) == 0x80) cut--; // not inside a UTF-8 sequence
        return $"{Encoding.UTF8.GetString(text[..cut])}… ({text.Length} bytes)";
    }

    private sealed partial class Int64Type
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        protected override bool DecodeJson(LeafBuffer buffer, LeafNode leaf, JsonTokenType token, ReadOnlySpan<byte> bytes, StringForm form, short rep, DecodeScratch scratch, out string? problem)
        {
            problem = null;
            if (token == JsonTokenType.Number && TryParse(bytes, out var v))
            {
                buffer.AddLong(v, rep);
                return true;
            }
            problem = token == JsonTokenType.Number
                ? $"{Quoted(bytes)} is not a 64-bit integer (out of range or not whole)"
                : Expected("an integer", token);
            return false;
        }

        /// <summary>
        /// <c>-?(0|[1-9][0-9]{0,17})</c> at the start of <paramref name="text"/>, parsed while it is found (see
        /// <see cref="TryDecodeLeadingNumber"/>): the usual integer, which always fits; its length, or 0 for any other.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static int DecodeLeadingNumber(LeafBuffer buffer, ReadOnlySpan<byte> text, short rep)
        {
            var negative = text[0] == '-';
            var start = negative ? 1 : 0;
            ulong magnitude = 0;
            var i = AddIntegerPart(text, start, ref magnitude);
            if (i == start || i - start > 18 || !EndsNumber(text, i)) return 0;
            buffer.AddLong(negative ? -(long)magnitude : (long)magnitude, rep);
            return i;
        }

        /// <summary>A JSON number as an int64: digits alone directly (the usual case), anything else exactly by <see cref="WholeNumber"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static bool TryParse(ReadOnlySpan<byte> number, out long value)
        {
            var negative = number[0] == '-';
            var i = negative ? 1 : 0;
            if (number.Length - i <= 18)
            {
                ulong magnitude = 0;
                for (; i < number.Length; i++)
                {
                    var digit = (uint)(number[i] - '0');
                    if (digit > 9) return WholeNumber.TryParseInt64(number, out value);
                    magnitude = magnitude * 10 + digit;
                }
                value = negative ? -(long)magnitude : (long)magnitude;
                return true;
            }
            return WholeNumber.TryParseInt64(number, out value);
        }
    }

    private sealed partial class DoubleType
    {
        private static readonly double[] PowersOf10 = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        protected override bool DecodeJson(LeafBuffer buffer, LeafNode leaf, JsonTokenType token, ReadOnlySpan<byte> bytes, StringForm form, short rep, DecodeScratch scratch, out string? problem)
        {
            problem = null;
            if (token == JsonTokenType.Number && TryParse(bytes, out var x, out var exact) && (!leaf.ExactIntegers || HoldsInteger(bytes, x)))
            {
                if (!exact && !RoundedNumbers.HoldsExactly(bytes, x))
                {
                    // A stored value (an int64 beyond 2^53, a long decimal) would change: refused, see DecodeScratch.StoredValues.
                    if (scratch.StoredValues)
                    {
                        problem = StoredRounded(bytes, x);
                        return false;
                    }
                    // Landed rounded (more digits than a double holds): counted for the run log, never silently.
                    scratch.Rounded.Note(leaf, bytes, x);
                }
                buffer.AddDouble(x, rep);
                return true;
            }
            return NamedOrProblem(buffer, leaf, token, bytes, form, rep, out problem);
        }

        /// <summary>
        /// "NaN", "Infinity" and "-Infinity" as strings name those doubles: how PostgreSQL's JSON (<c>to_json</c>,
        /// <c>array_to_json</c>: the postgres tap's float arrays) and .NET's named floating-point literals write them.
        /// Any other value is the column's problem.
        /// </summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        private static bool NamedOrProblem(LeafBuffer buffer, LeafNode leaf, JsonTokenType token, ReadOnlySpan<byte> bytes, StringForm form, short rep, out string? problem)
        {
            if (token == JsonTokenType.String && form != StringForm.Escaped && NamedFloatLiterals.Parse(bytes) is { } named)
            {
                buffer.AddDouble(named, rep);
                problem = null;
                return true;
            }
            problem = Problem(leaf, token, bytes);
            return false;
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static string StoredRounded(ReadOnlySpan<byte> bytes, double x) =>
            $"{Quoted(bytes)} would be stored as {x.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}: a DOUBLE cannot hold it exactly";

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static string Problem(LeafNode leaf, JsonTokenType token, ReadOnlySpan<byte> bytes)
        {
            if (token != JsonTokenType.Number) return Expected("a number", token);
            if (TryParse(bytes, out _, out _))
                return $"{Quoted(bytes)} is an integer that a DOUBLE cannot hold exactly (beyond 2^53): the column is [\"integer\", \"number\"], " +
                       "stored as DOUBLE; declare it \"integer\" to keep such values exact";
            return $"{Quoted(bytes)} is out of the range of a double";
        }

        /// <summary>
        /// <c>-?(0|[1-9][0-9]*)(.[0-9]+)?</c> of at most 15 digits at the start of <paramref name="text"/>, parsed while it is
        /// found (see <see cref="TryDecodeLeadingNumber"/>) into the same double as <see cref="TryParse"/>; such a number is
        /// exact in a double, so <see cref="LeafNode.ExactIntegers"/> holds. Its length, or 0 for any other number.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static int DecodeLeadingNumber(LeafBuffer buffer, ReadOnlySpan<byte> text, short rep)
        {
            var negative = text[0] == '-';
            var start = negative ? 1 : 0;
            ulong mantissa = 0;
            var i = AddIntegerPart(text, start, ref mantissa);
            var digits = i - start;
            if (digits == 0) return 0;
            var fraction = 0;
            if ((uint)i < (uint)text.Length && text[i] == '.')
            {
                var end = AddDigits(text, i + 1, ref mantissa);
                fraction = end - (i + 1);
                i = end;
                if (fraction == 0) return 0;
            }
            if (digits + fraction > 15 || !EndsNumber(text, i)) return 0;
            var value = fraction == 0 ? mantissa : mantissa / PowersOf10[fraction];
            buffer.AddDouble(negative ? -value : value, rep);
            return i;
        }

        /// <summary>
        /// A JSON number as a double, correctly rounded: exactly when its digits fit 15 and it has no exponent (one
        /// division of two exact doubles; <paramref name="exact"/>: the double gives that number back), else by the
        /// framework's parser. Infinite (1e999) does not fit.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static bool TryParse(ReadOnlySpan<byte> number, out double value, out bool exact)
        {
            exact = false;
            var negative = number[0] == '-';
            var i = negative ? 1 : 0;
            ulong mantissa = 0;
            var fraction = -1;
            for (; i < number.Length; i++)
            {
                var digit = (uint)(number[i] - '0');
                if (digit <= 9) mantissa = mantissa * 10 + digit;
                else if (number[i] == '.' && fraction < 0) fraction = number.Length - i - 1;
                else return TryParseSlow(number, out value); // an exponent
            }
            var digits = number.Length - (negative ? 1 : 0) - (fraction < 0 ? 0 : 1);
            if (digits > 15) return TryParseSlow(number, out value);
            value = fraction <= 0 ? mantissa : mantissa / PowersOf10[fraction];
            if (negative) value = -value;
            exact = true;
            return true;
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static bool TryParseSlow(ReadOnlySpan<byte> number, out double value) =>
            double.TryParse(number, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out value) && double.IsFinite(value);

        /// <summary>Whether <paramref name="x"/> is exactly the number written, when that is an integer literal (a fraction or exponent is a float anyway).</summary>
        private static bool HoldsInteger(ReadOnlySpan<byte> literal, double x)
        {
            if (literal.Length < 16 || literal.IndexOfAny((byte)'.', (byte)'e', (byte)'E') >= 0) return true;
            return Int128.TryParse(literal, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var written)
                && Math.Abs(x) < 1e38 && (Int128)x == written;
        }
    }

    private sealed partial class DecimalType
    {
        protected override bool DecodeJson(LeafBuffer buffer, LeafNode leaf, JsonTokenType token, ReadOnlySpan<byte> bytes, StringForm form, short rep, DecodeScratch scratch, out string? problem)
        {
            problem = null;
            if (token != JsonTokenType.Number)
            {
                problem = Expected("a number", token);
                return false;
            }
            switch (DecimalWriter.TryParseUnscaled(bytes, leaf.Scale, out var unscaled))
            {
                case DecimalFit.Fits:
                    System.Buffers.Binary.BinaryPrimitives.WriteInt128BigEndian(buffer.BeginBytes(16), unscaled);
                    buffer.EndBytes(16, rep);
                    return true;
                case DecimalFit.TooPrecise:
                    problem = $"{Quoted(bytes)} has more than {leaf.Scale} digits after the point (multipleOf {DecimalWriter.Step(leaf.Scale)})";
                    return false;
                default:
                    problem = $"{Quoted(bytes)} does not fit a decimal(38, {leaf.Scale}) (at most {LeafNode.DecimalPrecision - leaf.Scale} digits before the point)";
                    return false;
            }
        }
    }

    private sealed partial class BooleanType
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        protected override bool DecodeJson(LeafBuffer buffer, LeafNode leaf, JsonTokenType token, ReadOnlySpan<byte> bytes, StringForm form, short rep, DecodeScratch scratch, out string? problem)
        {
            problem = null;
            if (token is JsonTokenType.True or JsonTokenType.False)
            {
                buffer.AddBool(token == JsonTokenType.True, rep);
                return true;
            }
            problem = Expected("true or false", token);
            return false;
        }
    }

    private sealed partial class StringType
    {
        public override bool TakesJsonText => true;

        /// <summary>A string's text; any other JSON value as its text (the widest common type of mixed scalars).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        protected override bool DecodeJson(LeafBuffer buffer, LeafNode leaf, JsonTokenType token, ReadOnlySpan<byte> bytes, StringForm form, short rep, DecodeScratch scratch, out string? problem)
        {
            problem = null;
            if (token == JsonTokenType.Number && scratch.StoredValues && bytes.IndexOfAny((byte)'e', (byte)'E') >= 0)
            {
                // A number a file of the table stored before the column became a string: its plain digits, the text
                // the merge matches keys by (DoubleText.PlainText), not .NET's exponent form of a double (1E+20).
                buffer.AddBytes(Encoding.UTF8.GetBytes(DoubleText.PlainText(bytes)), rep);
                return true;
            }
            if (token != JsonTokenType.String || form == StringForm.Ascii)
            {
                buffer.AddBytes(bytes, rep);
                return true;
            }
            if (form == StringForm.Unchecked)
            {
                // Parquet STRING must be valid UTF-8, and neither scanner checks the bytes of a string without escapes.
                if (!Utf8.IsValid(bytes))
                {
                    problem = "the string is not valid UTF-8";
                    return false;
                }
                buffer.AddBytes(bytes, rep);
                return true;
            }
            // Unescaped straight into the column: the text is never longer than its escaped form.
            if (!JsonString.TryUnescape(bytes, buffer.BeginBytes(bytes.Length), out var length, out problem)) return false;
            buffer.EndBytes(length, rep);
            return true;
        }
    }

    private sealed partial class JsonType
    {
        public override bool TakesJsonText => true;

        /// <summary>Any JSON value as its compact text; a string re-escaped as the compact writer writes it.</summary>
        protected override bool DecodeJson(LeafBuffer buffer, LeafNode leaf, JsonTokenType token, ReadOnlySpan<byte> bytes, StringForm form, short rep, DecodeScratch scratch, out string? problem)
        {
            problem = null;
            if (token != JsonTokenType.String)
            {
                buffer.AddBytes(bytes, rep);
                return true;
            }
            if (!JsonString.TryText(bytes, form, scratch, out var text, out problem)) return false;
            buffer.AddBytes(scratch.CompactString(text), rep);
            return true;
        }
    }

    private sealed partial class TimestampType
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        protected override bool DecodeJson(LeafBuffer buffer, LeafNode leaf, JsonTokenType token, ReadOnlySpan<byte> bytes, StringForm form, short rep, DecodeScratch scratch, out string? problem)
        {
            if (token != JsonTokenType.String)
            {
                problem = Expected("a date-time string", token);
                return false;
            }
            if (!JsonString.TryText(bytes, form, scratch, out var text, out problem)) return false;
            if (TemporalParser.TryParseTimestampMicros(text, out var micros, out var cutDigits))
            {
                // Landed cut to the microsecond (the lake's precision, and DuckDB's): counted for the run log, never silently.
                if (cutDigits) scratch.Rounded.NoteCut(leaf);
                buffer.AddLong(micros, rep);
                return true;
            }
            problem = $"'{Quoted(text)}' is not an ISO-8601 date-time within years 1..9999 UTC";
            return false;
        }
    }

    private sealed partial class DateType
    {
        protected override bool DecodeJson(LeafBuffer buffer, LeafNode leaf, JsonTokenType token, ReadOnlySpan<byte> bytes, StringForm form, short rep, DecodeScratch scratch, out string? problem)
        {
            if (token != JsonTokenType.String)
            {
                problem = Expected("a date string", token);
                return false;
            }
            if (!JsonString.TryText(bytes, form, scratch, out var text, out problem)) return false;
            if (TemporalParser.TryParseDateDays(text, out var days))
            {
                // A stored instant is exact: its date is the date only at midnight UTC (see DecodeScratch.StoredValues).
                if (scratch.StoredValues && text.Length > 10 && !TemporalParser.TryParseMidnightUtcDays(text, out days))
                {
                    problem = $"'{Quoted(text)}' is a date-time that is not midnight UTC: a date would drop its time of day";
                    return false;
                }
                buffer.AddInt(days, rep);
                return true;
            }
            problem = $"'{Quoted(text)}' is not an ISO-8601 date";
            return false;
        }
    }

    private sealed partial class TimeType
    {
        protected override bool DecodeJson(LeafBuffer buffer, LeafNode leaf, JsonTokenType token, ReadOnlySpan<byte> bytes, StringForm form, short rep, DecodeScratch scratch, out string? problem)
        {
            if (token != JsonTokenType.String)
            {
                problem = Expected("a time string", token);
                return false;
            }
            if (!JsonString.TryText(bytes, form, scratch, out var text, out problem)) return false;
            if (TemporalParser.TryParseTimeMicros(text, out var micros, out var cutDigits))
            {
                if (cutDigits) scratch.Rounded.NoteCut(leaf);
                buffer.AddLong(micros, rep);
                return true;
            }
            problem = $"'{Quoted(text)}' is not an ISO-8601 time";
            return false;
        }
    }
}

/// <summary>What a scanner knows about a string's bytes (those between its quotes, as written).</summary>
internal enum StringForm : byte
{
    /// <summary>Printable ASCII without escapes: the bytes are the text.</summary>
    Ascii,
    /// <summary>No escapes, but bytes that are not ASCII: the text once checked to be valid UTF-8.</summary>
    Unchecked,
    /// <summary>Backslash escapes: the text once unescaped (<see cref="JsonString.TryUnescape"/>).</summary>
    Escaped,
}

/// <summary>
/// A scanner's reusable buffers for decodes that need room of their own (an escaped date, a JSON string re-escaped).
/// One per <see cref="RecordShredder"/>: the column types are shared by every thread and hold no state.
/// </summary>
internal sealed class DecodeScratch
{
    private byte[] _unescaped = new byte[256];
    private readonly System.Buffers.ArrayBufferWriter<byte> _json = new(256);
    private readonly Utf8JsonWriter _jsonWriter;

    /// <summary>
    /// The values come from the lake's own files (a merge rewriting kept rows under the stream's current schema), not
    /// from a tap: a stored value already is what the table holds, so one that a column would change does not fit it
    /// and the merge is refused rather than altering a row the tap never sent again. Two such changes a decode makes: one
    /// is a date-time in a date column: a tap's date-time text keeps its calendar date as written, but a stored
    /// instant fits a date only at midnight UTC. The other is a number a DOUBLE column would round (an int64 beyond
    /// 2^53, a decimal of more digits than a double holds): a tap's is counted as landed rounded, a stored one refused.
    /// </summary>
    public bool StoredValues { get; set; }

    /// <summary>The numbers a DOUBLE column stored rounded, noted by the decode and counted by the shredder.</summary>
    public RoundedNumbers Rounded { get; } = new();

    public DecodeScratch()
    {
        _jsonWriter = new Utf8JsonWriter(_json, new JsonWriterOptions { SkipValidation = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }

    /// <summary>Room for an unescaped string of at most <paramref name="length"/> bytes.</summary>
    public Span<byte> Unescaped(int length)
    {
        if (_unescaped.Length < length) _unescaped = new byte[Math.Max(length, _unescaped.Length * 2)];
        return _unescaped.AsSpan(0, length);
    }

    /// <summary>The compact JSON writer, emptied; <see cref="Written"/> is what was written since.</summary>
    public Utf8JsonWriter StartJson()
    {
        _json.ResetWrittenCount();
        _jsonWriter.Reset();
        return _jsonWriter;
    }

    public ReadOnlySpan<byte> Written
    {
        get
        {
            _jsonWriter.Flush();
            return _json.WrittenSpan;
        }
    }

    /// <summary>A valid UTF-8 text as a JSON string literal, escaped as the compact writer escapes it.</summary>
    public ReadOnlySpan<byte> CompactString(ReadOnlySpan<byte> text)
    {
        StartJson().WriteStringValue(text);
        return Written;
    }
}

/// <summary>The text of a JSON string, shared by every type that decodes strings.</summary>
internal static class JsonString
{
    /// <summary>The text of a string's <paramref name="bytes"/> (valid UTF-8): the bytes when they have no escapes, else unescaped into the scratch.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryText(ReadOnlySpan<byte> bytes, StringForm form, DecodeScratch scratch, out ReadOnlySpan<byte> text, out string? problem)
    {
        problem = null;
        text = bytes;
        if (form == StringForm.Ascii) return true;
        if (form == StringForm.Unchecked)
        {
            if (Utf8.IsValid(text)) return true;
            problem = "the string is not valid UTF-8";
            return false;
        }
        var destination = scratch.Unescaped(bytes.Length);
        if (!TryUnescape(bytes, destination, out var length, out problem)) return false;
        text = destination[..length];
        return true;
    }

    /// <summary>
    /// Unescapes a string's body (the bytes between its quotes) into <paramref name="destination"/> (at least as long):
    /// false on a malformed escape, on invalid UTF-8, and on an escaped lone surrogate, which JSON allows as text but which
    /// is no character and cannot become UTF-8: a value error of the field, not a crash of the run.
    /// </summary>
    public static bool TryUnescape(ReadOnlySpan<byte> body, Span<byte> destination, out int written, out string? problem)
    {
        written = 0;
        problem = null;
        var n = 0;
        for (var i = 0; i < body.Length;)
        {
            var escape = body[i..].IndexOf((byte)'\\');
            var run = escape < 0 ? body[i..] : body.Slice(i, escape);
            run.CopyTo(destination[n..]);
            n += run.Length;
            i += run.Length;
            if (escape < 0) break;
            if (i + 1 >= body.Length) return Malformed(body, out problem);
            var code = body[i + 1];
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
                destination[n++] = simple;
                continue;
            }
            if (code != 'u' || !TryHex4(body, i, out var unit)) return Malformed(body, out problem);
            i += 4;
            int scalar = unit;
            if (char.IsHighSurrogate((char)unit))
            {
                if (i + 6 > body.Length || body[i] != '\\' || body[i + 1] != 'u' || !TryHex4(body, i + 2, out var low) || !char.IsLowSurrogate((char)low))
                    return LoneSurrogate(body, out problem);
                scalar = char.ConvertToUtf32((char)unit, (char)low);
                i += 6;
            }
            else if (char.IsLowSurrogate((char)unit))
            {
                return LoneSurrogate(body, out problem);
            }
            n += new Rune(scalar).EncodeToUtf8(destination[n..]);
        }
        if (!Utf8.IsValid(destination[..n]))
        {
            problem = "the string is not valid UTF-8";
            return false;
        }
        written = n;
        return true;
    }

    /// <summary>Whether <paramref name="text"/> holds four hex digits at <paramref name="at"/>, and their value.</summary>
    public static bool TryHex4(ReadOnlySpan<byte> text, int at, out ushort value)
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

    private static bool LoneSurrogate(ReadOnlySpan<byte> body, out string? problem)
    {
        problem = LoneSurrogateProblem(body);
        return false;
    }

    /// <summary>What is wrong with a string whose body (as the record spells it) holds an escaped lone surrogate.</summary>
    internal static string LoneSurrogateProblem(ReadOnlySpan<byte> body) =>
        $"the string \"{ColumnType.Quoted(body)}\" holds an escaped lone surrogate (such as \\udc00), which is not a character";

    /// <summary>Only the canonical scan can hand over a malformed escape (the tokenizer rejects the line), and it then hands the record on.</summary>
    private static bool Malformed(ReadOnlySpan<byte> body, out string? problem)
    {
        problem = $"the string \"{ColumnType.Quoted(body)}\" holds a malformed escape";
        return false;
    }
}
