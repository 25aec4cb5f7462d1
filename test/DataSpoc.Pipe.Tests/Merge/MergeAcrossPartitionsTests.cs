using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Tables;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Merge;

/// <summary>
/// <c>write_mode: merge</c> with <c>partition_by</c> a column: a key whose records of one run fall into different
/// partitions keeps the one that arrived last (no <c>order_by</c>), whatever the partitions' dates, and a delete
/// marker counts as a record like any other. Each run is a real tap script into a file:// bucket; the table is read
/// through its own metadata (Iceberg's current snapshot, Delta's latest version) or its folder.
/// </summary>
public sealed class MergeAcrossPartitionsTests : IDisposable
{
    private readonly TempLake _lake = new();

    public void Dispose() => _lake.Dispose();

    private int _inputs;

    private const string Schema = """{"type":"SCHEMA","stream":"k","schema":{"type":"object","properties":{"id":{"type":"integer"},"v":{"type":["null","string"]},"d":{"type":["null","string"],"format":"date"},"_sdc_deleted_at":{"type":["null","string"],"format":"date-time"}}},"key_properties":["id"]}""";

    private static string Record(string record) => $$$"""{"type":"RECORD","stream":"k","record":{{{record}}}}""";

    private Task Run(TableFormats formats, MergeSettings merge, params string[] records) => Run(formats, merge, null, records);

    private async Task Run(TableFormats formats, MergeSettings merge, long? maxFileRows, params string[] records)
    {
        var pipeline = _lake.Pipeline("k-merge", _lake.WriteSinger($"run{++_inputs}.jsonl", [Schema, .. records.Select(Record)]), p => p with
        {
            Destination = p.Destination with { PartitionBy = "d", WriteMode = WriteMode.Merge, TableFormat = formats, Merge = merge, MaxFileRows = maxFileRows ?? p.Destination.MaxFileRows },
        });
        var result = await TempLake.RunAsync(pipeline);
        Assert.True(result.Succeeded, result.Log.Error);
    }

    /// <summary>The table's rows as "id v d", by id, read from the files its format says it holds now.</summary>
    private async Task<List<string>> Rows()
    {
        await using var store = new DataSpoc.Pipe.Storage.LocalObjectStore(DataSpoc.Pipe.Storage.BucketUri.Parse(_lake.Bucket));
        var live = await TableFiles.LiveDataFileKeysAsync(store, "test/k", _lake.Manifest().Tables["test/k"], CancellationToken.None);
        return [.. _lake.Query($"SELECT id::VARCHAR, coalesce(v, '-'), coalesce(d::VARCHAR, '-') FROM read_parquet([{string.Join(", ", live.Select(k => $"'{_lake.Root}/{k}'"))}], " +
            "hive_partitioning=false, union_by_name=true) ORDER BY id").Select(r => string.Join(' ', r))];
    }

    [Theory]
    [InlineData(TableFormats.Parquet)]
    [InlineData(TableFormats.Iceberg)]
    [InlineData(TableFormats.Delta)]
    public async Task A_keys_last_record_wins_across_partitions_deletes_included(TableFormats formats)
    {
        await Run(formats, new MergeSettings(), """{"id":1,"v":"old","d":"2024-01-01"}""", """{"id":3,"v":"y0","d":"2024-01-04"}""");

        // Each key's records in input order; the old rule kept the one in the greatest partition (null the least).
        await Run(formats, new MergeSettings(),
            """{"id":1,"v":"first","d":"2024-01-03"}""",
            """{"id":2,"v":"gone","d":"2024-01-02","_sdc_deleted_at":"2024-02-01T00:00:00Z"}""",
            """{"id":1,"v":"second","d":"2024-01-02"}""",
            """{"id":3,"v":"y1","d":"2024-01-05"}""",
            """{"id":2,"v":"back","d":"2024-01-01"}""",
            """{"id":1,"v":"last","d":null}""",
            """{"id":3,"v":null,"d":null,"_sdc_deleted_at":"2024-02-01T00:00:00Z"}""");

        Assert.Equal(["1 last -", "2 back 2024-01-01"], await Rows());
        Assert.Equal(2, _lake.Manifest().Tables["test/k"].RowCount);
    }

    [Fact]
    public async Task With_order_by_the_greatest_wins_across_partitions_and_a_tie_goes_to_the_later_record()
    {
        var merge = new MergeSettings { OrderBy = "v" };
        await Run(TableFormats.Parquet, merge,
            """{"id":1,"v":"b","d":"2024-01-01"}""",
            """{"id":1,"v":"a","d":"2024-01-09"}""",
            """{"id":2,"v":"t","d":"2024-01-09"}""",
            """{"id":2,"v":"t","d":"2024-01-01"}""");

        Assert.Equal(["1 b 2024-01-01", "2 t 2024-01-01"], await Rows());
    }

    [Fact]
    public async Task A_partition_whose_rows_fill_several_spool_files_is_ordered_by_arrival_in_each()
    {
        // One row a file: each partition's later files start past its first rows.
        await Run(TableFormats.Parquet, new MergeSettings(), maxFileRows: 1,
            """{"id":1,"v":"a","d":"2024-01-02"}""",
            """{"id":2,"v":"b","d":"2024-01-01"}""",
            """{"id":1,"v":"c","d":"2024-01-01"}""",
            """{"id":2,"v":"d","d":"2024-01-02"}""",
            """{"id":1,"v":"e","d":"2024-01-02"}""",
            """{"id":2,"v":"f","d":"2024-01-01"}""",
            """{"id":3,"v":"g","d":"2024-01-01"}""",
            """{"id":3,"v":"h","d":"2024-01-02"}""");

        Assert.Equal(["1 e 2024-01-02", "2 f 2024-01-01", "3 h 2024-01-02"], await Rows());
    }
}
