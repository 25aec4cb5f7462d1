namespace DataSpoc.Pipe.Parquet;

/// <summary>
/// A decimal number's text as sign, significant digits and scale: its value is ±0.d₁d₂…dₙ × 10^<see cref="Scale"/>,
/// with d₁ and dₙ not 0 (no digits: zero, neither negative nor scaled, so 0, -0.0 and 0e5 are one value). Reads JSON
/// number text, .NET's decimal and "R"/"E" formats (1.0000000000000000E+016) and leading zeros; the digits stay in the
/// text (no copy), so a number of any length is read without allocating.
/// </summary>
internal readonly ref struct DecimalText
{
    /// <summary>An exponent's magnitude is saturated here: far beyond any double's, so a number this large or small is no double's text.</summary>
    private const long ExponentLimit = 1L << 40;

    private readonly ReadOnlySpan<byte> _text;
    private readonly int _integerStart, _integerLength, _fractionStart, _first;

    /// <summary>Below zero (never for zero).</summary>
    public bool Negative { get; }

    /// <summary>How many significant digits: n (0 for zero).</summary>
    public int Digits { get; }

    /// <summary>The power of ten that makes the value ±0.d₁d₂…dₙ × 10^Scale (0 for zero).</summary>
    public long Scale { get; }

    /// <summary>
    /// Reads <paramref name="text"/> as <c>[+-]digits[.digits][(e|E)[+-]digits]</c> (at least one mantissa digit, either side
    /// of the point); false when it is not that, the whole of it.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> text, out DecimalText number)
    {
        number = new DecimalText(text, out var valid);
        return valid;
    }

    private DecimalText(ReadOnlySpan<byte> text, out bool valid)
    {
        _text = text;
        var i = 0;
        var negative = false;
        if (i < text.Length && text[i] is (byte)'-' or (byte)'+') negative = text[i++] == '-';
        _integerStart = i;
        while (i < text.Length && char.IsAsciiDigit((char)text[i])) i++;
        _integerLength = i - _integerStart;
        _fractionStart = i + 1;
        var fractionLength = 0;
        if (i < text.Length && text[i] == '.')
        {
            i++;
            while (i < text.Length && char.IsAsciiDigit((char)text[i])) i++;
            fractionLength = i - _fractionStart;
        }
        var all = _integerLength + fractionLength;
        valid = all > 0;
        long exponent = 0;
        if (i < text.Length && text[i] is (byte)'e' or (byte)'E')
        {
            i++;
            var negativeExponent = i < text.Length && text[i] == '-';
            if (i < text.Length && text[i] is (byte)'-' or (byte)'+') i++;
            var exponentStart = i;
            for (; i < text.Length && char.IsAsciiDigit((char)text[i]); i++) exponent = Math.Min(exponent * 10 + (text[i] - '0'), ExponentLimit);
            valid &= i > exponentStart;
            if (negativeExponent) exponent = -exponent;
        }
        valid &= i == text.Length;
        var first = 0;
        while (first < all && DigitAt(first) == 0) first++;
        var last = all - 1;
        while (last >= first && DigitAt(last) == 0) last--;
        _first = first;
        Digits = last - first + 1;
        Negative = negative && Digits > 0;
        Scale = Digits > 0 ? _integerLength + exponent - first : 0;
    }

    /// <summary>The significant digit d₍k+1₎ (0-based <paramref name="k"/> below <see cref="Digits"/>), 0 to 9.</summary>
    public int Digit(int k) => DigitAt(_first + k);

    /// <summary>The <paramref name="k"/>th digit of the integer and fraction parts together.</summary>
    private int DigitAt(int k) => (k < _integerLength ? _text[_integerStart + k] : _text[_fractionStart + k - _integerLength]) - '0';

    /// <summary>Whether both texts write the same number (1.50 and 15e-1; 0 and -0.0).</summary>
    public bool SameValue(in DecimalText other)
    {
        if (Negative != other.Negative || Digits != other.Digits || Scale != other.Scale) return false;
        for (var k = 0; k < Digits; k++)
            if (Digit(k) != other.Digit(k)) return false;
        return true;
    }
}
