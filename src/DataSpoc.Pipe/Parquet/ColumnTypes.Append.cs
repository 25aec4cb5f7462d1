using System.Buffers.Binary;
using System.Buffers.Text;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace DataSpoc.Pipe.Parquet;

/// <summary>
/// Typed appends: a value a C# source holds (a built-in tap's cell, a code source's value) stored in a column's
/// buffer as the JSON path would store the same value printed as Singer JSON and read back. Each returns false when it
/// does not store the value itself: then the caller sends the value's JSON text through the shredder, which stores it
/// or names what is wrong, so the rare conversions (a decimal into a string column, a date into a date-time column)
/// and every error message exist once, in the JSON path. The common pairs (a long into an integer column, a string
/// into a date-time column) are stored here with no text in between.
/// </summary>
/// <remarks><c>rep</c> is the repetition level (0 for a top-level column).</remarks>
internal abstract partial class ColumnType
{
    public virtual bool TryAppend(LeafBuffer buffer, long value, short rep) => false;
    /// <summary>A double; NaN and the infinities land in a number column only.</summary>
    public virtual bool TryAppend(LeafBuffer buffer, double value, short rep) => false;
    public virtual bool TryAppend(LeafBuffer buffer, decimal value, short rep) => false;
    public virtual bool TryAppend(LeafBuffer buffer, bool value, short rep) => false;
    public virtual bool TryAppendString(LeafBuffer buffer, ReadOnlySpan<char> value, short rep) => false;
    /// <summary>A string as UTF-8 (false for invalid UTF-8: the JSON path refuses it where the text is written).</summary>
    public virtual bool TryAppendUtf8(LeafBuffer buffer, ReadOnlySpan<byte> value, short rep) => false;
    public virtual bool TryAppend(LeafBuffer buffer, DateOnly value, short rep) => false;
    /// <summary>An instant; its ticks are read as UTC whatever their Kind, finer than a microsecond dropped.</summary>
    public virtual bool TryAppendInstant(LeafBuffer buffer, DateTime utc, short rep) => false;
    public virtual bool TryAppend(LeafBuffer buffer, TimeOnly value, short rep) => false;
    /// <summary>Bytes, which Singer JSON carries as their base64 text.</summary>
    public virtual bool TryAppendBase64(LeafBuffer buffer, ReadOnlySpan<byte> value, short rep) => false;

    /// <summary>Microseconds since the epoch of an instant, truncated (floor) as its microsecond text would be.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long MicrosOf(DateTime instant) => instant.Ticks / 10 - DateTime.UnixEpoch.Ticks / 10;

    private static readonly int EpochDayNumber = DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber;

    /// <summary>
    /// Temporal text given as UTF-16: made UTF-8 on the stack and appended as the type's UTF-8 text, so each temporal
    /// type parses its text in one place. Text too long for any temporal value, or with surrogates, is false.
    /// </summary>
    private bool TryAppendTemporalString(LeafBuffer buffer, ReadOnlySpan<char> value, short rep)
    {
        Span<byte> utf8 = stackalloc byte[128];
        return value.Length * 3 <= utf8.Length
               && !value.ContainsAnyInRange('\uD800', '\uDFFF')
               && Encoding.UTF8.TryGetBytes(value, utf8, out var length)
               && TryAppendUtf8(buffer, utf8[..length], rep);
    }

    private sealed partial class Int64Type
    {
        public override bool TryAppend(LeafBuffer buffer, long value, short rep)
        {
            buffer.AddLong(value, rep);
            return true;
        }
    }

    private sealed partial class DoubleType
    {
        public override bool TryAppend(LeafBuffer buffer, double value, short rep)
        {
            // NaN and the infinities too (Parquet holds them): one NaN, the one Python and PostgreSQL write (.NET's has the sign bit set).
            buffer.AddDouble(double.IsNaN(value) ? NamedFloatLiterals.PythonNaN : value, rep);
            return true;
        }

        /// <summary>
        /// The JSON text of a long parses to the nearest double, as the conversion gives; an <c>["integer", "number"]</c>
        /// column refuses one that a double cannot hold exactly (the JSON path says why).
        /// </summary>
        public override bool TryAppend(LeafBuffer buffer, long value, short rep)
        {
            var x = (double)value;
            if (buffer.Leaf.ExactIntegers && (Int128)x != value) return false;
            buffer.AddDouble(x, rep);
            return true;
        }

