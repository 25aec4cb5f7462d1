using System.Globalization;
using System.Numerics;
using System.Text;

namespace DataSpoc.Pipe.Parquet;

/// <summary>
/// Whether a number's text is a form of the double parsed from it (<c>stored</c>, finite, the nearest double), by two
/// rules that differ on purpose:
/// <list type="bullet">
/// <item><see cref="IsShortestFormOf"/>, strict, for the postgres tap's plain <c>numeric</c> landing as a double: the
/// source holds an exact decimal, and the lake, read back, shows the double's shortest text; when that is another number
/// (0.10000000000000001 reads back as 0.1) the value would change, so the tap refuses it.</item>
/// <item><see cref="IsPrintedFormOf"/>, lenient, for a Singer tap's number: many taps print their doubles with 17
/// significant digits (0.10000000000000001, or 2^64 written in full), texts that are exactly the double they had, so
/// nothing is lost; only a number the double does not give back at the text's own precision (9007199254740993, 1e-400)
/// is counted as landed rounded.</item>
/// </list>
/// </summary>
internal static class DoubleText
{
    /// <summary>A double's shortest round-trip text ("R") has at most this many significant digits.</summary>
    private const int ShortestDigitsAtMost = 17;

    /// <summary>A double's exact decimal expansion has at most this many significant digits.</summary>
    private const int ExactDigitsAtMost = 767;

    /// <summary>Whether <paramref name="stored"/>'s shortest round-trip text is the number <paramref name="number"/> writes.</summary>
    public static bool IsShortestFormOf(in DecimalText number, double stored)
    {
        if (number.Digits == 0) return stored == 0;
        if (number.Digits > ShortestDigitsAtMost || stored == 0 || !double.IsFinite(stored)) return false;
        Span<byte> shortest = stackalloc byte[32];
        return stored.TryFormat(shortest, out var written, "R", CultureInfo.InvariantCulture)
            && DecimalText.TryParse(shortest[..written], out var landed) && number.SameValue(landed);
    }

    /// <summary>
    /// Whether <paramref name="stored"/> printed with as many significant digits as <paramref name="number"/> has is the
    /// same number. So 0.1 and Python's 0.30000000000000004 hold (their shortest texts), as do a longer exact text of the
    /// same double (0.10000000000000001, 2^64 written in full); 9007199254740993 and 1e-400 (stored 0) do not.
    /// </summary>
    public static bool IsPrintedFormOf(in DecimalText number, double stored)
    {
        if (number.Digits == 0) return stored == 0; // 0, -0.0, 0e5: zero either way
        if (number.Digits > ExactDigitsAtMost || stored == 0) return false;
        Span<char> format = stackalloc char[8];
        format[0] = 'E';
        (number.Digits - 1).TryFormat(format[1..], out var formatLength, default, CultureInfo.InvariantCulture);
        Span<byte> printed = stackalloc byte[number.Digits + 16];
        // .NET prints a double's exact value to any precision, correctly rounded (IEEE 754-2008).
        return stored.TryFormat(printed, out var length, format[..(formatLength + 1)], CultureInfo.InvariantCulture)
            && DecimalText.TryParse(printed[..length], out var landed) && number.SameValue(landed);
    }

    /// <summary>
    /// A stored number's JSON text without an exponent: the text a string column holds for a number that a file of the
    /// table stored before the column became a string, so that a kept double key 1e20 and the string key
    /// <c>"100000000000000000000"</c> are one key. A whole double is its exact digits (<c>1E+20</c> is
    /// <c>100000000000000000000</c>), any other its shortest round-trip digits (<c>1E-07</c> is <c>0.0000001</c>);
    /// a text without an exponent (<c>12.50</c>, a long, <c>-0.0</c>) is kept as it is.
    /// </summary>
    public static string PlainText(ReadOnlySpan<byte> number)
    {
        if (number.IndexOfAny((byte)'e', (byte)'E') < 0
            || !double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
            return Encoding.UTF8.GetString(number);
        if (value == Math.Floor(value)) return new BigInteger(value).ToString(CultureInfo.InvariantCulture);
        // Not whole, so below 2^53 in size: the shortest text's digits with the point moved by its exponent.
        var shortest = value.ToString("R", CultureInfo.InvariantCulture);
        var e = shortest.IndexOf('E');
        if (e < 0) return shortest;
        var sign = shortest[0] == '-' ? "-" : "";
        var mantissa = shortest[sign.Length..e];
        var digits = mantissa.Replace(".", "");
        var point = (mantissa.IndexOf('.') is var p and >= 0 ? p : mantissa.Length) + int.Parse(shortest[(e + 1)..], CultureInfo.InvariantCulture);
        return sign + (point <= 0 ? "0." + new string('0', -point) + digits : digits[..point] + "." + digits[point..]);
    }
}
