using System.Buffers.Text;
using System.Globalization;
using System.Text.Json;
using DataSpoc.Pipe.Parquet;

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

    /// <summary>
    /// Whether the double the lake stores for the number written as <paramref name="number"/> (JSON's form) is exactly it,
    /// by <see cref="DoubleText.IsShortestFormOf"/> (strict: the value read back from the lake must be the source's).
    /// </summary>
    public static bool HoldsExactly(ReadOnlySpan<byte> number)
    {
        if (!DecimalText.TryParse(number, out var written)) return false;
        if (written.Digits == 0) return true;
        if (written.Digits <= AlwaysExactDigits && written.Scale is > -300 and < 300) return true;
        return Utf8Parser.TryParse(number, out double landed, out var consumed) && consumed == number.Length && double.IsFinite(landed)
            && DoubleText.IsShortestFormOf(written, landed);
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
}
