using System.Globalization;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Parquet;
using DataSpoc.Pipe.Sources;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Runs;

/// <summary>
/// Which part of a split run one worker reads (<c>run NAME --part I/N --split-run ID</c>). Every worker of one split run
/// gives the same <see cref="SplitRunId"/> (the rendered Indexed Job passes its Job's uid), which names the run's
/// staging folder in the bucket.
/// </summary>
public sealed record SplitPart(int Index, int Count, string SplitRunId);

/// <summary>
/// One worker's side of a split run, in the bucket under <see cref="LakePaths.SplitRunPrefix"/>:
/// <list type="number">
/// <item>the key ranges: the first worker plans them and creates <c>plan.json</c> with a conditional write; every other
/// worker reads that plan, so all agree on the ranges whatever changed in the table meanwhile;</item>
/// <item>its part: the Parquet files go to <c>part-NNNN/</c> (an earlier attempt's files removed first), then the part's
/// record <c>done/part-NNNN.json</c> is created with a conditional write: a part is done only once all its files are staged;</item>
/// <item>the commit: a part that sees every part done claims the commit (<c>commit-claim.json</c>, conditional write) and
/// lands all parts in one journaled lake commit under the pipeline's lock, state included; <c>committed.json</c> then
/// closes the split run. Nothing of the table changes before that commit.</item>
/// </list>
/// A part that fails is run again alone: its index re-reads the range and replaces its staged files; an index whose
/// part is already done does not read again and only tries the commit.
/// </summary>
internal sealed class SplitRun(IObjectStore store, PipelineDefinition pipeline, SplitPart part, TimeProvider time)
{
    private readonly string _name = pipeline.Name;
    private readonly string _run = part.SplitRunId;

    /// <summary>The lock one index holds while it runs: two attempts of one index never stage at once.</summary>
    public string LockName => LakePaths.SplitPartLockName(_name, part.Index);

    /// <summary>The split run this worker belongs to (its <c>--split-run</c> id), recorded in its part's lock.</summary>
    public string SplitRunId => _run;

    public string Describe => $"part {part.Index}/{part.Count} of split run {_run}";

    /// <summary>The id the commit gives the lake (data file names, the manifest's last run): the same whichever part commits.</summary>
    public static string CommitRunId(string splitRunId) =>
        "s" + Convert.ToHexStringLower(System.IO.Hashing.XxHash64.Hash(System.Text.Encoding.UTF8.GetBytes(splitRunId)))[..10];

    public static void Check(PipelineDefinition pipeline, SplitPart part)
    {
        if (pipeline.Source.Split is not { } split)
            throw new ConfigException($"pipeline '{pipeline.Name}' has no source.split: --part reads one key range of a split table", pipeline.FilePath, key: "source.split");
        if (part.Count != split.Parts)
            throw new ConfigException($"--part {part.Index}/{part.Count}: the pipeline splits its table in {split.Parts} parts (source.split.parts)", pipeline.FilePath, key: "source.split.parts");
        if (part.Index < 0 || part.Index >= part.Count)
            throw new ConfigException($"--part {part.Index}/{part.Count}: the index must be 0..{part.Count - 1}", pipeline.FilePath);
        if (pipeline.Destination.TableFormat != TableFormats.Parquet)
            throw new ConfigException("split runs land Parquet files only: destination.table_format iceberg/delta is not supported with --part", pipeline.FilePath, key: "destination.table_format");
    }

    /// <summary>The split as a single process reads it: every range, <c>parallel</c> at a time.</summary>
    public static JsonObject Whole(SplitSettings split) => new()
    {
        ["column"] = split.Column,
        ["parts"] = split.Parts,
        ["parallel"] = split.Parallel,
    };

    public Task EnsureOpenAsync(CancellationToken cancellationToken) => EnsureOpenAsync(store, _name, _run, cancellationToken);

