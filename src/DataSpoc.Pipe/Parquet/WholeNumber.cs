namespace DataSpoc.Pipe.Parquet;

/// <summary>
/// Reads a JSON number written with a fraction or an exponent (<c>1.0</c>, <c>1e2</c>, <c>-5.00E+1</c>) as a 64-bit
/// integer exactly, from its digits: only when its value is whole and within range. Going through a double instead
/// rounds: <c>-9223372036854775809</c> became <c>long.MinValue</c> and <c>9007199254740993.0</c> became ...992.
/// </summary>
internal static class WholeNumber
{
    public static bool TryParseInt64(ReadOnlySpan<byte> number, out long value)
    {
        value = 0;
        // A whole int64 needs at most 20 characters; far longer text is only zeros around it (or not whole), and the
        // digits are copied to the stack.
        if (number.Length > 256) return false;
        var i = 0;
        var negative = i < number.Length && number[i] == '-';
        if (negative) i++;
        // The significant digits (integer and fraction parts together) and where the decimal point falls in them.
        Span<byte> digits = stackalloc byte[number.Length];
        var count = 0;
        while (i < number.Length && char.IsAsciiDigit((char)number[i])) digits[count++] = number[i++];
        var point = count;
        if (i < number.Length && number[i] == '.')
        {
            i++;
            while (i < number.Length && char.IsAsciiDigit((char)number[i])) digits[count++] = number[i++];
        }
        if (count == 0) return false;
        if (i < number.Length && (number[i] | 0x20) == 'e')
        {
            i++;
            var exponentNegative = i < number.Length && number[i] == '-';
            if (i < number.Length && number[i] is (byte)'+' or (byte)'-') i++;
            var exponent = 0L;
            var start = i;
            while (i < number.Length && char.IsAsciiDigit((char)number[i]))
            {
                if (exponent < 100_000) exponent = exponent * 10 + (number[i] - '0');
                i++;
            }
            if (i == start) return false;
            point += (int)(exponentNegative ? -exponent : exponent);
        }
        if (i != number.Length) return false;
        // Whole: no non-zero digit after the point.
        for (var k = Math.Max(point, 0); k < count; k++)
            if (digits[k] != '0') return false;
        // The integer is the digits before the point, then zeros up to it; leading zeros do not count.
        ulong magnitude = 0;
        for (var k = 0; k < point; k++)
        {
            var digit = k < count ? (ulong)(digits[k] - '0') : 0;
            if (magnitude == 0 && digit == 0) continue;
            if (magnitude > (ulong.MaxValue - digit) / 10) return false;
            magnitude = magnitude * 10 + digit;
        }
        if (negative ? magnitude > 9223372036854775808UL : magnitude > long.MaxValue) return false;
        value = negative ? (long)(0 - magnitude) : (long)magnitude;
        return true;
    }
}