        /// <summary>
        /// The decimal's text parsed as a double (the System.Decimal to double conversion is not always the nearest); one
        /// the double does not give back (more significant digits than it holds) is left to the JSON path, which counts
        /// it as landed rounded for the run log, never silently.
        /// </summary>
        public override bool TryAppend(LeafBuffer buffer, decimal value, short rep)
        {
            if (buffer.Leaf.ExactIntegers) return false;
            Span<byte> text = stackalloc byte[40];
            if (!Utf8Formatter.TryFormat(value, text, out var written)
                || !Utf8Parser.TryParse(text[..written], out double x, out var consumed) || consumed != written || !double.IsFinite(x))
                return false;
            // A text of 15 characters has at most 15 significant digits, which every double gives back.
            if (written > 15 && !RoundedNumbers.HoldsExactly(text[..written], x)) return false;
            buffer.AddDouble(x, rep);
            return true;
        }
    }

    /// <summary>Decimals are checked digit for digit by the JSON path's own reader of their text: no rounding either way.</summary>
    private sealed partial class DecimalType
    {
        private static readonly Int128[] Powers = [.. Enumerable.Range(0, LeafNode.DecimalPrecision + 1).Select(i => Enumerable.Repeat((Int128)10, i).Aggregate((Int128)1, (a, b) => a * b))];

        public override bool TryAppend(LeafBuffer buffer, long value, short rep)
        {
            // |long| * 10^19 < 10^38: every long fits DECIMAL(38, s) for s <= 19; beyond, only those of at most 38 - s
            // digits, and the JSON path refuses the others by name.
            var scale = buffer.Leaf.Scale;
            if (scale > 19 && (UInt128)Int128.Abs(value) > MaxMantissaTimesPower[scale]) return false;
            WriteUnscaled(buffer, value * Powers[scale], rep);
            return true;
        }

        public override bool TryAppend(LeafBuffer buffer, decimal value, short rep)
        {
            if (TryUnscaled(value, buffer.Leaf.Scale, out var exact))
            {
                WriteUnscaled(buffer, exact, rep);
                return true;
            }
            Span<byte> text = stackalloc byte[40];
            if (!Utf8Formatter.TryFormat(value, text, out var written)
                || DecimalWriter.TryParseUnscaled(text[..written], buffer.Leaf.Scale, out var unscaled) != DecimalFit.Fits)
                return false;
            WriteUnscaled(buffer, unscaled, rep);
            return true;
        }

        private static readonly UInt128 MaxUnscaled = UInt128.Parse("99999999999999999999999999999999999999", CultureInfo.InvariantCulture);

        /// <summary>The largest mantissa that may be multiplied by 10^k (index k) and stay within 38 digits: one 128-bit
        /// division per power, once, instead of one per value.</summary>
        private static readonly UInt128[] MaxMantissaTimesPower = [.. Powers.Select(power => MaxUnscaled / (UInt128)power)];

        /// <summary>
        /// The usual case without text (a numeric(p, s) value into its own scale): a decimal with no more fraction digits
        /// than the column keeps is its mantissa times a power of ten, the value its text would give. Anything else
        /// (more fraction digits, even trailing zeros, or too many digits) is left to the text path, which decides.
        /// </summary>
        private static bool TryUnscaled(decimal value, int scale, out Int128 unscaled)
        {
            unscaled = 0;
            if (value.Scale > scale) return false;
            Span<int> bits = stackalloc int[4];
            decimal.GetBits(value, bits);
            var mantissa = new UInt128((uint)bits[2], ((ulong)(uint)bits[1] << 32) | (uint)bits[0]);
            var shift = scale - value.Scale;
            if (mantissa > MaxMantissaTimesPower[shift]) return false;
            var magnitude = (Int128)(mantissa * (UInt128)Powers[shift]);
            unscaled = decimal.IsNegative(value) ? -magnitude : magnitude;
            return true;
        }

        private static void WriteUnscaled(LeafBuffer buffer, Int128 unscaled, short rep)
        {
            BinaryPrimitives.WriteInt128BigEndian(buffer.BeginBytes(16), unscaled);
            buffer.EndBytes(16, rep);
        }
    }

    private sealed partial class BooleanType
    {
        public override bool TryAppend(LeafBuffer buffer, bool value, short rep)
        {
            buffer.AddBool(value, rep);
            return true;
        }
    }

