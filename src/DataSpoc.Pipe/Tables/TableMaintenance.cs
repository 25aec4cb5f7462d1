using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Tables;

/// <summary>
/// What maintenance did to one table: snapshots expired and kept, data files deleted (by expiry, and a plain Parquet
/// table's files compaction rewrote, which its commit deletes), Delta log files deleted by
/// the log's cleanup (a count: a first cleanup of a busy table deletes thousands), and (<c>--compact</c>) how many small
/// files were rewritten into how many.
/// </summary>
public sealed record TableMaintenanceResult(string Table, int ExpiredSnapshots, int KeptSnapshots, IReadOnlyList<string> DeletedFiles,
    int CompactedFiles = 0, int WrittenFiles = 0, int DeletedLogFiles = 0)
{
    /// <summary>The result as every front end prints it (<c>maintain --output json</c>, the MCP tool).</summary>
    public JsonObject ToJson() => new()
    {
        ["table"] = Table,
        ["expired_snapshots"] = ExpiredSnapshots,
        ["kept_snapshots"] = KeptSnapshots,
        ["deleted_files"] = new JsonArray([.. DeletedFiles.Select(f => (JsonNode)JsonValue.Create(f))]),
        ["compacted_files"] = CompactedFiles,
        ["written_files"] = WrittenFiles,
        ["deleted_log_files"] = DeletedLogFiles,
    };
}

/// <summary>
/// What one <c>maintain</c> did: a result per table, and notices about the pipeline as a whole (a killed run's or
/// compaction's interrupted commit that it completed or rolled back first).
/// </summary>
public sealed class PipelineMaintenance(IReadOnlyList<TableMaintenanceResult> tables, IReadOnlyList<string> notices, IReadOnlyList<string>? skipped = null)
    : IReadOnlyList<TableMaintenanceResult>
{
    /// <summary>Sentences for the operator, in order; empty when there is nothing to tell.</summary>
    public IReadOnlyList<string> Notices => notices;

    /// <summary>The tables left as they were, each with a notice saying why (their commit claim stayed held).</summary>
    public IReadOnlyList<string> Skipped => skipped ?? [];

    public TableMaintenanceResult this[int index] => tables[index];
    public int Count => tables.Count;
    public IEnumerator<TableMaintenanceResult> GetEnumerator() => tables.GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The result as every front end prints it (<c>maintain --output json</c>, the MCP tool): <c>{"tables": [...], "notices": [...]}</c>.</summary>
    public JsonObject ToJson() => new()
    {
        ["tables"] = new JsonArray([.. tables.Select(r => (JsonNode)r.ToJson())]),
        ["notices"] = new JsonArray([.. notices.Select(n => (JsonNode)JsonValue.Create(n))]),
    };

    /// <summary>
    /// What a maintain that failed with <paramref name="failure"/> said before it did (as <see cref="Notices"/>): above all
    /// that its compaction's commit stopped after its files had landed, or that its expiry left deletions, and that the
    /// next run or maintain completes them. Empty for none, and for an exception no maintain threw.
    /// </summary>
    public static IReadOnlyList<string> NoticesOf(Exception failure)
    {
        ArgumentNullException.ThrowIfNull(failure);
        return (failure is AggregateException { InnerExceptions.Count: 1 } a ? a.InnerException! : failure).Data[NoticesKey] as string[] ?? [];
    }

    /// <summary>
    /// The step a maintain that failed with <paramref name="failure"/> was in once it held the pipeline's lock (as a run
    /// log's <c>failed_step</c>): one of <see cref="MaintainSteps.All"/>. Null for a maintain that failed before (an
    /// invalid pipeline, a bucket not opened, the lock held by a run), and for an exception no maintain threw.
    /// </summary>
    public static string? FailedStepOf(Exception failure)
    {
        ArgumentNullException.ThrowIfNull(failure);
        return (failure is AggregateException { InnerExceptions.Count: 1 } a ? a.InnerException! : failure).Data[FailedStepKey] as string;
    }

    /// <summary>
    /// Gives <paramref name="failure"/>, on its way out of a maintain, the step it failed in (<see cref="FailedStepOf"/>)
    /// and what that maintain said so far (<see cref="NoticesOf"/>).
    /// </summary>
    internal static Exception WithFailure(Exception failure, string step, IReadOnlyCollection<string> notices)
    {
        failure.Data[FailedStepKey] = step;
        if (notices.Count > 0) failure.Data[NoticesKey] = notices.ToArray();
        return failure;
    }

    private const string NoticesKey = "dataspoc.maintain.notices";
    private const string FailedStepKey = "dataspoc.maintain.failed_step";
}

