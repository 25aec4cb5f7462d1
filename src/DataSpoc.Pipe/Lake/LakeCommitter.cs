using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Lake;

/// <summary>
/// Makes a run's output visible in the contract's order: data files -> replace-mode deletions -> manifest -> state.
/// (The run log follows, written by the runner.) Each phase is recorded in the journal first, so a crash at any
/// point is repaired by <see cref="RecoverAsync"/>: rolled back before all files landed, completed after.
/// </summary>
public sealed class LakeCommitter(IObjectStore store, TimeProvider time)
{
    public static string JournalKey(string pipeline) => LakePaths.JournalKey(pipeline);

    /// <summary>
    /// The content of <c>state.json</c>, which the next run hands the tap as it is (<c>--state</c>): strict JSON indented
    /// like every lake file; a state with a bare NaN or infinity exactly as the tap wrote it, as no JSON writer keeps
    /// those, and the tap (Python's json) reads them back as the floats they were.
    /// </summary>
    internal static byte[] StateFile(Singer.SingerState state) => state.HasNamedFloats
        ? System.Text.Encoding.UTF8.GetBytes(state.Text)
        : System.Text.Encoding.UTF8.GetBytes(System.Text.Json.Nodes.JsonNode.Parse(state.Text)!.ToJsonString(LakeJson.Options));

    /// <summary>How many of a commit's files are uploaded (or fsynced and renamed) at the same time.</summary>
    public const int FilesLandingAtOnce = 8;

    /// <summary>
    /// Commits <paramref name="plan"/>. A failure before every file landed rolls back what this call landed and throws;
    /// one after is left to the next run to complete (the journal says how far it got).
    /// </summary>
    /// <remarks>
    /// The commit point is the journal's <c>landed</c> phase saved: before it, the commit is rolled back (by this call,
    /// else by the next run's recovery) and nothing of it was ever visible; from it on, it is completed (by this call,
    /// else by the next run's recovery), never cancelled half-way.
    /// </remarks>
    /// <param name="plan">What to land, delete and publish.</param>
    /// <param name="cancellationToken">
    /// Honoured until the commit point (uploading the files, saving the journal; a run passes its lock's
    /// <see cref="RunLock.Lost"/>); the rest of the commit runs to its end unless <paramref name="lockLost"/> stops it.
    /// </param>
    /// <param name="notices">Receives what the run log should say about the commit (its own rollback after a failure).</param>
    /// <param name="rollbackCancellation">
    /// Bounds the rollback after a failure or a cancel before the commit point (best effort: the next run rolls back what
    /// it could not); a run passes its lock's <see cref="RunLock.WindDown"/>.
    /// </param>
    /// <param name="lockLost">
    /// The lock the commit runs under (<see cref="RunLock.Lost"/>): once it is lost, the commit past its commit point
    /// writes nothing more and throws <see cref="CommitHandedOverException"/> (<see cref="FinishAsync"/>).
    /// </param>
    public async Task CommitAsync(CommitPlan plan, CancellationToken cancellationToken, ICollection<string>? notices = null,
        CancellationToken rollbackCancellation = default, CancellationToken lockLost = default)
    {
        // What the table formats will write is computed from the plan before the journal exists: a value that cannot be
        // written fails the run here with nothing visible, instead of after one format published and the other not (a
        // journal that every later run would replay and fail on).
        Tables.TableFormatCommitter.Prepare(plan);
        // The state file too: it is written after the manifest, so a state that could not be written would fail a run whose
        // rows the manifest already counts (reported failed, its state not saved: the next run's tap sends them again).
        if (plan.State is { } state) _ = StateFile(state);
        plan.Phase = CommitPlan.PhaseStaged;
        try
        {
            await SaveJournalAsync(plan, cancellationToken).ConfigureAwait(false);
            // Claimed after the journal (a crash leaves claims the next run releases), before anything lands: the tables
            // first (waiting for a commit of the same table to end), then the rewritten files; then, with the tables held,
            // what the plan assumed of them is checked again.
            if ((await ClaimTablesAsync(plan, notices, cancellationToken).ConfigureAwait(false)
                ?? await ClaimSupersededAsync(plan, notices, cancellationToken).ConfigureAwait(false)
                ?? await DeadCommitOfSameTablesAsync(plan, cancellationToken).ConfigureAwait(false)
                ?? await CheckBasesAsync(plan, cancellationToken).ConfigureAwait(false)) is { } conflict)
            {
                await ReleaseClaimsAsync(plan, cancellationToken).ConfigureAwait(false);
                await store.DeleteAsync(JournalKey(plan.Pipeline), cancellationToken).ConfigureAwait(false);
                throw new CommitConflictException(conflict);
            }
            if (await ClaimColumnIdsAsync(plan, notices, cancellationToken).ConfigureAwait(false) is { } idConflict)
            {
                await ReleaseClaimsAsync(plan, cancellationToken).ConfigureAwait(false);
                await store.DeleteAsync(JournalKey(plan.Pipeline), cancellationToken).ConfigureAwait(false);
                throw new ColumnIdConflictException($"{idConflict}. Nothing of this run was committed (no file landed, the state is unchanged): " +
                    $"run pipeline '{plan.Pipeline}' again, and it numbers its new columns after the table's");
            }
            await LandAsync(plan, cancellationToken).ConfigureAwait(false);
            plan.Phase = CommitPlan.PhaseLanded;
            await SaveJournalAsync(plan, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not CommitConflictException and not ColumnIdConflictException)
        {
            // Nothing was removed or published yet: a run that is still alive takes back what it landed itself (the same
            // rollback the next run does after a kill), so its files do not stay visible to readers that glob the
            // folder, and a full disk gets back the space its failure log needs.
            notices?.Add(await RollBackOwnAsync(plan, rollbackCancellation).ConfigureAwait(false));
            throw;
        }
        // From here on the commit only moves forward: it must not be cancelled half-way, only left to the run that takes
        // over the lock if it is lost.
        await FinishPastCommitPointAsync(plan, notices, lockLost).ConfigureAwait(false);
    }

    /// <summary>
    /// Finishes a commit past its commit point (<see cref="FinishAsync"/>, tried twice: <see cref="TryTwiceAsync"/>). When
    /// the second attempt fails too, a commit whose manifest already counts its rows (<see cref="CommitPlan.Counted"/>) has
    /// committed: this returns, and <paramref name="notices"/> says what is left to the next run (<see cref="CommittedNotice"/>),
    /// so the run is reported as the success it is; a scheduler that saw a failure would run it again, or someone investigate
    /// a run that landed. One whose manifest does not count its rows yet throws, the notice saying that the next run completes it.
    /// A commit whose lock is lost (<see cref="CommitHandedOverException"/>) is not tried again: it is no longer this run's.
    /// </summary>
    private async Task FinishPastCommitPointAsync(CommitPlan plan, ICollection<string>? notices, CancellationToken lockLost)
    {
        if (await TryTwiceAsync(() => FinishAsync(plan, CancellationToken.None, lockLost)).ConfigureAwait(false) is not { } failed) return;
        var journal = $"journal {store.Bucket}/{JournalKey(plan.Pipeline)}, which every run and maintain of pipeline '{plan.Pipeline}' completes first";
        if (!plan.Counted)
        {
            var (whose, counted, next) = plan.IsCompaction
                ? ("this maintain's compaction", "its files in place of those they rewrite", "the next run or maintain")
                : ("this run's commit", "its rows", "the next run");
            notices?.Add($"{whose} stopped after all its files had landed, before the manifest counted {counted}; {next} completes it ({journal})");
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failed);
        }
        var left = plan.State is not null && !plan.StateSaved ? "its state will be saved by the next run" : "the next run removes its journal";
        notices?.Add(CommittedNotice($"{left} ({journal})", failed));
    }

