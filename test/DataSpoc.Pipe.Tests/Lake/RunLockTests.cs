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
        Assert.StartsWith($"pipeline 'orders' is already running (run nsrun001 on {Environment.MachineName}, pid {pid}, since ", refused.Message);

        // Once its lease ended it is stale whatever its namespace.
        await PlantAsync(store, new RunLock.LockInfo("nsrun001", Environment.MachineName, pid, now.AddMinutes(-6), now.AddSeconds(-1), elsewhere));
        await using (var taken = await RunLock.AcquireAsync(store, "orders", "mine0002", TimeProvider.System, CancellationToken.None))
            Assert.StartsWith("took over a stale lock of run nsrun001 (its lease expired at ", taken.Notice);
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
    }
}