/// <summary>
/// The steps of a maintain once it holds the pipeline's lock, in the order it takes them: a failed maintain's
/// <c>failed_step</c> names one (<see cref="PipelineMaintenance.FailedStepOf"/>).
/// </summary>
public static class MaintainSteps
{
    /// <summary>Finishing or cleaning up what an interrupted run or maintain left (its journal, a killed run's temp folders), as a run's <c>recover</c>.</summary>
    public const string Recover = Runs.RunSteps.Recover;
    /// <summary>Compacting the tables' small files (<c>--compact</c>), up to and including its commit.</summary>
    public const string Compact = "compact";
    /// <summary>Expiring Iceberg snapshots and Delta removes, deleting the files only they read and the expired Delta log, and cleaning up lock and temp files.</summary>
    public const string Expire = "expire";

    public static readonly IReadOnlyList<string> All = [Recover, Compact, Expire];
}

/// <summary>
/// Expires a pipeline's Iceberg snapshots older than a cutoff (never the current one) with a new metadata version,
/// and deletes the files that only expired snapshots, or Delta removes older than the cutoff, still referenced:
/// a file any kept snapshot, the live Delta version or a newer Delta remove needs is never deleted, and files no table
/// metadata ever listed (e.g. written before the table had a table format) are left alone. Only files still on storage
/// are deleted and reported (a Delta remove stays in the log long after an earlier maintain deleted its file). Then the
/// Delta log's expired entries and checkpoints (<see cref="DeltaTable.ExpiredLogFilesAsync"/>).
/// </summary>
/// <remarks>
/// The files to delete are saved in <see cref="LakePaths.ExpiryJournalKey"/> before the Iceberg expiry commit, since
/// from that commit on no metadata names the expired snapshots: a maintain killed or failing before all of them are
/// deleted leaves the journal, and the next maintain deletes those of its files that no snapshot or Delta version needs
/// by then. The caller holds the pipeline's run lock: given, it is checked before each table's changes, and the
/// cancellation token (cancelled once it is lost) before each deletion.
/// </remarks>
internal sealed class TableMaintenance(IObjectStore store, TimeProvider time)
{
    /// <summary>
    /// An Iceberg expiry worked out on version <c>Version</c>: <c>Next</c> is the metadata to publish, null when nothing
    /// expires; <c>Logged</c>, the metadata files the table's current metadata lists in its <c>metadata-log</c> after it.
    /// </summary>
    private sealed record IcebergExpiry(long Version, JsonObject? Next, int Expired, int Kept, HashSet<string> Logged)
    {
        /// <summary>The table's current version once the expiry is published.</summary>
        public long CurrentVersion => Next is null ? Version : Version + 1;
    }

    public Task<List<TableMaintenanceResult>> RunAsync(string pipeline, TimeSpan expireOlderThan, CancellationToken cancellationToken, RunLock? heldLock = null,
        ICollection<string>? notices = null) =>
        RunAsync(pipeline, expireOlderThan, MaintainedTables.LastWrittenBy(pipeline), cancellationToken, heldLock, notices);

