using System.Text.Json.Nodes;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Failures;

/// <summary>One pipeline never runs twice at once; different pipelines sharing a bucket never lose each other's manifest entries.</summary>
public class ConcurrencyTests
{
    [Fact]
    public async Task A_second_run_of_a_pipeline_already_running_is_refused_with_a_clear_message_and_the_first_finishes()
    {
        using var lake = new TempLake();
        const string pipeline = "busy";
        var first = TempLake.RunAsync(ScriptedTap.Pipeline(lake, pipeline, new JsonObject { ["max_id"] = 10, ["hang_seconds"] = 4 }));
        var lockFile = Path.Combine(lake.Root, LakePaths.LockKey(pipeline));
        while (!File.Exists(lockFile) && !first.IsCompleted) await Task.Delay(20);

        var refused = await Assert.ThrowsAsync<PipelineLockedException>(() => TempLake.RunAsync(ScriptedTap.Pipeline(lake, pipeline, new JsonObject { ["max_id"] = 20 })));

        Assert.Equal(pipeline, refused.Pipeline);
        Assert.Matches(@"^pipeline 'busy' is already running \(run [0-9a-f]{8} on .+, pid \d+, since .+\); wait for it to finish$", refused.Message);
        var done = await first;
        Assert.True(done.Succeeded, done.Log.Error);
        Assert.Equal([["10"]], lake.Query("select count(*) from read_parquet('{lake}/raw/test/items/*/*.parquet')"));
        Assert.Single(lake.Logs(pipeline));
        Assert.False(File.Exists(lockFile));
    }

    [Fact]
    public async Task Eight_pipelines_sharing_one_bucket_run_at_once_and_every_manifest_entry_survives()
    {
        using var lake = new TempLake();
        var runs = Enumerable.Range(0, 8).Select(i =>
            TempLake.RunAsync(ScriptedTap.Pipeline(lake, $"shared-{i}", new JsonObject { ["max_id"] = 100 + i, ["stream"] = $"s{i}" }))).ToList();

        var results = await Task.WhenAll(runs);

        Assert.All(results, r => Assert.True(r.Succeeded, r.Log.Error));
        var manifest = lake.Manifest();
        Assert.Equal(Enumerable.Range(0, 8).Select(i => $"test/s{i}"), manifest.Tables.Keys.Order());
        for (var i = 0; i < 8; i++)
        {
            Assert.Equal(100 + i, manifest.Tables[$"test/s{i}"].RowCount);
            Assert.Equal($"shared-{i}", manifest.Tables[$"test/s{i}"].Pipeline);
            Assert.Equal([[(100 + i).ToString()]], lake.Query($"select count(distinct id) from read_parquet('{{lake}}/raw/test/s{i}/*/*.parquet')"));
        }
    }
}
