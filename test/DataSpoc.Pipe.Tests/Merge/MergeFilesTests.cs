using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Merge;

/// <summary>What a merge does to a plain Parquet table's files, and the errors that name what is wrong.</summary>
public sealed class MergeFilesTests : IDisposable
{
    private readonly TempLake _lake = new();

    public void Dispose() => _lake.Dispose();

    private const string Schema = """{"type":"SCHEMA","stream":"orders","schema":{"type":"object","properties":{"id":{"type":"integer"},"status":{"type":["null","string"]},"_sdc_deleted_at":{"type":["null","string"],"format":"date-time"}}},"key_properties":["id"]}""";

    private static string Record(int id, string status, bool deleted = false) =>
        $$$"""{"type":"RECORD","stream":"orders","record":{"id":{{{id}}},"status":"{{{status}}}","_sdc_deleted_at":{{{(deleted ? "\"2026-01-01T00:00:00Z\"" : "null")}}}}}""";

    private PipelineDefinition Pipeline(string file, MergeSettings? merge = null) => _lake.Pipeline("orders-merge", file, p => p with
    {
        Destination = p.Destination with { PartitionBy = PartitionBySettings.None, MaxFileRows = 100, WriteMode = WriteMode.Merge, Merge = merge ?? new MergeSettings() },
    });

    private List<List<string?>> Orders() => _lake.Query("SELECT id, status FROM read_parquet('{lake}/raw/test/orders/*.parquet') ORDER BY id");

