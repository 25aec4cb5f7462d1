using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Sources;
using DataSpoc.Pipe.Sources.BuiltIn;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;
using Xunit;

namespace DataSpoc.Pipe.Tests.Sources.BuiltIn;

/// <summary>Incremental file pipelines over symlinked files, relative paths and files that were empty: real runs into a file:// lake.</summary>
public sealed class FileLinkBookmarkTests : IDisposable
{
    private readonly TempLake _lake = new();
    private readonly TapHarness _h = new();

    public void Dispose()
    {
        _lake.Dispose();
        _h.Dispose();
    }

    private PipelineDefinition Pipeline(string name, string tap, JsonObject config) =>
        _lake.BuiltInPipeline(name, tap, config) with { Incremental = new IncrementalSettings { Enabled = true } };

    private static Task<RunResult> RunAsync(PipelineDefinition pipeline, bool succeed = true) => TempLake.RunBuiltInAsync(pipeline, succeed);

    private List<string?> Ids(string tap, string stream) =>
        _lake.Query($"SELECT id::VARCHAR FROM read_parquet('{{lake}}/raw/{tap}/{stream}/*/*.parquet') ORDER BY id").Select(r => r[0]).ToList();

    [Theory]
    [InlineData("csv", "id\n1\n2\n", "3\n4\n5\n")]
    [InlineData("jsonl", "{\"id\":1}\n{\"id\":2}\n", "{\"id\":3}\n{\"id\":4}\n{\"id\":5}\n")]
    public async Task A_symlinked_file_whose_target_grows_is_read_again(string tap, string first, string more)
    {
        // The link's own size and time (its link text) never change when the target grows: the bookmark takes the target's.
        var target = _h.Write($"real/data.{tap}", first);
        Directory.CreateDirectory(_h.Path("in"));
        File.CreateSymbolicLink(_h.Path($"in/orders.{tap}"), $"../real/data.{tap}");
        var pipeline = Pipeline($"{tap}-link", tap, new JsonObject { ["path"] = _h.Path("in") });
        Assert.Equal(2, (await RunAsync(pipeline)).Log.TotalRecords);
        File.AppendAllText(target, more);
        File.SetLastWriteTimeUtc(target, DateTime.UtcNow.AddMinutes(1));
        var second = await RunAsync(pipeline);
        Assert.Equal(5, second.Log.TotalRecords);
        Assert.Equal(["1", "1", "2", "2", "3", "4", "5"], Ids(tap, "orders"));
        Assert.Equal(0, (await RunAsync(pipeline)).Log.TotalRecords);
    }

    [Fact]
    public async Task A_latest_link_beside_its_target_is_read_once_and_not_again_while_nothing_changes()
    {
        _h.Write("in/day1.csv", "id\n1\n2\n");
        File.CreateSymbolicLink(_h.Path("in/latest.csv"), "day1.csv");
        var pipeline = Pipeline("csv-latest", "csv", new JsonObject
        {
            ["path"] = _h.Path("in"),
            ["streams"] = new JsonArray(new JsonObject { ["name"] = "orders", ["pattern"] = "*" }),
        });
        var first = await RunAsync(pipeline);
        Assert.Equal(2, first.Log.TotalRecords);
        Assert.Contains(first.Log.Notices, n => n.StartsWith($"{_h.Path("in/latest.csv")} name(s) the same file as {_h.Path("in/day1.csv")}", StringComparison.Ordinal)
                                                && n.EndsWith($"read once, as {_h.Path("in/day1.csv")}", StringComparison.Ordinal));
        for (var i = 0; i < 2; i++) Assert.Equal(0, (await RunAsync(pipeline)).Log.TotalRecords);
        Assert.Equal(["1", "2"], Ids("csv", "orders"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("id\n")]
    public async Task A_file_that_landed_no_row_and_later_holds_rows_is_not_said_to_land_twice(string firstContent)
    {
        var file = _h.Write("in/orders.csv", firstContent);
        var pipeline = Pipeline("csv-filled", "csv", new JsonObject { ["path"] = _h.Path("in") });
        Assert.Equal(0, (await RunAsync(pipeline)).Log.TotalRecords);
        File.WriteAllText(file, "id\n1\n2\n");
        File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddMinutes(1));
        var filled = await RunAsync(pipeline);
        Assert.Equal(2, filled.Log.TotalRecords);
        Assert.Contains($"stream 'orders': {file} changed since an earlier run read it and is read again whole: " +
                        "no row of it landed before (it was empty or held only a header), so none lands twice", filled.Log.Notices);
        Assert.DoesNotContain(filled.Log.Notices, n => n.Contains("twice (write_mode", StringComparison.Ordinal));
        Assert.Equal(["1", "2"], Ids("csv", "orders"));
    }

    [Theory]
    [InlineData("path", "data")]
    [InlineData("files", "data/*.csv")]
    public async Task A_relative_path_in_a_pipeline_is_a_configuration_error_at_run_and_validate(string key, string value)
    {
        var config = new JsonObject { [key] = key == "files" ? new JsonArray(value) : value };
        var pipeline = Pipeline("csv-relative", "csv", config);
        var run = await RunAsync(pipeline, succeed: false);
        Assert.Equal(PipeErrorKind.Usage, run.ErrorKind);
        var shownKey = key == "files" ? "files[0]" : key;
        var expected = $"csv tap: config key '{shownKey}' is the relative path '{value}', which a run would read from the folder it is started in " +
                       "(a scheduled run starts in the home folder): write it absolute or as '~/...'";
        Assert.Contains(expected, run.Log.Error);
        // validate lists the tap's streams this way.
        var discover = await Assert.ThrowsAsync<TapFailedException>(() => new TapCatalogs(new ObjectStoreFactory()).DiscoverAsync(pipeline, CancellationToken.None));
        Assert.True(discover.Configuration);
        Assert.Equal(expected, discover.Message);
    }

    [Fact]
    public async Task The_standalone_tap_still_reads_a_relative_path_from_its_working_folder()
    {
        _h.Write("in/orders.csv", "id\n1\n");
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, _h.Path("in"));
        var output = await _h.SyncAsync("csv", new JsonObject { ["path"] = relative });
        Assert.Single(output.Records("orders"));
    }
}
