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