    /// <summary>A string column stores strings as they are and other scalars as their JSON text (the widest common type).</summary>
    private sealed partial class StringType
    {
        public override bool TryAppendString(LeafBuffer buffer, ReadOnlySpan<char> value, short rep)
        {
            // A lone surrogate is no character: the JSON path cannot write it either (and says so).
            if (value.ContainsAnyInRange('\uD800', '\uDFFF') && !IsValidUtf16(value)) return false;
            var length = Encoding.UTF8.GetBytes(value, buffer.BeginBytes(Encoding.UTF8.GetMaxByteCount(value.Length)));
            buffer.EndBytes(length, rep);
            return true;
        }

        public override bool TryAppendUtf8(LeafBuffer buffer, ReadOnlySpan<byte> value, short rep)
        {
            if (!System.Text.Unicode.Utf8.IsValid(value)) return false;
            buffer.AddBytes(value, rep);
            return true;
        }

        public override bool TryAppend(LeafBuffer buffer, long value, short rep)
        {
            var text = buffer.BeginBytes(20);
            Utf8Formatter.TryFormat(value, text, out var written);
            buffer.EndBytes(written, rep);
            return true;
        }

        public override bool TryAppend(LeafBuffer buffer, bool value, short rep)
        {
            buffer.AddBytes(value ? "true"u8 : "false"u8, rep);
            return true;
        }

        public override bool TryAppendBase64(LeafBuffer buffer, ReadOnlySpan<byte> value, short rep)
        {
            var text = buffer.BeginBytes(Base64.GetMaxEncodedToUtf8Length(value.Length));
            Base64.EncodeToUtf8(value, text, out _, out var written);
            buffer.EndBytes(written, rep);
            return true;
        }

        private static bool IsValidUtf16(ReadOnlySpan<char> value)
        {
            for (var i = 0; i < value.Length; i++)
            {
                if (!char.IsSurrogate(value[i])) continue;
                if (!char.IsHighSurrogate(value[i]) || i + 1 >= value.Length || !char.IsLowSurrogate(value[i + 1])) return false;
                i++;
            }
            return true;
        }
    }

    private sealed partial class TimestampType
    {
        public override bool TryAppendInstant(LeafBuffer buffer, DateTime utc, short rep)
        {
            buffer.AddLong(MicrosOf(utc), rep);
            return true;
        }

        public override bool TryAppendUtf8(LeafBuffer buffer, ReadOnlySpan<byte> value, short rep)
        {
            // Text cut to the microsecond is left to the JSON path, whose decode counts it for the run log's notice.
            if (!TemporalParser.TryParseTimestampMicros(value, out var micros, out var cutDigits) || cutDigits) return false;
            buffer.AddLong(micros, rep);
            return true;
        }

        public override bool TryAppendString(LeafBuffer buffer, ReadOnlySpan<char> value, short rep) =>
            TryAppendTemporalString(buffer, value, rep);
    }

    private sealed partial class DateType
    {
        public override bool TryAppend(LeafBuffer buffer, DateOnly value, short rep)
        {
            buffer.AddInt(value.DayNumber - EpochDayNumber, rep);
            return true;
        }

        /// <summary>An instant in a date column keeps the date of its UTC text.</summary>
        public override bool TryAppendInstant(LeafBuffer buffer, DateTime utc, short rep) =>
            TryAppend(buffer, DateOnly.FromDayNumber((int)(utc.Ticks / TimeSpan.TicksPerDay)), rep);

        public override bool TryAppendUtf8(LeafBuffer buffer, ReadOnlySpan<byte> value, short rep)
        {
            if (!TemporalParser.TryParseDateDays(value, out var days)) return false;
            buffer.AddInt(days, rep);
            return true;
        }

        public override bool TryAppendString(LeafBuffer buffer, ReadOnlySpan<char> value, short rep) =>
            TryAppendTemporalString(buffer, value, rep);
    }

    private sealed partial class TimeType
    {
        public override bool TryAppend(LeafBuffer buffer, TimeOnly value, short rep)
        {
            buffer.AddLong(value.Ticks / 10, rep);
            return true;
        }

        public override bool TryAppendUtf8(LeafBuffer buffer, ReadOnlySpan<byte> value, short rep)
        {
            if (!TemporalParser.TryParseTimeMicros(value, out var micros, out var cutDigits) || cutDigits) return false;
            buffer.AddLong(micros, rep);
            return true;
        }

        public override bool TryAppendString(LeafBuffer buffer, ReadOnlySpan<char> value, short rep) =>
            TryAppendTemporalString(buffer, value, rep);
    }
}
