using System.Buffers.Binary;
using System.Globalization;
using DataSpoc.Pipe.Sources.BuiltIn;
using DataSpoc.Pipe.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace DataSpoc.Pipe.Tests.Sources.BuiltIn;

/// <summary>
/// <see cref="PostgresBinary.Numeric"/> against decimals encoded here in numeric's send format (base-10000 digits,
/// weight, sign, display scale), on both sides of its 64-bit path (up to 15 digits before the scale's end) and its
/// 128-bit one: the same digits and the same scale come back.
/// </summary>
public sealed class PostgresNumericTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("0")]
    [InlineData("0.00")]
    [InlineData("0.05")]
    [InlineData("1031.94")]
    [InlineData("-1031.94")]
    [InlineData("1234.50")]
    [InlineData("0.0000000001")]
    [InlineData("999999999999999")]
    [InlineData("9999999999999.99")]
    [InlineData("99999999999999.99")]
    [InlineData("999999999999999.9")]
    [InlineData("1000000000000000")]
    [InlineData("10000000000000000")]
    [InlineData("18446744073709551615")]
    [InlineData("79228162514264337593543950335")]
    [InlineData("-7922816251426433759354395.0335")]
    [InlineData("0.0000000000000000000000000001")]
    [InlineData("12345678.000000000000")]
    public void A_numeric_reads_as_the_decimal_with_its_digits_and_scale(string text)
    {
        var expected = decimal.Parse(text, CultureInfo.InvariantCulture);
        var read = PostgresBinary.Numeric(Encode(expected));
        Assert.Equal(expected, read);
        Assert.Equal(expected.Scale, read.Scale);
        Assert.Equal(expected.ToString(CultureInfo.InvariantCulture), read.ToString(CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Random_numerics_of_every_size_read_back_exactly()
    {
        var seed = FuzzSeed.FromEnvironment();
        output.WriteLine($"seed {seed} (replay with DATASPOC_FUZZ_SEED={seed})");
        var random = new Random(seed);
        for (var i = 0; i < 20_000; i++)
        {
            var digits = random.Next(1, 29);
            var scale = random.Next(0, Math.Min(digits, 28) + 1);
            var text = string.Concat(Enumerable.Range(0, digits).Select(_ => (char)('0' + random.Next(10))));
            if (scale > 0) text = text[..^scale] + "." + text[^scale..];
            if (text.StartsWith('.')) text = "0" + text;
            if (random.Next(2) == 0) text = "-" + text;
            var expected = decimal.Parse(text, CultureInfo.InvariantCulture);
            var read = PostgresBinary.Numeric(Encode(expected));
            Assert.True(expected == read && expected.Scale == read.Scale, $"seed {seed}: {text} read as {read}");
        }
    }

    [Fact]
    public void A_digit_past_the_display_scale_is_refused()
    {
        // 1.2345 with a display scale of 2: a stored numeric never has it; a decimal cannot keep it without rounding.
        var bytes = Numeric(weight: 0, negative: false, scale: 2, 1, 2345);
        Assert.Throws<OverflowException>(() => PostgresBinary.Numeric(bytes));
    }

    /// <summary>The decimal in numeric's binary send format, as the server writes it (no leading or trailing zero digits).</summary>
    private static byte[] Encode(decimal value)
    {
        var text = Math.Abs(value).ToString(CultureInfo.InvariantCulture);
        var point = text.IndexOf('.');
        var integer = (point < 0 ? text : text[..point]).TrimStart('0');
        var fraction = point < 0 ? "" : text[(point + 1)..];
        integer = integer.PadLeft((integer.Length + 3) / 4 * 4, '0');
        fraction = fraction.PadRight((fraction.Length + 3) / 4 * 4, '0');
        var groups = (integer + fraction).Chunk(4).Select(g => short.Parse(g, CultureInfo.InvariantCulture)).ToList();
        var weight = integer.Length / 4 - 1;
        while (groups.Count > 0 && groups[0] == 0)
        {
            groups.RemoveAt(0);
            weight--;
        }
        while (groups.Count > 0 && groups[^1] == 0) groups.RemoveAt(groups.Count - 1);
        if (groups.Count == 0) weight = 0;
        return Numeric(weight, value < 0, value.Scale, [.. groups]);
    }

    private static byte[] Numeric(int weight, bool negative, int scale, params short[] digits)
    {
        var bytes = new byte[8 + 2 * digits.Length];
        BinaryPrimitives.WriteInt16BigEndian(bytes, (short)digits.Length);
        BinaryPrimitives.WriteInt16BigEndian(bytes.AsSpan(2), (short)weight);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(4), negative ? (ushort)0x4000 : (ushort)0);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(6), (ushort)scale);
        for (var i = 0; i < digits.Length; i++) BinaryPrimitives.WriteInt16BigEndian(bytes.AsSpan(8 + 2 * i), digits[i]);
        return bytes;
    }
}
