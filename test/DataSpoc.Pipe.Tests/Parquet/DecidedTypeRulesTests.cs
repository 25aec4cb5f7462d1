using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Parquet;

/// <summary>The type rules the README documents as decided (issue 24, class 8), each held by a test.</summary>
public sealed class DecidedTypeRulesTests : IDisposable
{
    private readonly TempLake _lake = new();

    public void Dispose() => _lake.Dispose();

    private static string Schema(string properties) =>
        $$$$"""{"type":"SCHEMA","stream":"things","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},{{{{properties}}}}}}}""";

    private static string Record(int id, string fields) => $$$"""{"type":"RECORD","stream":"things","record":{"id":{{{id}}},{{{fields}}}}}""";

    [Fact]
    public async Task An_integer_or_number_column_is_DOUBLE_and_an_integer_it_would_round_is_a_located_value_error()
    {
        var singer = _lake.WriteSinger("n.singer", Schema("""
            "n":{"type":["integer","number"]}
            """),
            Record(1, "\"n\":9007199254740992"), // 2^53: exact
            Record(2, "\"n\":9007199254740993"), // 2^53 + 1: a double would store 2^53
            Record(3, "\"n\":1.5"),
            Record(4, "\"n\":12345678901234567890.5")); // a fraction: a float value, stored as the nearest double

        var failed = await TempLake.RunAsync(_lake.Pipeline("union-fail", singer));
        Assert.Equal("failure", failed.Log.Status);
        Assert.StartsWith("stream 'things', line 3: field 'n': 9007199254740993 is an integer that a DOUBLE cannot hold exactly", failed.Log.Error);

        var skipped = await TempLake.RunAsync(_lake.Pipeline("union-skip", singer, p => p with { OnInvalidRecord = InvalidRecordPolicy.Skip }));
        Assert.True(skipped.Succeeded, skipped.Log.Error);
        Assert.Equal(1, skipped.Log.Streams["things"].Rejected);
        Assert.Equal([["1", "DOUBLE", "true"], ["3", "DOUBLE", "true"], ["4", "DOUBLE", "true"]],
            _lake.Query("""
                SELECT id, typeof(n), n = CASE id WHEN 1 THEN CAST('9007199254740992' AS DOUBLE) WHEN 3 THEN 1.5
                                                  ELSE CAST('12345678901234567890.5' AS DOUBLE) END
                FROM read_parquet('{lake}/raw/test/things/*/*.parquet') ORDER BY id
                """));
    }

    [Fact]
    public async Task A_number_with_more_digits_than_a_DOUBLE_holds_lands_rounded_and_the_run_log_counts_it_per_column()
    {
        // The digits singer-python writes for an unconstrained PostgreSQL numeric (a Python Decimal), as tap-postgres
        // sends them. Line 4's escaped string makes the canonical scan hand its record to the tokenizer: both count.
        var singer = _lake.WriteSinger("long.singer", Schema("""
            "x":{"type":["null","number"]},"y":{"type":["null","number"]},"s":{"type":["null","string"]}
            """),
            Record(1, "\"x\":9007199254740993,\"y\":1.5"),                              // 2^53 + 1: stored 2^53
            Record(2, "\"x\":1.25,\"y\":1.12345678901234567891"),
            Record(3, "\"x\":12345678901234567890.123456789,\"s\":\"a\\nb\""),    // the tokenizer's record
            Record(4, "\"x\":-0.10000000000000001,\"y\":18446744073709551616"),       // exact: 0.1's 17 digits, 2^64
            Record(5, "\"x\":1e-400"));                                                  // stored 0

        var run = await TempLake.RunAsync(_lake.Pipeline("long-digits", singer));

        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Equal(
            [
                "stream 'things' column 'x': 3 number(s) had more significant digits than a DOUBLE holds and landed rounded " +
                "(the first on line 2: 9007199254740993 stored as 9007199254740992); to land them exact, the stream's SCHEMA must give " +
                "the column a \"multipleOf\" (1e-10 for 10 digits after the point), which lands it as DECIMAL(38, 10): with tap-postgres, " +
                "a numeric(p,s) column, or a view that selects it as numeric(38,s) (or ::text for its digits as text)",
                "stream 'things' column 'y': 1 number(s) had more significant digits than a DOUBLE holds and landed rounded " +
                "(the first on line 3: 1.12345678901234567891 stored as 1.1234567890123457); to land them exact, the stream's SCHEMA must give " +
                "the column a \"multipleOf\" (1e-10 for 10 digits after the point), which lands it as DECIMAL(38, 10): with tap-postgres, " +
                "a numeric(p,s) column, or a view that selects it as numeric(38,s) (or ::text for its digits as text)",
            ],
            run.Log.Notices.Where(n => n.Contains("landed rounded", StringComparison.Ordinal)));
        Assert.Equal(
            [
                ["1", "DOUBLE", "9007199254740992.0", "1.5"],
                ["2", "DOUBLE", "1.25", "1.1234567890123457"],
                ["3", "DOUBLE", "1.2345678901234567e+19", null],
                ["4", "DOUBLE", "-0.1", "1.8446744073709552e+19"],
                ["5", "DOUBLE", "0.0", null],
            ],
            _lake.Query("SELECT id, typeof(x), x::VARCHAR, y::VARCHAR FROM read_parquet('{lake}/raw/test/things/*/*.parquet') ORDER BY id"));

        // A record a filter drops lands nothing and counts nothing (its row is rolled back after the scan took it).
        var filtered = await TempLake.RunAsync(_lake.Pipeline("long-filtered", singer, p => p with
        {
            Source = p.Source with { Name = "filtered" },
            Transforms = new Dictionary<string, System.Text.Json.Nodes.JsonNode?> { ["things"] = System.Text.Json.Nodes.JsonNode.Parse("""{"filter":"id != 2 and id != 1"}""") },
        }));
        Assert.True(filtered.Succeeded, filtered.Log.Error);
        Assert.Equal(["stream 'things' column 'x': 2 number(s) had more significant digits than a DOUBLE holds and landed rounded " +
                      "(the first on line 4: 12345678901234567890.123456789 stored as 1.2345678901234567E+19)"],
            filtered.Log.Notices.Where(n => n.Contains("landed rounded", StringComparison.Ordinal)).Select(n => n[..n.IndexOf(';', StringComparison.Ordinal)]));
    }

