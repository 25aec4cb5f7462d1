using System.Diagnostics;
using System.Text.Json.Serialization;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Lake;

/// <summary>
/// <c>.dataspoc/locks/&lt;pipeline&gt;.lock</c>: created only if absent, so two runs of one pipeline never overlap.
/// The holder renews its lease while it runs; a lock whose lease expired, or whose holder process on this host is
/// gone (a killed run), is taken over and the run log says so.
/// </summary>
public sealed class RunLock : IAsyncDisposable
{
    public static readonly TimeSpan Lease = TimeSpan.FromMinutes(5);

    private readonly IObjectStore _store;
    private readonly string _key;
    private readonly TimeProvider _time;
    private readonly LockInfo _info;
    private string _version = "";
    private readonly CancellationTokenSource _stopRenewing = new();
    private Task _renewing = Task.CompletedTask;

    private RunLock(IObjectStore store, string key, TimeProvider time, LockInfo info)
    {
        _store = store;
        _key = key;
        _time = time;
        _info = info;
    }

    /// <summary>What taking the lock found: null when it was free, else a sentence for the run log.</summary>
    public string? Notice { get; private set; }

    public static async Task<RunLock> AcquireAsync(IObjectStore store, string pipeline, string runId, TimeProvider time, CancellationToken cancellationToken)
    {
        var key = LakePaths.LockKey(pipeline);
        var now = time.GetUtcNow();
        var info = new LockInfo(runId, Environment.MachineName, Environment.ProcessId, now, now + Lease);
        var runLock = new RunLock(store, key, time, info);
        for (var attempt = 0; attempt < 5; attempt++)
        {
            if (await store.PutAsync(key, LakeJson.Serialize(info), WriteCondition.IfAbsent, cancellationToken).ConfigureAwait(false))
            {
                await runLock.LearnVersionAsync(cancellationToken).ConfigureAwait(false);
                runLock.StartRenewing();
                return runLock;
            }
            var held = await store.GetAsync(key, cancellationToken).ConfigureAwait(false);
            if (held is null) continue; // released between our two calls: try again
            LockInfo? holder;
            try { holder = LakeJson.Deserialize<LockInfo>(held.Content, "lock"); }
            catch (System.Text.Json.JsonException) { holder = null; }
            var stale = holder is null ? "unreadable"
                : holder.ExpiresAt < now ? $"its lease expired at {holder.ExpiresAt:O}"
                : holder.Host == Environment.MachineName && !IsAlive(holder.Pid) ? $"its process {holder.Pid} on this host is gone"
                : null;
            if (stale is null)
                throw new PipelineLockedException(pipeline, holder!);
            if (await store.PutAsync(key, LakeJson.Serialize(info), WriteCondition.IfVersion(held.Version), cancellationToken).ConfigureAwait(false))
            {
                runLock.Notice = $"took over a stale lock of run {holder?.RunId ?? "?"} ({stale})";
                await runLock.LearnVersionAsync(cancellationToken).ConfigureAwait(false);
                runLock.StartRenewing();
                return runLock;
            }
        }
        throw new PipelineLockedException(pipeline, null);
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }

    private async Task LearnVersionAsync(CancellationToken cancellationToken)
    {
        var mine = await _store.GetAsync(_key, cancellationToken).ConfigureAwait(false);
        _version = mine?.Version ?? "";
    }

    private void StartRenewing()
    {
        var token = _stopRenewing.Token;
        _renewing = Task.Run(async () =>
        {
            while (!token.IsCancellationRequested)
            {
                try { await Task.Delay(Lease / 5, _time, token).ConfigureAwait(false); }
                catch (OperationCanceledException) { return; }
                var now = _time.GetUtcNow();
                var renewed = _info with { ExpiresAt = now + Lease };
                try
                {
                    if (await _store.PutAsync(_key, LakeJson.Serialize(renewed), WriteCondition.IfVersion(_version), token).ConfigureAwait(false))
                        await LearnVersionAsync(token).ConfigureAwait(false);
                }
                catch (Exception) when (!token.IsCancellationRequested)
                {
                    // A failed renewal is retried at the next tick; the lease is long enough to absorb a few.
                }
            }
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _stopRenewing.CancelAsync().ConfigureAwait(false);
        try { await _renewing.ConfigureAwait(false); } catch (OperationCanceledException) { }
        // Release only our own lock (a takeover by another run must not be undone).
        var current = await _store.GetAsync(_key, CancellationToken.None).ConfigureAwait(false);
        if (current is not null && current.Version == _version)
            await _store.DeleteAsync(_key, CancellationToken.None).ConfigureAwait(false);
        _stopRenewing.Dispose();
    }

    public sealed record LockInfo(
        [property: JsonPropertyName("run_id")] string RunId,
        [property: JsonPropertyName("host")] string Host,
        [property: JsonPropertyName("pid")] int Pid,
        [property: JsonPropertyName("acquired_at")] DateTimeOffset AcquiredAt,
        [property: JsonPropertyName("expires_at")] DateTimeOffset ExpiresAt);
}

/// <summary>Another run of the pipeline holds its lock.</summary>
public sealed class PipelineLockedException(string pipeline, RunLock.LockInfo? holder)
    : Exception(holder is null
        ? $"pipeline '{pipeline}' is locked by another run"
        : $"pipeline '{pipeline}' is already running (run {holder.RunId} on {holder.Host}, pid {holder.Pid}, since {holder.AcquiredAt:u}); wait for it to finish")
{
    public string Pipeline { get; } = pipeline;
}
