using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Sources.BuiltIn;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;
using Xunit;

namespace DataSpoc.Pipe.Tests.Sources.BuiltIn;

/// <summary>
/// The parquet tap pointed at a lake table written with <c>table_format</c> reads the rows the table holds now: not the
/// files earlier full refreshes or merges replaced (kept on storage for time travel until <c>maintain</c>), and never
/// a Delta checkpoint as a table of its own. Read back with DuckDB from the lake the tap landed in.
/// </summary>
public sealed class LakeTableFoldersTests : IDisposable
{
    private readonly TempLake _source = new();
    private readonly TempLake _target = new();

    public void Dispose()
    {
        _source.Dispose();
        _target.Dispose();
    }

    private const string Schema =
        """{"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"v":{"type":["null","string"]}}}}""";

    private static string[] Orders(string v, params int[] ids) =>
        [Schema, .. ids.Select(i => "{\"type\":\"RECORD\",\"stream\":\"orders\",\"record\":{\"id\":" + i + ",\"v\":\"" + v + "\"}}")];

    private string Table => Path.Combine(_source.Root, "raw/test/orders");

    /// <summary>Asserts what the tap landed, read with DuckDB: one stream folder, <c>orders</c>, holding exactly <paramref name="rows"/> (id=v).</summary>
    private void AssertLanded(params string[] rows)
    {
        Assert.Equal(["orders"], Directory.GetDirectories(Path.Combine(_target.Root, "raw/parquet")).Select(d => Path.GetFileName(d)));
        Assert.Equal(rows, _target.Query("SELECT id, v FROM read_parquet('{lake}/raw/parquet/orders/**/*.parquet') ORDER BY id").Select(r => $"{r[0]}={r[1]}"));
    }

    [Theory]
    [InlineData(TableFormats.Iceberg, 3)]
    [InlineData(TableFormats.Delta, 11)] // past Delta's checkpoint interval: _delta_log/…10.checkpoint.parquet is on storage
    [InlineData(TableFormats.Iceberg | TableFormats.Delta, 11)]
    public async Task A_table_folder_full_refreshed_again_and_again_reads_as_its_live_rows_only(TableFormats formats, int refreshes)
    {
        for (var run = 1; run <= refreshes; run++)
            Assert.True((await TempLake.RunAsync(_source.Pipeline("orders", _source.WriteSinger($"r{run}", Orders($"r{run}", 1, 2, run)),
                p => p with { Destination = p.Destination with { TableFormat = formats } }), full: true)).Succeeded);
        Assert.Equal(refreshes, Directory.EnumerateFiles(Table, "*.parquet", SearchOption.AllDirectories).Count(f => !f.Contains("_delta_log", StringComparison.Ordinal)));

        await TempLake.RunBuiltInAsync(_target.BuiltInPipeline("rt", "parquet", new JsonObject { ["path"] = Table }));

        var last = $"r{refreshes}";
        AssertLanded($"1={last}", $"2={last}", $"{refreshes}={last}");
    }

    [Fact]
    public async Task A_merged_table_read_through_a_glob_reads_the_merged_rows_not_the_files_the_merge_rewrote()
    {
        PipelineDefinition Merge(string input) => _source.Pipeline("orders", input, p => p with
        {
            Destination = p.Destination with { TableFormat = TableFormats.Iceberg | TableFormats.Delta, WriteMode = WriteMode.Merge, PartitionBy = PartitionBySettings.None },
        });
        Assert.True((await TempLake.RunAsync(Merge(_source.WriteSinger("a", Orders("old", 1, 2, 3))))).Succeeded);
        Assert.True((await TempLake.RunAsync(Merge(_source.WriteSinger("b", Orders("new", 2, 4))))).Succeeded);

        // A glob over the whole lake (every table folder below raw/): the merged table's folder holds the rewritten file too.
        await TempLake.RunBuiltInAsync(_target.BuiltInPipeline("rt", "parquet", new JsonObject { ["files"] = new JsonArray(_source.Root + "/raw/**/*.parquet") }));

        AssertLanded("1=old", "2=new", "3=old", "4=new");
    }

    [Fact]
    public async Task A_live_file_missing_from_storage_fails_the_run_naming_it_rather_than_landing_part_of_the_table()
    {
        foreach (var run in new[] { "a", "b" }) // two appends: two live files
            Assert.True((await TempLake.RunAsync(_source.Pipeline("orders", _source.WriteSinger(run, Orders(run, 1, 2)),
                p => p with { Destination = p.Destination with { TableFormat = TableFormats.Delta } }))).Succeeded);
        var live = Directory.EnumerateFiles(Table, "*.parquet", SearchOption.AllDirectories).Order(StringComparer.Ordinal).First();
        File.Delete(live);

        Assert.True(BuiltInTaps.TryGet("parquet", out var tap));
        var result = await new PipelineRunner(new ObjectStoreFactory()).RunAsync(_target.BuiltInPipeline("rt", "parquet", new JsonObject { ["path"] = Table }),
            new RunOptions { Source = new BuiltInSource(tap) }, CancellationToken.None);
        Assert.False(result.Succeeded);
        Assert.Contains($"is a Delta table whose live files include {live}, which is not on storage", result.Log.Error);
    }
}
