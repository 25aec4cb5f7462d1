using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Failures;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Runs;

public class RunProgressTests
{
    [Fact]
    public async Task A_slow_taps_records_are_counted_as_they_arrive_not_when_the_tap_ends()
    {
        using var lake = new TempLake();
        // 30 records, one every 0.1 s: about 3 s of a tap that is alive and writing the whole time.
        var pipeline = ScriptedTap.Pipeline(lake, "slow", new JsonObject { ["max_id"] = 30, ["record_interval"] = 0.1 });
        var seen = new ConcurrentQueue<long>();
        var progress = new SynchronousProgress(p => seen.Enqueue(p.Streams.Sum(s => s.Records)));
        var result = await new PipelineRunner(new ObjectStoreFactory()).RunAsync(pipeline, new RunOptions { Progress = progress }, CancellationToken.None);
        Assert.True(result.Succeeded, result.Log.Error);
        Assert.Equal(30, result.Log.TotalRecords);

        // Progress is reported every 0.2 s while the tap runs: the counts climb with the records, never stuck at 0 until the end.
        var counts = seen.ToList();
        var partial = counts.Where(c => c is > 0 and < 30).Distinct().ToList();
        Assert.True(partial.Count >= 3, $"progress while records arrived: {string.Join(", ", counts)}");
        Assert.Equal(counts.Order(), counts);
    }

    /// <summary>Calls back on the reporting thread (Progress&lt;T&gt; would post to a sync context, and could reorder).</summary>
    private sealed class SynchronousProgress(Action<RunProgress> report) : IProgress<RunProgress>
    {
        public void Report(RunProgress value) => report(value);
    }
}