    /// <summary>Refuses a split run already committed: nothing of it may be read or committed again.</summary>
    public static async Task EnsureOpenAsync(IObjectStore store, string pipeline, string splitRun, CancellationToken cancellationToken)
    {
        if (await store.GetAsync(LakePaths.SplitCommittedKey(pipeline, splitRun), cancellationToken).ConfigureAwait(false) is not null)
            throw new SplitRunException($"split run {splitRun} of pipeline '{pipeline}' was already committed; a new split run needs a new --split-run id");
    }

    /// <summary>
    /// Whether this index's part is already staged (then it is not read again). A worker whose part count is not the split
    /// run's is refused first: the ranges are the plan's, so a part of an N-part plan is not part I of N' (an index already
    /// done would otherwise skip the tap's own check, and a commit of N' parts would drop the plan's other ranges).
    /// </summary>
    public async Task<bool> PartDoneAsync(CancellationToken cancellationToken)
    {
        if (await ReadPlanAsync(store, _name, _run, cancellationToken).ConfigureAwait(false) is { PartCount: > 0 } plan)
            CheckParts(_name, _run, plan.PartCount, "its plan.json", part.Count, $"this worker reads part {part.Index} of");
        var key = LakePaths.SplitPartDoneKey(_name, _run, part.Index);
        if (await store.GetAsync(key, cancellationToken).ConfigureAwait(false) is not { } found) return false;
        var done = LakeJson.Deserialize<SplitPartRecord>(found.Content, "split part record " + key);
        CheckParts(_name, _run, done.Parts, $"done/part-{part.Index:0000}.json", part.Count, $"this worker reads part {part.Index} of");
        return true;
    }

    /// <summary>
    /// Refuses to go on with a split run whose part count changed: the plan (and every part staged from it) says
    /// <paramref name="planned"/>, this worker or commit <paramref name="asked"/>. Reading or committing N' of an N-part
    /// plan would leave rows of the plan's other ranges out of the table.
    /// </summary>
    private static void CheckParts(string pipeline, string splitRun, int planned, string plannedBy, int asked, string askedBy)
    {
        if (planned != asked)
            throw new SplitRunException($"split run {splitRun} of pipeline '{pipeline}': the split plan is for {planned} parts ({plannedBy}), " +
                $"but {askedBy} {asked} parts (source.split.parts): the pipeline changed during the split run; " +
                $"set source.split.parts back to {planned} to finish it, or start a new split run (a new --split-run id)");
    }

    /// <summary>
    /// Refuses to commit parts staged in another partition layout than the pipeline's <c>partition_by</c> now (it changed
    /// during the split run): the staged files land in the folders they were staged for (<see cref="SplitFileRecord.Folder"/>),
    /// so the commit's checks of the table's layout and the manifest's partitioning, which follow the pipeline, would not
    /// describe what lands; a table could then mix <c>dt=</c> folders and files in its own folder, which hive-style
    /// readers cannot read as one table.
    /// </summary>
    private static void CheckLayout(PipelineDefinition pipeline, string splitRun, List<SplitPartRecord> records)
    {
        var partitioned = pipeline.Destination.PartitionBy != PartitionBySettings.None;
        var other = records.SelectMany(r => r.Streams.SelectMany(s => s.Files.Where(f => f.Folder.Length > 0 != partitioned).Select(f => (r.Part, s.Stream, f.Folder)))).ToList();
        if (other.Count == 0) return;
        var (part, stream, folder) = other[0];
        static string Layout(bool dt) => dt ? "partitioned by 'dt' (dt= folders)" : "unpartitioned (files in the table folder)";
        throw new SplitRunException($"split run {splitRun} of pipeline '{pipeline.Name}': {other.Count} staged file(s) are {Layout(!partitioned)} " +
            $"(part {part}, stream '{stream}'{(folder.Length > 0 ? ", folder " + folder : "")}: done/part-{part:0000}.json), but the pipeline now has " +
            $"partition_by: {pipeline.Destination.PartitionBy}, which lands files {Layout(partitioned)}: the partitioning changed during the split run, and " +
            "staged files land only as they were staged. Nothing was written; set destination.partition_by back to what the parts were read with to finish it, " +
            "or start a new split run (a new --split-run id)");
    }

