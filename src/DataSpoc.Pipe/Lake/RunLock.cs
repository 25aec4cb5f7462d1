using System.Text.Json.Serialization;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Lake;

/// <summary>
/// <c>.dataspoc/locks/&lt;pipeline&gt;.lock</c>: created only if absent, so two runs of one pipeline never overlap.
/// The holder renews its lease while it runs; a lock whose lease expired, or whose holder process on this host (in this
/// PID namespace: <see cref="HostProcess"/>) is gone (a killed run), is taken over and the run log says so.
/// </summary>
public sealed class RunLock : IAsyncDisposable
{
    public static readonly TimeSpan DefaultLease = TimeSpan.FromMinutes(5);

    /// <summary>What the run id of a <c>maintain</c> holding the lock starts with (a run's is a bare id).</summary>
    internal const string MaintainRunIdPrefix = "maintain-";
    private const int AcquireAttempts = 5;

    private readonly IObjectStore _store;
    private readonly string _key;
    private readonly TimeProvider _time;
    private readonly TimeSpan _lease;
    private readonly LockInfo _info;
    private string _version = "";
    private DateTimeOffset _heldUntil;
    private readonly CancellationTokenSource _stopRenewing = new();
    private readonly CancellationTokenSource _lost = new();
    private readonly CancellationTokenSource _windDown;
    private Task _renewing = Task.CompletedTask;

    private RunLock(IObjectStore store, string key, TimeProvider time, TimeSpan lease, LockInfo info)
    {
        _store = store;
        _key = key;
        _time = time;
        _lease = lease;
        _info = info;
        _heldUntil = info.ExpiresAt;
        _windDown = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
    }

    /// <summary>The run id the lock object names (<see cref="LockInfo.RunId"/>).</summary>
    internal string RunId => _info.RunId;

    /// <summary>What taking the lock found: null when it was free, else a sentence for the run log.</summary>
    public string? Notice { get; private set; }

    /// <summary>The run id of the holder whose stale lock this one took over (a run that died holding it), else null.</summary>
    public string? TookOverFrom { get; private set; }

    /// <summary>Why the lock was lost (a renewal refused or impossible until its lease ran out); null while it is held.</summary>
    public string? LostReason { get; private set; }

    /// <summary>
    /// Cancelled when the lock is lost (a renewal refused, or no renewal succeeded before the lease ran out, a store that
    /// stalls included): the run must stop, since another run may now write as this pipeline. Every storage call the run
    /// makes before its commit point takes this token (linked), so a call stalled on a store that no longer answers ends
    /// at the lease's end, not after the SDK's own timeouts and retries (minutes per call).
    /// </summary>
    public CancellationToken Lost => _lost.Token;

    /// <summary>
    /// Cancelled one lease after <see cref="Lost"/> (never while the lock is held): bounds what a run that lost its lock
    /// still asks of the store on its way out, all of it best effort (rolling back its own commit, saving its run log).
    /// The store that let the lease run out often still does not answer; the next run repairs what this one could not.
    /// </summary>
    public CancellationToken WindDown => _windDown.Token;

    /// <summary>The error of a run that lost this lock (null while it is held).</summary>
    public LockLostException? LostError => LostReason is { } reason ? new LockLostException(_store.Bucket + "/" + _key, reason) : null;

    /// <summary>The error of a <c>maintain</c> that lost this lock (null while it is held); <paramref name="cause"/> is what its loss stopped.</summary>
    internal LockLostException? MaintainLostError(Exception? cause) =>
        LostReason is { } reason ? LockLostException.OfMaintain(_store.Bucket + "/" + _key, reason, cause) : null;

