using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Parquet;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Parquet;

/// <summary>
/// An integer column takes a number written with a fraction or an exponent only when its value is whole and fits 64
/// bits, exactly (found by the mutation fuzzer: <c>-9223372036854775809</c> landed as <c>-9223372036854775808</c>).
/// </summary>
public class WholeNumberTests
{
    [Theory]
    [InlineData("1.0", 1L)]
    [InlineData("1e2", 100L)]
    [InlineData("-5.00E+1", -50L)]
    [InlineData("0.0", 0L)]
    [InlineData("-0.0", 0L)]
    [InlineData("1234.5e1", 12345L)]
    [InlineData("12300e-2", 123L)]
    [InlineData("9007199254740993.0", 9007199254740993L)]
    [InlineData("9223372036854775807.000", long.MaxValue)]
    [InlineData("-9223372036854775808.0", long.MinValue)]
    [InlineData("-92233720368547758.08e2", long.MinValue)]
    [InlineData("0.00000000000000000000000000000000000000000000000000000000000000000000000000000000000001e86", 1L)]
    public void A_whole_number_in_range_is_read_exactly(string text, long expected)
    {
        Assert.True(WholeNumber.TryParseInt64(System.Text.Encoding.ASCII.GetBytes(text), out var value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("-9223372036854775809")]
    [InlineData("9223372036854775808")]
    [InlineData("9223372036854775808.0")]
    [InlineData("18446744073709551616")]
    [InlineData("1e19")]
    [InlineData("1.5")]
    [InlineData("9007199254740992.5")]
    [InlineData("0.99999999999999999999")]
    [InlineData("1e-1")]
    [InlineData("1e100000")]
    [InlineData("1e")]
    [InlineData("-")]
    public void A_number_that_is_not_whole_or_out_of_range_is_refused(string text) =>
        Assert.False(WholeNumber.TryParseInt64(System.Text.Encoding.ASCII.GetBytes(text), out _));

    [Fact]
    public async Task Through_a_run_whole_numbers_land_exactly_and_the_others_are_rejected_naming_line_and_field()
    {
        using var lake = new TempLake();
        string[] values = ["1.0", "1e2", "9007199254740993.0", "-9223372036854775809", "9223372036854775808.0", "1.5", "1e19"];
        var lines = new List<string> { """{"type":"SCHEMA","stream":"items","schema":{"type":"object","properties":{"line":{"type":"integer"},"id":{"type":["null","integer"]}}},"key_properties":["line"]}""" };
        for (var i = 0; i < values.Length; i++) lines.Add($$$"""{"type":"RECORD","stream":"items","record":{"line":{{{i + 2}}},"id":{{{values[i]}}}}}""");
        var file = lake.WriteSinger("whole.singer", [.. lines]);

        var result = await TempLake.RunAsync(lake.Pipeline("whole", file, p => p with { OnInvalidRecord = InvalidRecordPolicy.Skip }));

        Assert.True(result.Succeeded, result.Log.Error);
        Assert.Equal(4, result.Log.Streams["items"].Rejected);
        Assert.Equal([["2", "1"], ["3", "100"], ["4", "9007199254740993"]],
            lake.Query("select line, id from read_parquet('{lake}/raw/test/items/*/*.parquet') order by line"));
        var failed = await TempLake.RunAsync(lake.Pipeline("whole-fail", file));
        Assert.False(failed.Succeeded);
        Assert.Contains("line 5", failed.Log.Error);
        Assert.Contains("'id'", failed.Log.Error);
    }
}