    /// <summary>
    /// Runs <paramref name="step"/>, work of a commit past its commit point, and once more if that fails: such work is
    /// idempotent, so the second attempt goes on from where the first stopped (a store that failed for a moment). Returns the
    /// second failure, else null: the caller then says what is left (<see cref="CommittedNotice"/>) or fails.
    /// </summary>
    internal static async Task<Exception?> TryTwiceAsync(Func<Task> step)
    {
        try
        {
            await step().ConfigureAwait(false);
            return null;
        }
        catch (Exception e) when (e is not OutOfMemoryException and not CommitHandedOverException) { }
        try
        {
            await step().ConfigureAwait(false);
            return null;
        }
        catch (Exception e) when (e is not OutOfMemoryException and not CommitHandedOverException)
        {
            return e;
        }
    }

    /// <summary>
    /// The notice (and warning: <see cref="IsCommittedNotice"/>) of a run whose rows the manifest counts but whose commit
    /// could not be finished (<see cref="TryTwiceAsync"/> failed): <paramref name="left"/> says what is left and who does it.
    /// </summary>
    internal static string CommittedNotice(string left, Exception failure) =>
        $"{CommittedPrefix}{left}: finishing the commit failed twice: {failure.Message}";

    /// <summary>How the notice of a run that committed but could not finish its commit begins (<see cref="CommittedNotice"/>).</summary>
    private const string CommittedPrefix = "committed; ";

    /// <summary>
    /// Whether a run log notice says that the run committed its rows but left the rest of its commit (its state) to the next
    /// run: front ends print it as a warning too, as the run still succeeds.
    /// </summary>
    public static bool IsCommittedNotice(string notice) => notice.StartsWith(CommittedPrefix, StringComparison.Ordinal);

    /// <summary>
    /// Runs <paramref name="work"/>, a change of table metadata made outside a commit (<c>maintain</c>'s snapshot expiry),
    /// holding <paramref name="plan"/>'s <see cref="CommitPlan.TableClaims"/> as a commit holds them (taken the same way:
    /// waiting for a commit of the table to end, not for a holder that died), so no commit of those tables writes their
    /// metadata meanwhile. The plan, which lands nothing, is the pipeline's journal while they are held: a process killed
    /// meanwhile leaves claims that the next run or maintain of the pipeline releases (its recovery rolls the plan back).
    /// Returns null once the work is done, else why the tables could not be held (nothing was done).
    /// <c>releaseCancellation</c> bounds the release after the work failed (a maintain passes its lock's <see cref="RunLock.WindDown"/>);
    /// <c>notices</c> receives what the maintain's output should say (a claim it took over from a run that died).
    /// </summary>
    internal async Task<string?> WhileHoldingTablesAsync(CommitPlan plan, Func<Task> work, CancellationToken cancellationToken,
        CancellationToken releaseCancellation = default, ICollection<string>? notices = null)
    {
        plan.Phase = CommitPlan.PhaseStaged;
        await SaveJournalAsync(plan, cancellationToken).ConfigureAwait(false);
        var done = false;
        try
        {
            if (await ClaimTablesAsync(plan, notices, cancellationToken).ConfigureAwait(false) is { } conflict)
            {
                done = true;
                return conflict;
            }
            await work().ConfigureAwait(false);
            done = true;
            return null;
        }
        finally
        {
            // A release that fails after the work failed leaves the journal: the pipeline's next run or maintain releases them.
            try
            {
                var cancel = done ? cancellationToken : releaseCancellation;
                await ReleaseTableClaimsAsync(plan, cancel).ConfigureAwait(false);
                await DeleteJournalOfAsync(plan, cancel).ConfigureAwait(false);
            }
            catch (Exception) when (!done) { }
        }
    }

    /// <summary>The plan's data files, to their keys.</summary>
    private async Task LandAsync(CommitPlan plan, CancellationToken cancellationToken)
    {
        // Files written on this machine land several at a time: each is an upload (a cloud store) or an fsync and a
        // rename (file://), and a run of many partitions or streams has many. Order does not matter: nothing is visible
        // before the manifest, and a crash before it rolls every one of them back.
        var local = plan.Files.Where(f => f.StagedKey is null).ToList();
        var landing = store.StartLanding();
        await Parallel.ForEachAsync(local, new ParallelOptions { MaxDegreeOfParallelism = FilesLandingAtOnce, CancellationToken = cancellationToken },
            async (file, token) =>
            {
                using var upload = Runs.RunTelemetry.StartUpload(file.Key);
                await landing.PutFileAsync(file.Key, file.LocalPath, token).ConfigureAwait(false);
            }).ConfigureAwait(false);
        await landing.CompleteAsync(cancellationToken).ConfigureAwait(false);
        foreach (var file in plan.Files)
            if (file.StagedKey is { } staged)
            {
                using var upload = Runs.RunTelemetry.StartUpload(file.Key);
                await CopyStagedAsync(staged, file.Key, cancellationToken).ConfigureAwait(false);
            }
    }

