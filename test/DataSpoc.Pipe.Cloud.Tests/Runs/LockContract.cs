using System.Diagnostics;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Cloud.Tests.Runs;

/// <summary>
/// The pipeline lock where the store enforces conditional writes: a dead holder on this host is taken over at once,
/// and a lock lost mid-run (overwritten, so its renewal is refused) stops the run before anything is committed.
/// </summary>
public abstract class LockContract
{
    protected abstract StoreTarget Target { get; }

    [Fact]
    public async Task A_lock_of_a_dead_process_on_this_host_is_taken_over_at_once()
    {
        await using var lake = new CloudLake(Target);
        using (var gone = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!)
        {
            await gone.WaitForExitAsync();
            var now = DateTimeOffset.UtcNow;
            var dead = new RunLock.LockInfo("deadrun1", Environment.MachineName, gone.Id, now, now.AddMinutes(5));
            await lake.Store.PutAsync(LakePaths.LockKey("orders"), LakeJson.Serialize(dead), WriteCondition.None, CancellationToken.None);
            var watch = Stopwatch.StartNew();
            var run = await lake.RunAsync(lake.Pipeline("orders", count: 3));
            Assert.True(run.Succeeded, run.Log.Error);
            Assert.Contains($"took over a stale lock of run deadrun1 (its process {gone.Id} on this host is gone)", run.Log.Notices);
            // It died before writing a log: the next run's log is the only record that it ran (status showed the run before it).
            Assert.Contains("run deadrun1 ended without a run log (killed while it ran, or its store failed when it saved the log); the notices of this run's recovery say whether its commit had begun", run.Log.Notices);
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"the takeover took {watch.Elapsed}");
        }
        Assert.Null(await lake.Store.GetAsync(LakePaths.LockKey("orders"), CancellationToken.None));
    }

    [Fact]
    public async Task A_lock_of_a_zombie_process_on_this_host_is_taken_over_at_once()
    {
        await using var lake = new CloudLake(Target);
        // The shell starts a short-lived child, then becomes a sleep that never reaps it: a zombie once the child exits.
        using var parent = Process.Start(new ProcessStartInfo("sh", ["-c", "sleep 0.3 & echo $!; exec sleep 30"]) { RedirectStandardOutput = true, UseShellExecute = false })!;
        try
        {
            var zombie = int.Parse((await parent.StandardOutput.ReadLineAsync())!.Trim(), System.Globalization.CultureInfo.InvariantCulture);
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (File.Exists($"/proc/{zombie}/stat") && !File.ReadAllText($"/proc/{zombie}/stat").Split(')')[^1].TrimStart().StartsWith('Z') && DateTime.UtcNow < deadline)
                await Task.Delay(20);
            Assert.True(File.Exists($"/proc/{zombie}/stat"), "the zombie is still in the process table");
            var now = DateTimeOffset.UtcNow;
            var held = new RunLock.LockInfo("zombierun", Environment.MachineName, zombie, now, now.AddMinutes(5));
            await lake.Store.PutAsync(LakePaths.LockKey("orders"), LakeJson.Serialize(held), WriteCondition.None, CancellationToken.None);
            var run = await lake.RunAsync(lake.Pipeline("orders", count: 3));
            Assert.True(run.Succeeded, run.Log.Error);
            Assert.Contains($"took over a stale lock of run zombierun (its process {zombie} on this host is gone)", run.Log.Notices);
        }
        finally
        {
            parent.Kill();
        }
    }

    [Fact]
    public async Task A_lock_overwritten_mid_run_stops_the_run_before_anything_is_committed()
    {
        await using var lake = new CloudLake(Target);
        // A 3 s lease is renewed every 600 ms; the tap sleeps 4 s before it prints anything. (Not shorter: a renewal may
        // take only what is left of the lease, and a loaded machine's server can take a second to answer one.)
        var running = lake.RunAsync(lake.Pipeline("orders", count: 5, sleep: 4), lockLease: TimeSpan.FromSeconds(3));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await lake.Store.GetAsync(LakePaths.LockKey("orders"), CancellationToken.None) is null && DateTime.UtcNow < deadline)
            await Task.Delay(50);
        var now = DateTimeOffset.UtcNow;
        var thief = new RunLock.LockInfo("thief123", "elsewhere", 4242, now, now.AddMinutes(5));
        await lake.Store.PutAsync(LakePaths.LockKey("orders"), LakeJson.Serialize(thief), WriteCondition.None, CancellationToken.None);

        var run = await running;
        Assert.False(run.Succeeded);
        Assert.StartsWith($"the run lost its pipeline lock {lake.Bucket}/{LakePaths.LockKey("orders")}: the lock object was overwritten by run thief123 on elsewhere, pid 4242; nothing of this run was committed", run.Log.Error);
        var keys = await lake.KeysAsync();
        Assert.DoesNotContain(keys, k => k.EndsWith(".parquet", StringComparison.Ordinal) || k == LakePaths.ManifestKey || k == LakePaths.StateKey("orders"));
        // The new holder's lock is left alone.
        Assert.Contains("thief123", System.Text.Encoding.UTF8.GetString((await lake.Store.GetAsync(LakePaths.LockKey("orders"), CancellationToken.None))!.Content.Span));
    }
}
