using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Sources;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Runs;

/// <summary>
/// What a run that fails at its commit leaves behind: not the catalog it discovered (the baseline of the next run's
/// change notices), and no claim in its log that its files landed.
/// </summary>
public sealed class FailedRunTests : IDisposable
{
    private readonly TempLake _lake = new();

    public void Dispose() => _lake.Dispose();

    /// <summary>A discovering tap of one stream 't' whose column 'v' has the type config 'v_type' names.</summary>
    private const string RetypeTap = """
        import json, sys
        args = sys.argv[1:]
        def arg(name):
            return args[args.index(name) + 1] if name in args else None
        if "--help" in args:
            print("Usage: tap-retype [OPTIONS]\n\nOptions:\n  --discover      Run the tap in discovery mode.\n  --config TEXT   Configuration file location.\n  --catalog PATH  Use a Singer catalog file with the tap.\n  --state PATH    Use a bookmarks file.")
            sys.exit(0)
        config = json.load(open(arg("--config")))
        schema = {"type": "object", "properties": {"id": {"type": "integer"}, "v": {"type": ["null", config["v_type"]]}}}
        if "--discover" in args:
            print(json.dumps({"streams": [{"tap_stream_id": "t", "stream": "t", "schema": schema, "key_properties": ["id"],
                "metadata": [{"breadcrumb": [], "metadata": {"inclusion": "available", "table-key-properties": ["id"]}}]}]}))
            sys.exit(0)
        print(json.dumps({"type": "SCHEMA", "stream": "t", "schema": schema, "key_properties": ["id"]}))
        print(json.dumps({"type": "RECORD", "stream": "t", "record": {"id": 1, "v": 7 if config["v_type"] == "integer" else "7"}}))
        """;

    /// <summary>
    /// An appending pipeline loaded from a file (its catalog cached beside it); <paramref name="partitionBy"/> none after
    /// a partitioned run makes the commit refuse the mixed layout, after the tap's discovery and the run's files.
    /// </summary>
    private PipelineDefinition Pipeline(string vType, string partitionBy)
    {
        var tap = Path.Combine(Path.GetDirectoryName(_lake.PipelineFile("retype"))!, "retype_tap.py");
        File.WriteAllText(tap, RetypeTap);
        return new PipelineDefinition
        {
            Name = "retype",
            FilePath = _lake.PipelineFile("retype"),
            Source = new SourceDefinition { Tap = "python3 " + tap, InlineConfig = new JsonObject { ["v_type"] = vType }, Name = "test" },
            Destination = new DestinationDefinition { Bucket = _lake.Bucket, PartitionBy = partitionBy },
            Incremental = new IncrementalSettings { Enabled = true },
        };
    }

    private static Task<RunResult> RunAsync(PipelineDefinition pipeline) => TempLake.RunAsync(pipeline);

    [Fact]
    public async Task A_failed_run_leaves_the_cached_catalog_as_it_was_and_the_run_that_lands_the_change_names_it()
    {
        var first = await RunAsync(Pipeline("string", PartitionBySettings.ExtractionDate));
        Assert.True(first.Succeeded, first.Log.Error);
        var cache = TapCatalogs.CachePath(Pipeline("string", PartitionBySettings.ExtractionDate))!;
        var cached = File.ReadAllBytes(cache);

        var failed = await RunAsync(Pipeline("integer", PartitionBySettings.None));
        Assert.False(failed.Succeeded);
        Assert.Equal(RunSteps.Commit, failed.Log.FailedStep);
        Assert.Contains(failed.Log.Notices, n => n.Contains("column(s) whose declared schema changed: v", StringComparison.Ordinal));
        Assert.Equal(cached, File.ReadAllBytes(cache));

        var landed = await RunAsync(Pipeline("integer", PartitionBySettings.ExtractionDate));
        Assert.True(landed.Succeeded, landed.Log.Error);
        Assert.Contains(landed.Log.Notices, n => n.Contains("column(s) whose declared schema changed: v", StringComparison.Ordinal));
        Assert.NotEqual(cached, File.ReadAllBytes(cache));
        var next = await RunAsync(Pipeline("integer", PartitionBySettings.ExtractionDate));
        Assert.DoesNotContain(next.Log.Notices, n => n.Contains("declared schema changed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_run_refused_at_its_commit_counts_no_files_landed_in_its_log()
    {
        var first = await RunAsync(Pipeline("string", PartitionBySettings.ExtractionDate));
        Assert.True(first.Succeeded, first.Log.Error);
        Assert.Equal(1, first.Log.Streams["t"].Files);

        var failed = await RunAsync(Pipeline("string", PartitionBySettings.None));

        Assert.Equal((RunSteps.Commit, 1L), (failed.Log.FailedStep, failed.Log.Streams["t"].Records));
        Assert.Contains("Nothing was written", failed.Log.Error, StringComparison.Ordinal);
        Assert.Equal((0L, 0L), (failed.Log.Streams["t"].Files, failed.Log.Streams["t"].Bytes));
        Assert.Equal((0L, 0L), (_lake.Logs("retype")[^1].Streams["t"].Files, _lake.Logs("retype")[^1].Streams["t"].Bytes));
        Assert.Single(_lake.ParquetKeys());
    }
}