    /// <summary>
    /// Rolls back this process's own commit that failed before its files had all landed (or before the journal said so);
    /// returns the sentence for the run log. A rollback that fails leaves the journal, and the next run rolls back.
    /// </summary>
    private async Task<string> RollBackOwnAsync(CommitPlan plan, CancellationToken cancellationToken)
    {
        try
        {
            if (plan.Phase == CommitPlan.PhaseLanded)
            {
                // The journal's "landed" save failed or was cancelled, yet may have reached the store (only its answer
                // lost): the next run would then complete this commit. So no file goes before the journal says "staged"
                // again (a rollback cut short is then rolled back by the next run), or, where it cannot be written (a full
                // disk), is gone (files left then are in no manifest); if neither can be done, nothing is deleted: every
                // file had landed, so whichever phase the store holds, the next run finds the commit whole.
                plan.Phase = CommitPlan.PhaseStaged;
                try { await SaveJournalAsync(plan, cancellationToken).ConfigureAwait(false); }
                catch (Exception) when (!cancellationToken.IsCancellationRequested)
                {
                    await DeleteJournalOfAsync(plan, cancellationToken).ConfigureAwait(false);
                }
            }
            var temps = await RollBackAsync(plan, cancellationToken).ConfigureAwait(false);
            return $"rolled back this run's commit after it failed ({plan.Files.Count} file(s) planned; the ones that had landed" +
                (temps > 0 ? $" and {temps} temp file(s)" : "") + " were removed; manifest and state untouched)";
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            var why = e is OperationCanceledException && cancellationToken.IsCancellationRequested ? "the store did not answer in time" : e.Message;
            return $"this run's failed commit could not be rolled back ({why}); the next run of pipeline '{plan.Pipeline}' rolls it back " +
                $"(journal {store.Bucket}/{JournalKey(plan.Pipeline)}); until then files it landed may be in the tables' folders, counted by no manifest or state";
        }
    }

    /// <summary>Deletes a staged commit's files, their temp files, its claims and its journal; returns the temp files removed.</summary>
    private async Task<int> RollBackAsync(CommitPlan plan, CancellationToken cancellationToken)
    {
        foreach (var file in plan.Files)
            await store.DeleteWithUnfinishedUploadsAsync(file.Key, cancellationToken).ConfigureAwait(false);
        await ReleaseClaimsAsync(plan, cancellationToken).ConfigureAwait(false);
        var temps = await DeleteTempFilesOfAsync(plan, cancellationToken).ConfigureAwait(false);
        await DeleteJournalOfAsync(plan, cancellationToken).ConfigureAwait(false);
        return temps;
    }

