using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Merge;

/// <summary>
/// Which rows a merge key matches: equal numbers are one key whatever their sign of zero, and a table row with a
/// null key column (which no incoming key can match) refuses the merge instead of staying beside its entity's merged
/// row. Each run is a real tap script into a file:// bucket.
/// </summary>
public sealed class MergeKeyValueTests : IDisposable
{
    private readonly TempLake _lake = new();

    public void Dispose() => _lake.Dispose();

    private int _inputs;

    private PipelineDefinition Pipeline(string[] lines, TableFormats formats = TableFormats.Parquet) =>
        _lake.Pipeline("k-merge", _lake.WriteSinger($"run{++_inputs}.jsonl", lines), p => p with
        {
            Destination = p.Destination with { PartitionBy = PartitionBySettings.None, WriteMode = WriteMode.Merge, TableFormat = formats },
        });

    private async Task Run(string[] lines, TableFormats formats = TableFormats.Parquet, bool full = false)
    {
        var result = await TempLake.RunAsync(Pipeline(lines, formats), full);
        Assert.True(result.Succeeded, result.Log.Error);
    }

    private List<List<string?>> Rows(string columns, string order) =>
        _lake.Query($"SELECT {columns} FROM read_parquet('{{lake}}/raw/test/k/*.parquet', union_by_name=true) ORDER BY {order}");

    private static string Schema(string properties, string keys = "\"id\"") =>
        $$$"""{"type":"SCHEMA","stream":"k","schema":{"type":"object","properties":{{{properties}}}},"key_properties":[{{{keys}}}]}""";

    private static string Record(string record) => $$$"""{"type":"RECORD","stream":"k","record":{{{record}}}}""";

    [Fact]
    public async Task A_double_key_minus_zero_and_zero_are_one_key_across_runs()
    {
        var schema = Schema("""{"id":{"type":"number"},"v":{"type":["null","string"]}}""");
        await Run([schema, Record("""{"id":-0.0,"v":"a"}"""), Record("""{"id":1.5,"v":"b"}""")]);
        Assert.Equal([["-0.0", "a"], ["1.5", "b"]], Rows("id::VARCHAR, v", "v"));

        // DuckDB: -0.0 = 0.0, so 0 replaces the row keyed -0.0, and -0.0 the row keyed 0.
        await Run([schema, Record("""{"id":0,"v":"a2"}""")]);
        Assert.Equal([["0.0", "a2"], ["1.5", "b"]], Rows("id::VARCHAR, v", "v"));
        await Run([schema, Record("""{"id":-0.0,"v":"a3"}"""), Record("""{"id":0.0,"v":"a4"}""")]);
        Assert.Equal([["0.0", "a4"], ["1.5", "b"]], Rows("id::VARCHAR, v", "v"));
        Assert.Equal(2, _lake.Manifest().Tables["test/k"].RowCount);
    }

    [Fact]
    public async Task Decimal_keys_equal_as_numbers_are_one_key_when_the_scale_changes()
    {
        var cents = Schema("""{"id":{"type":"number","multipleOf":0.01},"v":{"type":["null","string"]},"_sdc_deleted_at":{"type":["null","string"],"format":"date-time"}}""");
        var mills = cents.Replace("0.01", "0.001", StringComparison.Ordinal);
        await Run([cents, Record("""{"id":1.5,"v":"a"}"""), Record("""{"id":2,"v":"b"}"""), Record("""{"id":3.25,"v":"c"}""")]);

        // DuckDB: 1.50::DECIMAL(38,2) = 1.500::DECIMAL(38,3), so the new scale's keys replace (and delete) the stored rows.
        await Run([mills, Record("""{"id":1.5,"v":"a2"}"""), Record("""{"id":2.0,"v":"b2"}"""),
            Record("""{"id":3.25,"v":null,"_sdc_deleted_at":"2024-01-01T00:00:00Z"}""")]);
        Assert.Equal([["1.5", "a2"], ["2.0", "b2"]], Rows("id::DOUBLE::VARCHAR, v", "id"));

        // One run's records of one key under both scales are reduced to one (the last), and match the stored row.
        await Run([cents, Record("""{"id":1.5,"v":"a3"}"""), Record("""{"id":7,"v":"x"}"""), mills, Record("""{"id":1.500,"v":"a4"}"""), Record("""{"id":7.000,"v":"x2"}""")]);
        Assert.Equal([["1.5", "a4"], ["2.0", "b2"], ["7.0", "x2"]], Rows("id::DOUBLE::VARCHAR, v", "id"));
        Assert.Equal(3, _lake.Manifest().Tables["test/k"].RowCount);
    }

