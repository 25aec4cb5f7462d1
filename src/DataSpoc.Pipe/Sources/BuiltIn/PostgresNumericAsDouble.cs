using System.Buffers.Text;
using System.Globalization;
using System.Text.Json;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// The rule for a <c>numeric</c> that lands as a double (a <c>numeric</c> without precision and scale, as DuckDB's
/// postgres scanner reads it, and every element of a numeric array): a value lands only when the double holds it exactly,
/// that is when the double's shortest round-trip text is the same number (0.1, 1.50, 123.45, 1e28); any other value
/// (12345678901234567890.123456789, which the double holds as 12345678901234567168) fails the run, never lands rounded.
/// The double is the one the lake stores: the value's text parsed as the nearest double.
/// </summary>
internal static class PostgresNumericAsDouble
{
    /// <summary>Fewer significant digits than this always come back from the nearest double (DBL_DIG).</summary>
    private const int AlwaysExactDigits = 15;

    /// <summary>Whether the double the lake stores for <paramref name="value"/> is exactly it.</summary>
    public static bool HoldsExactly(decimal value)
    {
        Span<int> bits = stackalloc int[4];
        decimal.GetBits(value, bits);
        // A mantissa below 10^15 is at most 15 significant digits, and a decimal's exponent is within 10^±29.
        if (bits[2] == 0 && ((ulong)(uint)bits[1] << 32 | (uint)bits[0]) < 1_000_000_000_000_000UL) return true;
        Span<byte> text = stackalloc byte[40];
        return Utf8Formatter.TryFormat(value, text, out var written) && HoldsExactly(text[..written]);
    }

    /// <summary>Whether the double the lake stores for the number written as <paramref name="number"/> (JSON's form) is exactly it.</summary>
    public static bool HoldsExactly(ReadOnlySpan<byte> number)
    {
        Span<byte> digits = stackalloc byte[MaxDigits];
        if (!Canonical(number, digits, out var count, out var exponent, out var negative)) return false;
        if (count == 0) return true;
        if (count <= AlwaysExactDigits && exponent is > -300 and < 300) return true;
        if (!Utf8Parser.TryParse(number, out double landed, out var consumed) || consumed != number.Length || !double.IsFinite(landed)) return false;
        Span<byte> shortest = stackalloc byte[32];
        if (!landed.TryFormat(shortest, out var written, "R", CultureInfo.InvariantCulture)) return false;
        Span<byte> landedDigits = stackalloc byte[MaxDigits];
        return Canonical(shortest[..written], landedDigits, out var landedCount, out var landedExponent, out var landedNegative)
            && landedCount == count && landedExponent == exponent && landedNegative == negative
            && landedDigits[..count].SequenceEqual(digits[..count]);
    }

    /// <summary>Checks every number of a JSON array's text (an <c>array_to_json</c> of numerics; NaN and the infinities are strings there).</summary>
    public static void CheckElements(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        while (reader.Read())
            if (reader.TokenType == JsonTokenType.Number && !HoldsExactly(reader.ValueSpan))
                throw NotHeld(System.Text.Encoding.UTF8.GetString(reader.ValueSpan), "an element of the array ");
    }

    /// <summary>The failure for a value the double does not hold (the caller names the column and row).</summary>
    public static InvalidCastException NotHeld(decimal value) => NotHeld(value.ToString(CultureInfo.InvariantCulture), "");

    private static InvalidCastException NotHeld(string number, string which)
    {
        var landed = double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) && double.IsFinite(x)
            ? $"it would land as {x.ToString("R", CultureInfo.InvariantCulture)}"
            : "it is beyond a double";
        return new InvalidCastException($"{which}{number} lands as a double, which does not hold it exactly ({landed})");
    }

    /// <summary>More significant digits than a double's shortest text ever has (17) cannot be exact; a few more are kept to compare.</summary>
    private const int MaxDigits = 24;

    /// <summary>
    /// A number's text as its significant digits (no leading or trailing zeros) and the exponent that makes it
    /// 0.d1d2… × 10^exponent; false when it has more than <see cref="MaxDigits"/> significant digits (no double's
    /// shortest text has) or is not a plain decimal number.
    /// </summary>
    private static bool Canonical(ReadOnlySpan<byte> text, Span<byte> digits, out int count, out int exponent, out bool negative)
    {
        count = 0;
        exponent = 0;
        var at = 0;
        negative = text.Length > 0 && text[0] == '-';
        if (negative || text.Length > 0 && text[0] == '+') at++;
        var beforePoint = 0; // mantissa digits before the point, leading zeros included
        var first = -1; // index among the mantissa digits of the first significant one
        var index = 0;
        var point = false;
        var significantEnd = 0; // count up to the last non-zero digit
        for (; at < text.Length; at++)
        {
            var c = text[at];
            if (c == '.' && !point) { point = true; continue; }
            if (c is < (byte)'0' or > (byte)'9') break;
            if (!point) beforePoint++;
            if (first < 0 && c != '0') first = index;
            if (first >= 0)
            {
                if (count == digits.Length) { if (c != '0') return false; }
                else digits[count++] = c;
                if (c != '0') significantEnd = count;
            }
            index++;
        }
        if (at < text.Length)
        {
            if (text[at] is not ((byte)'e' or (byte)'E') || !Utf8Parser.TryParse(text[(at + 1)..], out int e, out var used) || at + 1 + used != text.Length) return false;
            exponent = e;
        }
        if (first < 0)
        {
            count = 0;
            exponent = 0;
            negative = false;
            return true;
        }
        count = significantEnd;
        exponent += beforePoint - first;
        return true;
    }
}
