using System.Text;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Parquet;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Parquet;

/// <summary>
/// Values at the edges of their types: decimals of up to 38 digits land exactly (read back by DuckDB); a decimal that
/// does not fit, a lone surrogate and a partition timestamp outside years 1..9999 are located value errors that obey
/// <c>on_invalid_record</c> instead of crashing the run.
/// </summary>
public sealed class ValueLimitTests : IDisposable
{
    private readonly TempLake _lake = new();

    public void Dispose() => _lake.Dispose();

    private const string DecimalSchema = """{"type":"SCHEMA","stream":"money","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"amount":{"type":["null","number"],"multipleOf":0.01}}}}""";

    private static string Money(int id, string amount) => $$$"""{"type":"RECORD","stream":"money","record":{"id":{{{id}}},"amount":{{{amount}}}}}""";

    public static TheoryData<string, string> ExactDecimals => new()
    {
        { "123456789012345678901234567890123456.78", "123456789012345678901234567890123456.78" }, // 38 digits
        { "-999999999999999999999999999999999999.99", "-999999999999999999999999999999999999.99" }, // the smallest DECIMAL(38,2)
        { "12345678901234567890123456.78", "12345678901234567890123456.78" }, // 28 digits: crashed System.Decimal's scaling
        { "1234567890123456789012345.5", "1234567890123456789012345.50" },
        { "0.07", "0.07" },
        { "-0.5", "-0.50" },
        { "1.5000000000000000000000000000000000000000000", "1.50" }, // trailing zeros are not precision
        { "15e-1", "1.50" },
        { "1.23E+35", "123000000000000000000000000000000000.00" },
        { "0", "0.00" },
        { "-0.0", "0.00" },
    };

    [Theory]
    [MemberData(nameof(ExactDecimals))]
    public async Task Decimals_of_up_to_38_digits_land_exactly(string json, string expected)
    {
        var singer = _lake.WriteSinger("d.singer", DecimalSchema, Money(1, json));
        var run = await TempLake.RunAsync(_lake.Pipeline("decimals", singer));
        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Equal([["DECIMAL(38,2)", expected]],
            _lake.Query("SELECT typeof(amount), CAST(amount AS VARCHAR) FROM read_parquet('{lake}/raw/test/money/*/*.parquet')"));
    }

    [Theory]
    [InlineData("1234567890123456789012345678901234567.1", "does not fit a decimal(38, 2) (at most 36 digits before the point)")]
    [InlineData("1e36", "does not fit a decimal(38, 2)")]
    [InlineData("1e999999999999", "does not fit a decimal(38, 2)")]
    [InlineData("0.001", "has more than 2 digits after the point (multipleOf 0.01)")]
    [InlineData("1e-999999999999", "has more than 2 digits after the point")]
    public async Task A_decimal_that_does_not_fit_is_a_located_value_error_that_skip_and_quarantine_obey(string json, string why)
    {
        var singer = _lake.WriteSinger("d.singer", DecimalSchema, Money(1, "1.25"), Money(2, json), Money(3, "2.50"));

        var failed = await TempLake.RunAsync(_lake.Pipeline("dec-fail", singer));
        Assert.Equal("failure", failed.Log.Status);
        Assert.StartsWith($"stream 'money', line 3: field 'amount': {json} {why}", failed.Log.Error);

        foreach (var policy in new[] { InvalidRecordPolicy.Skip, InvalidRecordPolicy.Quarantine })
        {
            var name = "dec-" + policy.ToString().ToLowerInvariant();
            var run = await TempLake.RunAsync(_lake.Pipeline(name, singer, p => p with { OnInvalidRecord = policy, Source = p.Source with { Name = name } }), full: true);
            Assert.True(run.Succeeded, run.Log.Error);
            Assert.Equal(1, run.Log.Streams["money"].Rejected);
            Assert.Equal([["1", "1.25"], ["3", "2.50"]], _lake.Query($"SELECT id, CAST(amount AS VARCHAR) FROM read_parquet('{{lake}}/raw/{name}/money/*/*.parquet') ORDER BY id"));
            if (policy == InvalidRecordPolicy.Quarantine)
                Assert.Contains(json, File.ReadAllText(Path.Combine(_lake.Root, LakePaths.QuarantineKey(name, run.Log.RunId, "money"))));
        }
    }

