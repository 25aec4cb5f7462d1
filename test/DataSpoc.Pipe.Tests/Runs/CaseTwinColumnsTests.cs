using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Runs;

public class CaseTwinColumnsTests
{
    private static string[] Rows(string column, int id) =>
    [
        """{"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},""" +
            $"\"{column}\"" + """:{"type":["null","string"]}}}}""",
        "{\"type\":\"RECORD\",\"stream\":\"orders\",\"record\":{\"id\":" + id + $",\"{column}\":\"x\"}}}}",
    ];

    [Theory]
    [InlineData(TableFormats.Parquet, WriteMode.Append)]
    [InlineData(TableFormats.Iceberg, WriteMode.Append)]
    [InlineData(TableFormats.Delta, WriteMode.Append)]
    [InlineData(TableFormats.Parquet, WriteMode.Merge)]
    public async Task A_column_differing_only_in_case_from_one_the_table_keeps_is_refused_like_within_one_schema(TableFormats formats, WriteMode mode)
    {
        using var lake = new TempLake();
        PipelineDefinition Pipeline(string name, string[] lines) =>
            lake.Pipeline("orders", lake.WriteSinger(name, lines), p => p with { Destination = p.Destination with { TableFormat = formats, WriteMode = mode } });
        Assert.True((await TempLake.RunAsync(Pipeline("a", Rows("extra", 1)))).Succeeded);
        var manifest = File.ReadAllText(Path.Combine(lake.Root, DataSpoc.Pipe.Lake.LakePaths.ManifestKey));

        var refused = await TempLake.RunAsync(Pipeline("b", Rows("Extra", 2)));
        Assert.False(refused.Succeeded);
        Assert.StartsWith("stream 'orders': invalid SCHEMA: property 'Extra': properties 'extra' and 'Extra' differ only in case; " +
            "Parquet readers such as DuckDB, Spark and Trino would treat them as one column (table test/orders keeps 'extra'). Nothing was written", refused.Log.Error);
        Assert.Equal(manifest, File.ReadAllText(Path.Combine(lake.Root, DataSpoc.Pipe.Lake.LakePaths.ManifestKey)));

        // A full refresh rewrites the table under the new name.
        Assert.True((await TempLake.RunAsync(Pipeline("c", Rows("Extra", 3)), full: true)).Succeeded);
    }
}
