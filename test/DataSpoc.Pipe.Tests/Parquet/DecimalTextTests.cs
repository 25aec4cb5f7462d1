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
    [InlineData("+7", false, "7", 1L)]
    [InlineData("12345678901234567890.123456789", false, "12345678901234567890123456789", 20L)]
    [InlineData("1e99999999999999999999", false, "1", 1L + (1L << 40))] // the exponent saturates: no double's
    public void Reads_a_number_as_sign_significant_digits_and_scale(string text, bool negative, string digits, long scale)
    {
        Assert.True(DecimalText.TryParse(Encoding.ASCII.GetBytes(text), out var number));
        Assert.Equal((negative, digits, scale), (number.Negative, Digits(number), number.Scale));
    }

    [Fact]
    public void Reads_a_very_long_number_without_a_digit_limit()
    {
        var text = Encoding.ASCII.GetBytes("-0.000" + "1" + new string('0', 800) + "1" + "000e3");
        Assert.True(DecimalText.TryParse(text, out var number));
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

    [Theory]
    [InlineData("1.50", "15e-1", true)]
    [InlineData("0", "-0.0", true)]
    [InlineData("0e5", "0", true)]
    [InlineData("1E+016", "10000000000000000", true)]
    [InlineData("-1", "1", false)]
    [InlineData("0.1", "0.10000000000000001", false)]
    [InlineData("12", "21", false)]
    public void Two_texts_are_the_same_value_when_sign_digits_and_scale_agree(string a, string b, bool same)
    {
        Assert.True(DecimalText.TryParse(Encoding.ASCII.GetBytes(a), out var x));
        Assert.True(DecimalText.TryParse(Encoding.ASCII.GetBytes(b), out var y));
        Assert.Equal(same, x.SameValue(y));
    }

    private static string Digits(DecimalText number)
    {
        var digits = new StringBuilder();
        for (var k = 0; k < number.Digits; k++) digits.Append((char)('0' + number.Digit(k)));
        return digits.ToString();
    }
}