    private static string Scaled(string multipleOf, string extra = "") =>
        """{"type":"SCHEMA","stream":"money","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"amount":{"type":["null","number"],"multipleOf":"""
        + multipleOf + extra + "}}}}";

    /// <summary>Scales 19 to 38 (a <c>multipleOf</c> finer than 1e-18) are DECIMAL(38, s) too: they landed as DOUBLE, digits lost.</summary>
    public static TheoryData<string, string, string, string> FineDecimals => new()
    {
        { "1e-20", "0.12345678901234567890", "DECIMAL(38,20)", "0.12345678901234567890" },
        { "0.00000000000000000001", "-123456789012345678.12345678901234567891", "DECIMAL(38,20)", "-123456789012345678.12345678901234567891" }, // 38 digits
        { "1E-20", "999999999999999999.99999999999999999999", "DECIMAL(38,20)", "999999999999999999.99999999999999999999" }, // the largest
        { "1e-20", "-0.0", "DECIMAL(38,20)", "0.00000000000000000000" },
        { "1e-20", "1e-20", "DECIMAL(38,20)", "0.00000000000000000001" },
        { "1e-19", "1234567890.1234567890123456789", "DECIMAL(38,19)", "1234567890.1234567890123456789" },
        // DuckDB prints a DECIMAL(38,38) without the leading zero.
        { "1e-38", "0.00000000000000000000000000000000000001", "DECIMAL(38,38)", ".00000000000000000000000000000000000001" },
        { "1e-38", "-0.99999999999999999999999999999999999999", "DECIMAL(38,38)", "-.99999999999999999999999999999999999999" },
        { "1e-38", "0", "DECIMAL(38,38)", ".00000000000000000000000000000000000000" },
        { "1e-30", "0.000000000000000000000000000001", "DECIMAL(38,30)", "0.000000000000000000000000000001" },
    };

    [Theory]
    [MemberData(nameof(FineDecimals))]
    public async Task Decimals_of_scale_19_to_38_land_exactly(string multipleOf, string json, string type, string expected)
    {
        var singer = _lake.WriteSinger("d.singer", Scaled(multipleOf), Money(1, json));
        var run = await TempLake.RunAsync(_lake.Pipeline("decimals", singer));
        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Equal([[type, expected]],
            _lake.Query("SELECT typeof(amount), CAST(amount AS VARCHAR) FROM read_parquet('{lake}/raw/test/money/*/*.parquet')"));
    }

    [Theory]
    [InlineData("1e-20", "1000000000000000000", "does not fit a decimal(38, 20) (at most 18 digits before the point)")]
    [InlineData("1e-20", "0.123456789012345678901", "has more than 20 digits after the point (multipleOf 0.00000000000000000001)")]
    [InlineData("1e-38", "1", "does not fit a decimal(38, 38) (at most 0 digits before the point)")]
    [InlineData("1e-38", "1e-39", "has more than 38 digits after the point (multipleOf 0.00000000000000000000000000000000000001)")]
    public async Task A_decimal_of_a_fine_scale_that_does_not_fit_is_a_located_value_error(string multipleOf, string json, string why)
    {
        var singer = _lake.WriteSinger("d.singer", Scaled(multipleOf), Money(1, "0"), Money(2, json));
        var failed = await TempLake.RunAsync(_lake.Pipeline("dec-fail", singer));
        Assert.Equal("failure", failed.Log.Status);
        Assert.StartsWith($"stream 'money', line 3: field 'amount': {json} {why}", failed.Log.Error);
    }

