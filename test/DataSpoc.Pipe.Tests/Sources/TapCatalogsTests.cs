using System.Text;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Sources;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;
using Xunit;

namespace DataSpoc.Pipe.Tests.Sources;

/// <summary>
/// A tap's <c>--discover</c> output is read up to the end of its catalog (one JSON value), so that a tap that prints its
/// data when asked for the catalog is stopped there instead of having its whole output held in memory.
/// </summary>
public sealed class TapCatalogsTests : IDisposable
{
    private readonly TempLake _lake = new();

    public void Dispose() => _lake.Dispose();

    private static readonly string Tap = "python3 " + TempLake.Asset("discover_prints_data_tap.py");

    private PipelineDefinition Pipeline(JsonObject config) => new()
    {
        Name = "discover-prints-data",
        Source = new SourceDefinition { Tap = Tap, InlineConfig = config, Name = "t", Streams = ["s00000"] },
        Destination = new DestinationDefinition { Bucket = _lake.Bucket },
    };

    [Fact]
    public async Task A_tap_that_prints_its_data_after_the_catalog_is_stopped_there_and_the_run_fails_naming_the_command_and_line()
    {
        var done = Path.Combine(_lake.Root, "..", Path.GetFileName(_lake.Root) + "-done");
        // ~5 MB of records after the catalog: the old reader took them all (and a real tap's whole table) before failing.
        var result = await TempLake.RunAsync(Pipeline(new JsonObject { ["records"] = 70_000, ["done_file"] = done }));

        Assert.False(result.Succeeded);
        // The catalog (indented) takes 33 lines; the first record is line 34.
        Assert.Contains($"output of '{Tap} --discover':34: the tap's catalog (one JSON value) is followed by more output: does the tap print its data when asked --discover?",
            result.Log.Error);
        Assert.False(File.Exists(done), "the tap was not stopped: it printed all its records");
        Assert.Empty(_lake.ParquetKeys());
    }

    [Fact]
    public async Task A_catalog_of_many_reads_followed_only_by_whitespace_is_read_whole()
    {
        var (catalog, fresh, _, _) = await new TapCatalogs(new ObjectStoreFactory()).GetAsync(Pipeline(new JsonObject { ["streams"] = 3_000 }), refresh: true, CatalogSave.Now, CancellationToken.None);

        Assert.True(fresh);
        Assert.Equal(3_000, StreamCatalog.List(catalog).Count);
    }

    [Fact]
    public async Task A_catalog_larger_than_the_cap_stops_the_tap_and_names_the_cap()
    {
        var stopped = false;
        using var output = new MemoryStream(Encoding.UTF8.GetBytes("{\"streams\": [" + string.Join(",", Enumerable.Repeat("{\"stream\": \"s\"}", 150_000)) + "]}"));

        var e = await Assert.ThrowsAsync<ConfigException>(() => CatalogOutput.ReadAsync(output, "output of 'tap --discover'", 2 << 20, () => stopped = true, CancellationToken.None));

        Assert.True(stopped);
        Assert.Equal("output of 'tap --discover': the tap's catalog is larger than 2 MiB, the most read: does the tap print its data when asked --discover?", e.Message);
    }

    [Fact]
    public async Task Output_that_is_not_json_is_kept_up_to_its_error_and_the_rest_drained_so_the_tap_can_finish()
    {
        var stopped = false;
        var text = "INFO starting\n" + string.Concat(Enumerable.Repeat("INFO more log lines that go on and on\n", 10_000));
        using var output = new MemoryStream(Encoding.UTF8.GetBytes(text));

        var kept = await CatalogOutput.ReadAsync(output, "output of 'tap --discover'", CatalogOutput.MaxBytes, () => stopped = true, CancellationToken.None);

        Assert.False(stopped);
        Assert.StartsWith("INFO starting\n", kept);
        Assert.True(kept.Length < text.Length);
        Assert.Equal(output.Length, output.Position);
        var e = Assert.Throws<ConfigException>(() => StreamCatalog.Parse(kept, "output of 'tap --discover'"));
        Assert.StartsWith("output of 'tap --discover':1: the tap's catalog is not valid JSON", e.Message);
    }
}