    /// <summary>
    /// Maintains the tables <paramref name="covered"/> names. A table whose commit claim stays held by another commit
    /// (<see cref="LakeCommitter.WhileHoldingTablesAsync"/>) is left as it is, added to <paramref name="skipped"/>, and
    /// <paramref name="notices"/> says why.
    /// </summary>
    public async Task<List<TableMaintenanceResult>> RunAsync(string pipeline, TimeSpan expireOlderThan, MaintainedTables covered, CancellationToken cancellationToken,
        RunLock? heldLock = null, ICollection<string>? notices = null, ICollection<string>? skipped = null)
    {
        var manifest = await new ManifestStore(store, time).ReadAsync(cancellationToken).ConfigureAwait(false);
        var results = new List<TableMaintenanceResult>();
        var cutoff = time.GetUtcNow() - expireOlderThan;
        var journalKey = LakePaths.ExpiryJournalKey(pipeline);
        var pending = await ReadJournalAsync(journalKey, cancellationToken).ConfigureAwait(false);
        // The table an earlier maintain left deletions of goes first: the journal holds one table's deletions at a time.
        var skippedPending = false;
        var tables = manifest.Tables.Where(t => covered.Covers(store, t.Value) && t.Value.TableFormats is { Count: > 0 })
            .OrderBy(t => t.Key == pending?.Table ? 0 : 1).ToList();
        foreach (var (key, table) in tables)
        {
            var formats = table.TableFormats!;
            var prefix = store.Bucket.KeyPrefixOf(table.Location)
                ?? throw new StorageException($"table {key} is at {table.Location}, outside {store.Bucket}");
            var commit = new TableMetadataCommit { Prefix = prefix, Location = table.Location };
            var candidates = new HashSet<string>(StringComparer.Ordinal);
            var keep = new HashSet<string>(StringComparer.Ordinal);
            var resumed = pending?.Table == key;
            if (resumed) candidates.UnionWith(pending!.Files);
            (long Latest, List<string> ExpiredLog) delta = (-1, []);
            IcebergExpiry? expiry = null;
            List<string> deleted = [];
            async Task PlanAndPublishAsync()
            {
                if (formats.Contains(TableFormatCommitter.Delta))
                    delta = await CollectDeltaAsync(prefix, cutoff, expireOlderThan, candidates, keep, cancellationToken).ConfigureAwait(false);
                if (formats.Contains(TableFormatCommitter.Iceberg))
                    expiry = await PlanIcebergExpiryAsync(commit, cutoff, candidates, keep, cancellationToken).ConfigureAwait(false);
                var stored = new HashSet<string>(StringComparer.Ordinal);
                await foreach (var obj in store.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
                {
                    stored.Add(obj.Key);
                    if (IsAbandonedTemp(obj) || (expiry is not null && IsDroppedMetadataVersion(prefix, obj, expiry))) candidates.Add(obj.Key);
                }
                deleted = [.. candidates.Where(k => !keep.Contains(k) && stored.Contains(k)).Order(StringComparer.Ordinal)];
                if (heldLock is not null) await heldLock.EnsureHeldAsync(cancellationToken).ConfigureAwait(false);
                if (deleted.Count > 0) await SaveJournalAsync(journalKey, key, deleted, cancellationToken).ConfigureAwait(false);
                if (expiry is { Next: { } next })
                    await PublishAsync(commit, expiry.Version + 1, next, cancellationToken).ConfigureAwait(false);
                if (expiry is not null)
                {
                    await new IcebergTable(store, time).RefreshVersionHintAsync(prefix, expiry.CurrentVersion, cancellationToken).ConfigureAwait(false);
                    if (IcebergVersionNamedBy(prefix, table.IcebergMetadata) < expiry.CurrentVersion)
                        await PointManifestAtAsync(key, prefix, expiry.CurrentVersion, cancellationToken).ConfigureAwait(false);
                }
            }
            // An Iceberg expiry plans on the current metadata version and writes the next one and the version hint: under the
            // table's commit claim, as a commit's metadata is, so no commit of another pipeline moves the table on in between
            // (the hint would then go back to the expiry's version, and readers that trust it read older data). The deletions
            // follow without it: no snapshot a commit can still make names an expired file. A Delta-only table's cleanup
            // writes no metadata (it deletes log files older than a checkpoint, which commits never touch).
            if (!formats.Contains(TableFormatCommitter.Iceberg))
                await PlanAndPublishAsync().ConfigureAwait(false);
            else if (await HoldingTableAsync(pipeline, prefix, PlanAndPublishAsync, heldLock, notices, cancellationToken).ConfigureAwait(false) is { } busy)
            {
                notices?.Add($"table {key} was not maintained: {busy}; run maintain again");
                skipped?.Add(key);
                if (resumed) skippedPending = true;
                continue;
            }
            var (deltaVersion, expiredLog) = delta;
            // A store may not look at the token when it deletes (file:// does not): a lost lock stops the deletions here.
            var left = deleted.Count;
            try
            {
                foreach (var file in deleted)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    await store.DeleteAsync(file, cancellationToken).ConfigureAwait(false);
                    left--;
                }
            }
            catch (Exception e) when (e is not OutOfMemoryException and not OperationCanceledException)
            {
                // The expiry is published: only the journal still names these files, and the maintain's error alone would
                // not say that they are left to the next maintain.
                notices?.Add($"this maintain stopped after expiring table {key}, with {left} of the {deleted.Count} file(s) only expired snapshots or removes read " +
                    $"not deleted yet; the next maintain deletes them (expiry journal {store.Bucket}/{journalKey})");
                throw;
            }
            if (deleted.Count > 0 || resumed) await store.DeleteAsync(journalKey, cancellationToken).ConfigureAwait(false);
            if (resumed) pending = null;
            // After the data files: the log entries still name them (their removes), and a crash in between leaves a log a
            // reader reads from its kept checkpoint, whose tombstones name those files too.
            foreach (var file in expiredLog)
            {
                cancellationToken.ThrowIfCancellationRequested();
                await store.DeleteAsync(file, cancellationToken).ConfigureAwait(false);
            }
            // The conditional-write locks of keys no writer can change again: every metadata version up to the current
            // one (each exists, created only if absent, or was deleted above as out of the log) and every Delta log entry
            // up to the latest (a writer creates only the version after the latest, which a cleanup never deletes).
            if (expiry is not null)
                await store.RemoveConditionalWriteLocksAsync(IcebergTable.MetadataPrefix(prefix),
                    k => IcebergTable.VersionOf(prefix, k) <= expiry.CurrentVersion, cancellationToken).ConfigureAwait(false);
            if (deltaVersion >= 0)
                await store.RemoveConditionalWriteLocksAsync(DeltaTable.LogPrefix(prefix),
                    k => DeltaTable.VersionOf(prefix, k) <= deltaVersion, cancellationToken).ConfigureAwait(false);
            results.Add(new TableMaintenanceResult(key, expiry?.Expired ?? 0, expiry?.Kept ?? 0, deleted, DeletedLogFiles: expiredLog.Count));
        }
        // Its table no longer has a table format (or left the manifest): nothing tells which of its files are still needed.
        if (pending is not null && !skippedPending) await store.DeleteAsync(journalKey, cancellationToken).ConfigureAwait(false);
        foreach (var (_, table) in manifest.Tables.Where(t => covered.Covers(store, t.Value)))
            if (store.Bucket.KeyPrefixOf(table.Location) is { } prefix)
                await RemoveClaimLeftoversAsync(prefix, cancellationToken).ConfigureAwait(false);
        foreach (var folder in (string[])[LakePaths.ExpiryPrefix, LakePaths.ProbePrefix])
        {
            var abandoned = new List<string>();
            await foreach (var obj in store.ListAsync(folder, cancellationToken).ConfigureAwait(false))
                if (IsAbandonedTemp(obj)) abandoned.Add(obj.Key);
            await DeleteAsync(abandoned, cancellationToken).ConfigureAwait(false);
        }
        return results;
    }