    [Theory]
    [InlineData(TableFormats.Parquet)]
    [InlineData(TableFormats.Delta)] // the table's live files come from the Delta log
    public async Task Table_rows_with_a_null_key_column_refuse_the_merge_naming_table_column_and_count(TableFormats formats)
    {
        var idV = Schema("""{"id":{"type":"integer"},"v":{"type":["null","string"]}}""");
        var withRegion = """{"id":{"type":"integer"},"region":{"type":["null","string"]},"v":{"type":["null","string"]}}""";
        // Two rows from before the source had 'region' (their file lacks the column), one where it is null.
        await Run([idV, Record("""{"id":1,"v":"a"}"""), Record("""{"id":2,"v":"b"}""")], formats);
        await Run([Schema(withRegion), Record("""{"id":3,"region":null,"v":"c"}"""), Record("""{"id":4,"region":"eu","v":"d"}""")], formats);
        var before = _lake.ParquetKeys();

        // Merged by (id, region), (1, 'eu') matches no row: row (1, null) would stay beside it.
        var byRegion = Schema(withRegion, "\"id\", \"region\"");
        var refused = await TempLake.RunAsync(Pipeline([byRegion, Record("""{"id":1,"region":"eu","v":"a2"}""")], formats));
        Assert.False(refused.Succeeded);
        Assert.StartsWith("stream 'k': table test/k holds rows with a null merge key: key property 'region' is null in 3 row(s)", refused.Log.Error);
        Assert.Contains("run --full", refused.Log.Error, StringComparison.Ordinal);
        Assert.Equal(before, _lake.ParquetKeys());
        Assert.Equal(4, _lake.Manifest().Tables["test/k"].RowCount);

        await Run([byRegion, Record("""{"id":1,"region":"eu","v":"a2"}""")], formats, full: true);
        Assert.Equal(1, _lake.Manifest().Tables["test/k"].RowCount);
        await Run([byRegion, Record("""{"id":1,"region":"eu","v":"a3"}""")], formats);
        Assert.Equal(1, _lake.Manifest().Tables["test/k"].RowCount);
    }

    [Fact]
    public async Task Null_keys_of_a_column_written_without_statistics_are_counted_from_its_rows()
    {
        // A distinct-heavy long text column is written without statistics: its nulls are counted by reading it.
        var schema = """{"id":{"type":"integer"},"url":{"type":["null","string"]}}""";
        var records = Enumerable.Range(1, 1100).Select(i => Record($$"""{"id":{{i}},"url":"https://example.com/{{new string('p', 60)}}/{{i}}"}"""))
            .Concat(Enumerable.Range(2001, 5).Select(i => Record($$"""{"id":{{i}},"url":null}""")));
        await Run([Schema(schema), .. records]);
        Assert.Equal([[null]], _lake.Query("SELECT max(stats_null_count)::VARCHAR FROM parquet_metadata('{lake}/raw/test/k/*.parquet') WHERE path_in_schema = 'url'"));

        var refused = await TempLake.RunAsync(Pipeline([Schema(schema, "\"id\", \"url\""), Record("""{"id":1,"url":"u"}""")]));
        Assert.False(refused.Succeeded);
        Assert.StartsWith("stream 'k': table test/k holds rows with a null merge key: key property 'url' is null in 5 row(s)", refused.Log.Error);
    }
}