    /// <summary>The split this worker passes its source: its part and the plan every worker shares (made here if first).</summary>
    public async Task<JsonObject> SplitForPartAsync(ISource source, SourceInvocation invocation, bool full, CancellationToken cancellationToken)
    {
        var key = LakePaths.SplitPlanKey(_name, _run);
        var plan = await ReadPlanAsync(store, _name, _run, cancellationToken).ConfigureAwait(false);
        if (plan is null)
        {
            var planner = source as ISplitSource
                ?? throw new TapFailedException($"source.split: the tap '{pipeline.Source.Tap}' cannot read a table in key ranges (the built-in postgres tap can)");
            var ranges = await planner.PlanSplitAsync(invocation with { Split = Whole(pipeline.Source.Split!) }, cancellationToken).ConfigureAwait(false);
            var mine = new SplitPlanRecord { SplitRun = _run, CreatedAt = time.GetUtcNow(), Full = full, Parts = part.Count, Ranges = ranges };
            // The first worker's plan wins; a worker that lost the race reads the winner's.
            plan = await store.PutAsync(key, LakeJson.Serialize(mine), WriteCondition.IfAbsent, cancellationToken).ConfigureAwait(false)
                ? mine
                : await ReadPlanAsync(store, _name, _run, cancellationToken).ConfigureAwait(false) ?? throw new SplitRunException($"{store.Bucket}/{key} was refused as existing, then read as absent");
        }
        if (plan.Full != full)
            throw new SplitRunException($"{Describe}: the split run is a {(plan.Full ? "full refresh" : "incremental run")} (its first worker said so); run every part the same way");
        var split = Whole(pipeline.Source.Split!);
        split["part"] = part.Index;
        split["plan"] = plan.Ranges.DeepClone();
        return split;
    }

    private static async Task<SplitPlanRecord?> ReadPlanAsync(IObjectStore store, string pipeline, string splitRun, CancellationToken cancellationToken)
    {
        var key = LakePaths.SplitPlanKey(pipeline, splitRun);
        return await store.GetAsync(key, cancellationToken).ConfigureAwait(false) is { } found ? LakeJson.Deserialize<SplitPlanRecord>(found.Content, "split plan " + key) : null;
    }

    /// <summary>Stages this part's files (replacing an earlier attempt's), then creates its done record.</summary>
    internal async Task StageAsync(RunIngest ingest, string runId, bool full, CancellationToken cancellationToken)
    {
        var filesPrefix = LakePaths.SplitPartFilesPrefix(_name, _run, part.Index);
        await foreach (var old in store.ListAsync(filesPrefix, cancellationToken).ConfigureAwait(false))
            await store.DeleteAsync(old.Key, cancellationToken).ConfigureAwait(false);
        var record = new SplitPartRecord { Part = part.Index, Parts = part.Count, RunId = runId, Full = full, State = ingest.LastState };
        var n = 0;
        foreach (var stream in ingest.Streams.Where(s => s.Selected && s.Schema is not null))
        {
            var staged = new SplitStreamRecord
            {
                Stream = stream.Name,
                Table = stream.Table,
                Records = stream.Records,
                KeyProperties = [.. stream.KeyProperties],
                ActivatedVersion = stream.ActivatedVersion,
                Columns = ColumnSchema.ManifestColumnsOf(stream.Files.Select(f => f.Schema).Append(stream.Schema!).Distinct()),
                HashedColumns = [.. stream.HashedColumns.Order(StringComparer.Ordinal)],
            };
            foreach (var file in stream.Files)
            {
                var key = filesPrefix + (n++).ToString("00000", CultureInfo.InvariantCulture) + ".parquet";
                await store.PutFileAsync(key, file.LocalPath, cancellationToken).ConfigureAwait(false);
                staged.Files.Add(new SplitFileRecord { Staged = key, Folder = file.Partition.None ? "" : LakePaths.PartitionFolder(file.Partition.Date) + "/", Rows = file.Rows, Bytes = file.Bytes });
            }
            if (stream.QuarantinePath is not null)
            {
                staged.Quarantine = filesPrefix + LakePaths.TableName(stream.Name) + ".quarantine.jsonl";
                await store.PutFileAsync(staged.Quarantine, stream.QuarantinePath, cancellationToken).ConfigureAwait(false);
            }
            record.Streams.Add(staged);
        }
        record.FinishedAt = time.GetUtcNow();
        if (!await store.PutAsync(LakePaths.SplitPartDoneKey(_name, _run, part.Index), LakeJson.Serialize(record), WriteCondition.IfAbsent, cancellationToken).ConfigureAwait(false))
            throw new SplitRunException($"{Describe}: another attempt of this part finished first; its files stand and this attempt's are not used");
    }

