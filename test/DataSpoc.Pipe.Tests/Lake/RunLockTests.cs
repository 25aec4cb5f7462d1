using System.Diagnostics;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Lake;

/// <summary>
/// Whose pid a lock's holder is: a holder "on this host" is judged by its pid only when it ran in this PID namespace.
/// A container with the host's name (<c>docker run --network host</c>, pods with <c>hostNetwork</c>) has its own, where
/// the pid is another process or none: its live run's lock was taken over as stale. (Every store's takeover of a dead
/// holder is in the Cloud tests' lock contract.)
/// </summary>
public sealed class RunLockTests
{
    private static async Task<int> ExitedPidAsync()
    {
        using var gone = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        await gone.WaitForExitAsync();
        return gone.Id;
    }

    private static async Task PlantAsync(IObjectStore store, RunLock.LockInfo holder) =>
        await store.PutAsync(LakePaths.LockKey("orders"), LakeJson.Serialize(holder), WriteCondition.None, CancellationToken.None);

    [Fact]
    public async Task A_lock_of_a_pid_in_another_pid_namespace_on_a_host_of_the_same_name_is_kept_until_its_lease_ends()
    {
        Assert.NotNull(HostProcess.Space); // Linux: the tests run there
        using var lake = new TempLake();
        var store = new LocalObjectStore(BucketUri.Parse(lake.Bucket));
        var pid = await ExitedPidAsync();
        var now = DateTimeOffset.UtcNow;
        var elsewhere = HostProcess.Space!.Split('/')[0] + "/4026500000";
        await PlantAsync(store, new RunLock.LockInfo("nsrun001", Environment.MachineName, pid, now, now.AddMinutes(5), elsewhere));

        var refused = await Assert.ThrowsAsync<PipelineLockedException>(() => RunLock.AcquireAsync(store, "orders", "mine0001", TimeProvider.System, CancellationToken.None));
        // The pid names no process here, and the refusal says so rather than "already running ... wait for it to finish".
        Assert.Equal($"pipeline 'orders' is locked by run nsrun001 (pid {pid} in another PID namespace on {Environment.MachineName}, such as a container's, "
            + $"since {now:u}), which cannot be checked from here: if it still runs, wait for it to finish; if it was killed, its lease runs out at "
            + $"{now.AddMinutes(5):u} (a live run renews it), then a run takes the lock over", refused.Message);

        // Once its lease ended it is stale whatever its namespace.
        await PlantAsync(store, new RunLock.LockInfo("nsrun001", Environment.MachineName, pid, now.AddMinutes(-6), now.AddSeconds(-1), elsewhere));
        await using (var taken = await RunLock.AcquireAsync(store, "orders", "mine0002", TimeProvider.System, CancellationToken.None))
            Assert.StartsWith("took over a stale lock of run nsrun001 (its lease expired at ", taken.Notice);
    }

    [Fact]
    public async Task A_lock_of_another_host_is_refused_saying_it_cannot_be_checked_and_when_its_lease_runs_out()
    {
        using var lake = new TempLake();
        var store = new LocalObjectStore(BucketUri.Parse(lake.Bucket));
        var now = DateTimeOffset.UtcNow;
        await PlantAsync(store, new RunLock.LockInfo("farrun01", Environment.MachineName + "-elsewhere", 1, now, now.AddMinutes(5), "other-boot/4026531836"));

        var refused = await Assert.ThrowsAsync<PipelineLockedException>(() => RunLock.AcquireAsync(store, "orders", "mine0001", TimeProvider.System, CancellationToken.None));
        Assert.Equal($"pipeline 'orders' is locked by run farrun01 (pid 1 on host {Environment.MachineName}-elsewhere, since {now:u}), which cannot be checked "
            + $"from here: if it still runs, wait for it to finish; if it was killed, its lease runs out at {now.AddMinutes(5):u} (a live run renews it), then a run takes the lock over", refused.Message);
    }

    /// <summary>
    /// A killed run's pid given to another process since: the lock records its holder's start time, so the process now
    /// holding the pid is not taken for the run, and the lock is taken over at once (not after its lease). Planted as the
    /// JSON a run writes; the live process is a <c>sleep</c> started for the test.
    /// </summary>
    [Fact]
    public async Task A_lock_whose_pid_now_belongs_to_a_process_started_later_is_taken_over_at_once_and_a_live_holders_is_kept()
    {
        using var lake = new TempLake();
        var store = new LocalObjectStore(BucketUri.Parse(lake.Bucket));
        using var sleeper = Process.Start(new ProcessStartInfo("sleep", "60") { UseShellExecute = false })!;
        try
        {
            var started = HostProcess.StartTime(sleeper.Id)!.Value;
            var now = DateTimeOffset.UtcNow;
            string Lock(string run, long start) =>
                $$"""{"run_id":"{{run}}","host":"{{Environment.MachineName}}","pid":{{sleeper.Id}},"acquired_at":"{{now:O}}","expires_at":"{{now.AddMinutes(5):O}}","pid_space":"{{HostProcess.Space}}","pid_start":{{start}}}""";

            await store.PutAsync(LakePaths.LockKey("orders"), System.Text.Encoding.UTF8.GetBytes(Lock("reused01", started - 1)), WriteCondition.None, CancellationToken.None);
            await using (var taken = await RunLock.AcquireAsync(store, "orders", "mine0001", TimeProvider.System, CancellationToken.None))
                Assert.Equal($"took over a stale lock of run reused01 (its process {sleeper.Id} on this host is gone)", taken.Notice);

            await store.PutAsync(LakePaths.LockKey("orders"), System.Text.Encoding.UTF8.GetBytes(Lock("live0001", started)), WriteCondition.None, CancellationToken.None);
            var refused = await Assert.ThrowsAsync<PipelineLockedException>(() => RunLock.AcquireAsync(store, "orders", "mine0002", TimeProvider.System, CancellationToken.None));
            Assert.StartsWith($"pipeline 'orders' is already running (run live0001 on {Environment.MachineName}, pid {sleeper.Id}, since ", refused.Message);
        }
        finally
        {
            sleeper.Kill();
        }
    }

    [Fact]
    public async Task A_dead_holder_of_this_pid_namespace_and_one_of_an_older_build_without_it_are_taken_over_at_once()
    {
        using var lake = new TempLake();
        var store = new LocalObjectStore(BucketUri.Parse(lake.Bucket));
        var now = DateTimeOffset.UtcNow;
        foreach (var space in new[] { HostProcess.Space, null })
        {
            var pid = await ExitedPidAsync();
            await PlantAsync(store, new RunLock.LockInfo("deadrun1", Environment.MachineName, pid, now, now.AddMinutes(5), space));
            await using var taken = await RunLock.AcquireAsync(store, "orders", "mine0001", TimeProvider.System, CancellationToken.None);
            Assert.Equal($"took over a stale lock of run deadrun1 (its process {pid} on this host is gone)", taken.Notice);
        }
        // The lock a run writes names its namespace, so that another namespace's run leaves it alone.
        await using var held = await RunLock.AcquireAsync(store, "orders", "mine0002", TimeProvider.System, CancellationToken.None);
        var written = LakeJson.Deserialize<RunLock.LockInfo>((await store.GetAsync(LakePaths.LockKey("orders"), CancellationToken.None))!.Content, "lock");
        Assert.Equal(HostProcess.Space, written.PidSpace);
        Assert.Equal(HostProcess.StartTime(Environment.ProcessId), written.PidStart);
    }
}
