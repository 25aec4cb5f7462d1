using System.Diagnostics;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Failures;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Runs;

/// <summary>A run stopped through its cancellation token (what the CLI does on SIGINT/SIGTERM) ends as <c>cancelled</c> and leaves nothing behind.</summary>
public sealed class CancellationTests
{
    [Fact]
    public async Task A_cancelled_run_stops_a_silent_tap_at_once_commits_nothing_and_logs_cancelled()
    {
        using var lake = new TempLake();
        var pipeline = ScriptedTap.Pipeline(lake, "stopped", new JsonObject { ["max_id"] = 50, ["hang_seconds"] = 120 });
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1.5));
        var clock = Stopwatch.StartNew();

        var result = await new PipelineRunner(new ObjectStoreFactory()).RunAsync(pipeline, new RunOptions(), stop.Token);

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(6), $"took {clock.Elapsed}");
        Assert.Equal("cancelled", result.Log.Status);
        Assert.Equal("extract", result.Log.FailedStep);
        Assert.Contains("the run was stopped during extract", result.Log.Error);
        Assert.False(result.Log.StateCommitted);
        Assert.Empty(lake.ParquetKeys());
        Assert.Null(lake.State("stopped"));
        Assert.False(File.Exists(Path.Combine(lake.Root, LakePaths.LockKey("stopped"))));
        Assert.Equal("cancelled", Assert.Single(lake.Logs("stopped")).Status);
        var spool = Path.Combine(lake.Root, ".dataspoc", "tmp", "stopped");
        Assert.True(!Directory.Exists(spool) || !Directory.EnumerateFileSystemEntries(spool).Any());

        var next = await TempLake.RunAsync(ScriptedTap.Pipeline(lake, "stopped", new JsonObject { ["max_id"] = 5 }));
        Assert.True(next.Succeeded, next.Log.Error);
        Assert.Equal([["5"]], lake.Query("SELECT count(*) FROM read_parquet('{lake}/raw/test/items/*/*.parquet')"));
    }
}