    [Fact]
    public async Task Numbers_as_Python_prints_floats_land_without_a_rounding_notice()
    {
        // json.dumps of Python floats: the shortest text of each double, up to 17 digits, exponents included.
        string[] floats = ["0.1", "1e-07", "1.7976931348623157e+308", "0.30000000000000004", "5e-324", "-0.0", "123456789.12345679",
            "2.2250738585072014e-308", "1e+22", "1e+23", "1.4142135623730951", "0.3333333333333333", "6.02214076e+23", "-1234567.0"];
        var singer = _lake.WriteSinger("floats.singer",
            [Schema("""
                "x":{"type":["null","number"]}
                """), .. floats.Select((f, i) => Record(i + 1, $"\"x\":{f}"))]);

        var run = await TempLake.RunAsync(_lake.Pipeline("python-floats", singer));

        Assert.True(run.Succeeded, run.Log.Error);
        Assert.DoesNotContain(run.Log.Notices, n => n.Contains("rounded", StringComparison.Ordinal));
        Assert.Equal(floats.Select(f => new List<string?> { "true" }),
            _lake.Query($$"""
                SELECT x IS NOT DISTINCT FROM CAST(t.f AS DOUBLE)
                FROM read_parquet('{lake}/raw/test/things/*/*.parquet') JOIN (VALUES {{string.Join(", ", floats.Select((f, i) => $"({i + 1}, '{f}')"))}}) t(id, f) USING (id)
                ORDER BY id
                """));
    }

    [Fact]
    public async Task A_data_column_named_dt_lands_and_the_run_log_warns_that_partition_folders_hide_it()
    {
        var singer = _lake.WriteSinger("dt.singer", Schema("""
            "dt":{"type":"string"}
            """), Record(1, "\"dt\":\"mine\""));
        var run = await TempLake.RunAsync(_lake.Pipeline("dt-clash", singer));
        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Contains(run.Log.Notices, n => n.StartsWith("stream 'things': its column 'dt' has the name of the partition folders", StringComparison.Ordinal));
        Assert.Equal([["mine"]], _lake.Query("SELECT dt FROM read_parquet('{lake}/raw/test/things/*/*.parquet', hive_partitioning = false)"));

        var unpartitioned = await TempLake.RunAsync(_lake.Pipeline("dt-none", singer, p => p with { Destination = p.Destination with { PartitionBy = PartitionBySettings.None }, Source = p.Source with { Name = "flat" } }));
        Assert.DoesNotContain(unpartitioned.Log.Notices, n => n.Contains("'dt'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_string_column_keeps_numbers_booleans_and_objects_as_their_JSON_text_while_a_number_column_refuses_a_string()
    {
        var singer = _lake.WriteSinger("s.singer", Schema("""
            "s":{"type":["null","string"]},"x":{"type":["null","number"]}
            """),
            Record(1, "\"s\":12.50,\"x\":1"),
            Record(2, "\"s\":true,\"x\":2"),
            Record(3, "\"s\":{\"a\": [1, \"b\"]},\"x\":3"),
            Record(4, "\"s\":\"text\",\"x\":\"4\""));

        var run = await TempLake.RunAsync(_lake.Pipeline("widest", singer, p => p with { OnInvalidRecord = InvalidRecordPolicy.Skip }));

        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Equal([["1", "12.50"], ["2", "true"], ["3", "{\"a\":[1,\"b\"]}"]],
            _lake.Query("SELECT id, s FROM read_parquet('{lake}/raw/test/things/*/*.parquet') ORDER BY id"));
        Assert.Contains(run.Log.Notices, n => n.Contains("line 5: field 'x': expected a number, got a string", StringComparison.Ordinal));
    }
}
