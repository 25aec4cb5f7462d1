using System.Text;
using DataSpoc.Pipe.Parquet;

namespace DataSpoc.Pipe.Tests.Parquet;

/// <summary>A number's text read as sign, significant digits and scale (value ±0.d₁…dₙ × 10^scale), as both double rules read it.</summary>
public class DecimalTextTests
{
    [Theory]
    [InlineData("0", false, "", 0L)]
    [InlineData("-0.0", false, "", 0L)]
    [InlineData("0e5", false, "", 0L)]
    [InlineData("00", false, "", 0L)] // not JSON, still zero
    [InlineData("1E+2", false, "1", 3L)]
    [InlineData("1e-400", false, "1", -399L)]
    [InlineData("-1.5E-05", true, "15", -4L)]
    [InlineData("1.0000000000000000E+016", false, "1", 17L)] // .NET's "E16" format
    [InlineData("000123.4500", false, "12345", 3L)]
    [InlineData("0.00012300", false, "123", -3L)]
    [InlineData("1.50", false, "15", 1L)]
    [InlineData("+7", false, "7", 1L)]
    [InlineData("12345678901234567890.123456789", false, "12345678901234567890123456789", 20L)]
    [InlineData("1e99999999999999999999", false, "1", 1L + (1L << 40))] // the exponent saturates: no double's
    public void Reads_a_number_as_sign_significant_digits_and_scale(string text, bool negative, string digits, long scale)
    {
        var number = Parse(text);
        Assert.Equal((negative, digits, scale), (number.Negative, Digits(number), number.Scale));
        // The same value as ±d₁…dₙ × 10^(scale − n) written plainly (1.50 and 15e-1; 0 and -0.0).
        Assert.True(number.SameValue(Parse(digits.Length == 0 ? "0" : $"{(negative ? "-" : "")}{digits}e{scale - digits.Length}")));
    }

    [Fact]
    public void Reads_a_very_long_number_without_a_digit_limit()
    {
        var number = Parse("-0.000" + "1" + new string('0', 800) + "1" + "000e3");
        Assert.Equal((true, 802, 0L), (number.Negative, number.Digits, number.Scale));
        Assert.Equal("1" + new string('0', 800) + "1", Digits(number));
    }

    [Theory]
    [InlineData("")]
    [InlineData("-")]
    [InlineData(".")]
    [InlineData("e5")]
    [InlineData("1e")]
    [InlineData("1e+")]
    [InlineData("1.2.3")]
    [InlineData("--1")]
    [InlineData("1x")]
    [InlineData("NaN")]
    [InlineData(" 1")]
    public void Refuses_text_that_is_not_a_decimal_number(string text) =>
        Assert.False(DecimalText.TryParse(Encoding.ASCII.GetBytes(text), out _));

    [Fact]
    public void Texts_of_other_numbers_are_not_the_same_value()
    {
        foreach (var (a, b) in new[] { ("-1", "1"), ("0.1", "0.10000000000000001"), ("12", "21"), ("1", "0"), ("1e2", "1e3") })
            Assert.False(Parse(a).SameValue(Parse(b)), $"{a} and {b}");
    }

    private static DecimalText Parse(string text)
    {
        Assert.True(DecimalText.TryParse(Encoding.ASCII.GetBytes(text), out var number), text);
        return number;
    }

    private static string Digits(DecimalText number)
    {
        var digits = new StringBuilder();
        for (var k = 0; k < number.Digits; k++) digits.Append((char)('0' + number.Digit(k)));
        return digits.ToString();
    }
}