    /// <summary>
    /// Commits the split run when every part is done and this part wins the claim; otherwise says who will. Returns the
    /// notices for the run log and whether this call committed.
    /// </summary>
    public async Task<(IReadOnlyList<string> Notices, CommitPlan? Plan)> CommitIfLastAsync(string runId, TimeSpan lease, HomePipelines? homePipelines, CancellationToken cancellationToken,
        List<string>? failureNotices = null)
    {
        // part.Count is the plan's (PartDoneAsync refused any other); the commit checks every part against the plan again.
        var done = await DonePartsAsync(store, _name, _run, cancellationToken).ConfigureAwait(false);
        var missing = Enumerable.Range(0, part.Count).Except(done).ToList();
        if (missing.Count > 0)
        {
            // Another part may have committed and cleared the done records since this one staged.
            if (await store.GetAsync(LakePaths.SplitCommittedKey(_name, _run), cancellationToken).ConfigureAwait(false) is not null)
                return ([$"{Describe} is staged; another part has committed the split run"], null);
            return ([$"{Describe} is staged; waiting for {missing.Count} more part(s) ({string.Join(", ", missing.Take(10))}); the last part to finish commits them all"], null);
        }
        var claimKey = LakePaths.SplitCommitClaimKey(_name, _run);
        var claim = new SplitClaim { Part = part.Index, RunId = runId, ClaimedAt = time.GetUtcNow() };
        if (!await store.PutAsync(claimKey, LakeJson.Serialize(claim), WriteCondition.IfAbsent, cancellationToken).ConfigureAwait(false))
        {
            var holder = await store.GetAsync(claimKey, cancellationToken).ConfigureAwait(false);
            var other = holder is null ? null : LakeJson.Deserialize<SplitClaim>(holder.Content, "split commit claim");
            // The same index again (its earlier attempt claimed, then died): the claim is ours; this index holds its lock.
            if (other is not null && other.Part != part.Index)
                return ([$"{Describe} is staged; every part is done and part {other.Part} makes the commit (if it failed, run --commit-parts)"], null);
        }
        return await CommitAsync(store, pipeline, _run, runId, time, lease, homePipelines, cancellationToken, failureNotices).ConfigureAwait(false);
    }