    /// <summary>
    /// pipelinewise-tap-postgres declares an unconstrained numeric as <c>multipleOf: 1e-38</c> with <c>maximum: 1e62</c>:
    /// a DECIMAL(38,38) would refuse every value from 1 up, so such a column stays a double, as it always was.
    /// </summary>
    [Fact]
    public async Task A_fine_scale_whose_declared_maximum_no_decimal_reaches_stays_a_double()
    {
        var singer = _lake.WriteSinger("d.singer",
            Scaled("1e-38", ""","maximum":100000000000000000000000000000000000000000000000000000000000000,"exclusiveMaximum":true,"minimum":-100000000000000000000000000000000000000000000000000000000000000,"exclusiveMinimum":true"""),
            Money(1, "12.5"));
        var run = await TempLake.RunAsync(_lake.Pipeline("decimals", singer));
        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Equal([["DOUBLE", "12.5"]], _lake.Query("SELECT typeof(amount), CAST(amount AS VARCHAR) FROM read_parquet('{lake}/raw/test/money/*/*.parquet')"));
    }

    [Fact]
    public void Both_scanners_see_the_same_decimal_digits_as_the_parser() // the canonical scan hands decimals to the tokenizer: one parser
    {
        var random = new Random(11);
        for (var round = 0; round < 20_000; round++)
        {
            var digits = random.Next(1, 37);
            var text = new StringBuilder(random.Next(2) == 0 ? "-" : "");
            text.Append((char)('1' + random.Next(9)));
            for (var d = 1; d < digits; d++) text.Append((char)('0' + random.Next(10)));
            var fraction = random.Next(0, 3);
            if (fraction > 0) { text.Append('.'); for (var d = 0; d < fraction; d++) text.Append((char)('0' + random.Next(10))); }
            var json = text.ToString();
            Assert.Equal(DecimalFit.Fits, DecimalWriter.TryParseUnscaled(Encoding.ASCII.GetBytes(json), 2, out var unscaled));
            var expected = System.Numerics.BigInteger.Parse(json.Replace(".", "", StringComparison.Ordinal), System.Globalization.CultureInfo.InvariantCulture)
                * System.Numerics.BigInteger.Pow(10, 2 - fraction);
            Assert.True(expected == (System.Numerics.BigInteger)unscaled, $"{json}: {unscaled} != {expected}");
        }
    }

    [Theory]
    [InlineData(InvalidRecordPolicy.Fail)]
    [InlineData(InvalidRecordPolicy.Skip)]
    [InlineData(InvalidRecordPolicy.Quarantine)]
    public async Task A_lone_surrogate_is_a_located_value_error_that_obeys_the_policy(InvalidRecordPolicy policy)
    {
        var singer = _lake.WriteSinger("s.singer",
            """{"type":"SCHEMA","stream":"names","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"name":{"type":"string"}}}}""",
            """{"type":"RECORD","stream":"names","record":{"id":1,"name":"ok \u00e9"}}""",
            """{"type":"RECORD","stream":"names","record":{"id":2,"name":"bad \udc00 half"}}""",
            """{"type":"RECORD","stream":"names","record":{"id":3,"name":"pair \ud83d\ude00"}}""");
        var name = "surrogate-" + policy.ToString().ToLowerInvariant();
        var run = await TempLake.RunAsync(_lake.Pipeline(name, singer, p => p with { OnInvalidRecord = policy, Source = p.Source with { Name = name } }));
        if (policy == InvalidRecordPolicy.Fail)
        {
            Assert.Equal("failure", run.Log.Status);
            Assert.StartsWith("stream 'names', line 3: field 'name': the string \"bad \\udc00 half\" holds an escaped lone surrogate", run.Log.Error);
            return;
        }
        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Equal(1, run.Log.Streams["names"].Rejected);
        Assert.Equal([["1", "ok é"], ["3", "pair 😀"]], _lake.Query($"SELECT id, name FROM read_parquet('{{lake}}/raw/{name}/names/*/*.parquet') ORDER BY id"));
    }