    /// <summary>
    /// Runs <paramref name="work"/> holding the table's commit claim (<see cref="LakePaths.TableCommitClaimKey"/>), as this
    /// maintain (an id starting with 'e', under <paramref name="heldLock"/>: a commit waiting for the claim sees that lock
    /// name its holder alive); null once done, else why the claim could not be had.
    /// </summary>
    private Task<string?> HoldingTableAsync(string pipeline, string prefix, Func<Task> work, RunLock? heldLock, ICollection<string>? notices,
        CancellationToken cancellationToken)
    {
        var plan = new CommitPlan
        {
            RunId = "e" + Guid.NewGuid().ToString("N")[..7], Pipeline = pipeline, StartedAt = time.GetUtcNow(), LockRunId = heldLock?.RunId,
            TableClaims = [LakePaths.TableCommitClaimKey(prefix)],
        };
        return new LakeCommitter(store, time).WhileHoldingTablesAsync(plan, work, cancellationToken, heldLock?.WindDown ?? default, notices);
    }

    /// <summary>
    /// Points the manifest entry's <c>iceberg_metadata</c> at <paramref name="version"/>, the table's current metadata
    /// once this maintain published its expiry (the contract: the file that is current; a reader registering the table
    /// from the older one would time travel to snapshots whose files this maintain deletes). The manifest's conditional
    /// write, as every commit's; never backwards: a run of another pipeline may have committed a newer version meanwhile.
    /// </summary>
    private async Task PointManifestAtAsync(string tableKey, string prefix, long version, CancellationToken cancellationToken)
    {
        var current = store.Bucket.Canonical + "/" + IcebergTable.MetadataKey(prefix, version);
        await new ManifestStore(store, time).UpdateAsync(manifest =>
        {
            if (manifest.Tables.TryGetValue(tableKey, out var entry) && IcebergVersionNamedBy(prefix, entry.IcebergMetadata) < version)
                entry.IcebergMetadata = current;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The version of the table's metadata file a manifest entry names (0 when it names none of this table).</summary>
    private long IcebergVersionNamedBy(string prefix, string? metadata) =>
        metadata is not null && metadata.StartsWith(store.Bucket.Canonical + "/", StringComparison.Ordinal)
            ? IcebergTable.VersionOf(prefix, metadata[(store.Bucket.Canonical.Length + 1)..]) ?? 0 : 0;

    /// <summary>
    /// Removes the conditional-write locks of released claims on files of the table (plain or not) that are gone from
    /// storage: whoever claims such a file again finds it gone and lands nothing, so the lock guards nothing. A claim
    /// still present, or on a file still stored (a rolled-back claim, a file kept for time travel), keeps its lock.
    /// Also deletes the abandoned temp files (<see cref="IsAbandonedTemp"/>) of the table's claims folder and of its own
    /// folder (a plain table's are no Iceberg/Delta table's, which the expiry above takes): a claim or a data file whose
    /// writer was killed before its rename, which no run removes (a table's claims are every pipeline's).
    /// </summary>
    private async Task RemoveClaimLeftoversAsync(string tablePrefix, CancellationToken cancellationToken)
    {
        var claimsPrefix = LakePaths.ClaimsPrefix + tablePrefix;
        var abandoned = new List<string>();
        var present = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var obj in store.ListAsync(claimsPrefix, cancellationToken).ConfigureAwait(false))
            if (IsAbandonedTemp(obj)) abandoned.Add(obj.Key); else present.Add(obj.Key);
        var files = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var obj in store.ListAsync(tablePrefix, cancellationToken).ConfigureAwait(false))
            if (IsAbandonedTemp(obj)) abandoned.Add(obj.Key); else files.Add(obj.Key);
        await DeleteAsync(abandoned, cancellationToken).ConfigureAwait(false);
        await store.RemoveConditionalWriteLocksAsync(claimsPrefix,
            k => !present.Contains(k) && LakePaths.ClaimedFileKey(k) is { } file && !files.Contains(file), cancellationToken).ConfigureAwait(false);
    }

    private async Task DeleteAsync(List<string> keys, CancellationToken cancellationToken)
    {
        foreach (var key in keys)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await store.DeleteAsync(key, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A <c>v&lt;N&gt;.metadata.json</c> older than the current version that the current metadata's <c>metadata-log</c> no
    /// longer lists (it keeps the newest <see cref="IcebergTable.PreviousVersionsMaxProperty"/>): no reader of the table
    /// finds it through the table any more (Iceberg's own writers delete such files after a commit when
    /// <c>write.metadata.delete-after-commit.enabled</c>). It must also be older than <see cref="AbandonedTempAge"/>:
    /// a committer that read the version before it still runs would otherwise find it absent and create it again from its
    /// old base (a version is created only if absent), whereas one an hour old was current an hour ago at the latest.
    /// </summary>
    private bool IsDroppedMetadataVersion(string prefix, ObjectInfo obj, IcebergExpiry expiry) =>
        IcebergTable.VersionOf(prefix, obj.Key) is { } version && version < expiry.CurrentVersion
        && !expiry.Logged.Contains(obj.Key) && obj.LastModified < time.GetUtcNow() - AbandonedTempAge;

    /// <summary>
    /// How old a temp file (<see cref="LakePaths.TempNameOf"/>, a file:// write killed before its rename: Iceberg
    /// metadata, a manifest, a Delta log entry, a data file, a claim, an expiry journal) must be to be deleted. No metadata ever names
    /// one; a live write renames its temp file within seconds, and one still being copied is written to all along, so an
    /// hour-old one is abandoned even if another pipeline writes this table meanwhile.
    /// </summary>
    internal static readonly TimeSpan AbandonedTempAge = TimeSpan.FromHours(1);

    private bool IsAbandonedTemp(ObjectInfo obj) =>
        LakePaths.IsTempName(obj.Key[(obj.Key.LastIndexOf('/') + 1)..]) && obj.LastModified < time.GetUtcNow() - AbandonedTempAge;

    private async Task<IcebergExpiry?> PlanIcebergExpiryAsync(TableMetadataCommit commit, DateTimeOffset cutoff,
        HashSet<string> candidates, HashSet<string> keep, CancellationToken cancellationToken)
    {
        var iceberg = new IcebergTable(store, time);
        var (version, metadata) = await iceberg.LoadCurrentAsync(commit.Prefix, cancellationToken).ConfigureAwait(false);
        if (metadata is null) return null;
        var currentId = metadata["current-snapshot-id"]?.GetValue<long>() ?? -1;
        var snapshots = metadata["snapshots"]!.AsArray().Select(s => s!.AsObject()).ToList();
        var expired = snapshots.Where(s => s["snapshot-id"]!.GetValue<long>() != currentId && s["timestamp-ms"]!.GetValue<long>() < cutoff.ToUnixTimeMilliseconds()).ToList();
        var manifestFiles = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var snapshot in snapshots)
        {
            var into = expired.Contains(snapshot) ? candidates : keep;
            var listKey = IcebergTable.KeyOf(commit, snapshot["manifest-list"]!.GetValue<string>());
            into.Add(listKey);
            var list = await store.GetAsync(listKey, cancellationToken).ConfigureAwait(false);
            if (list is null) continue;
            foreach (var entry in IcebergManifests.ReadList(list.Content.Span, $"{store.Bucket}/{listKey}"))
            {
                var manifestKey = IcebergTable.KeyOf(commit, entry.Path);
                into.Add(manifestKey);
                if (!manifestFiles.TryGetValue(manifestKey, out var files))
                {
                    var manifest = await store.GetAsync(manifestKey, cancellationToken).ConfigureAwait(false);
                    files = manifest is null ? [] : IcebergManifests.LiveFilePaths(manifest.Content.Span, $"{store.Bucket}/{manifestKey}").Select(p => IcebergTable.KeyOf(commit, p)).ToList();
                    manifestFiles[manifestKey] = files;
                }
                into.UnionWith(files);
            }
        }
        if (expired.Count == 0) return new IcebergExpiry(version, null, 0, snapshots.Count, Logged(metadata));

        var next = metadata.DeepClone().AsObject();
        var keptIds = snapshots.Except(expired).Select(s => s["snapshot-id"]!.GetValue<long>()).ToHashSet();
        next["snapshots"] = new JsonArray([.. snapshots.Except(expired).Select(s => (JsonNode)s.DeepClone())]);
        next["snapshot-log"] = new JsonArray([.. metadata["snapshot-log"]!.AsArray().Where(e => keptIds.Contains(e!["snapshot-id"]!.GetValue<long>())).Select(e => e!.DeepClone())]);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        next["last-updated-ms"] = now;
        IcebergTable.AddToMetadataLog(next, commit.Location + "/" + IcebergTable.MetadataKey(commit.Prefix, version)[commit.Prefix.Length..],
            metadata["last-updated-ms"]!.GetValue<long>());
        return new IcebergExpiry(version, next, expired.Count, keptIds.Count, Logged(next));

        // The keys of the metadata files a metadata's log lists (entries outside the table's location are not its files).
        HashSet<string> Logged(JsonObject current) =>
        [
            .. current["metadata-log"]?.AsArray().Select(e => e?["metadata-file"]?.GetValue<string>())
                .Where(uri => uri is not null && uri.StartsWith(commit.Location + "/", StringComparison.Ordinal))
                .Select(uri => IcebergTable.KeyOf(commit, uri!)) ?? [],
        ];
    }

    private async Task PublishAsync(TableMetadataCommit commit, long version, JsonObject metadata, CancellationToken cancellationToken)
    {
        var key = IcebergTable.MetadataKey(commit.Prefix, version);
        // On a lost race the journal stays: the next maintain deletes only those of its files no snapshot needs then.
        if (!await store.PutAsync(key, Encoding.UTF8.GetBytes(metadata.ToJsonString(TableJson.Indented)), WriteCondition.IfAbsent, cancellationToken).ConfigureAwait(false))
            throw new StorageException($"Iceberg table {commit.Location} changed during maintenance (v{version} appeared); nothing was deleted: run maintain again");
    }

    private sealed record Journal(string Table, List<string> Files);

    private async Task<Journal?> ReadJournalAsync(string key, CancellationToken cancellationToken)
    {
        if (await store.GetAsync(key, cancellationToken).ConfigureAwait(false) is not { } stored) return null;
        try
        {
            var json = JsonNode.Parse(stored.Content.Span)!.AsObject();
            return new Journal(json["table"]!.GetValue<string>(), [.. json["files"]!.AsArray().Select(f => f!.GetValue<string>())]);
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or NullReferenceException)
        {
            throw new StorageException($"{store.Bucket}/{key} (the files an interrupted maintain was deleting) is damaged ({e.Message}); " +
                "delete it to continue (those files are then left on storage)", e);
        }
    }

    private Task<bool> SaveJournalAsync(string key, string table, List<string> files, CancellationToken cancellationToken) =>
        store.PutAsync(key, Encoding.UTF8.GetBytes(new JsonObject
        {
            ["table"] = table,
            ["files"] = new JsonArray([.. files.Select(f => (JsonNode)JsonValue.Create(f))]),
        }.ToJsonString()), WriteCondition.None, cancellationToken);

    /// <summary>
    /// Collects the Delta table's data files to delete and keep; returns its latest version (-1 without a log) and its
    /// expired log files, oldest first (the log keeps at least <paramref name="expireOlderThan"/>, see <see cref="DeltaTable.ExpiredLogFilesAsync"/>).
    /// </summary>
    private async Task<(long Latest, List<string> ExpiredLog)> CollectDeltaAsync(string prefix, DateTimeOffset cutoff, TimeSpan expireOlderThan,
        HashSet<string> candidates, HashSet<string> keep, CancellationToken cancellationToken)
    {
        var delta = new DeltaTable(store, time);
        var latest = await delta.LatestVersionAsync(prefix, cancellationToken).ConfigureAwait(false);
        if (latest < 0) return (latest, []);
        var snapshot = await delta.SnapshotAsync(prefix, latest, cancellationToken).ConfigureAwait(false);
        keep.UnionWith(snapshot.Adds.Values.Select(Key));
        foreach (var remove in snapshot.Removes)
            ((remove["deletionTimestamp"]?.GetValue<long>() ?? 0) < cutoff.ToUnixTimeMilliseconds() ? candidates : keep).Add(Key(remove));
        return (latest, await delta.ExpiredLogFilesAsync(prefix, snapshot.MetaData, expireOlderThan, cancellationToken).ConfigureAwait(false));

        string Key(JsonObject action) => prefix + Uri.UnescapeDataString(action["path"]!.GetValue<string>());
    }
}
