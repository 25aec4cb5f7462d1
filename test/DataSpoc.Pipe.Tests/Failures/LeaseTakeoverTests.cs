using System.Text.Json.Nodes;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;
using static DataSpoc.Pipe.Tests.Failures.BadInputCorpusTests;

namespace DataSpoc.Pipe.Tests.Failures;

/// <summary>
/// A run whose store stops answering past its commit point (its data files landed) keeps its commit going while its lease
/// runs out; another run takes the stale lock over and completes that commit from its journal. The first run must then
/// write nothing more once its store answers: not its manifest change again, not its journal, not its older state.
/// </summary>
public class LeaseTakeoverTests
{
    [Fact]
    public async Task A_run_whose_manifest_write_stalls_until_another_run_took_its_lock_over_writes_nothing_more_and_counts_no_row_twice()
    {
        using var lake = new TempLake();
        const string name = "lease";
        await LandGoodRunAsync(lake, name); // rows 1..3, bookmark 3
        var lockKey = LakePaths.LockKey(name);
        var journalKey = LakeCommitter.JournalKey(name);
        var journalAtStall = "";
        // The first run's manifest write is answered only once the takeover is over (as a stalled PUT the SDK retries is).
        var (first, taker, answer) = await StallThenTakeOverAsync(lake, name, LakePaths.ManifestKey,
            atStall: () => journalAtStall = File.ReadAllText(Path.Combine(lake.Root, journalKey)));
        Assert.Equal(CommitPlan.PhaseDeleted, JsonNode.Parse(journalAtStall)!["phase"]!.GetValue<string>()); // past the commit point

        Assert.True(taker.Succeeded, taker.Log.Error);
        Assert.Contains(taker.Log.Notices, n => n.StartsWith("took over a stale lock of run ", StringComparison.Ordinal));
        Assert.Equal(2, taker.Log.Recovered?.Records); // the first run's rows, completed from its journal

        answer.SetResult();
        var stopped = await first.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.False(stopped.Succeeded);
        Assert.Equal(PipeErrorKind.Failed, stopped.ErrorKind);
        Assert.Equal(taker.Log.Recovered!.RunId, stopped.Log.RunId);
        Assert.StartsWith($"run {stopped.Log.RunId} lost its pipeline lock {lake.Bucket}/{lockKey} after its commit point (all 1 file(s) had landed): " +
            $"another run took the lock over and completed this commit (its journal {lake.Bucket}/{journalKey} is gone); this run wrote nothing more", stopped.Log.Error);
        Assert.Equal("""{"bookmark":7}""", lake.State(name)!.ToJsonString()); // not back to 5
        Assert.False(File.Exists(Path.Combine(lake.Root, journalKey)));
        var entry = lake.Manifest().Tables["test/items"];
        Assert.Equal((7L, 3L, taker.Log.RunId), (entry.RowCount, entry.Stats.Files, entry.Stats.LastRunId));
        Assert.Equal([["7", "7", "1", "7"]], lake.Query("select count(*), count(distinct id), min(id), max(id) from read_parquet('{lake}/raw/test/items/*/*.parquet')"));
        Assert.Equal(lake.PlainTableTotals("raw/test/items"), lake.ManifestTotals("test/items"));
    }

    [Fact]
    public async Task A_run_whose_state_write_lands_after_another_run_took_its_lock_over_and_saved_a_later_state_is_refused_and_fails_saying_so()
    {
        using var lake = new TempLake();
        const string name = "late-state";
        await LandGoodRunAsync(lake, name); // rows 1..3, bookmark 3
        var lockKey = LakePaths.LockKey(name);
        var stateKey = LakePaths.StateKey(name);
        // The first run's state write was sent before its lock was lost and lands only once the run that took the lock over
        // saved a later state (a PUT the store answers late).
        var (first, taker, answer) = await StallThenTakeOverAsync(lake, name, stateKey);

        Assert.True(taker.Succeeded, taker.Log.Error);
        Assert.Contains(taker.Log.Notices, n => n.StartsWith("took over a stale lock of run ", StringComparison.Ordinal));
        Assert.Equal(2, taker.Log.Recovered?.Records); // the first run's commit, completed from its journal: its state saved over the one it found
        Assert.Equal("""{"bookmark":7}""", lake.State(name)!.ToJsonString());

        answer.SetResult();
        var stopped = await first.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal("""{"bookmark":7}""", lake.State(name)!.ToJsonString()); // the taker's, not back to 5
        Assert.False(stopped.Succeeded);
        Assert.Equal(PipeErrorKind.Failed, stopped.ErrorKind);
        Assert.Equal("commit", stopped.Log.FailedStep);
        Assert.False(stopped.Log.StateCommitted);
        Assert.StartsWith($"the commit of run {stopped.Log.RunId} did not save {lake.Bucket}/{stateKey}: another run wrote it since this run read it " +
            $"(this run's pipeline lock {lake.Bucket}/{lockKey} was taken over while the write was on its way); the commit's rows are committed and counted " +
            "in the manifest, and the next run continues from the state that other run saved", stopped.Log.Error);
        Assert.False(File.Exists(Path.Combine(lake.Root, LakeCommitter.JournalKey(name))));
        var entry = lake.Manifest().Tables["test/items"];
        Assert.Equal((7L, 3L, taker.Log.RunId), (entry.RowCount, entry.Stats.Files, entry.Stats.LastRunId));
        Assert.Equal([["7", "7", "1", "7"]], lake.Query("select count(*), count(distinct id), min(id), max(id) from read_parquet('{lake}/raw/test/items/*/*.parquet')"));
    }

    /// <summary>
    /// Starts a first run (rows 4 and 5, bookmark 5) through a store that holds its write of <paramref name="heldKey"/> until
    /// <c>Answer</c> is set and, once that write is held, fails every renewal of its lock, so its lease (2 s) runs out; then
    /// runs a second run (rows 6 and 7, bookmark 7), which takes the stale lock over.
    /// </summary>
    private static async Task<(Task<RunResult> First, RunResult Taker, TaskCompletionSource Answer)> StallThenTakeOverAsync(TempLake lake, string name,
        string heldKey, Action? atStall = null)
    {
        var lockKey = LakePaths.LockKey(name);
        var stalled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var answer = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stalling = new PipelineRunner(new ObjectStoreFactory().Register("file", (uri, _) => new MeetingStore(new LocalObjectStore(uri), async key =>
        {
            if (key == heldKey && !stalled.Task.IsCompleted)
            {
                atStall?.Invoke();
                stalled.SetResult();
                await answer.Task.ConfigureAwait(false);
            }
            else if (key == lockKey && stalled.Task.IsCompleted) throw new IOException("the store does not answer");
        }))) { LockLease = TimeSpan.FromSeconds(2) };
        var first = stalling.RunAsync(lake.Pipeline(name, lake.WriteSinger("first.singer", Schema, Record(4), Record(5), """{"type":"STATE","value":{"bookmark":5}}""")),
            new RunOptions(), CancellationToken.None);
        await stalled.Task.WaitAsync(TimeSpan.FromSeconds(60));
        while (LakeJson.Deserialize<RunLock.LockInfo>(File.ReadAllBytes(Path.Combine(lake.Root, lockKey)), "lock").ExpiresAt >= DateTimeOffset.UtcNow.AddMilliseconds(-200))
            await Task.Delay(100);
        var taker = await TempLake.RunAsync(lake.Pipeline(name, lake.WriteSinger("second.singer", Schema, Record(6), Record(7), """{"type":"STATE","value":{"bookmark":7}}""")));
        return (first, taker, answer);
    }
}