    [Theory]
    [InlineData("0000-06-01T00:00:00Z")]
    [InlineData("0001-01-01T00:30:00+01:00")]
    [InlineData("9999-12-31T23:00:00-05:00")]
    [InlineData("10000-01-01T00:00:00Z")]
    public async Task A_partition_timestamp_outside_years_1_to_9999_UTC_is_a_located_value_error_that_obeys_the_policy(string at)
    {
        var singer = _lake.WriteSinger("t.singer",
            """{"type":"SCHEMA","stream":"events","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"at":{"type":"string","format":"date-time"}}}}""",
            """{"type":"RECORD","stream":"events","record":{"id":1,"at":"2025-01-20T10:00:00Z"}}""",
            $$$"""{"type":"RECORD","stream":"events","record":{"id":2,"at":"{{{at}}}"}}""",
            """{"type":"RECORD","stream":"events","record":{"id":3,"at":"9999-12-31T23:59:59Z"}}""");
        PipelineDefinition Partitioned(PipelineDefinition p) => p with { Destination = p.Destination with { PartitionBy = "at" } };

        var failed = await TempLake.RunAsync(_lake.Pipeline("years-fail", singer, Partitioned));
        Assert.Equal("failure", failed.Log.Status);
        Assert.StartsWith($"stream 'events', line 3: field 'at': '{at}' is not an ISO-8601 date-time within years 1..9999 UTC", failed.Log.Error);

        var skipped = await TempLake.RunAsync(_lake.Pipeline("years-skip", singer, p => Partitioned(p) with { OnInvalidRecord = InvalidRecordPolicy.Skip }));
        Assert.True(skipped.Succeeded, skipped.Log.Error);
        Assert.Equal(1, skipped.Log.Streams["events"].Rejected);
        Assert.Equal([["1", "dt=2025-01-20"], ["3", "dt=9999-12-31"]],
            _lake.Query("SELECT id, regexp_extract(filename, 'dt=[0-9-]+') FROM read_parquet('{lake}/raw/test/events/*/*.parquet', filename = true) ORDER BY id"));
    }

    [Theory]
    [InlineData("2024-06-15T10:30:60Z", "12:00:00", "field 'at': '2024-06-15T10:30:60Z' is not an ISO-8601 date-time within years 1..9999 UTC")]
    [InlineData("2024-12-31T23:59:60+01:00", "12:00:00", "field 'at': '2024-12-31T23:59:60+01:00' is not an ISO-8601 date-time within years 1..9999 UTC")]
    [InlineData("2024-06-15T10:30:00Z", "10:30:60", "field 'tm': '10:30:60' is not an ISO-8601 time")]
    [InlineData("2024-06-15T10:30:00Z", "24:00:00", "field 'tm': '24:00:00' is not an ISO-8601 time")]
    public async Task Second_60_that_is_no_leap_second_and_time_24_00_are_located_value_errors(string at, string tm, string error)
    {
        // Moved back a second (10:30:60 landed as 10:30:59) or landed past the day's end (24:00:00) before, without a word.
        var bad = _lake.WriteSinger("clock-bad.singer", ClockSchema, $$$"""{"type":"RECORD","stream":"clock","record":{"id":2,"at":"{{{at}}}","tm":"{{{tm}}}"}}""");
        var failed = await TempLake.RunAsync(_lake.Pipeline("clock-bad", bad));
        Assert.Equal("failure", failed.Log.Status);
        Assert.StartsWith("stream 'clock', line 2: " + error, failed.Log.Error);
    }

    private const string ClockSchema = """{"type":"SCHEMA","stream":"clock","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"at":{"type":"string","format":"date-time"},"tm":{"type":"string","format":"time"}}}}""";

    [Fact]
    public async Task A_leap_second_23_59_60_UTC_lands_as_23_59_59()
    {
        var leap = _lake.WriteSinger("clock-leap.singer", ClockSchema, """{"type":"RECORD","stream":"clock","record":{"id":1,"at":"2017-01-01T01:59:60.5+02:00","tm":"23:59:60"}}""");
        var landed = await TempLake.RunAsync(_lake.Pipeline("clock-leap", leap, p => p with { Source = p.Source with { Name = "leap" } }));
        Assert.True(landed.Succeeded, landed.Log.Error);
        Assert.Equal([["2016-12-31 23:59:59.5+00", "23:59:59"]],
            _lake.Query("SELECT \"at\"::varchar, tm::varchar FROM read_parquet('{lake}/raw/leap/clock/*/*.parquet')"));
    }
}