    /// <summary>
    /// The token for the holder's work (a run, <c>maintain</c>): cancelled by <paramref name="cancellationToken"/> (a
    /// signal, the caller) or once the lock is lost (<see cref="Lost"/>), since another run may then be writing as this
    /// pipeline. Every storage call of the work takes it, so the work stops at its next call, before its commit point.
    /// </summary>
    public CancellationTokenSource WorkCancellation(CancellationToken cancellationToken) =>
        CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, Lost);

    public static Task<RunLock> AcquireAsync(IObjectStore store, string pipeline, string runId, TimeProvider time, CancellationToken cancellationToken) =>
        AcquireAsync(store, pipeline, runId, time, DefaultLease, cancellationToken);

    public static Task<RunLock> AcquireAsync(IObjectStore store, string pipeline, string runId, TimeProvider time, TimeSpan lease, CancellationToken cancellationToken) =>
        AcquireAsync(store, pipeline, runId, splitRun: null, time, lease, cancellationToken);

    /// <summary>
    /// Takes the lock <paramref name="pipeline"/> names (a pipeline's, or a split part's: <see cref="LakePaths.SplitPartLockName"/>);
    /// a split part's records its <paramref name="splitRun"/>, so <c>status</c> can show the split run in progress.
    /// </summary>
    internal static async Task<RunLock> AcquireAsync(IObjectStore store, string pipeline, string runId, string? splitRun, TimeProvider time, TimeSpan lease, CancellationToken cancellationToken)
    {
        var key = LakePaths.LockKey(pipeline);
        var now = time.GetUtcNow();
        var info = new LockInfo(runId, Environment.MachineName, Environment.ProcessId, now, now + lease, HostProcess.Space, HostProcess.StartTime(Environment.ProcessId)) { SplitRun = splitRun };
        var runLock = new RunLock(store, key, time, lease, info);
        var causes = new List<string>();
        for (var attempt = 0; attempt < AcquireAttempts; attempt++)
        {
            var content = LakeJson.Serialize(info);
            if (await store.PutAsync(key, content, WriteCondition.IfAbsent, cancellationToken).ConfigureAwait(false))
            {
                await runLock.LearnVersionAsync(content, cancellationToken).ConfigureAwait(false);
                runLock.StartRenewing();
                return runLock;
            }
            var held = await store.GetAsync(key, cancellationToken).ConfigureAwait(false);
            if (held is null)
            {
                causes.Add("the lock was refused as existing, then read as absent (released in between)");
                continue;
            }
            LockInfo? holder;
            try { holder = LakeJson.Deserialize<LockInfo>(held.Content, "lock"); }
            catch (System.Text.Json.JsonException) { holder = null; }
            var stale = Stale(holder, now);
            if (stale is null)
                throw new PipelineLockedException(pipeline, holder!);
            if (await store.PutAsync(key, content, WriteCondition.IfVersion(held.Version) with { ContentIsUnique = true }, cancellationToken).ConfigureAwait(false))
            {
                runLock.Notice = $"took over a stale lock of run {holder?.RunId ?? "?"} ({stale})";
                runLock.TookOverFrom = holder?.RunId;
                await runLock.LearnVersionAsync(content, cancellationToken).ConfigureAwait(false);
                runLock.StartRenewing();
                return runLock;
            }
            var after = await store.GetAsync(key, cancellationToken).ConfigureAwait(false);
            causes.Add(after is null ? $"taking over the stale lock ({stale}) was refused: it was released meanwhile"
                : after.Version == held.Version ? $"taking over the stale lock ({stale}) was refused although the lock had not changed (version {held.Version}): the store does not accept its own version tag in a conditional write"
                : $"taking over the stale lock ({stale}) was refused: another run changed it first");
        }
        throw new PipelineLockedException(pipeline, null,
            $"could not take the lock {store.Bucket}/{key} in {AcquireAttempts} attempts: " + string.Join("; ", causes.Distinct()));
    }

    /// <summary>
    /// Why a lock held by <paramref name="holder"/> may be taken over (its holder cannot be running), or null while it is
    /// live. The one rule for a holder's death: a commit waiting for a table claim judges the claim's holder by it too.
    /// </summary>
    internal static string? Stale(LockInfo? holder, DateTimeOffset now) =>
        holder is null ? "unreadable"
        : holder.ExpiresAt < now ? $"its lease expired at {holder.ExpiresAt:O}"
        : HostProcess.IsGone(holder.Host, holder.Pid, holder.PidSpace, holder.PidStart) ? $"its process {holder.Pid} on this host is gone"
        : null;

    /// <summary>
    /// The run ids that hold a live lock among the locks whose key starts with <paramref name="keyPrefix"/> (a pipeline's
    /// own lock and its split parts' locks: <see cref="LakePaths.LocksPrefix"/>).
    /// </summary>
    internal static async Task<HashSet<string>> LiveHoldersAsync(IObjectStore store, string keyPrefix, DateTimeOffset now, CancellationToken cancellationToken) =>
        (await LiveLocksAsync(store, keyPrefix, now, cancellationToken).ConfigureAwait(false)).Select(l => l.Holder.RunId).ToHashSet(StringComparer.Ordinal);

    /// <summary>The live locks (<see cref="LiveHolderAsync"/>) among those whose key starts with <paramref name="keyPrefix"/>, each with its key.</summary>
    internal static async Task<List<(string Key, LockInfo Holder)>> LiveLocksAsync(IObjectStore store, string keyPrefix, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var keys = new List<string>();
        await foreach (var obj in store.ListAsync(keyPrefix, cancellationToken).ConfigureAwait(false))
            if (obj.Key.EndsWith(".lock", StringComparison.Ordinal)) keys.Add(obj.Key); // not a file:// store's ".lck" sidecar
        var live = new List<(string, LockInfo)>();
        foreach (var key in keys)
            if (await LiveHolderAsync(store, key, now, cancellationToken).ConfigureAwait(false) is { } holder) live.Add((key, holder));
        return live;
    }

    /// <summary>
    /// The holder of the lock <paramref name="key"/> while it is live; null when there is no lock, or it is unreadable or
    /// stale (<see cref="Stale"/>: a killed run's lock stays until the next run takes it over).
    /// </summary>
    internal static async Task<LockInfo?> LiveHolderAsync(IObjectStore store, string key, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (await store.GetAsync(key, cancellationToken).ConfigureAwait(false) is not { } held) return null;
        LockInfo? holder;
        try { holder = LakeJson.Deserialize<LockInfo>(held.Content, "lock"); }
        catch (System.Text.Json.JsonException) { return null; }
        return Stale(holder, now) is null ? holder : null;
    }

    /// <summary>
    /// Reads back the version of the lock object just written. A conditional put does not return it, so another writer
    /// may have replaced the object in between: then the content is not ours and the lock is lost.
    /// </summary>
    private async Task LearnVersionAsync(ReadOnlyMemory<byte> written, CancellationToken cancellationToken)
    {
        var mine = await _store.GetAsync(_key, cancellationToken).ConfigureAwait(false);
        if (mine is null) { MarkLost("the lock object was deleted by someone else"); return; }
        if (!mine.Content.Span.SequenceEqual(written.Span)) { MarkLost(ChangedBy(mine)); return; }
        _version = mine.Version;
    }

    /// <summary>
    /// Throws <see cref="LockLostException"/> unless the lock object is still the one this run wrote. Called right before
    /// the commit: a run must not make anything visible once another run may be writing as its pipeline.
    /// </summary>
    public async Task EnsureHeldAsync(CancellationToken cancellationToken)
    {
        if (LostReason is null)
        {
            var current = await _store.GetAsync(_key, cancellationToken).ConfigureAwait(false);
            if (current is null) MarkLost("the lock object was deleted by someone else");
            // A renewal that landed while we read has a new version but is ours.
            else if (current.Version != _version && !IsOurs(current)) MarkLost(ChangedBy(current));
            else if (_time.GetUtcNow() > _heldUntil) MarkLost($"its lease ran out at {_heldUntil:O} before a renewal succeeded");
        }
        if (LostError is { } lost) throw lost;
    }

    private bool IsOurs(StoredObject current)
    {
        try
        {
            var holder = LakeJson.Deserialize<LockInfo>(current.Content, "lock");
            return holder.RunId == _info.RunId && holder.Host == _info.Host && holder.Pid == _info.Pid && holder.PidSpace == _info.PidSpace;
        }
        catch (System.Text.Json.JsonException)
        {
            return false;
        }
    }

    private static string ChangedBy(StoredObject current)
    {
        try
        {
            var other = LakeJson.Deserialize<LockInfo>(current.Content, "lock");
            return $"the lock object was overwritten by run {other.RunId} on {other.Host}, pid {other.Pid}";
        }
        catch (System.Text.Json.JsonException)
        {
            return "the lock object was overwritten by someone else";
        }
    }

    private void MarkLost(string reason)
    {
        if (LostReason is not null) return;
        LostReason = reason;
        _lost.Cancel();
        _windDown.CancelAfter(_lease);
    }

    private void StartRenewing()
    {
        var token = _stopRenewing.Token;
        _renewing = Task.Run(async () =>
        {
            while (!token.IsCancellationRequested && LostReason is null)
            {
                try { await Task.Delay(_lease / 5, _time, token).ConfigureAwait(false); }
                catch (OperationCanceledException) { return; }
                var now = _time.GetUtcNow();
                var renewed = _info with { ExpiresAt = now + _lease };
                var content = LakeJson.Serialize(renewed);
                // A renewal may take only what is left of the lease: a store that stalls (accepts the connection, never
                // answers) holds an SDK call for its timeouts and retries, minutes, while another run may take over the
                // lock once the lease ran out. The lock is lost then, whether or not the call would have succeeded later.
                var left = _heldUntil - now;
                if (left <= TimeSpan.Zero)
                {
                    MarkLost($"it was not renewed before its lease ran out at {_heldUntil:O}");
                    return;
                }
                using var leaseEnd = new CancellationTokenSource(left, _time);
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(token, leaseEnd.Token);
                try
                {
                    if (await _store.PutAsync(_key, content, WriteCondition.IfVersion(_version) with { ContentIsUnique = true }, attempt.Token).ConfigureAwait(false))
                    {
                        await LearnVersionAsync(content, attempt.Token).ConfigureAwait(false);
                        _heldUntil = renewed.ExpiresAt;
                    }
                    else
                    {
                        var current = await _store.GetAsync(_key, attempt.Token).ConfigureAwait(false);
                        MarkLost(current is null ? "the lock object was deleted by someone else" : current.Version == _version
                            ? $"the store refused to renew it although it had not changed (version {_version})"
                            : ChangedBy(current));
                    }
                }
                catch (Exception e) when (!token.IsCancellationRequested)
                {
                    // A failed renewal is retried at the next tick; the lease absorbs a few. Past it, another run may take over.
                    if (leaseEnd.IsCancellationRequested)
                        MarkLost($"the store did not answer its renewal before its lease ran out at {_heldUntil:O} ({Durations.Describe(_lease)} lease)");
                    else if (_time.GetUtcNow() > _heldUntil)
                        MarkLost($"it could not be renewed before its lease ran out at {_heldUntil:O}: {e.Message}");
                }
            }
        });
    }

    /// <summary>
    /// Stops renewing and deletes the lock object if it is still this run's (a takeover by another run must not be
    /// undone). Best effort: a store that fails now (often the very failure that ended the run) must not replace the
    /// run's own result, and a lock left behind is taken over by the next run (at once on this host, whose process is
    /// gone, else once its lease ran out). Returns null when released (or nothing to release), else a sentence for the
    /// run log's notices. Once only; <see cref="DisposeAsync"/> calls it too.
    /// </summary>
    public async Task<string?> ReleaseAsync()
    {
        if (_released) return null;
        _released = true;
        await _stopRenewing.CancelAsync().ConfigureAwait(false);
        try { await _renewing.ConfigureAwait(false); } catch (OperationCanceledException) { }
        // A lost lock is never deleted (it may be another run's now): nothing to ask a store that may not answer.
        if (LostReason is not null) return null;
        // At most one lease: by then the lock has expired and the next run takes it over anyway.
        using var bound = new CancellationTokenSource(_lease, _time);
        try
        {
            var current = await _store.GetAsync(_key, bound.Token).ConfigureAwait(false);
            if (current is not null && current.Version == _version)
                await _store.DeleteAsync(_key, bound.Token).ConfigureAwait(false);
            return null;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            var why = bound.IsCancellationRequested ? $"the store did not answer within {Durations.Describe(_lease)}" : e.Message;
            return $"the pipeline lock {_store.Bucket}/{_key} could not be released ({why}); the next run takes it over "
                + $"(at once on this host, else after its lease ends at {_heldUntil:u})";
        }
    }

    private bool _released;

    public async ValueTask DisposeAsync()
    {
        await ReleaseAsync().ConfigureAwait(false);
        _stopRenewing.Dispose();
        _lost.Dispose();
        _windDown.Dispose();
    }

    public sealed record LockInfo(
        [property: JsonPropertyName("run_id")] string RunId,
        [property: JsonPropertyName("host")] string Host,
        [property: JsonPropertyName("pid")] int Pid,
        [property: JsonPropertyName("acquired_at")] DateTimeOffset AcquiredAt,
        [property: JsonPropertyName("expires_at")] DateTimeOffset ExpiresAt,
        // The holder's PID namespace (HostProcess.Space): its pid says whether it runs only to a process of the same
        // namespace. Absent in locks of older builds (then host name and pid decide, as they did).
        [property: JsonPropertyName("pid_space"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? PidSpace = null,
        // When the holder process started (HostProcess.StartTime): a process given the pid since a killed run is not
        // taken for that run. Absent where it cannot be read (not Linux) and in locks of older builds.
        [property: JsonPropertyName("pid_start"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? PidStart = null)
    {
        /// <summary>
        /// The split run a part worker's lock belongs to (<c>run --part</c>); absent in a pipeline's own lock, and in part
        /// locks of older builds (whose workers <c>status</c> then does not show).
        /// </summary>
        [JsonPropertyName("split_run"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public string? SplitRun { get; init; }

        /// <summary>
        /// The holder's process as every message names it (a run's refusal, <c>status</c>): <c>pid P on HOST</c> when this
        /// process can look at it (<see cref="HostProcess.CanLookAt"/>); else where that pid is, as it is no process of
        /// this PID namespace (on this host, pid 1 would read as init).
        /// </summary>
        [JsonIgnore]
        public string Process => HostProcess.CanLookAt(Host, PidSpace) ? $"pid {Pid} on {Host}"
            : Host == Environment.MachineName ? $"pid {Pid} in another PID namespace on {Host}, such as a container's"
            : $"pid {Pid} on host {Host}";

        /// <summary>
        /// Null when this process can look at the holder (alive, as its lock would otherwise have been taken over); else
        /// what is known of a holder it cannot look at, which may be a killed run: <c>cannot be checked from here: ...</c>,
        /// with when its lease runs out.
        /// </summary>
        [JsonIgnore]
        public string? Unchecked => HostProcess.CanLookAt(Host, PidSpace) ? null
            : $"cannot be checked from here: if it still runs, wait for it to finish; if it was killed, its lease runs out at {ExpiresAt:u} (a live run renews it), then a run takes the lock over";
    }
}

/// <summary>Another run of the pipeline holds its lock.</summary>
public sealed class PipelineLockedException(string pipeline, RunLock.LockInfo? holder, string? cause = null)
    : PipeException(holder is null
        ? $"pipeline '{pipeline}' is locked by another run" + (cause is null ? "" : $" ({cause})")
        : Describe(pipeline, holder))
{
    public string Pipeline { get; } = pipeline;

    /// <summary>
    /// A holder this process could look at is alive (else its lock would have been taken over). Another host's, or a pid
    /// of another PID namespace (a container), cannot be looked at: it may be a killed run, whose lock is free only once
    /// its lease runs out, and the message says so rather than promising a run that may not be there.
    /// </summary>
    private static string Describe(string pipeline, RunLock.LockInfo holder) => holder.Unchecked is { } @unchecked
        ? $"pipeline '{pipeline}' is locked by run {holder.RunId} ({holder.Process}, since {holder.AcquiredAt:u}), which {@unchecked}"
        : $"pipeline '{pipeline}' is already running (run {holder.RunId} on {holder.Host}, pid {holder.Pid}, since {holder.AcquiredAt:u}); wait for it to finish";
}

/// <summary>The run's (or maintain's) lock was lost while it ran (its renewal was refused, or impossible until the lease ran out).</summary>
public sealed class LockLostException : PipeException
{
    public LockLostException(string lockKey, string reason)
        : base($"the run lost its pipeline lock {lockKey}: {reason}; nothing of this run was committed (another run may be writing as this pipeline)") { }

    private LockLostException(string message, Exception? inner) : base(message, inner) { }

    /// <summary>
    /// A maintain's: it stops at its next step, each of which is whole or undone (a compaction's commit is rolled back
    /// before its commit point, completed after it; expiry's deletions left undone are finished by the next maintain).
    /// </summary>
    internal static LockLostException OfMaintain(string lockKey, string reason, Exception? cause) =>
        new($"maintain lost its pipeline lock {lockKey}: {reason}; it stopped there (another run may be writing as this pipeline): a compaction " +
            "not yet committed was rolled back, and what it had completed stays; run maintain again", cause);
}