    /// <summary>
    /// Deletes the pipeline's journal if it is still <paramref name="plan"/>'s: a run that lost its lock rolls back its own
    /// commit, and the journal may by then be the commit of the run that took the lock over.
    /// </summary>
    private async Task DeleteJournalOfAsync(CommitPlan plan, CancellationToken cancellationToken)
    {
        if (await JournalRunAsync(plan.Pipeline, cancellationToken).ConfigureAwait(false) != plan.RunId) return;
        await store.DeleteAsync(JournalKey(plan.Pipeline), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The run whose commit the pipeline's journal is; <c>""</c> when it cannot be read (not a journal this build wrote), null when there is none.</summary>
    private async Task<string?> JournalRunAsync(string pipeline, CancellationToken cancellationToken)
    {
        if (await store.GetAsync(JournalKey(pipeline), cancellationToken).ConfigureAwait(false) is not { } journal) return null;
        try { return LakeJson.Deserialize<CommitPlan>(journal.Content, "commit journal").RunId; }
        catch (System.Text.Json.JsonException) { return ""; }
    }

    /// <summary>
    /// Throws <see cref="CommitHandedOverException"/> once the lock of a commit past its commit point is lost: another run
    /// may have taken it over and be completing this commit from its journal (then its own commit, and state, after it),
    /// so whatever this run still wrote (the manifest change again on top of that run's, this run's older state, its
    /// journal back) would count rows twice and move bookmarks back. The journal stays for the run that takes the lock over.
    /// </summary>
    private void ThrowIfLockLost(CommitPlan plan, CancellationToken lockLost)
    {
        if (lockLost.IsCancellationRequested)
            throw new CommitHandedOverException($"{LostLockPastCommitPoint(plan)} (journal {store.Bucket}/{JournalKey(plan.Pipeline)}, phase {plan.Phase}): " +
                "it wrote nothing more, and the run that takes the lock over completes the commit (or already did)");
    }

    /// <summary>
    /// Checks, before a manifest write refused because another writer changed the manifest is made again, that the commit is
    /// still this run's (<see cref="ThrowIfLockLost"/>), and that its journal still is: one gone or another run's means a run
    /// that took the lock over completed this commit (a store that stalled past the lease, the lock not yet found lost), and
    /// applying it again would count its rows twice.
    /// </summary>
    private async Task EnsureCommitStillOursAsync(CommitPlan plan, CancellationToken lockLost, CancellationToken cancellationToken)
    {
        var journalRun = await JournalRunAsync(plan.Pipeline, cancellationToken).ConfigureAwait(false);
        if (journalRun != plan.RunId)
            throw new CommitHandedOverException($"{LostLockPastCommitPoint(plan)}: another run took the lock over and completed this commit (its journal " +
                $"{store.Bucket}/{JournalKey(plan.Pipeline)} is {(journalRun is null ? "gone" : $"now run {journalRun}'s")}); this run wrote nothing more, " +
                "so its rows are counted once, in that run's log");
        ThrowIfLockLost(plan, lockLost);
    }

    private string LostLockPastCommitPoint(CommitPlan plan) =>
        $"run {plan.RunId} lost its pipeline lock {store.Bucket}/{LakePaths.LockKey(plan.Pipeline)} after its commit point (all {plan.Files.Count} file(s) had landed)";

    /// <summary>
    /// Lands a file a split-run worker staged in the bucket: through a local temp file, since the store interface has no
    /// server-side copy; one file at a time, so the committer's disk holds one staged file, never the whole table.
    /// </summary>
    private async Task CopyStagedAsync(string stagedKey, string key, CancellationToken cancellationToken)
    {
        var temp = LakePaths.ScratchFile("staged", ".parquet");
        try
        {
            await using (var source = await store.OpenReadAsync(stagedKey, cancellationToken).ConfigureAwait(false))
            await using (var local = File.Create(temp))
                await source.CopyToAsync(local, cancellationToken).ConfigureAwait(false);
            await store.PutFileAsync(key, temp, cancellationToken).ConfigureAwait(false);
        }
        catch (FileNotFoundException e)
        {
            throw new StorageException($"{store.Bucket}/{stagedKey}: a staged part file is missing; read that part again (run --part)", e);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>
    /// Repairs a commit interrupted by a crash; returns a sentence for the run log and, when it completed the commit, what
    /// that commit landed; null when there was none.
    /// </summary>
    public async Task<Recovery?> RecoverAsync(string pipeline, CancellationToken cancellationToken)
    {
        var journal = await store.GetAsync(JournalKey(pipeline), cancellationToken).ConfigureAwait(false);
        if (journal is null) return null;
        var plan = CommitPlan.Read(journal.Content, $"{store.Bucket}/{JournalKey(pipeline)}");
        if (plan.Phase == CommitPlan.PhaseStaged && plan.HoldsTablesOnly)
        {
            await RollBackAsync(plan, cancellationToken).ConfigureAwait(false);
            return new($"released the table commit claims of {plan.RunId}, stopped while it changed table metadata ({plan.TableClaims.Count} table(s); " +
                "the next maintain finishes its work)");
        }
        if (plan.Phase == CommitPlan.PhaseStaged)
        {
            var temps = await RollBackAsync(plan, cancellationToken).ConfigureAwait(false);
            return new($"rolled back the interrupted commit of run {plan.RunId} ({plan.Files.Count} files not all landed" +
                (temps > 0 ? $", {temps} leftover temp file(s) removed" : "") + "; state untouched)");
        }
        var counted = plan.Phase == CommitPlan.PhaseCataloged;
        try
        {
            // The journal of an older build's run may spell the bucket otherwise than an Iceberg table's metadata does (a
            // link, its target): completed as the table spells it, under whichever spelling this run has.
            foreach (var table in plan.TableMetadata.Where(t => t.Has(Tables.TableFormatCommitter.Iceberg)))
                if ((await new Tables.IcebergTable(store, time).LoadCurrentAsync(table.Prefix, cancellationToken).ConfigureAwait(false))
                    .Metadata?["location"]?.GetValue<string>() is { } location)
                    plan.RespellTable(table, location);
            // Over the state as it is now: only the run holding the lock saves it, and this run took it with the journal there.
            if (plan.State is not null) (plan.StateFence, _) = await StateFence.ReadAsync(store, pipeline, cancellationToken).ConfigureAwait(false);
            await FinishAsync(plan, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException and not CommitHandedOverException)
        {
            // Every run and maintain of the pipeline replays this journal first, so a failure that repeats stops them all:
            // say which commit, where its journal is, and how to get past it.
            var journalKey = $"{store.Bucket}/{JournalKey(pipeline)}";
            throw new StorageException($"the interrupted commit of run {plan.RunId} (journal {journalKey}, phase {plan.Phase}: all its files had landed) " +
                $"could not be completed: {e.Message}. Every run and maintain of pipeline '{pipeline}' completes it first; if this keeps failing, " +
                $"fix the cause (a dataspoc-pipe that no longer fails on it), or abandon that commit by deleting {journalKey}: its landed files then " +
                "stay in the table's folder without a manifest entry, so run the pipeline once with --full to rewrite its tables", e);
        }
        // A run that committed but could not finish (FinishPastCommitPointAsync) logged its success with its rows: counted
        // again here, they would be landed twice in every view of rows per run.
        if (counted && await LoggedSuccessAsync(plan, cancellationToken).ConfigureAwait(false))
            return new($"finished the commit of run {plan.RunId}, which had committed (its run log counts its rows) but could not finish it: " +
                (plan.State is not null ? "saved its state and " : "") + "removed its journal");
        return new($"completed the interrupted commit of run {plan.RunId} (all {plan.Files.Count} files had landed)", Landed(plan));
    }

    /// <summary>Whether the run of <paramref name="plan"/> wrote a run log that says it succeeded.</summary>
    private async Task<bool> LoggedSuccessAsync(CommitPlan plan, CancellationToken cancellationToken)
    {
        if (await store.GetAsync(LakePaths.LogKey(plan.Pipeline, plan.StartedAt, plan.RunId), cancellationToken).ConfigureAwait(false) is not { } log) return false;
        try { return LakeJson.Deserialize<RunLog>(log.Content, "run log").Status == "success"; }
        catch (System.Text.Json.JsonException) { return false; } // unreadable: no view counts its rows
    }

    /// <summary>What a completed plan landed, for the log of the run that completed it (a compaction's rows are not new).</summary>
    private static RecoveredCommit Landed(CommitPlan plan)
    {
        var tables = new SortedDictionary<string, RecoveredTable>(StringComparer.Ordinal);
        foreach (var change in plan.Tables)
        {
            var records = change.Compaction ? 0 : change.Rows;
            tables[change.Key] = tables.TryGetValue(change.Key, out var same)
                ? new RecoveredTable(same.Records + records, same.Files + change.Files)
                : new RecoveredTable(records, change.Files);
        }
        return new RecoveredCommit(plan.RunId, tables.Values.Sum(t => t.Records), tables.Values.Sum(t => t.Files), tables);
    }

    /// <summary>A file:// landing killed half-way leaves <c>&lt;key&gt;.tmp-&lt;id&gt;</c>; those of this plan are ours (we hold the lock).</summary>
    private async Task<int> DeleteTempFilesOfAsync(CommitPlan plan, CancellationToken cancellationToken)
    {
        var temps = new List<string>();
        foreach (var folder in plan.Files.Select(f => f.Key[..(f.Key.LastIndexOf('/') + 1)]).Distinct(StringComparer.Ordinal))
            await foreach (var obj in store.ListAsync(folder, cancellationToken).ConfigureAwait(false))
                if (plan.Files.Any(f => LakePaths.IsTempOf(obj.Key, f.Key))) temps.Add(obj.Key);
        foreach (var key in temps) await store.DeleteAsync(key, cancellationToken).ConfigureAwait(false);
        return temps.Count;
    }

    /// <summary>
    /// Takes a commit past its commit point from its journal's phase to its end. <paramref name="lockLost"/> (a commit of
    /// this run; not a recovery, which runs before its own commit point) stops it before each write once the lock is lost
    /// (<see cref="ThrowIfLockLost"/>), and before a refused manifest write is made again (<see cref="EnsureCommitStillOursAsync"/>).
    /// </summary>
    private async Task FinishAsync(CommitPlan plan, CancellationToken cancellationToken, CancellationToken lockLost = default)
    {
        if (plan.Phase == CommitPlan.PhaseLanded)
        {
            ThrowIfLockLost(plan, lockLost);
            // A journal lists its superseded files in its deletions too (for older builds): each is deleted once.
            foreach (var key in plan.Deletions.Concat(plan.Superseded).Distinct(StringComparer.Ordinal))
                await store.DeleteAsync(key, cancellationToken).ConfigureAwait(false);
            ThrowIfLockLost(plan, lockLost);
            plan.Phase = CommitPlan.PhaseDeleted;
            await SaveJournalAsync(plan, cancellationToken).ConfigureAwait(false);
        }
        if (plan.Phase == CommitPlan.PhaseDeleted)
        {
            ThrowIfLockLost(plan, lockLost);
            // Table metadata after the data files (it points at them) and before the manifest (which points at it).
            // Each commit is idempotent per run, so a recovery repeats it safely.
            await new Tables.TableFormatCommitter(store, time).CommitAsync(plan, cancellationToken).ConfigureAwait(false);
            // Only once the claimed files are out of their tables (deleted, or removed from the table metadata): a commit
            // that claims one of them after this finds it gone.
            await ReleaseFileClaimsAsync(plan, cancellationToken, filesGone: true).ConfigureAwait(false);
            ThrowIfLockLost(plan, lockLost);
            await new ManifestStore(store, time).UpdateAsync(m => Apply(m, plan), cancellationToken,
                beforeRetry: lockLost.CanBeCanceled ? token => EnsureCommitStillOursAsync(plan, lockLost, token) : null).ConfigureAwait(false);
            plan.Counted = true;
            // The tables' claims only now: the next commit of a table checks what it planned against (the entry's last run,
            // the files) on the table as this commit left it, manifest entry included, and counts from that entry. Released
            // before, a replace could set the entry's totals (not this commit in them) and this commit's merge counts then
            // apply to them; or the entry of a later commit be overwritten by this one's, its Iceberg/Delta pointers older.
            await ReleaseTableClaimsAsync(plan, cancellationToken).ConfigureAwait(false);
            ThrowIfLockLost(plan, lockLost);
            plan.Phase = CommitPlan.PhaseCataloged;
            await SaveJournalAsync(plan, cancellationToken).ConfigureAwait(false);
        }
        if (plan.State is not null)
        {
            // Never once the lock is lost: a run that took it over may have saved a later state. A write already on its way
            // when the lock is lost is refused by its fence instead.
            ThrowIfLockLost(plan, lockLost);
            await PutFencedAsync(plan, LakePaths.StateKey(plan.Pipeline), StateFile(plan.State), plan.StateFence.State, cancellationToken).ConfigureAwait(false);
            // After the state: a crash in between leaves the earlier owner, so a next run of a pipeline whose tables differ
            // from it is refused (never handed bookmarks of the wrong tables); the same pipeline finds its own owner.
            if (plan.StateOwner is { } owner)
                await PutFencedAsync(plan, LakePaths.StateOwnerKey(plan.Pipeline), LakeJson.Serialize(owner), plan.StateFence.Owner, cancellationToken).ConfigureAwait(false);
            plan.StateSaved = true;
        }
        ThrowIfLockLost(plan, lockLost);
        await store.DeleteAsync(JournalKey(plan.Pipeline), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Writes the plan's state or owner file <paramref name="key"/> under its <see cref="CommitPlan.StateFence"/>. A refused
    /// write whose key already holds <paramref name="content"/> stands as written: the store applied this write and refused
    /// only the SDK's retry of it, or a second attempt of this commit finds its first one's, or a run that took the lock
    /// over saved this commit's state from its journal; the bookmarks are the same either way. Otherwise another run wrote
    /// the key since it was read: this run's lock was taken over, and that run's state stands.
    /// </summary>
    /// <exception cref="CommitHandedOverException">The write was refused: another run saved the key since it was read.</exception>
    private async Task PutFencedAsync(CommitPlan plan, string key, byte[] content, WriteCondition fence, CancellationToken cancellationToken)
    {
        if (await store.PutAsync(key, content, fence, cancellationToken).ConfigureAwait(false)) return;
        if ((await store.GetAsync(key, cancellationToken).ConfigureAwait(false))?.Content.Span.SequenceEqual(content) == true) return;
        // Past the manifest write: the rows are counted whoever completed the commit (a recovery counts them once).
        throw new CommitHandedOverException($"the commit of run {plan.RunId} did not save {store.Bucket}/{key}: another run wrote it since this run read it " +
            $"(this run's pipeline lock {store.Bucket}/{LakePaths.LockKey(plan.Pipeline)} was taken over while the write was on its way); the commit's rows are " +
            "committed and counted in the manifest, and the next run continues from the state that other run saved");
    }

    /// <summary>
    /// Claims every file of <see cref="CommitPlan.Claimed"/> (a claim object created only if absent, in key order so
    /// two commits contend on their first common file), then checks that each is still in its table: on storage for a
    /// plain table, in the current snapshot for a table with a table format. Returns null when all are this commit's to
    /// remove, else why not: another commit claimed one first, or already removed it. Either way that commit holds the
    /// file's rows in its own files, and this one's would hold them a second time (or put back rows it removed).
    /// </summary>
    private async Task<string?> ClaimSupersededAsync(CommitPlan plan, ICollection<string>? notices, CancellationToken cancellationToken)
    {
        var claim = LakeJson.Serialize(new SupersededClaim(plan.Pipeline, plan.RunId));
        var keys = plan.Claimed.Order(StringComparer.Ordinal).ToList();
        foreach (var key in keys)
        {
            var claimKey = LakePaths.SupersededClaimKey(key);
            var (held, holder) = await TakeClaimAsync(claimKey, claim, plan.RunId, notices, cancellationToken).ConfigureAwait(false);
            if (held) continue;
            return $"{store.Bucket}/{key} is being rewritten by another commit (run {holder?.RunId ?? "?"}; claim {store.Bucket}/{claimKey}; " +
                "if that run died, the next run of its pipeline completes or rolls back its commit and releases the claim)";
        }
        foreach (var key in plan.Superseded)
            if (!await store.ExistsAsync(key, cancellationToken).ConfigureAwait(false))
                return $"{store.Bucket}/{key} was already removed by another commit";
        var formats = new Tables.TableFormatCommitter(store, time);
        foreach (var table in plan.TableMetadata.Where(t => t.Removed.Count > 0))
        {
            var live = (await formats.LiveDataFileKeysAsync(table, cancellationToken).ConfigureAwait(false)).ToHashSet(StringComparer.Ordinal);
            if (table.Removed.FirstOrDefault(key => !live.Contains(key)) is { } gone)
                return $"{store.Bucket}/{gone} was already removed from table {table.Location} by another commit";
        }
        return null;
    }

    /// <summary>How long a commit waits for another commit of one of its tables to end before it plans again.</summary>
    private static readonly TimeSpan TableClaimWait = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Takes the claim of each of <see cref="CommitPlan.TableClaims"/> (in key order, so two commits never wait for each
    /// other), waiting while another commit holds it: a commit holds it only from its journal to its manifest entry.
    /// Returns null once all are held, else (after <see cref="TableClaimWait"/>) why not: a claim left by a run that died
    /// stays until the next run of its pipeline rolls that commit back or completes it (one whose journal is gone too is
    /// taken over: <see cref="TakeClaimAsync"/>).
    /// </summary>
    private async Task<string?> ClaimTablesAsync(CommitPlan plan, ICollection<string>? notices, CancellationToken cancellationToken)
    {
        var claim = LakeJson.Serialize(new SupersededClaim(plan.Pipeline, plan.RunId, LockRunId: plan.LockRunId));
        foreach (var claimKey in plan.TableClaims.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            var waited = System.Diagnostics.Stopwatch.StartNew();
            string? goneBefore = null;
            for (var pause = TimeSpan.FromMilliseconds(20); ; pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, TimeSpan.TicksPerSecond)))
            {
                var (held, holder) = await TakeClaimAsync(claimKey, claim, plan.RunId, notices, cancellationToken).ConfigureAwait(false);
                if (held) break;
                // A holder that died mid-commit (its pipeline's lock no longer names it, or is stale): waiting would not end it.
                // Taken once more first: a holder that completed its commit between the two reads released the claim
                // before its lock, and is no conflict.
                var gone = holder is null ? null : await HolderGoneAsync(holder, cancellationToken).ConfigureAwait(false);
                if (gone is not null && goneBefore is null)
                {
                    goneBefore = gone;
                    continue;
                }
                if (gone is not null || waited.Elapsed >= TableClaimWait)
                    return $"{store.Bucket}/{claimKey} is held by another commit of the table (run {holder?.RunId ?? "?"} of pipeline '{holder?.Pipeline}'" +
                        (gone is null ? $", for {TableClaimWait.TotalMinutes:0} minutes" : $", which no longer runs: {gone}") +
                        "; if that run died, the next run of its pipeline completes or rolls back its commit and releases the claim)";
                await Task.Delay(pause, cancellationToken).ConfigureAwait(false);
            }
        }
        return null;
    }

    /// <summary>
    /// Why a journal another pipeline's run left when it died stops this commit (null when none does): one that claims any
    /// of this plan's tables or rewritten files. Its claims say the same while they exist, but on <c>file://</c> they are
    /// not flushed to disk (<see cref="WriteCondition.IsClaim"/>): after a power loss they may be gone or cut short while the
    /// journal, flushed before them, stays. Going on would let this commit rewrite files that run's commit, completed by
    /// its pipeline's next run, also holds the rows of. A live run's journal is no obstacle: its claims are real.
    /// </summary>
    private async Task<string?> DeadCommitOfSameTablesAsync(CommitPlan plan, CancellationToken cancellationToken)
    {
        var ours = JournalKey(plan.Pipeline);
        var tables = plan.TableClaims.ToHashSet(StringComparer.Ordinal);
        var files = plan.Claimed.ToHashSet(StringComparer.Ordinal);
        var journals = new List<string>();
        await foreach (var obj in store.ListAsync(LakePaths.JournalPrefix, cancellationToken).ConfigureAwait(false))
            if (obj.Key != ours && obj.Key.EndsWith(".json", StringComparison.Ordinal)) journals.Add(obj.Key);
        foreach (var key in journals)
        {
            if (await store.GetAsync(key, cancellationToken).ConfigureAwait(false) is not { } stored) continue; // completed meanwhile
            CommitPlan other;
            try { other = CommitPlan.Read(stored.Content, $"{store.Bucket}/{key}"); }
            catch (StorageException) { continue; } // its own pipeline's next run reports it; it names nothing this commit could trust
            var shared = other.TableClaims.FirstOrDefault(tables.Contains) ?? other.Claimed.FirstOrDefault(files.Contains);
            if (shared is null) continue;
            var holder = new SupersededClaim(other.Pipeline, other.RunId, LockRunId: other.LockRunId);
            if (await HolderGoneAsync(holder, cancellationToken).ConfigureAwait(false) is not { } gone) continue;
            return $"{store.Bucket}/{key}, the journal of run {other.RunId} of pipeline '{other.Pipeline}', which no longer runs ({gone}), " +
                $"claims {store.Bucket}/{shared} too; the next run of pipeline '{other.Pipeline}' (or its maintain) completes or rolls back that commit, " +
                "then this one can go ahead";
        }
        return null;
    }

    /// <summary>
    /// Creates the claim <paramref name="claimKey"/> if absent (<see cref="WriteCondition.IsClaim"/>: on <c>file://</c> not
    /// flushed to disk), finds it already this run's, or takes over one that no run will release: left unreadable by a machine
    /// crash, or orphaned (<see cref="OrphanedAsync"/>, said in <paramref name="notices"/>). Returns whether this run holds
    /// it, else its holder (null when it is unreadable, or was released meanwhile).
    /// </summary>
    private async Task<(bool Held, SupersededClaim? Holder)> TakeClaimAsync(string claimKey, byte[] claim, string runId,
        ICollection<string>? notices, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (await store.PutAsync(claimKey, claim, WriteCondition.IfAbsent with { IsClaim = true }, cancellationToken).ConfigureAwait(false))
                return (true, null);
            var stored = await store.GetAsync(claimKey, cancellationToken).ConfigureAwait(false);
            var holder = ClaimOf(stored);
            if (holder?.RunId == runId) return (true, holder); // our own, from an attempt of this commit
            // Unreadable: cut short by a machine crash (a claim is not flushed to disk), so no run holds it and none releases
            // it. Replaced only while it is still that content: of commits finding it at once, one takes it.
            if (stored is not null && holder is null)
                return (await ReplaceClaimAsync(claimKey, claim, stored.Version, cancellationToken).ConfigureAwait(false), null);
            if (holder is null || await OrphanedAsync(holder, cancellationToken).ConfigureAwait(false) is not { } orphaned)
                return (false, holder);
            // Replaced the same way: of commits finding the orphan at once, one takes it, and the others find the winner's
            // claim on their next pass (a live holder, waited for).
            if (await ReplaceClaimAsync(claimKey, claim, stored!.Version, cancellationToken).ConfigureAwait(false))
            {
                notices?.Add($"took over the claim {store.Bucket}/{claimKey} of run {holder.RunId} of pipeline '{holder.Pipeline}', which died " +
                    $"and left nothing that would release it ({orphaned}; an earlier dataspoc-pipe completes or rolls back a commit without releasing its claims)");
                return (true, null);
            }
        }
    }

    /// <summary>
    /// Replaces the claim <paramref name="claimKey"/> while it still holds <paramref name="version"/> (the content a crash or
    /// a dead run left). That conditional write takes the key's sidecar lock on <c>file://</c>, which then goes at once:
    /// a claim is otherwise created and deleted without one (<see cref="WriteCondition.IsClaim"/>), and no writer can match
    /// that version any more (the claim now names this run), so one still waiting on the lock fails on the claim's
    /// content whichever lock it takes.
    /// </summary>
    private async Task<bool> ReplaceClaimAsync(string claimKey, byte[] claim, string version, CancellationToken cancellationToken)
    {
        if (!await store.PutAsync(claimKey, claim, WriteCondition.IfVersion(version), cancellationToken).ConfigureAwait(false)) return false;
        await store.RemoveConditionalWriteLocksAsync(claimKey, key => key == claimKey, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Why the claim of <paramref name="holder"/> is orphaned, or null while something may still release it. A commit saves
    /// its journal before it takes its claims and releases them before it deletes the journal, so a holder that died
    /// (<see cref="HolderGoneAsync"/>) with its journal still there is released by its pipeline's next run or maintain,
    /// which completes or rolls back that commit. One whose pipeline's journal is gone, or names another run, left the
    /// claim behind for good: an older build completed or rolled back its journal without knowing the claim, or the
    /// journal was deleted by hand.
    /// </summary>
    private async Task<string?> OrphanedAsync(SupersededClaim holder, CancellationToken cancellationToken)
    {
        if (await HolderGoneAsync(holder, cancellationToken).ConfigureAwait(false) is not { } gone) return null;
        var journalKey = JournalKey(holder.Pipeline);
        if (await store.GetAsync(journalKey, cancellationToken).ConfigureAwait(false) is not { } journal)
            return $"{gone}, and its pipeline's journal {store.Bucket}/{journalKey} is gone";
        string journalRun;
        try { journalRun = CommitPlan.Read(journal.Content, $"{store.Bucket}/{journalKey}").RunId; }
        catch (StorageException) { return null; } // it may be the holder's: its pipeline's next run reports it
        return journalRun == holder.RunId ? null : $"{gone}, and its pipeline's journal {store.Bucket}/{journalKey} is run {journalRun}'s";
    }

    /// <summary>The plan's <see cref="CommitPlan.BaseChecks"/>, its tables held: the first reason to plan again, or null.</summary>
    private static async Task<string?> CheckBasesAsync(CommitPlan plan, CancellationToken cancellationToken)
    {
        foreach (var check in plan.BaseChecks)
            if (await check(cancellationToken).ConfigureAwait(false) is { } changed) return changed;
        return null;
    }

    /// <summary>
    /// Claims every Iceberg field id the plan's files carry for a column new to its table (<see cref="Tables.TableMetadataCommit.NewColumns"/>;
    /// in id order, by <see cref="TakeClaimAsync"/> as every claim: one a run that died left with nothing to release it is
    /// taken over), then checks the table as it is now for them
    /// (<see cref="Tables.IcebergTable.ColumnIdConflict"/>). Returns null when every id is this commit's to add, else why
    /// not. Two runs that took their ids at the same time numbered their new columns from the same <c>last-column-id</c>:
    /// without the claim both could pass the check and then both commit, one after the other, two columns under one id.
    /// Another run's claim for the same column and type is no conflict: both land it under that one id.
    /// </summary>
    private async Task<string?> ClaimColumnIdsAsync(CommitPlan plan, ICollection<string>? notices, CancellationToken cancellationToken)
    {
        foreach (var table in plan.TableMetadata)
        {
            var columns = table.NewColumns.OrderBy(c => c.Id).ToList();
            if (columns.Count == 0) continue;
            foreach (var (path, id, type) in columns)
            {
                var column = $"'{path}' ({type})";
                var claimKey = LakePaths.ColumnIdClaimKey(table.Prefix, id);
                var claim = LakeJson.Serialize(new SupersededClaim(plan.Pipeline, plan.RunId, column));
                var (held, holder) = await TakeClaimAsync(claimKey, claim, plan.RunId, notices, cancellationToken).ConfigureAwait(false);
                if (held || holder?.Column == column) continue;
                return $"Iceberg table {table.Location}: field id {id}, which this run's files carry for column {column}, is being given to " +
                    $"{holder?.Column ?? "another column"} by another commit (pipeline '{holder?.Pipeline ?? "?"}', run {holder?.RunId ?? "?"}; claim {store.Bucket}/{claimKey}; " +
                    "if that run died, the next run of its pipeline completes or rolls back its commit and releases the claim)";
            }
            var (version, current) = await new Tables.IcebergTable(store, time).LoadCurrentAsync(table.Prefix, cancellationToken).ConfigureAwait(false);
            if (Tables.IcebergTable.ColumnIdConflict(table, current, version) is { } conflict) return conflict;
        }
        return null;
    }

    /// <summary>The keys of the claims this plan takes: on its superseded files, then on its new Iceberg field ids.</summary>
    private static IEnumerable<string> ClaimKeys(CommitPlan plan) =>
        plan.Claimed.Select(LakePaths.SupersededClaimKey)
            .Concat(plan.TableMetadata.SelectMany(t => t.NewColumns.Select(c => LakePaths.ColumnIdClaimKey(t.Prefix, c.Id))));

    /// <summary>
    /// Deletes the claims this plan's run holds (never another run's: a lost claim stays with its holder): a commit that
    /// did not go through (a conflict, a rollback) releases them all at once.
    /// </summary>
    private async Task ReleaseClaimsAsync(CommitPlan plan, CancellationToken cancellationToken)
    {
        await ReleaseTableClaimsAsync(plan, cancellationToken).ConfigureAwait(false);
        await ReleaseFileClaimsAsync(plan, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes the plan's <see cref="CommitPlan.TableClaims"/> this run holds.</summary>
    private async Task ReleaseTableClaimsAsync(CommitPlan plan, CancellationToken cancellationToken)
    {
        foreach (var claimKey in plan.TableClaims)
            if (await ClaimHolderAsync(claimKey, cancellationToken).ConfigureAwait(false) == plan.RunId)
                await store.DeleteAsync(claimKey, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Deletes the claims on the plan's superseded files and new Iceberg field ids this run holds. When
    /// <paramref name="filesGone"/> (the commit took the claimed files out of their tables), also the claims' conditional
    /// write locks: a later claim of such a file fails on the file's absence whoever wins it, so no lock is needed for it
    /// any more. A rolled-back claim keeps its lock: its file is still in the table, and another commit may claim it.
    /// </summary>
    private async Task ReleaseFileClaimsAsync(CommitPlan plan, CancellationToken cancellationToken, bool filesGone = false)
    {
        foreach (var claimKey in ClaimKeys(plan))
        {
            if (await ClaimHolderAsync(claimKey, cancellationToken).ConfigureAwait(false) != plan.RunId) continue;
            await store.DeleteAsync(claimKey, cancellationToken).ConfigureAwait(false);
            if (filesGone) await store.RemoveConditionalWriteLocksAsync(claimKey, k => k == claimKey, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<string?> ClaimHolderAsync(string claimKey, CancellationToken cancellationToken) =>
        (await ClaimOfAsync(claimKey, cancellationToken).ConfigureAwait(false))?.RunId;

    private async Task<SupersededClaim?> ClaimOfAsync(string claimKey, CancellationToken cancellationToken) =>
        ClaimOf(await store.GetAsync(claimKey, cancellationToken).ConfigureAwait(false));

    /// <summary>The claim a stored claim object holds; null when there is none, or it cannot be read.</summary>
    private static SupersededClaim? ClaimOf(StoredObject? stored)
    {
        if (stored is null) return null;
        try { return LakeJson.Deserialize<SupersededClaim>(stored.Content, "claim"); }
        catch (System.Text.Json.JsonException) { return null; }
    }

    /// <summary>
    /// Why the run of <paramref name="claim"/> no longer runs, or null while it may: a run commits under its pipeline's lock
    /// (a split run's commit under its committing worker's, <see cref="CommitPlan.LockRunId"/>), so its holder died when
    /// that lock no longer names it, or names it but is stale by the rule a run taking the lock over applies
    /// (<see cref="RunLock.Stale"/>: its lease expired, or its process on this host is gone).
    /// </summary>
    private async Task<string?> HolderGoneAsync(SupersededClaim claim, CancellationToken cancellationToken)
    {
        var lockKey = LakePaths.LockKey(claim.Pipeline);
        if (await store.GetAsync(lockKey, cancellationToken).ConfigureAwait(false) is not { } stored) return $"its pipeline's lock {store.Bucket}/{lockKey} is gone";
        RunLock.LockInfo holder;
        try { holder = LakeJson.Deserialize<RunLock.LockInfo>(stored.Content, "lock"); }
        catch (System.Text.Json.JsonException) { return null; } // unreadable: not proof that it died; the wait is bounded
        if (holder.RunId != (claim.LockRunId ?? claim.RunId)) return $"its pipeline's lock {store.Bucket}/{lockKey} is now run {holder.RunId}'s";
        return RunLock.Stale(holder, time.GetUtcNow()) is { } stale ? $"its pipeline's lock {store.Bucket}/{lockKey} is stale ({stale})" : null;
    }

    private static void Apply(Manifest manifest, CommitPlan plan)
    {
        foreach (var change in plan.Tables)
        {
            var entry = change.Entry;
            manifest.Tables.TryGetValue(change.Key, out var previous);
            // Recovery re-applies a plan whose manifest write may have landed just before the crash: count it once.
            if (previous is not null && previous.Stats.LastRunId == plan.RunId) continue;
            if (change.Compaction)
            {
                // Same rows in fewer files: only the file counts and the table-format pointers move.
                if (previous is null) continue;
                previous.Stats.Files += change.Files - change.RemovedFiles;
                previous.Stats.Bytes += change.Bytes - change.RemovedBytes;
                previous.Stats.LastRunId = plan.RunId;
                if (plan.TableMetadata.FirstOrDefault(t => t.TableKey == change.Key) is { } compacted)
                {
                    previous.IcebergMetadata = compacted.IcebergMetadata ?? previous.IcebergMetadata;
                    previous.DeltaLog = compacted.DeltaLog ?? previous.DeltaLog;
                }
                continue;
            }
            var stats = entry.Stats;
            if (change.Merge is { } merge)
            {
                // From the entry as it is now: appends and other merges may have landed since this run read the manifest
                // (their superseded files were claimed, so no file's rows leave twice).
                (entry.RowCount, stats.Files, stats.Bytes) = merge.TotalsAfter(previous, change.Files, change.Bytes);
            }
            else if (change.Totals is { } totals)
            {
                // A merge in the journal of an older build (journal format 1): its totals, from the manifest entry that run
                // read (that build merged under the pipeline's lock and claimed nothing). Counting it as an append would
                // leave the entry's row_count and files wrong for good, since every later merge counts from them.
                (entry.RowCount, stats.Files, stats.Bytes) = totals;
            }
            else if (change.Replace || previous is null)
            {
                entry.RowCount = change.Rows + (change.Kept?.Rows ?? 0);
                stats.Files = change.Files + (change.Kept?.Files ?? 0);
                stats.Bytes = change.Bytes + (change.Kept?.Bytes ?? 0);
            }
            else
            {
                entry.RowCount = previous.RowCount + change.Rows;
                stats.Files = previous.Stats.Files + change.Files;
                stats.Bytes = previous.Stats.Bytes + change.Bytes;
            }
            if (!change.Replace && change.RunColumns is { } runColumns)
            {
                // The entry as it is now, not as the run planned: another pipeline may have committed columns to the table since.
                entry.Columns = ManifestColumn.AfterAdding(previous?.Columns, runColumns);
                change.LateTypeChanges = previous is null ? []
                    : [.. ManifestColumn.TypeChanges(previous.Columns, runColumns).Except(ManifestColumn.TypeChanges(change.PlannedOver ?? [], runColumns))];
            }
            stats.TotalRows = entry.RowCount;
            stats.Extractions = (previous?.Stats.Extractions ?? 0) + 1;
            stats.LastExtraction = plan.StartedAt;
            stats.LastExtractionRows = change.Rows;
            stats.LastRunId = plan.RunId;
            if (plan.TableMetadata.FirstOrDefault(t => t.TableKey == change.Key) is { } table)
            {
                entry.TableFormats = [.. table.Formats];
                entry.IcebergMetadata = table.IcebergMetadata;
                entry.DeltaLog = table.DeltaLog;
            }
            manifest.Tables[change.Key] = entry;
        }
    }

    private Task SaveJournalAsync(CommitPlan plan, CancellationToken cancellationToken) =>
        store.PutAsync(JournalKey(plan.Pipeline), plan.ToJournal(), WriteCondition.None, cancellationToken);
}

/// <summary>
/// A commit found that a file it rewrote (a merge, a compaction) is being or was already removed by another commit: it
/// landed nothing and removed nothing. A run plans again against the table as it is now.
/// </summary>
public sealed class CommitConflictException(string message) : PipeException(message);

/// <summary>
/// A commit's data files carry Iceberg field ids for new columns that another commit gave other columns since the run
/// took them (two runs adding columns to one table at the same time): it landed nothing. Planning again cannot help, as
/// the files carry the ids; the pipeline's next run takes its ids from the table as it is then.
/// </summary>
public sealed class ColumnIdConflictException(string message) : PipeException(message);

/// <summary>
/// A commit past its commit point stopped because the lock it ran under was lost: it wrote nothing more, and the run that
/// takes the lock over completes it from its journal (or already did). Its run fails: it did not finish its commit.
/// </summary>
public sealed class CommitHandedOverException(string message) : PipeException(message);

/// <summary>What <see cref="LakeCommitter.RecoverAsync"/> did: a sentence for the run log, and what a completed commit landed.</summary>
public sealed record Recovery(string Notice, RecoveredCommit? Completed = null);