    /// <summary>The done parts' indexes.</summary>
    private static async Task<List<int>> DonePartsAsync(IObjectStore store, string pipeline, string splitRun, CancellationToken cancellationToken)
    {
        var prefix = LakePaths.SplitDonePrefix(pipeline, splitRun);
        var parts = new List<int>();
        await foreach (var obj in store.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
        {
            var name = obj.Key[prefix.Length..];
            if (name.StartsWith("part-", StringComparison.Ordinal) && name.EndsWith(".json", StringComparison.Ordinal)
                && int.TryParse(name.AsSpan(5, name.Length - 10), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
                parts.Add(index);
        }
        return parts;
    }

    /// <summary>
    /// Lands every staged part of <paramref name="splitRun"/> in one journaled commit under the pipeline's lock (<c>run
    /// --commit-parts</c>, or the last part). Refused while a part of the plan is missing, and when the pipeline's
    /// <c>source.split.parts</c> is no longer the plan's; a split run already committed is left as it is.
    /// A replace of a table another pipeline of <paramref name="homePipelines"/> landed from another source is refused, as
    /// a whole run's (a worker pod's home holds its own pipeline only: there it is noted). A commit that fails adds what it
    /// had to tell until then (planned again, rolled back) to <paramref name="failureNotices"/>, the failed run's log.
    /// </summary>
    public static async Task<(IReadOnlyList<string> Notices, CommitPlan? Plan)> CommitAsync(IObjectStore store, PipelineDefinition pipeline, string splitRun, string runId,
        TimeProvider time, TimeSpan lease, HomePipelines? homePipelines, CancellationToken cancellationToken, List<string>? failureNotices = null)
    {
        var name = pipeline.Name;
        var committedKey = LakePaths.SplitCommittedKey(name, splitRun);
        if (await store.GetAsync(committedKey, cancellationToken).ConfigureAwait(false) is not null)
            return ([$"split run {splitRun} was already committed"], null);
        var asked = pipeline.Source.Split?.Parts ?? throw new ConfigException($"pipeline '{name}' has no source.split", pipeline.FilePath, key: "source.split");
        // The split run has the parts its plan has (every part read the plan's ranges), whatever the pipeline says now.
        var parts = (await ReadPlanAsync(store, name, splitRun, cancellationToken).ConfigureAwait(false))?.PartCount is > 0 and var planned ? planned : asked;
        CheckParts(name, splitRun, parts, "its plan.json", asked, "the pipeline now splits its table in");
        var done = await DonePartsAsync(store, name, splitRun, cancellationToken).ConfigureAwait(false);
        var missing = Enumerable.Range(0, parts).Except(done).ToList();
        if (missing.Count > 0)
            throw new SplitRunException($"split run {splitRun} of pipeline '{name}' cannot be committed: part(s) {string.Join(", ", missing)} of {parts} are not done; run them (--part I/{parts})");

        await using var runLock = await RunLock.AcquireAsync(store, name, runId, time, lease, cancellationToken).ConfigureAwait(false);
        // A lost lock stops the commit until its commit point, as a run's (PipelineRunner): another run may hold it now.
        using var held = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, runLock.Lost);
        var notices = new List<string>();
        try
        {
            var committer = new LakeCommitter(store, time);
            if (await committer.RecoverAsync(name, held.Token).ConfigureAwait(false) is { } recovered) notices.Add(recovered.Notice);
            if (await store.GetAsync(committedKey, held.Token).ConfigureAwait(false) is not null)
                return ([$"split run {splitRun} was committed meanwhile by another worker"], null);

            var records = new List<SplitPartRecord>();
            for (var i = 0; i < parts; i++)
            {
                var key = LakePaths.SplitPartDoneKey(name, splitRun, i);
                var found = await store.GetAsync(key, held.Token).ConfigureAwait(false) ?? throw new SplitRunException($"{store.Bucket}/{key} disappeared during the commit");
                var record = LakeJson.Deserialize<SplitPartRecord>(found.Content, "split part record " + key);
                CheckParts(name, splitRun, parts, "its plan.json", record.Parts, $"part {i} was read as one of");
                records.Add(record);
            }
            var commitRunId = CommitRunId(splitRun);
            var manifest = await new ManifestStore(store, time).ReadAsync(held.Token).ConfigureAwait(false);
            var sourceName = LakePaths.SourceFolderOf(pipeline.Source);
            // A commit that landed before its worker could write committed.json (killed in between): close the split run only.
            var landed = records.SelectMany(r => r.Streams).Any(s => manifest.Tables.TryGetValue(sourceName + "/" + s.Table, out var t) && t.Stats.LastRunId == commitRunId);
            CommitPlan? plan = null;
            if (!landed)
            {
                // Only what lands is checked: a commit that landed (above) is closed whatever partition_by says now.
                CheckLayout(pipeline, splitRun, records);
                var startedAt = records.Min(r => r.FinishedAt);
                // The first worker created the plan before any part was read: a replace deletes only files written before it.
                var replaceSince = await ReplaceBaseline.StoreTimeOfAsync(store, LakePaths.SplitPlanKey(name, splitRun), held.Token).ConfigureAwait(false);
                // The state as this commit finds it under the lock: the parts ran without it, and only its holder saves state.
                var (stateFence, _) = await StateFence.ReadAsync(store, name, held.Token).ConfigureAwait(false);
                // As a whole run's commit: another commit of a table since this plan read it sends it back to plan again.
                plan = await CommitAttempts.RunAsync(notices, async attempt =>
                {
                    if (attempt > 1) manifest = await new ManifestStore(store, time).ReadAsync(held.Token).ConfigureAwait(false);
                    var planned = await PlanAsync(store, pipeline, manifest, records, sourceName, commitRunId, startedAt, replaceSince, homePipelines, notices, held.Token).ConfigureAwait(false);
                    planned.LockRunId = runId;
                    planned.StateFence = stateFence;
                    await runLock.EnsureHeldAsync(held.Token).ConfigureAwait(false);
                    await committer.CommitAsync(planned, runLock.Lost, notices, runLock.WindDown, runLock.Lost).ConfigureAwait(false);
                    return planned;
                }, held.Token).ConfigureAwait(false);
            }
            var summary = new SplitCommitted { RunId = commitRunId, CommittedAt = time.GetUtcNow(), Parts = parts, Rows = records.Sum(r => r.Streams.Sum(s => s.Records)) };
            // Past the commit point (the manifest counts the split run's rows), as the rest of a run's commit: tried twice, then
            // a committed run that says what is left, never a failure that has a scheduler commit it again.
            var closed = false;
            var unclosed = await LakeCommitter.TryTwiceAsync(async () =>
            {
                await store.PutAsync(committedKey, LakeJson.Serialize(summary), WriteCondition.None, CancellationToken.None).ConfigureAwait(false);
                closed = true;
                await RemoveStagedAsync(store, name, splitRun).ConfigureAwait(false);
            }).ConfigureAwait(false);
            notices.Add(landed
                ? $"split run {splitRun} had landed before its worker stopped; closed it"
                : $"committed split run {splitRun}: {parts} parts, {summary.Rows} rows, {plan!.Files.Count} files in one commit (run {commitRunId})");
            if (unclosed is not null)
                notices.Add(LakeCommitter.CommittedNotice(closed
                    ? $"the staged files of split run {splitRun} are left in {store.Bucket}/{LakePaths.SplitRunPrefix(name, splitRun)} (all but committed.json can be deleted)"
                    : $"split run {splitRun} is closed (committed.json written, its staged files removed) by its next 'run {name} --commit-parts --split-run {splitRun}', which lands nothing again",
                    unclosed));
            return (notices, plan);
        }
        catch (OperationCanceledException) when (runLock.LostError is { } lost)
        {
            failureNotices?.AddRange(notices);
            throw lost;
        }
        catch (Exception)
        {
            failureNotices?.AddRange(notices);
            throw;
        }
    }

    /// <summary>
    /// Removes everything of a committed split run's staging folder but <c>committed.json</c>, which is written first.
    /// Idempotent: a second attempt goes on where the first stopped.
    /// </summary>
    private static async Task RemoveStagedAsync(IObjectStore store, string pipeline, string splitRun)
    {
        var committedKey = LakePaths.SplitCommittedKey(pipeline, splitRun);
        var prefix = LakePaths.SplitRunPrefix(pipeline, splitRun);
        var leftovers = new List<string>();
        await foreach (var obj in store.ListAsync(prefix, CancellationToken.None).ConfigureAwait(false))
            if (obj.Key != committedKey) leftovers.Add(obj.Key);
        foreach (var key in leftovers) await store.DeleteAsync(key, CancellationToken.None).ConfigureAwait(false);
        // committed.json settles every staging key of the split run: their conditional-write locks go too (RemoveSettledLocksAsync).
        await store.RemoveConditionalWriteLocksAsync(prefix, _ => true, CancellationToken.None).ConfigureAwait(false);
        // file://: the part-NNNN/ and done/ folders those deletions emptied go too (only committed.json stays). One still
        // holding a file (a late worker's, which lands nothing) is not empty and stays.
        if (store.LocalRoot is { } root)
            foreach (var folder in Directory.GetDirectories(Path.Combine(root, prefix)))
                try { Directory.Delete(folder); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>
    /// Removes the conditional-write locks (a <c>file://</c> store's <c>.lck</c> sidecars) of the staging keys of every
    /// committed split run of <paramref name="pipeline"/>: the commit removes its own, this those a commit left (held by a
    /// late worker then, or left by an older build). They are settled: <c>committed.json</c> is written before them and
    /// never deleted, and every step of a split run checks it under the pipeline's lock before anything lands, so a late
    /// worker that still wins a conditional write there (its plan, its done record, the commit claim) lands nothing.
    /// </summary>
    internal static async Task RemoveSettledLocksAsync(IObjectStore store, string pipeline, CancellationToken cancellationToken)
    {
        var prefix = LakePaths.SplitRunsPrefix(pipeline);
        var committed = new List<string>();
        await foreach (var obj in store.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
            if (obj.Key.EndsWith("/committed.json", StringComparison.Ordinal) && obj.Key.IndexOf('/', prefix.Length) == obj.Key.Length - "/committed.json".Length)
                committed.Add(obj.Key[..^"committed.json".Length]);
        if (committed.Count > 0)
            await store.RemoveConditionalWriteLocksAsync(prefix, k => committed.Any(run => k.StartsWith(run, StringComparison.Ordinal)), cancellationToken).ConfigureAwait(false);
    }

    private static async Task<CommitPlan> PlanAsync(IObjectStore store, PipelineDefinition pipeline, Manifest manifest, List<SplitPartRecord> records,
        string sourceName, string commitRunId, DateTimeOffset startedAt, DateTimeOffset? replaceSince, HomePipelines? homePipelines, List<string> notices, CancellationToken cancellationToken)
    {
        var basePath = LakePaths.BasePath(pipeline.Destination.Path);
        var full = records.Any(r => r.Full);
        var plan = new CommitPlan
        {
            RunId = commitRunId,
            Pipeline = pipeline.Name,
            StartedAt = startedAt,
            // Every part ends with the same STATE (the plan's window): saved once, with the commit, only when every part is in it.
            State = records.Select(r => r.State).LastOrDefault(s => s is not null),
            StateOwner = StateOwner.Of(pipeline, sourceName),
        };
        foreach (var streams in records.SelectMany(r => r.Streams.Select(s => (Part: r.Part, Stream: s))).GroupBy(x => x.Stream.Table, StringComparer.Ordinal))
        {
            var table = streams.Key;
            var first = streams.OrderBy(x => x.Part).First().Stream;
            // Every part's files land: the table gets each part's columns (the first part's lead).
            var columns = streams.OrderByDescending(x => x.Part).Select(x => x.Stream.Columns).Aggregate((List<ManifestColumn>?)null, ManifestColumn.AfterAdding)!;
            var prefix = LakePaths.TablePrefix(basePath, sourceName, table);
            var tableKey = sourceName + "/" + table;
            manifest.Tables.TryGetValue(tableKey, out var previous);
            var here = $"{pipeline.Destination.Bucket.TrimEnd('/')}/{prefix}";
            previous = TableOwnership.EntryOfThisTable(pipeline, first.Stream, tableKey, here, prefix, previous, full, notices);
            TableOwnership.CheckBucketSpelling(first.Stream, tableKey, store.Bucket, prefix, previous);
            var activated = streams.Max(x => x.Stream.ActivatedVersion);
            var replace = full || (activated is { } v && previous is not null && v != previous.TableVersion);
            if (replace) TableOwnership.CheckReplace(pipeline, first.Stream, tableKey, here, previous, homePipelines, notices);
            else await TableOwnership.CheckStateLeftBehindAsync(store, pipeline, first.Stream, tableKey, here, previous, homePipelines, notices, cancellationToken).ConfigureAwait(false);
            var existing = new List<string>();
            var kept = new List<ObjectInfo>();
            await foreach (var obj in store.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
                if (LakePaths.IsDataFileKey(prefix, table, obj.Key))
                {
                    existing.Add(obj.Key);
                    if (ReplaceBaseline.WrittenSince(obj, replaceSince, table)) kept.Add(obj);
                }
            var nextIndex = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var key in existing)
            {
                var folder = key[..(key.LastIndexOf('/') + 1)];
                nextIndex[folder] = Math.Max(nextIndex.GetValueOrDefault(folder), LakePaths.DataFileIndex(table, key[(key.LastIndexOf('/') + 1)..]) + 1);
            }
            var files = streams.OrderBy(x => x.Part).SelectMany(x => x.Stream.Files).ToList();
            foreach (var file in files)
            {
                var folder = prefix + file.Folder;
                var index = nextIndex.GetValueOrDefault(folder);
                nextIndex[folder] = index + 1;
                plan.Files.Add(new PlannedFile("", folder + LakePaths.DataFileName(table, index, commitRunId), file.Staged));
            }
            foreach (var (part, stream) in streams.Where(x => x.Stream.Quarantine is not null))
                plan.Files.Add(new PlannedFile("", LakePaths.QuarantineKey(pipeline.Name, commitRunId, $"{stream.Stream}.part-{part:0000}"), stream.Quarantine));
            if (replace)
            {
                // Its writer decided CheckReplace, as a whole run's replace (PipelineRunner): another commit since plans again.
                TableBase.WriterMustStay(plan, store, tableKey, manifest.Tables.GetValueOrDefault(tableKey)?.Stats.LastRunId);
                // With the table's commit claim held, the files it deletes and keeps must still be the ones listed here: a merge
                // that committed meanwhile rewrote some into files written since.
                TableBase.MustStay(plan, store, pipeline, table, tableKey, prefix, existing);
            }
            else
            {
                PipelineRunner.RefuseOtherPartitionLayout(pipeline, first.Stream, tableKey, here, prefix, previous, existing);
                // Commits of the table take turns (a merge's checks see this append's files).
                TableBase.Claim(plan, prefix);
            }
            // Known only when every part's worker recorded it (a worker of an older build did not).
            List<string>? hashed = streams.Any(x => x.Stream.HashedColumns is null) ? null
                : [.. streams.SelectMany(x => x.Stream.HashedColumns!).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
            if (!replace && hashed is not null && HashedColumns.Notice(first.Stream, tableKey, previous, hashed) is { } newlyHashed)
                notices.Add(newlyHashed);
            KeptFiles? keptFiles = null;
            if (replace)
            {
                // A compaction committed since, of files from before this run began only: its rows are in this run's snapshot too.
                if (kept.Count > 0)
                    kept = [.. kept.Except(await ReplaceBaseline.CompactedFromBeforeAsync(store, kept, replaceSince, table, cancellationToken).ConfigureAwait(false))];
                plan.Deletions.AddRange(existing.Except(kept.Select(f => f.Key), StringComparer.Ordinal));
                if (kept.Count > 0)
                {
                    keptFiles = await ReplaceBaseline.CountAsync(store, kept, cancellationToken).ConfigureAwait(false);
                    notices.Add(ReplaceBaseline.Notice(first.Stream, tableKey, table, kept, previous));
                }
            }
            plan.Tables.Add(new TableChange
            {
                Key = tableKey,
                Replace = replace,
                Kept = keptFiles,
                Rows = streams.Sum(x => x.Stream.Records),
                Files = files.Count,
                Bytes = files.Sum(f => f.Bytes),
                RunColumns = replace ? null : columns,
                PlannedOver = replace ? null : previous?.Columns,
                Entry = new ManifestTable
                {
                    Source = sourceName,
                    Table = table,
                    Pipeline = pipeline.Name,
                    Location = store.Bucket.Canonical + "/" + prefix.TrimEnd('/'),
                    Format = "parquet",
                    Partitioning = pipeline.Destination.PartitionBy == PartitionBySettings.None ? [] : ["dt"],
                    WriteMode = replace ? "replace" : "append",
                    KeyProperties = [.. first.KeyProperties],
                    TableVersion = activated ?? previous?.TableVersion,
                    Columns = replace ? columns : ManifestColumn.AfterAdding(previous?.Columns, columns),
                    HashedColumns = hashed,
                },
            });
        }
        return plan;
    }
}

/// <summary>A split run cannot go on as asked (already committed, a part missing, workers that disagree).</summary>
public sealed class SplitRunException(string message) : PipeException(message);