    [Fact]
    public async Task Only_the_file_whose_key_range_holds_a_changed_key_is_rewritten()
    {
        var first = _lake.WriteSinger("first.jsonl", [Schema, .. Enumerable.Range(1, 1000).Select(i => Record(i, "new"))]);
        Assert.True((await TempLake.RunAsync(Pipeline(first))).Succeeded);
        var before = _lake.ParquetKeys();
        Assert.Equal(10, before.Count);

        var second = _lake.WriteSinger("second.jsonl", Schema, Record(555, "paid"), Record(556, "paid"), Record(556, "shipped"), Record(2000, "new"));
        var result = await TempLake.RunAsync(Pipeline(second));
        Assert.True(result.Succeeded, result.Log.Error);

        var after = _lake.ParquetKeys();
        // One file (ids 501-600) gave way to its rewrite; the other nine are untouched.
        Assert.Equal(9, before.Intersect(after).Count());
        Assert.Single(before.Except(after));
        Assert.Equal(1001, _lake.Manifest().Tables["test/orders"].RowCount);
        Assert.Equal(1001L, long.Parse(_lake.Query("SELECT count(*) FROM read_parquet('{lake}/raw/test/orders/*.parquet')")[0][0]!));
        var changed = _lake.Query("SELECT id, status FROM read_parquet('{lake}/raw/test/orders/*.parquet') WHERE status <> 'new' OR id = 2000 ORDER BY id");
        Assert.Equal([["555", "paid"], ["556", "shipped"], ["2000", "new"]], changed);
        Assert.Contains(result.Log.Notices, n => n.Contains("2 row(s) replaced", StringComparison.Ordinal) && n.Contains("1 of 10 file(s) rewritten", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_run_log_counts_the_files_a_merge_rewrote_with_its_new_ones()
    {
        var first = _lake.WriteSinger("first.jsonl", [Schema, .. Enumerable.Range(1, 300).Select(i => Record(i, "new"))]);
        Assert.True((await TempLake.RunAsync(Pipeline(first))).Succeeded);
        var before = _lake.ParquetKeys();

        var second = _lake.WriteSinger("second.jsonl", Schema, Record(150, "paid"), Record(2000, "new"));
        var result = await TempLake.RunAsync(Pipeline(second));
        Assert.True(result.Succeeded, result.Log.Error);

        // The rewrite of the file holding key 150 and the file of the new rows: every data file the run landed.
        var landed = _lake.ParquetKeys().Except(before).ToList();
        Assert.True(landed.Count >= 2, string.Join(", ", landed));
        Assert.Equal(landed.Count, result.Log.Streams["orders"].Files);
        Assert.Equal(landed.Sum(k => new FileInfo(Path.Combine(_lake.Root, k)).Length), result.Log.Streams["orders"].Bytes);
    }

    [Fact]
    public async Task A_deleted_key_leaves_the_table_and_the_greatest_order_by_wins_within_a_run()
    {
        var first = _lake.WriteSinger("first.jsonl", Schema, Record(1, "a"), Record(2, "a"), Record(3, "a"));
        Assert.True((await TempLake.RunAsync(Pipeline(first, new MergeSettings { OrderBy = "status" }))).Succeeded);
        var second = _lake.WriteSinger("second.jsonl", Schema, Record(2, "x", deleted: true), Record(3, "c"), Record(3, "b"));
        Assert.True((await TempLake.RunAsync(Pipeline(second, new MergeSettings { OrderBy = "status" }))).Succeeded);

        Assert.Equal([["1", "a"], ["3", "c"]], Orders());
        Assert.Equal(2, _lake.Manifest().Tables["test/orders"].RowCount);
    }

    [Fact]
    public async Task A_stream_without_key_properties_fails_the_merge_naming_it_and_commits_nothing()
    {
        var file = _lake.WriteSinger("nokey.jsonl",
            """{"type":"SCHEMA","stream":"events","schema":{"type":"object","properties":{"id":{"type":"integer"}}},"key_properties":[]}""",
            """{"type":"RECORD","stream":"events","record":{"id":1}}""");
        var result = await TempLake.RunAsync(Pipeline(file));

        Assert.False(result.Succeeded);
        Assert.Contains("stream 'events' has no key_properties", result.Log.Error, StringComparison.Ordinal);
        Assert.Empty(_lake.ParquetKeys());
    }

    [Fact]
    public async Task Records_without_their_key_fail_the_merge_naming_the_key_and_never_collapse_into_one_row()
    {
        const string nullableKey = """{"type":"SCHEMA","stream":"orders","schema":{"type":"object","properties":{"id":{"type":["null","integer"]},"status":{"type":["null","string"]},"_sdc_deleted_at":{"type":["null","string"],"format":"date-time"}}},"key_properties":["id"]}""";
        var first = _lake.WriteSinger("first.jsonl", nullableKey, Record(1, "a"), Record(2, "a"));
        Assert.True((await TempLake.RunAsync(Pipeline(first))).Succeeded);
        var before = _lake.ParquetKeys();

        // Before the check, both key-less rows merged as one "null" key: the first vanished without a word.
        var second = _lake.WriteSinger("second.jsonl", nullableKey, Record(2, "b"),
            """{"type":"RECORD","stream":"orders","record":{"id":null,"status":"lost"}}""",
            """{"type":"RECORD","stream":"orders","record":{"status":"kept?"}}""");
        var result = await TempLake.RunAsync(Pipeline(second));

        Assert.False(result.Succeeded);
        Assert.Contains("stream 'orders': 2 of this run's 3 record(s) have no value for key property 'id'", result.Log.Error, StringComparison.Ordinal);
        Assert.Contains("record 2 of the stream", result.Log.Error, StringComparison.Ordinal);
        Assert.Contains("filter: \"id != null\"", result.Log.Error, StringComparison.Ordinal);
        Assert.Equal(before, _lake.ParquetKeys());
        Assert.Equal([["1", "a"], ["2", "a"]], Orders());

        // The hint works: the filter drops them and the keyed rows merge.
        var filtered = _lake.Pipeline("orders-merge", second, p => p with
        {
            Destination = p.Destination with { PartitionBy = PartitionBySettings.None, WriteMode = WriteMode.Merge, Merge = new MergeSettings() },
            Transforms = new Dictionary<string, System.Text.Json.Nodes.JsonNode?> { ["orders"] = new System.Text.Json.Nodes.JsonObject { ["filter"] = "id != null" } },
        });
        Assert.True((await TempLake.RunAsync(filtered)).Succeeded);
        Assert.Equal([["1", "a"], ["2", "b"]], Orders());
    }
}
