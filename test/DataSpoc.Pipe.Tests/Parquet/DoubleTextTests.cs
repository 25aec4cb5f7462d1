using System.Globalization;
using System.Text;
using DataSpoc.Pipe.Parquet;

namespace DataSpoc.Pipe.Tests.Parquet;

/// <summary>
/// The two rules for a number landing as a double: the postgres tap's strict one (the double's shortest text is the
/// number) and the Singer notice's lenient one (the double printed to the text's digits is the number).
/// </summary>
public class DoubleTextTests
{
    [Theory]
    [InlineData("0.1", true, true)]
    [InlineData("0.30000000000000004", true, true)] // Python's repr of 0.1 + 0.2
    [InlineData("1.50", true, true)]
    [InlineData("-0.0", true, true)]
    [InlineData("1e28", true, true)]
    [InlineData("1.0000000000000000E+016", true, true)]
    [InlineData("0.10000000000000001", false, true)] // a 17-digit print of 0.1: exact for a tap's double, not 0.1's shortest text
    [InlineData("18446744073709551616", false, true)] // 2^64 in full: read back as 1.8446744073709552E+19
    [InlineData("0.1000000000000000055511151231257827021181583404541015625", false, true)] // 0.1's exact value
    [InlineData("9007199254740993", false, false)] // 2^53 + 1: lands as 2^53
    [InlineData("12345678901234567890.123456789", false, false)]
    [InlineData("1e-400", false, false)] // lands as 0
    public void The_shortest_form_rule_is_stricter_than_the_printed_form_rule(string text, bool shortest, bool printed)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        var stored = double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
        Assert.True(DecimalText.TryParse(bytes, out var number));
        Assert.Equal((shortest, printed), (DoubleText.IsShortestFormOf(number, stored), DoubleText.IsPrintedFormOf(number, stored)));
    }
}
