using System.Text.Json;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Parquet;
using DataSpoc.Pipe.Singer;
using DataSpoc.Pipe.Sources;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Runs;

/// <summary>
/// Runs a pipeline: extract (start the source, read its Singer stream) -> write (Parquet files in a spool folder)
/// -> commit (data files, replace deletions, manifest, state) -> run log. A failure at any step writes a failure
/// log, leaves state untouched and makes nothing of this run visible.
/// </summary>
public sealed class PipelineRunner(ObjectStoreFactory stores, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>Buffer and file limits (tests and benchmarks tune them; pipelines set max_file_rows / max_file_mb).</summary>
    public WriteLimits Limits { get; init; } = new();

    /// <summary>
    /// C# sources (typed built-in taps, code sources) write typed rows straight to the engine (<see cref="EngineSink"/>);
    /// false makes them print Singer JSON for the reader instead (tests compare the two).
    /// </summary>
    internal bool TypedSources { get; init; } = true;

    /// <summary>How long the pipeline lock holds without renewal (renewed every fifth of it; tests shorten it).</summary>
    public TimeSpan LockLease { get; init; } = RunLock.DefaultLease;

    /// <summary>
    /// Starts loading the Parquet encoder (a large native library) in the background and returns at once. A front end
    /// calls it as soon as it knows a run is coming: the load then overlaps with parsing the command line and the
    /// pipeline's YAML, instead of holding the dynamic loader's lock (which every new thread and native library load
    /// waits for) while the run starts its threads and its tap. Dispose the result before the process may exit (which
    /// waits for the load, if it is still going on: a process must not exit in the middle of it).
    /// </summary>
    public static IDisposable PrepareEncoder() => ParquetWarmUp.Start();

    /// <summary>
    /// Runs <paramref name="pipeline"/> once. Returns the run's log (status success, failure or cancelled); throws only when
    /// the run could not start at all (bad bucket URI, pipeline locked by another run, a part of a split run already
    /// committed, a stop before the pipeline lock was taken). Once the lock is taken, every outcome is a logged run.
    /// </summary>
    public async Task<RunResult> RunAsync(PipelineDefinition pipeline, RunOptions options, CancellationToken cancellationToken)
    {
        RefuseUnsafeLocation(pipeline, pipeline.Source.Name ?? options.Source?.DefaultName);
        if (options.Part is { } part) SplitRun.Check(pipeline, part);
        // A stop asked before the run holds its lock is no run (no log); once it holds it, a stop is a cancelled run.
        cancellationToken.ThrowIfCancellationRequested();
        using var encoder = ParquetWarmUp.Start();
        var startedAt = _time.GetUtcNow();
        // Log keys carry the start second only; leading with the millisecond (3 hex digits) keeps "the latest log is the
        // greatest file name" true for two runs started in the same second.
        var runId = startedAt.Millisecond.ToString("x3", System.Globalization.CultureInfo.InvariantCulture) + Guid.NewGuid().ToString("N")[..5];
        var full = WriteModes.ReadsWholeSource(pipeline, options.Full);
        var secrets = PipelineSecrets.Of(pipeline);
        var redactor = secrets.Redactor;
        var log = new RunLog
        {
            Pipeline = pipeline.Name,
            RunId = runId,
            StartedAt = startedAt,
            Mode = full ? "full" : "incremental",
            ToolVersion = ToolVersion.Current,
        };
        log.Notices.AddRange(options.Notices.Select(redactor.Redact));
        var runStart = new RunStart(pipeline, runId, startedAt, BucketUri.Parse(pipeline.Destination.Bucket),
            pipeline.Source.Name ?? options.Source?.DefaultName ?? LakePaths.SourceName(pipeline.Source.Tap), redactor);
        await using var store = await OpeningAsync(() => Task.FromResult(stores.Open(pipeline.Destination.Bucket, pipeline.Destination.StorageOptions))).ConfigureAwait(false);
        if (SingleWriterNotice(pipeline.Destination.StorageOptions) is { } singleWriter) log.Notices.Add(singleWriter);
        // A worker of a split run locks its part only: the other parts run at the same time; the commit takes the pipeline's lock.
        var split = options.Part is { } splitPart ? new SplitRun(store, pipeline, splitPart, _time) : null;
        // A part of a split run already committed (a late worker, a retried index) does not start: no lock, no run log,
        // so it cannot become the pipeline's latest run and show it as failed while its table is fine. (The check in the
        // run below still covers a commit that lands while this part starts.)
        if (split is not null) await split.EnsureOpenAsync(cancellationToken).ConfigureAwait(false);
        await using var runLock = await OpeningAsync(() => RunLock.AcquireAsync(store, split?.LockName ?? pipeline.Name, runId, split?.SplitRunId, _time, LockLease, cancellationToken)).ConfigureAwait(false);
        if (runLock.Notice is { } lockNotice) log.Notices.Add(lockNotice);
        // A lost lock stops the run: another run may now be writing as this pipeline.
        using var runCancel = runLock.WorkCancellation(cancellationToken);
        var observation = RunObservation.Start(options.Observers, runStart with { Bucket = store.Bucket });
        await observation.StartedAsync(log.Notices).ConfigureAwait(false);

        // The run's local temp folders ($TMPDIR/dataspoc-pipe-<uid>) are checked inside the run, not before it: a temp
        // folder that cannot be used (a missing TMPDIR, one where nothing can be created, a planted folder) fails the run
        // with a failure log, as a tap that cannot start does, so `status` and a scheduled run's monitoring see it. The
        // log goes to the bucket, which needs no local temp folder.
        string? privateDir = null;
        string? spoolDir = null;
        var step = RunSteps.Start;
        RunIngest? ingest = null;
        ProgressReports? progress = null;
        CommitPlan? plan = null;
        PipeErrorKind? errorKind = null;
        DateTimeOffset? replaceSince = null;
        try
        {
            // The run's start on the store's clock (its lock was just written): a replace deletes only files written before it.
            // Inside the run: once the lock is taken, a stop is a cancelled run with its log, whenever it comes.
            if (split is null) replaceSince = await ReplaceBaseline.StoreTimeOfAsync(store, LakePaths.LockKey(pipeline.Name), runCancel.Token).ConfigureAwait(false);
            privateDir = PrivateDirectory(store, pipeline.Name, runId);
            spoolDir = SpoolDirectory(store, pipeline.Name, runId);
            // Until the run's own extraction starts it repairs what an interrupted run left (its own step in a failure log:
            // a journal that cannot be completed fails every run here, and "extract" would point at the tap).
            step = RunSteps.Recover;
            log.Notices.AddRange(await CleanLeftoversAsync(store, pipeline.Name, Path.GetDirectoryName(privateDir)!, Path.GetDirectoryName(spoolDir)!, runId, runCancel.Token).ConfigureAwait(false));
            // Killed runs of any pipeline (one since renamed or deleted has no next run to clean its folder up).
            log.Notices.AddRange(PrivateTempRoot.RemoveKilledRunFoldersOfCurrentUser());
            if (await DiedWithoutLogAsync(store, pipeline.Name, runLock.TookOverFrom, runCancel.Token).ConfigureAwait(false) is { } died) log.Notices.Add(died);
            // Parts of a split run share the pipeline's journal and metadata without its lock: they leave them alone.
            if (split is null) log.Notices.AddRange(CleanMetadataTempFiles(store, pipeline.Name, startedAt));
            var committer = new LakeCommitter(store, _time);
            if (split is null && await committer.RecoverAsync(pipeline.Name, runCancel.Token).ConfigureAwait(false) is { } recovered)
            {
                log.Notices.Add(recovered.Notice);
                log.Recovered = recovered.Completed;
            }
            observation.Step(step = RunSteps.Extract);
            if (split is not null) await split.EnsureOpenAsync(runCancel.Token).ConfigureAwait(false);
            var partDone = split is not null && await split.PartDoneAsync(runCancel.Token).ConfigureAwait(false);

            var manifest = await new ManifestStore(store, _time).ReadAsync(runCancel.Token).ConfigureAwait(false);
            var selection = options.Source is not null && pipeline.Source is { Streams: null, Replication.Count: 0, Select.Count: 0 }
                ? null // a source given in code sends what it sends; there is no tap to ask
                : await new TapCatalogs(stores).SelectAsync(pipeline, full, CatalogSave.AfterCommit, runCancel.Token).ConfigureAwait(false);
            if (selection?.Capabilities.Notice is { } unanswered) log.Notices.Add(unanswered);
            if (selection is not null) log.Notices.AddRange(selection.Notices);
            // Read by a full run too, which hands its tap no state: the commit saves the state over these versions only.
            var (stateFence, savedState) = await StateFence.ReadAsync(store, pipeline.Name, runCancel.Token).ConfigureAwait(false);
            var invocation = PrepareInvocation(pipeline, full ? null : savedState, privateDir, selection);
            var source = options.Source ?? SourceFactory.Create(pipeline.Source, redactor, stores);
            var sourceName = LakeNames.Source(pipeline.Source.Name ?? source.DefaultName);
            // Before the tap starts: the state handed to it must be this pipeline's (its tables'), not another home's pipeline's of the same name.
            await StateOwner.CheckAsync(store, pipeline, sourceName, full, log.Notices, runCancel.Token).ConfigureAwait(false);
            if (pipeline.Source.Split is not null && source is not ISplitSource)
                throw new TapFailedException($"source.split: the tap '{pipeline.Source.Tap}' cannot read a table in key ranges (the built-in postgres tap can)");
            if (pipeline.Source.Split is { } splitSettings && !partDone)
                invocation = invocation with
                {
                    Split = split is null ? SplitRun.Whole(splitSettings) : await split.SplitForPartAsync(source, invocation, full, runCancel.Token).ConfigureAwait(false),
                };

            ingest = new RunIngest(pipeline, new RunIngest.Settings(
                spoolDir,
                store.LocalRoot is not null,
                LimitsFor(pipeline.Destination),
                selection?.MessageNames,
                [.. options.CodeTransforms, .. Transforms.TransformCompiler.Compile(pipeline, selection?.Catalog)],
                PipelineSecrets.ForStreamNames(pipeline, secrets),
                new BatchFiles(stores, pipeline.Destination.StorageOptions),
                FieldIdsFor(pipeline, store, sourceName, runCancel.Token),
                KeptColumnsFor(pipeline, manifest, sourceName, options.Full),
                TableOwnership.LandedCaseTwins(pipeline, manifest, store.Bucket, LakePaths.BasePath(pipeline.Destination.Path), sourceName)));
            ingest.Start(DateOnly.FromDateTime(startedAt.UtcDateTime));
            progress = ProgressReports.Start(options.Progress, ingest, startedAt, _time, redactor);

            if (partDone) log.Notices.Add($"{split!.Describe} was already done: not read again");
            else await ExtractAsync(pipeline, source, invocation, ingest, log, options, startedAt, redactor, runCancel.Token).ConfigureAwait(false);

            observation.Step(step = RunSteps.Write);
            progress?.Phase = step;
            foreach (var stream in ingest.Streams) { await stream.CompleteWriterAsync().ConfigureAwait(false); observation.StreamWritten(stream.Name); }
            foreach (var stream in ingest.Streams) stream.Quarantine?.Dispose();
            FillStreamStats(log, ingest);
            log.Notices.AddRange(UnmatchedTransformNotices(pipeline, selection?.Catalog, ingest));

            observation.Step(step = RunSteps.Commit);
            progress?.Phase = step;
            await runLock.EnsureHeldAsync(runCancel.Token).ConfigureAwait(false);
            if (split is not null)
            {
                if (!partDone) await split.StageAsync(ingest, runId, full, runCancel.Token).ConfigureAwait(false);
                (var committed, plan) = await split.CommitIfLastAsync(runId, LockLease, options.HomePipelines, runCancel.Token, log.Notices).ConfigureAwait(false);
                log.Notices.AddRange(committed);
            }
            else
            {
                // The plan is made against the tables as they are now: another pipeline may have committed to one during the
                // extraction (its rows and its writer matter to a replace); the commit checks again what changed after this.
                var startManifest = manifest;
                await CommitAttempts.RunAsync(log.Notices, async attempt =>
                {
                    manifest = await new ManifestStore(store, _time).ReadAsync(runCancel.Token).ConfigureAwait(false);
                    // A new attempt's merge writes beside the earlier attempt's files, which no plan names any more.
                    var mergeSpool = attempt == 1 ? spoolDir : Path.Combine(spoolDir, $"attempt-{attempt}");
                    var merge = new Merge.KeyedMerge(store, pipeline.Destination.Merge, LimitsFor(pipeline.Destination), pipeline.Destination.Compression, mergeSpool, store.LocalRoot is not null);
                    plan = await PlanAsync(pipeline, store, manifest, startManifest, ingest, sourceName, runId, startedAt, replaceSince, WriteModes.Replaces(pipeline, options.Full), merge, log, options.HomePipelines, runCancel.Token).ConfigureAwait(false);
                    plan.StateFence = stateFence;
                    // Last point where a stop request (a signal, the caller) is honoured: a commit once begun runs to its end,
                    // so a signal never leaves a half-landed commit for the next run to roll back. A lost lock still stops
                    // it until its commit point (its files uploading to a store that stalled, say): another run may be
                    // writing as this pipeline by then. The commit rolls itself back, at most a lease long.
                    runCancel.Token.ThrowIfCancellationRequested();
                    await committer.CommitAsync(plan, runLock.Lost, log.Notices, runLock.WindDown, runLock.Lost).ConfigureAwait(false);
                    log.Notices.AddRange(plan.LandedNotices);
                    LateTypeChangeNotices(pipeline, ingest, sourceName, plan, log.Notices);
                    return plan;
                }, runCancel.Token).ConfigureAwait(false);
            }
            log.StateCommitted = plan?.StateSaved == true;
            log.Status = "success";
            // Only once the run committed: the cache is the baseline of the next run's change notices, and the discovery of
            // a run that failed (or of a split run's part that only staged, which may never be committed) would keep the run
            // that lands the change from naming it. A part that commits has a plan. Not cancellable: the run is done.
            if (plan is not null && selection?.UnsavedCatalog is { } unsaved && await unsaved.SaveAsync(CancellationToken.None).ConfigureAwait(false) is { } notSaved)
                log.Notices.Add(notSaved);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            var cancelled = cancellationToken.IsCancellationRequested;
            if (e is TapFailedException { ExitCode: { } discoverExit } early && log.Tap.ExitCode is null)
            {
                log.Tap.ExitCode = discoverExit;
                log.Tap.StderrTail = early.StderrTail ?? "";
            }
            log.Status = cancelled ? "cancelled" : "failure";
            log.FailedStep = step;
            errorKind = e is PipeException { Kind: PipeErrorKind.Usage } ? PipeErrorKind.Usage : PipeErrorKind.Failed;
            // A lost lock cancels the run, so whatever failed after it (a cancelled read, a killed tap) is its consequence;
            // past its commit point the commit stopped with its own account of who completes it.
            log.Error = redactor.Redact(
                cancelled ? $"the run was stopped during {step} (cancelled by a signal or its caller); nothing of it was committed"
                : e is CommitHandedOverException ? e.Message + (runLock.LostReason is { } why ? $" (the lock was lost: {why})" : "")
                : runLock.LostError is { } lost ? lost.Message
                : Describe(e, step));
            log.StateCommitted = false;
            // None of a failed run's files reached its tables: they stay in the local spool, deleted below (a commit past
            // its commit point is completed by the next run, whose log counts its files under "recovered").
            foreach (var entry in log.Streams.Values) (entry.Files, entry.Bytes) = (0, 0);
        }
        finally
        {
            progress?.Dispose();
            if (ingest is not null)
                foreach (var stream in ingest.Streams)
                {
                    try { await stream.DisposeWriterAsync().ConfigureAwait(false); }
                    catch (Exception) { /* the run already failed; its error is in the log */ }
                    stream.Quarantine?.Dispose();
                }
            if (privateDir is not null) TryDelete(privateDir);
            if (spoolDir is not null) TryDelete(spoolDir);
            // The pipeline's private folder too once empty: every run lists those for killed runs' folders, and a full
            // test run left ~15,000, which made each run ~0.2 s slower (one in use is not empty). Not the spool's parent:
            // it may be a folder the user gave (a mount).
            if (privateDir is not null && Path.GetDirectoryName(privateDir) is { } privateParent)
                try { Directory.Delete(privateParent, recursive: false); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        if (progress?.Failure is { } progressFailed) log.Notices.Add(progressFailed);
        // Under the run lock, so two runs of the pipeline never expire at once; a split run's workers hold a part's lock only.
        if (split is null && pipeline.RunLogs.Keep is { } keep && !cancellationToken.IsCancellationRequested && runLock.LostReason is null)
            log.Notices.AddRange(await ExpireRunLogsAsync(store, pipeline.Name, keep, cancellationToken).ConfigureAwait(false));

        log.FinishedAt = _time.GetUtcNow();
        log.DurationSeconds = Math.Round((log.FinishedAt - startedAt).TotalSeconds, 3);
        log.TotalRecords = log.Streams.Values.Sum(s => s.Records);
        // Before the observers (metrics tag streams by name) and again after them, for the notices they add.
        log.Redact(redactor.Redact);
        await observation.FinishAsync(log, plan).ConfigureAwait(false);
        log.Notices = log.Notices.Select(redactor.Redact).ToList();
        try
        {
            // Bounded only once the lock is lost (by then the store has often stopped answering).
            await store.PutAsync(LakePaths.LogKey(pipeline.Name, startedAt, runId), LakeJson.Serialize(log), WriteCondition.None, runLock.WindDown).ConfigureAwait(false);
        }
        catch (Exception e) when (e is StorageException || (e is OperationCanceledException && runLock.WindDown.IsCancellationRequested))
        {
            // A run that failed, often for the very reason the log cannot be written (a full disk, a store gone down),
            // still reports its own error to the caller instead of this secondary one; a run that committed still
            // reports its success. Either way the caller learns that `status` will not show this run.
            log.Notices.Add("the run log could not be saved: " + (e is StorageException ? e.Message
                : $"the store did not answer within {Durations.Describe(LockLease)} after the run lost its pipeline lock"));
            if (log.Error is not null) log.Error += " (and its run log could not be saved: see the notices; `status` does not show this run)";
            else log.Notices.Add("this run succeeded, but `status` does not show it: its run log is missing");
        }
        // After the log: the lock keeps the next run out until this one is recorded. Releasing is best effort (the next
        // run takes a stale lock over), so a failure here is a notice, never the run's error.
        if (await runLock.ReleaseAsync().ConfigureAwait(false) is { } unreleased) log.Notices.Add(redactor.Redact(unreleased));
        return new RunResult(log) { ErrorKind = errorKind };

        // Opening the bucket and taking the lock come before the run log can exist. A failure there (missing credentials,
        // a deleted container, an unreachable store) still throws as before, but the observers see it as a failed run
        // (START, then FAIL; the span and the failure metrics): it is the failure a scheduled pipeline's monitoring must
        // catch. A pipeline locked by another run, or a stop before the run began, is no run of its own.
        async Task<T> OpeningAsync<T>(Func<Task<T>> open)
        {
            try
            {
                return await open().ConfigureAwait(false);
            }
            catch (Exception e) when (e is not (OutOfMemoryException or OperationCanceledException or PipelineLockedException))
            {
                log.Status = "failure";
                log.FailedStep = RunSteps.Start;
                log.Error = redactor.Redact(Describe(e, RunSteps.Start));
                log.FinishedAt = _time.GetUtcNow();
                log.DurationSeconds = Math.Round((log.FinishedAt - startedAt).TotalSeconds, 3);
                await RunObservation.FailedToStartAsync(options.Observers, runStart, log).ConfigureAwait(false);
                throw;
            }
        }
    }

    /// <summary>
    /// What every entry that lands data (a run, a part of a split run, <c>--commit-parts</c>, <c>maintain --compact</c>) refuses
    /// before it opens the bucket, so nothing of it, not even its log, lands there: a pipeline name that is not one folder, and a secret in
    /// <c>destination.path</c> or the source's name (<paramref name="sourceName"/>), folders of every table's location.
    /// </summary>
    internal static void RefuseUnsafeLocation(PipelineDefinition pipeline, string? sourceName)
    {
        LakeNames.Pipeline(pipeline.Name, pipeline.FilePath);
        if (PipelineSecrets.InTableLocation(pipeline, sourceName) is { } leak)
            throw new ConfigException(leak.Message, pipeline.FilePath, key: leak.Key);
    }

    /// <summary>
    /// <c>run NAME --commit-parts --split-run ID</c>: lands every staged part of a split run in one commit, when its last
    /// part could not (killed after it staged, or the pipeline was locked). Writes a run log like any run, except for a
    /// split run already committed: that is refused before it starts (<see cref="SplitRunException"/>), as a late part
    /// is, so the pipeline's latest run stays the commit.
    /// </summary>
    public async Task<RunResult> CommitPartsAsync(PipelineDefinition pipeline, string splitRunId, HomePipelines? homePipelines, CancellationToken cancellationToken)
    {
        RefuseUnsafeLocation(pipeline, pipeline.Source.Name);
        var startedAt = _time.GetUtcNow();
        var runId = startedAt.Millisecond.ToString("x3", System.Globalization.CultureInfo.InvariantCulture) + Guid.NewGuid().ToString("N")[..5];
        var log = new RunLog { Pipeline = pipeline.Name, RunId = runId, StartedAt = startedAt, Mode = "commit-parts", ToolVersion = ToolVersion.Current };
        await using var store = stores.Open(pipeline.Destination.Bucket, pipeline.Destination.StorageOptions);
        // No run log for nothing to do: a 0-record "success" would become the pipeline's latest run in place of the commit.
        await SplitRun.EnsureOpenAsync(store, pipeline.Name, splitRunId, cancellationToken).ConfigureAwait(false);
        try
        {
            var (notices, plan) = await SplitRun.CommitAsync(store, pipeline, splitRunId, runId, _time, LockLease, homePipelines, cancellationToken, log.Notices).ConfigureAwait(false);
            log.Notices.AddRange(notices);
            log.StateCommitted = plan?.StateSaved == true;
            log.Status = "success";
        }
        catch (Exception e) when (e is SplitRunException or StorageException or PipelineLockedException or LockLostException or TableOwnerException
            or Tables.TableChangeException or CommitConflictException)
        {
            log.Status = "failure";
            log.FailedStep = RunSteps.Commit;
            log.Error = e.Message;
        }
        log.FinishedAt = _time.GetUtcNow();
        log.DurationSeconds = Math.Round((log.FinishedAt - startedAt).TotalSeconds, 3);
        log.Redact(PipelineSecrets.Of(pipeline).Redact);
        await store.PutAsync(LakePaths.LogKey(pipeline.Name, startedAt, runId), LakeJson.Serialize(log), WriteCondition.None, CancellationToken.None).ConfigureAwait(false);
        return new RunResult(log);
    }

    /// <summary><c>run_logs.keep</c>: deletes the logs that aged out; a failure to is a notice, never the run's failure.</summary>
    private async Task<IEnumerable<string>> ExpireRunLogsAsync(IObjectStore store, string pipeline, TimeSpan keep, CancellationToken cancellationToken)
    {
        try
        {
            var expired = await RunLogRetention.ExpireAsync(store, pipeline, _time.GetUtcNow() - keep, countKept: false, cancellationToken).ConfigureAwait(false);
            return expired.Deleted == 0 ? [] : [$"run_logs.keep: deleted {expired.Deleted} run log(s) of runs started over {Durations.Describe(keep)} ago"];
        }
        catch (Exception e) when (e is StorageException or IOException or UnauthorizedAccessException or OperationCanceledException)
        {
            return [$"run_logs.keep: old run logs were not deleted: {e.Message}"];
        }
    }

    /// <summary>
    /// <c>storage_options.conditional_writes: false</c> accepts a store that ignores conditional writes; every run log
    /// then says that the bucket is safe for one writer at a time only.
    /// </summary>
    private static string? SingleWriterNotice(IReadOnlyDictionary<string, string> options)
    {
        foreach (var (key, value) in options)
            if (string.Equals(key.Replace('-', '_'), "conditional_writes", StringComparison.OrdinalIgnoreCase)
                && value.Trim().ToLowerInvariant() is "false" or "no" or "0" or "off")
                return "single-writer mode (storage_options.conditional_writes: false): the store's conditional writes are not relied on, " +
                    "so only one run may write to this bucket at a time; concurrent runs could lose manifest entries or take one lock together";
        return null;
    }

    private static string Describe(Exception e, string step) => e switch
    {
        OperationCanceledException => "the run was cancelled",
        ConfigException or SingerProtocolException or InvalidRecordException or TapNotFoundException or TapFailedException or StorageException or LockLostException or CommitHandedOverException or CommitConflictException or ColumnIdConflictException
            or Transforms.TransformFailedException or Merge.MergeException or SplitRunException or PipelineLockedException or TableOwnerException or StateOwnerException or Tables.TableChangeException => e.Message,
        AggregateException { InnerExceptions.Count: 1 } a => Describe(a.InnerException!, step),
        // A LongRunning task's thread could not be created: its own message says only "An exception was thrown by a TaskScheduler".
        TaskSchedulerException { InnerException: { } inner } => Describe(inner, step),
        _ when ResourceLimits.Describe(e) is { } limited => $"{step} failed: {limited}",
        DllNotFoundException missing when missing.Message.Contains("ParquetSharpNative", StringComparison.Ordinal) => $"{step} failed: {Parquet.ParquetLibrary.Describe(missing)}",
        _ => $"{step} failed: {e.Message}",
    };

    private async Task ExtractAsync(PipelineDefinition pipeline, ISource source, SourceInvocation invocation, RunIngest ingest,
        RunLog log, RunOptions options, DateTimeOffset startedAt, Redactor redactor, CancellationToken cancellationToken)
    {
        using var runCancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var sink = TypedSources ? new EngineSink(ingest) : null;
        await using var run = await source.StartAsync(invocation with { Sink = sink }, runCancel.Token).ConfigureAwait(false);
        // source.timeout bounds the tap's own run: the lock, the one-time --help probe and --discover before it are bounded
        // on their own, and a tap must not be blamed for time it was not running.
        var tapStartedAt = _time.GetUtcNow();
        // A stop request kills the tap at once: the reader may be blocked on a tap that prints nothing for minutes.
        using var killOnStop = cancellationToken.Register(run.Kill);
        log.Tap.Command = run.CommandForLog;
        var activity = new ActivityStream(run.Output, _time);
        // A source writing to the sink is active while its calls keep coming (sampled by the watchdog).
        var sinkCalls = 0L;
        var sinkActiveAt = _time.GetUtcNow();
        DateTimeOffset LastActivity(DateTimeOffset now)
        {
            if (!run.WritesToSink) return activity.LastActivity;
            if (sink!.Activity != sinkCalls) (sinkCalls, sinkActiveAt) = (sink.Activity, now);
            return sinkActiveAt;
        }
        string? killedBecause = null;
        string? leftoversStopped = null;
        DateTimeOffset? exitSeenAt = null;
        var watchdog = Task.Run(async () =>
        {
            var timeout = pipeline.Source.Timeout;
            var idle = pipeline.Source.IdleTimeout;
            while (!runCancel.IsCancellationRequested)
            {
                try { await Task.Delay(TimeSpan.FromMilliseconds(200), _time, runCancel.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) { return; }
                var now = _time.GetUtcNow();
                // Once the tap has exited, silence is the leftover rule's (below), not idle_timeout's: a tap that exited
                // after sending everything is not failed for what it left running.
                string? stopBecause = null;
                if (timeout is { } t && now - tapStartedAt > t) stopBecause = $"the tap ran longer than source.timeout ({Durations.Describe(t)}) and was stopped";
                else if (idle is { } i && !run.HasExited && now - LastActivity(now) > i) stopBecause = run.WritesToSink
                    ? $"the tap sent nothing for source.idle_timeout ({Durations.Describe(i)}) and was stopped"
                    // Only Singer output counts: a tap logging while it waits on a query is still idle.
                    : $"the tap wrote nothing to stdout for source.idle_timeout ({Durations.Describe(i)}) and was stopped (stderr does not count)";
                if (stopBecause is not null)
                {
                    // The output ends, and so the run, only when nothing holds it any more: a process the tap left running
                    // outside its process group (a daemon of its own session) is found by what it holds.
                    killedBecause = stopBecause; // first: what fails the read from here on is this stop's consequence
                    var holders = run.StopProcessesHoldingOutput();
                    run.Kill();
                    if (holders.Count > 0) killedBecause += $", with {string.Join(", ", holders)} it left holding its output";
                    return;
                }
                // Singer's end of output is the pipe's end: a process the tap left running with its stdout or stderr keeps
                // the run waiting after the tap is gone. Once the tap has exited and nothing came for a while, stop them.
                if (leftoversStopped is null && run.HasExited)
                {
                    exitSeenAt ??= now;
                    var quietSince = LastActivity(now) > exitSeenAt.Value ? LastActivity(now) : exitSeenAt.Value;
                    if (now - quietSince > LeftoverGrace)
                    {
                        if (run.StopProcessesHoldingOutput() is { Count: > 0 } stopped)
                            leftoversStopped = LeftoversStopped(stopped, "the tap exited and wrote nothing more to stdout");
                        else exitSeenAt = now; // nothing holds it (the engine is still reading): look again a grace later
                    }
                }
            }
        });
        var lines = new SingerLineReader(activity, maxLineBytes: pipeline.Source.MaxLineBytes, limitKey: "source.max_line_mb")
        {
            InputArrivesWithin = milliseconds => PipeReadiness.WaitReadable(run.Output, milliseconds),
        };
        try
        {
            if (run.WritesToSink) await run.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            else
            {
                var reader = new ParallelSingerReader(ingest.Lanes, ingest);
                await Task.Factory.StartNew(() => reader.ReadAll(lines, runCancel.Token), runCancel.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
            }
            sink?.ThrowIfFailed();
        }
        catch (Exception e) when (killedBecause is null)
        {
            // A tap that died while writing a line (killed by a signal, the OOM killer; or failed) leaves that line cut
            // off: the line's parse error is a consequence, its exit status the cause. The output has ended, so the tap has
            // exited or is about to: wait for it a little instead of killing it, which would make its exit code ours.
            if (e is SingerProtocolException cut && lines.LastLineUnterminated && cut.Line == lines.LineNumber
                && await ExitedByItselfAsync(run).ConfigureAwait(false) is { } died and not 0)
            {
                log.Tap.ExitCode = died;
                log.Tap.StderrTail = run.StderrTail;
                throw new TapFailedException(TapExited(died, $"its last line {cut.Line} was cut off") + Tail(run.StderrTail));
            }
            run.Kill();
            log.Tap.ExitCode = await ExitCodeAsync(run).ConfigureAwait(false);
            log.Tap.StderrTail = run.StderrTail;
            throw;
        }
        finally
        {
            lines.Dispose();
        }
        var exit = await ExitCodeAsync(run).ConfigureAwait(false);
        await runCancel.CancelAsync().ConfigureAwait(false);
        await watchdog.ConfigureAwait(false);
        log.Tap.ExitCode = exit;
        log.Tap.StderrTail = run.StderrTail;
        if (killedBecause is not null) throw new TapFailedException(killedBecause + Tail(run.StderrTail));
        if (exit != 0 && run.FailureReason is { } reason) throw new TapFailedException(reason);
        // A config the tap could not use, found before a record came: the run stopped on its configuration (exit 2).
        if (exit != 0 && run.StoppedOnConfiguration && ingest.Streams.All(s => s.Records == 0))
            throw new TapFailedException(run.StderrTail) { Configuration = true };
        if (exit != 0) throw new TapFailedException(TapExited(exit) + Tail(run.StderrTail));
        if (leftoversStopped is not null) log.Notices.Add(leftoversStopped);
        foreach (var (type, count) in ingest.UnknownMessages) log.Notices.Add($"ignored {count} message(s) of unknown type '{type}'");
        if (ingest.UnknownMessages.Unlisted is { } unlistedTypes)
            log.Notices.Add($"ignored {unlistedTypes.Occurrences} more message(s) of {unlistedTypes.Names} more unknown type(s)");
        log.Notices.AddRange(ingest.SchemaTypeChanges);
        log.Notices.AddRange(ingest.SchemaNotices);
        log.Notices.AddRange(ingest.SourceNotices);
        CheckSomethingArrived(pipeline, source, invocation, ingest, run.StderrTail, log);
        if (ingest.DroppedUnselectedRecords > 0) log.Notices.Add($"dropped {ingest.DroppedUnselectedRecords} record(s) of streams not selected in source.streams");
        if (ingest.RejectionSamples.Count > 0) log.Notices.AddRange(ingest.RejectionSamples.Select(s => "rejected: " + s));
    }

    /// <summary>
    /// A tap that exits 0 having sent nothing for the selected streams almost always did not get, or did not read, its
    /// catalog (the wrong flag, stream names it does not use): that is a failure with its likely cause, never a success
    /// with 0 records. A stream with no new rows still sends its SCHEMA, so it passes; so does a source that sends
    /// nothing at all only when nothing is new (<see cref="ISource.SendsNothingWhenNothingIsNew"/>), noted in the log.
    /// </summary>
    private static void CheckSomethingArrived(PipelineDefinition pipeline, ISource source, SourceInvocation invocation, RunIngest ingest, string stderrTail, RunLog log)
    {
        var selected = ingest.Streams.Where(s => s.Selected).ToList();
        var gotSchema = selected.Any(s => s.Schema is not null);
        var dropped = ingest.Streams.Where(s => !s.Selected).ToList();
        var droppedRecords = ingest.DroppedUnselectedRecords;
        if (gotSchema && (droppedRecords == 0 || selected.Sum(s => s.Records) > 0)) return;
        if (!gotSchema && ingest.Streams.Count == 0 && source.SendsNothingWhenNothingIsNew)
        {
            log.Notices.Add(ingest.FilesSkippedAsRead > 0
                ? $"the source skipped {ingest.FilesSkippedAsRead} compacted file(s) whose rows an earlier run had already read (the notices above name them) and sent no stream: no row to land"
                : "the source sent no stream: nothing new to land");
            return;
        }
        var what = gotSchema ? "no record for the selected streams" : "no SCHEMA and no RECORD for the selected streams";
        var causes = new List<string>();
        if (dropped.Count > 0)
            causes.Add($"it sent {droppedRecords} record(s) of streams that are not selected ({string.Join(", ", dropped.Select(s => $"'{s.Name}'"))}); " +
                       $"source.streams ({string.Join(", ", pipeline.Source.Streams ?? ["*"])}) may name them differently");
        if (invocation.CatalogPath is not null)
            causes.Add($"the catalog was passed with {string.Join(" and ", invocation.CatalogFlags)}; if the tap reads another flag, set source.catalog_flag");
        else
            causes.Add("no catalog was passed (the tap does not list --discover); a tap that syncs only selected streams needs one");
        var last = TapAnswer.LastLine(stderrTail);
        if (last.Length > 0) causes.Add($"its last stderr line: {last}");
        throw new TapFailedException($"the tap sent {what}: " + string.Join("; ", causes));
    }

    /// <summary>How long a tap's output may stay open and silent after the tap exited before what holds it is stopped.</summary>
    internal static readonly TimeSpan LeftoverGrace = TimeSpan.FromSeconds(5);

    /// <summary>The notice naming the processes a tap left holding its output, stopped <see cref="LeftoverGrace"/> after <paramref name="after"/>.</summary>
    internal static string LeftoversStopped(IReadOnlyList<string> stopped, string after) =>
        $"the tap exited, but {string.Join(", ", stopped)} it left running still held its output open; " +
        $"stopped {LeftoverGrace.TotalSeconds:0} s after {after} (the run ends when the tap's output ends)";

    private static async Task<int> ExitCodeAsync(SourceRun run)
    {
        try { return await run.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false); }
        catch (TimeoutException) { run.Kill(); return -1; }
    }

    /// <summary>The exit code of a tap whose output has ended, once it exits by itself (within a few seconds), else null.</summary>
    private static async Task<int?> ExitedByItselfAsync(SourceRun run)
    {
        try { return await run.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false); }
        catch (TimeoutException) { return null; }
    }

    /// <summary><c>the tap exited with code 137 (killed by signal 9)</c>, with what else the reader should know in the brackets.</summary>
    private static string TapExited(int exit, string? detail = null)
    {
        var signal = exit > 128 ? exit - 128 : exit < 0 ? -exit : 0;
        var details = new List<string>();
        if (signal > 0) details.Add($"killed by signal {signal}");
        if (detail is not null) details.Add(detail);
        return $"the tap exited with code {exit}" + (details.Count > 0 ? $" ({string.Join("; ", details)})" : "");
    }

    private static string Tail(string stderr)
    {
        var last = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault();
        return last is null ? "" : $"; its last stderr line: {last}";
    }

    /// <summary>A notice per <c>transforms:</c> entry whose stream the tap sent no SCHEMA for (<see cref="HashedColumns.UnmatchedMapNotice"/>).</summary>
    private static IEnumerable<string> UnmatchedTransformNotices(PipelineDefinition pipeline, JsonObject? catalog, RunIngest ingest)
    {
        var seen = ingest.Streams.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        var streams = Transforms.TransformCompiler.StreamsOf(pipeline, catalog);
        return pipeline.Transforms.Keys.Where(k => !seen.Contains(streams[k])).Select(k => HashedColumns.UnmatchedMapNotice(k, seen));
    }

    private static void FillStreamStats(RunLog log, RunIngest ingest)
    {
        foreach (var s in ingest.Streams.Where(s => s.Selected))
        {
            var entry = new RunLogStream { Records = s.Records, Rejected = s.Rejected, Filtered = Interlocked.Read(ref s.Filtered), Files = s.Files.Count, Bytes = s.Files.Sum(f => f.Bytes) };
            foreach (var (k, v) in s.DroppedProperties) entry.DroppedProperties[k] = v;
            entry.DroppedPropertiesUnlisted = s.DroppedProperties.Unlisted;
            log.Streams[s.Name] = entry;
            log.Notices.AddRange(s.RoundedNumbers.Notices(s.Name, s.DecimalsHeldAsDouble, ingest.RecordNumbers is { } records ? records.PlaceOf : null));
            log.Notices.AddRange(s.RoundedNumbers.CutNotices(s.Name));
            if (s.RowsOverFileLimitNotice() is { } overLimit) log.Notices.Add(overLimit);
        }
    }

    /// <summary>
    /// For tables with Iceberg metadata, the column ids their files must carry (the table's current ids, read when the
    /// stream's schema arrives); for Delta-only tables, fresh ids (Delta does not read them). Null for plain Parquet.
    /// </summary>
    private Func<string, Tables.IcebergFieldIds>? FieldIdsFor(PipelineDefinition pipeline, IObjectStore store, string sourceName, CancellationToken cancellationToken)
    {
        var formats = pipeline.Destination.TableFormat;
        if (formats == TableFormats.Parquet) return null;
        if (!formats.HasFlag(TableFormats.Iceberg)) return _ => Tables.IcebergFieldIds.Empty();
        var basePath = LakePaths.BasePath(pipeline.Destination.Path);
        return table => new Tables.IcebergTable(store, _time)
            .FieldIdsAsync(LakePaths.TablePrefix(basePath, sourceName, table), cancellationToken).GetAwaiter().GetResult();
    }

    /// <summary>
    /// The columns of the table a stream lands in (the manifest's) when the run adds to it, for the decisions that keep
    /// its files readable in one type (<see cref="Parquet.DecimalsHeldAsDouble"/>); null for a run that replaces its
    /// tables (as its plan decides: <c>--full</c>, <c>write_mode: replace</c>) and for a new table.
    /// </summary>
    private static Func<string, IReadOnlyList<ManifestColumn>?>? KeptColumnsFor(PipelineDefinition pipeline, Manifest manifest, string sourceName, bool fullRequested) =>
        WriteModes.Replaces(pipeline, fullRequested) ? null : table => manifest.Tables.GetValueOrDefault(sourceName + "/" + table)?.Columns;

    private WriteLimits LimitsFor(DestinationDefinition d) => Limits.WithFileLimitsOf(d) with
    {
        // A merge takes the last record of a key: one lane keeps the records of a partition in their arrival order.
        ParseLanes = d.WriteMode == WriteMode.Merge ? 1 : Limits.ParseLanes,
    };

    /// <summary>
    /// Refuses an append or merge to a plain Parquet table whose kept data files lie in the other layout than the run's
    /// (<c>dt=</c> folders vs the table folder itself: another <c>partition_by</c>, say of a second pipeline landing the
    /// table). The table would mix both, which hive-style readers (DuckDB <c>hive_partitioning</c>, Spark, Athena) cannot
    /// read as one table, and a glob of the manifest's partitioning misses the other half. Delta refuses a partitioning
    /// change the same way (<see cref="Tables.DeltaTable.CheckChangeAsync"/>); a replace rewrites the table and takes it.
    /// </summary>
    internal static void RefuseOtherPartitionLayout(PipelineDefinition pipeline, string stream, string tableKey, string here, string prefix,
        ManifestTable? previous, IEnumerable<string> keptFiles)
    {
        var partitioned = pipeline.Destination.PartitionBy != PartitionBySettings.None;
        // A key with a folder below the table's is in a dt= folder (LakePaths.IsDataFileKey allows no other).
        var other = keptFiles.Count(k => k.IndexOf('/', prefix.Length) >= 0 != partitioned);
        if (other == 0) return;
        static string Layout(bool dt) => dt ? "partitioned by 'dt' (dt= folders)" : "unpartitioned (files in the table folder)";
        throw new Tables.TableChangeException($"stream '{stream}': the table {tableKey} ({here}) keeps {other} data file(s) {Layout(!partitioned)}" +
            (previous is { Pipeline.Length: > 0 } ? $", last written by pipeline '{previous.Pipeline}'" : "") +
            $", and partition_by: {pipeline.Destination.PartitionBy} of pipeline '{pipeline.Name}' would add files {Layout(partitioned)}: the table would mix both, which " +
            "hive-style readers (DuckDB hive_partitioning, Spark, Athena) cannot read as one table. Nothing was written; a full refresh (run --full, or write_mode: replace) " +
            "rewrites the whole table with this partitioning, or land the stream in a table of its own (another source.name or stream name)");
    }

    private static async Task<CommitPlan> PlanAsync(PipelineDefinition pipeline, IObjectStore store, Manifest manifest, Manifest startManifest, RunIngest ingest,
        string sourceName, string runId, DateTimeOffset startedAt, DateTimeOffset? replaceSince, bool full, Merge.KeyedMerge merger, RunLog log,
        HomePipelines? homePipelines, CancellationToken cancellationToken)
    {
        var basePath = LakePaths.BasePath(pipeline.Destination.Path);
        var plan = new CommitPlan { RunId = runId, Pipeline = pipeline.Name, StartedAt = startedAt, State = ingest.LastState, StateOwner = StateOwner.Of(pipeline, sourceName) };
        foreach (var stream in ingest.Streams.Where(s => s.Selected && s.Schema is not null))
        {
            var schema = stream.Schema!;
            var prefix = LakePaths.TablePrefix(basePath, sourceName, stream.Table);
            var tableKey = sourceName + "/" + stream.Table;
            manifest.Tables.TryGetValue(tableKey, out var previous);
            var here = $"{pipeline.Destination.Bucket.TrimEnd('/')}/{prefix}";
            previous = TableOwnership.EntryOfThisTable(pipeline, stream.Name, tableKey, here, prefix, previous, full, log.Notices);
            TableOwnership.CheckBucketSpelling(stream.Name, tableKey, store.Bucket, prefix, previous);
            var replace = full || (stream.ActivatedVersion is { } v && v != previous?.TableVersion && previous is not null);
            if (replace) TableOwnership.CheckReplace(pipeline, stream.Name, tableKey, here, previous, homePipelines, log.Notices);
            else await TableOwnership.CheckStateLeftBehindAsync(store, pipeline, stream.Name, tableKey, here, previous, homePipelines, log.Notices, cancellationToken).ConfigureAwait(false);
            // An upgrade renamed the table of a stream whose name holds '#', '?' or '%': this pipeline's earlier rows stay in the old one.
            // Going back to such a build after the new table started lands rows in the old one again: the new table lacks them too.
            if (!replace && LakeNames.EarlierTable(stream.Name) is { } earlier
                && manifest.Tables.TryGetValue(sourceName + "/" + earlier, out var before) && before.Pipeline == pipeline.Name)
            {
                if (previous is null)
                    log.Notices.Add($"stream '{stream.Name}': its table is now {tableKey} ({here}); earlier versions of dataspoc-pipe landed it as {sourceName}/{earlier} " +
                        $"({before.Location}, {before.RowCount} rows), which this run leaves as it is: the new table lacks those earlier rows; run --full re-extracts them into it");
                else if (before.Stats.LastExtraction > previous.Stats.LastExtraction)
                    log.Notices.Add($"stream '{stream.Name}': an earlier version of dataspoc-pipe landed {before.Stats.LastExtractionRows} row(s) in its old table {sourceName}/{earlier} " +
                        $"({before.Location}, at {before.Stats.LastExtraction:O}) after this table {tableKey} ({here}) last got rows (at {previous.Stats.LastExtraction:O}): " +
                        "this table lacks them; run --full re-extracts them into it");
            }

            var existing = new List<string>();
            var replaced = new List<string>();
            var kept = new List<ObjectInfo>();
            var foreign = 0;
            await foreach (var obj in store.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
            {
                if (IsTableMetadataKey(prefix, obj.Key)) continue;
                // Only files named as this table's data files are the lake's own: a replace never deletes anything else.
                if (LakePaths.IsDataFileKey(prefix, stream.Table, obj.Key))
                {
                    existing.Add(obj.Key);
                    // Another run wrote it after this one began: its rows may be newer than this run's snapshot (ReplaceBaseline).
                    if (ReplaceBaseline.WrittenSince(obj, replaceSince, stream.Table, startManifest.Tables.GetValueOrDefault(tableKey)?.Stats.LastRunId)) kept.Add(obj);
                    else replaced.Add(obj.Key);
                }
                else if (obj.Key.EndsWith(".parquet", StringComparison.Ordinal)) foreign++;
                else if (LakePaths.IsDataTempKey(obj.Key) && obj.LastModified < startedAt.AddMinutes(-10))
                {
                    // Planning changes nothing: the commit deletes it with the replaced files, before the run log says so.
                    plan.Deletions.Add(obj.Key);
                    log.Notices.Add($"removed a leftover temp file {obj.Key}");
                }
            }
            // A compaction committed since, of files from before this run began only: its rows are in this run's snapshot too.
            if (replace && kept.Count > 0)
                foreach (var file in await ReplaceBaseline.CompactedFromBeforeAsync(store, kept, replaceSince, stream.Table, cancellationToken).ConfigureAwait(false))
                {
                    kept.Remove(file);
                    replaced.Add(file.Key);
                }
            var nextIndex = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var key in existing)
            {
                var folder = key[..(key.LastIndexOf('/') + 1)];
                var index = LakePaths.DataFileIndex(stream.Table, key[(key.LastIndexOf('/') + 1)..]);
                nextIndex[folder] = Math.Max(nextIndex.GetValueOrDefault(folder), index + 1);
            }
            var files = (IReadOnlyList<SpooledFile>)stream.Files;
            // A merge table replaced (run --full) still holds one row per key: the run's records are merged into an empty table.
            var merge = pipeline.Destination.WriteMode == WriteMode.Merge;
            Merge.KeyedMerge.Outcome? merged = null;
            var liveFiles = 0;
            // A new merge key over columns the table has is accepted (the key is the tap's to choose), but earlier rows distinct by the old key may collapse: said once, here.
            if (merge && !replace && previous is { KeyProperties.Count: > 0 } && !previous.KeyProperties.ToHashSet(StringComparer.Ordinal).SetEquals(stream.KeyProperties))
            {
                // The lake contract lets a reader take a merge table's key as unique and non-null: a key column the table's
                // earlier rows do not have (a renamed key, say) leaves each of them with a null key no merge can ever match.
                if (stream.KeyProperties.Where(k => !previous.Columns.Any(c => c.Name == k)).ToList() is { Count: > 0 } absent)
                    throw new Tables.TableChangeException($"stream '{stream.Name}': the merge key changes from ({string.Join(", ", previous.KeyProperties)}) to " +
                        $"({string.Join(", ", stream.KeyProperties)}), but table {tableKey} has no column '{string.Join("', '", absent)}': its {previous.RowCount} earlier " +
                        "row(s) would keep a null key that no merge matches (the same entity twice, under the old and the new key). Nothing was written; " +
                        "a full refresh (run --full, or write_mode: replace) reloads the table under the new key");
                log.Notices.Add($"stream '{stream.Name}': the merge key changes from ({string.Join(", ", previous.KeyProperties)}) to ({string.Join(", ", stream.KeyProperties)}): " +
                    "a row of this run replaces every earlier row with its new key, so earlier rows that were distinct by the old key collapse into it; " +
                    "a full refresh (--full) reloads the table under the new key");
            }
            // Before a merge's work: the files it rewrites stay in their partition folders, so they are kept files too.
            if (!replace && pipeline.Destination.TableFormat == TableFormats.Parquet)
                RefuseOtherPartitionLayout(pipeline, stream.Name, tableKey, here, prefix, previous, existing);
            if (merge)
            {
                // With table metadata the table is its current snapshot's files (replaced ones stay until maintenance).
                var withMetadata = pipeline.Destination.TableFormat != TableFormats.Parquet;
                var live = replace ? [] : withMetadata ? await LiveDataFileKeysAsync(pipeline, store, prefix, cancellationToken).ConfigureAwait(false) : existing;
                liveFiles = live.Count;
                // Keys new to the table are an append no claim on a rewritten file guards: two merges sending one new key
                // would both add it. So the merge commits only on the files it merged with (else it plans again).
                if (!replace) TableBase.MustStay(plan, store, pipeline, stream.Table, tableKey, prefix, live);
                merged = await merger.MergeAsync(stream, tableKey, prefix, live, ingest.FieldIdsOf(stream.Table), cancellationToken).ConfigureAwait(false);
                files = merged.Files;
                // Plain tables lose the rewritten files at the commit; with table metadata its commit removes them from the table.
                if (!withMetadata) plan.Superseded.AddRange(merged.Superseded);
                plan.LandedNotices.Add($"stream '{stream.Name}': merged by {string.Join(", ", stream.KeyProperties)}: {merged.RowsReplaced} row(s) replaced, " +
                    $"{merged.RowsDeleted} row(s) deleted ({merged.KeysMarkedDeleted} key(s) marked deleted); {merged.Superseded.Count} of {live.Count} file(s) rewritten " +
                    $"({merged.FilesScanned} row group(s) read for keys)");
            }
            // Every file the run lands contributes its columns, whichever of the stream's SCHEMAs it was written under.
            var fileSchemas = files.Select(f => f.Schema).Append(schema).Distinct().ToList();
            var runColumns = ColumnSchema.ManifestColumnsOf(fileSchemas);
            var firstFile = plan.Files.Count;
            foreach (var file in files)
            {
                var folder = prefix + (file.Partition.None ? "" : LakePaths.PartitionFolder(file.Partition.Date) + "/");
                var index = nextIndex.GetValueOrDefault(folder);
                nextIndex[folder] = index + 1;
                plan.Files.Add(new PlannedFile(file.LocalPath, folder + LakePaths.DataFileName(stream.Table, index, runId)));
            }
            var formats = pipeline.Destination.TableFormat;
            if (replace)
            {
                // Its writer decided CheckReplace, its files what is kept: another commit since sends it back to plan again.
                TableBase.WriterMustStay(plan, store, tableKey, manifest.Tables.GetValueOrDefault(tableKey)?.Stats.LastRunId);
                // An Iceberg/Delta overwrite drops whatever the table holds at its commit: only the files planned with. A plain
                // replace deletes and keeps the files listed here and counts the kept ones: another commit since (a merge's
                // files, its rewritten file gone) and the deletions and totals would be of a table that is no more.
                TableBase.MustStay(plan, store, pipeline, stream.Table, tableKey, prefix, formats != TableFormats.Parquet
                    ? await LiveDataFileKeysAsync(pipeline, store, prefix, cancellationToken).ConfigureAwait(false) : existing);
            }
            // With table metadata, replaced files stay until maintenance expires the snapshots that still read them.
            // Files landing after this listing are not in it, so they are kept too (no notice: the commit is moments away).
            if (replace && formats == TableFormats.Parquet) plan.Deletions.AddRange(replaced);
            KeptFiles? keptFiles = null;
            if (replace && kept.Count > 0)
            {
                // An Iceberg/Delta overwrite makes the table exactly the run's files at its commit: it would drop them. Refused
                // before anything lands (state untouched), so those rows stay in the table; the next full reload gets them.
                if (formats != TableFormats.Parquet)
                    throw new Tables.TableChangeException(ReplaceBaseline.Refusal(stream.Name, tableKey, stream.Table, kept, previous,
                        string.Join("/", Tables.TableFormatCommitter.NamesOf(formats))));
                keptFiles = await ReplaceBaseline.CountAsync(store, kept, cancellationToken).ConfigureAwait(false);
                log.Notices.Add(ReplaceBaseline.Notice(stream.Name, tableKey, stream.Table, kept, previous));
            }
            if (formats != TableFormats.Parquet)
                plan.TableMetadata.Add(TableMetadataFor(pipeline, store, stream, files, [.. runColumns.Select(c => ColumnSchema.LatestColumn(fileSchemas, c.Name))],
                    fileSchemas, ingest.FieldIdsOf(stream.Table), prefix, tableKey, replace, plan.Files.Skip(firstFile).ToList(), merged?.Superseded));
            // Every commit of a table takes its turn, an append too: a replace sets the entry's totals from the files it
            // listed and kept, so an append landing or entering the manifest during a replace's commit would be counted
            // twice or not at all; a merge would merge in the files of an append that may still roll back.
            TableBase.Claim(plan, prefix);
            if (formats.HasFlag(TableFormats.Delta))
            {
                var (delta, commit, runSchemas) = (new Tables.DeltaTable(store, TimeProvider.System /* reads only */), plan.TableMetadata[^1], files.Select(f => f.Schema).Distinct().ToList());
                await delta.CheckChangeAsync(commit, stream.Name, runSchemas, cancellationToken).ConfigureAwait(false);
                // Again at the commit, the table held: a run that committed other types to it meanwhile is refused the same way.
                plan.BaseChecks.Add(async token =>
                {
                    await delta.CheckChangeAsync(commit, stream.Name, runSchemas, token).ConfigureAwait(false);
                    return null;
                });
            }
            // The SCHEMA rule against the columns the table keeps: an append or merge would otherwise land both names in it.
            if (!replace && previous is not null && runColumns.SelectMany(c => previous.Columns
                    .Where(kept => kept.Name != c.Name && LookAlikeNames.Comparer.Equals(kept.Name, c.Name))
                    .Select(kept => (Kept: kept.Name, Run: c.Name))).FirstOrDefault() is { Run: not null } twin)
                throw new Tables.TableChangeException($"stream '{stream.Name}': invalid SCHEMA: property '{twin.Run}': {ColumnSchema.CaseOnlyDifference(twin.Kept, twin.Run)} " +
                    $"(table {tableKey} keeps '{twin.Kept}'). Nothing was written; rename the column back (transforms: {stream.Name}: rename: {{{twin.Run}: {twin.Kept}}}) " +
                    "or rewrite the table (run --full, or write_mode: replace)");
            if (formats.HasFlag(TableFormats.Iceberg))
            {
                var (iceberg, commit) = (new Tables.IcebergTable(store, TimeProvider.System /* reads only */), plan.TableMetadata[^1]);
                await iceberg.CheckPartitionSourcesAsync(commit, stream.Name, cancellationToken).ConfigureAwait(false);
                plan.BaseChecks.Add(async token =>
                {
                    await iceberg.CheckPartitionSourcesAsync(commit, stream.Name, token).ConfigureAwait(false);
                    return null;
                });
            }
            if (pipeline.Destination.PartitionBy != PartitionBySettings.None && schema.Root.Children.Any(c => string.Equals(c.Name, "dt", StringComparison.OrdinalIgnoreCase)))
                log.Notices.Add($"stream '{stream.Name}': its column 'dt' has the name of the partition folders (dt=...): hive-style readers (DuckDB hive_partitioning, " +
                    $"Spark, Athena) show the folder's date in its place; rename it (transforms: {stream.Name}: rename: {{dt: ...}}) to read its own values");
            if (!replace && previous is not null && ManifestColumn.TypeChanges(previous.Columns, runColumns) is { Count: > 0 } changed)
                log.Notices.AddRange(TypeChangeNotices(stream.Name, changed, formats, merged?.Superseded.Count ?? 0, liveFiles));
            if (!replace && HashedColumns.Notice(stream.Name, tableKey, previous, stream.HashedColumns) is { } newlyHashed)
                log.Notices.Add(newlyHashed);
            if (replace && foreign > 0)
                log.Notices.Add($"left {foreign} Parquet file(s) under {prefix} in place: their names are not {stream.Table}'s data files, so a replace does not delete them");
            if (stream.QuarantinePath is not null)
                plan.Files.Add(new PlannedFile(stream.QuarantinePath, LakePaths.QuarantineKey(pipeline.Name, runId, stream.Name)));

            // A full run of a merge pipeline replaces the table with its rows reduced per key: counted as a replace.
            // The run log counts what lands, as OpenLineage's outputStatistics do: a merge's rewrites of earlier files included.
            if (log.Streams.TryGetValue(stream.Name, out var logged)) (logged.Files, logged.Bytes) = (files.Count, files.Sum(f => f.Bytes));
            var mergeCounts = merged is null || replace ? null : new MergeCounts(files.Sum(f => f.Rows), merged.RemovedRows, merged.Superseded.Count, merged.RemovedBytes);
            plan.Tables.Add(new TableChange
            {
                Key = tableKey,
                Replace = replace,
                Kept = keptFiles,
                Rows = merged is not null && replace ? files.Sum(f => f.Rows) : stream.Records,
                Files = files.Count,
                Bytes = files.Sum(f => f.Bytes),
                Merge = mergeCounts,
                // For an older build that completes this commit (it reads only these): see TableChange.Totals.
                Totals = mergeCounts?.TotalsAfter(previous, files.Count, files.Sum(f => f.Bytes)),
                RunColumns = replace ? null : runColumns,
                PlannedOver = replace ? null : previous?.Columns,
                Entry = new ManifestTable
                {
                    Source = sourceName,
                    Table = stream.Table,
                    Pipeline = pipeline.Name,
                    Location = store.Bucket.Canonical + "/" + prefix.TrimEnd('/'),
                    Format = "parquet",
                    Partitioning = pipeline.Destination.PartitionBy == PartitionBySettings.None ? [] : ["dt"],
                    WriteMode = replace ? "replace" : merge ? "merge" : "append",
                    KeyProperties = [.. stream.KeyProperties],
                    TableVersion = stream.ActivatedVersion ?? previous?.TableVersion,
                    Columns = replace ? runColumns : ManifestColumn.AfterAdding(previous?.Columns, runColumns),
                    HashedColumns = [.. stream.HashedColumns.Order(StringComparer.Ordinal)],
                },
            });
        }
        return plan;
    }

    /// <summary>
    /// What a run's type changes of <paramref name="changed"/> columns mean for the table's readers. Readers by name (the
    /// plain files, Delta) meet two types under one name where earlier files keep the old one; a merge that rewrote
    /// <paramref name="rewritten"/> of the <paramref name="liveFiles"/> earlier files wrote their kept rows under the new
    /// type (a value that did not fit failed it). Iceberg gives a column whose type changed a new id, so its readers see
    /// the earlier files' column as another (dropped) one: null in their rows; a struct or list keeps its id, and only
    /// the fields inside it that changed type take new ones.
    /// </summary>
    internal static List<string> TypeChangeNotices(string stream, IReadOnlyList<ManifestColumn.TypeChange> changed, TableFormats formats, int rewritten, int liveFiles)
    {
        var notices = new List<string>();
        const string Full = "a full refresh (--full) rewrites the table in one schema";
        var all = string.Join(", ", changed);
        if (formats != TableFormats.Iceberg)
        {
            if (rewritten == 0)
                notices.Add($"stream '{stream}': column(s) {all} since the table's earlier files, which keep the old type(s); a reader that applies one schema " +
                    $"to the whole table (Spark, Athena, the manifest's columns) fails on one or the other: {Full}");
            else if (rewritten < liveFiles)
                notices.Add($"stream '{stream}': column(s) {all} since the table's earlier files: the {rewritten} this merge rewrote hold their rows under the new " +
                    $"type(s) now, the other {liveFiles - rewritten} keep the old type(s); a reader that applies one schema to the whole table (Spark, Athena, the " +
                    $"manifest's columns) fails on one or the other: {Full}");
            else
                notices.Add($"stream '{stream}': column(s) {all} since the table's earlier files: this merge rewrote them all ({rewritten} file(s)) under the stream's current schema");
        }
        if (formats.HasFlag(TableFormats.Iceberg))
        {
            var rewrittenRows = rewritten == 0 ? "" : $" (the rows of the {rewritten} file(s) this merge rewrote hold it under the new id)";
            if (changed.Where(c => !c.KeepsIcebergId).ToList() is { Count: > 0 } newIds)
                notices.Add($"stream '{stream}': column(s) {string.Join(", ", newIds)} since the table's earlier files: the Iceberg table takes each as a new " +
                    $"column (a new field id), so Iceberg readers read it as null in the earlier rows{rewrittenRows} (their values stay in the files and in the " +
                    $"earlier snapshots): {Full}");
            if (changed.Where(c => c.KeepsIcebergId).ToList() is { Count: > 0 } sameIds)
                notices.Add($"stream '{stream}': column(s) {string.Join(", ", sameIds)} since the table's earlier files: each keeps its Iceberg field id; a field " +
                    "inside that the SCHEMA no longer declares stays in the table schema with its id (Iceberg readers keep its values in the earlier rows), and one " +
                    $"whose type changed takes a new id, so Iceberg readers read it as null in the earlier rows{rewrittenRows}: {Full}");
        }
        return notices;
    }

    /// <summary>
    /// The type changes the commit found against columns another pipeline committed to a table after this run planned
    /// (<see cref="TableChange.LateTypeChanges"/>): said like those found when planning. The other run's files are none
    /// that a merge of this run rewrote. (Iceberg never gets here: such a column's field id collides, and the commit fails.)
    /// </summary>
    private static void LateTypeChangeNotices(PipelineDefinition pipeline, RunIngest ingest, string sourceName, CommitPlan plan, List<string> notices)
    {
        foreach (var change in plan.Tables.Where(c => c.LateTypeChanges.Count > 0))
        {
            var stream = ingest.Streams.FirstOrDefault(s => sourceName + "/" + s.Table == change.Key)?.Name ?? change.Entry.Table;
            notices.AddRange(TypeChangeNotices(stream, change.LateTypeChanges, pipeline.Destination.TableFormat, 0, 0)
                .Select(n => n + $" (the other type is in files another pipeline committed to {change.Key} while this run ran)"));
        }
    }

    /// <summary>The data files of a table's current Iceberg snapshot, else of its current Delta version.</summary>
    internal static Task<List<string>> LiveDataFileKeysAsync(PipelineDefinition pipeline, IObjectStore store, string prefix, CancellationToken cancellationToken)
    {
        var table = new Tables.TableMetadataCommit
        {
            Prefix = prefix,
            Location = store.Bucket.Canonical + "/" + prefix.TrimEnd('/'),
            Formats = Tables.TableFormatCommitter.NamesOf(pipeline.Destination.TableFormat),
        };
        return new Tables.TableFormatCommitter(store, TimeProvider.System /* reads only */).LiveDataFileKeysAsync(table, cancellationToken);
    }

    /// <summary>Iceberg's <c>metadata/</c> and Delta's <c>_delta_log/</c> (whose checkpoints are Parquet files too) are not data files.</summary>
    private static bool IsTableMetadataKey(string tablePrefix, string key) =>
        key.StartsWith(Tables.IcebergTable.MetadataPrefix(tablePrefix), StringComparison.Ordinal)
        || key.StartsWith(Tables.DeltaTable.LogPrefix(tablePrefix), StringComparison.Ordinal);

    /// <summary>
    /// The table's Iceberg/Delta change: the run's columns with the ids its files carry (with every struct field any of
    /// <paramref name="fileSchemas"/> holds), and each landed file's footer facts.
    /// </summary>
    /// <remarks>A merge that rewrote files removes them (<paramref name="rewritten"/>) and adds its new ones; one that rewrote none appends.</remarks>
    private static Tables.TableMetadataCommit TableMetadataFor(PipelineDefinition pipeline, IObjectStore store, StreamState stream, IReadOnlyList<SpooledFile> spooled,
        IReadOnlyList<SchemaNode> columns, IReadOnlyList<ColumnSchema> fileSchemas, Tables.IcebergFieldIds? ids, string prefix, string tableKey, bool replace, List<PlannedFile> files, IReadOnlyList<string>? rewritten)
    {
        var formats = pipeline.Destination.TableFormat;
        var partitionDates = spooled.ToDictionary(f => f.LocalPath, f => f.Partition.Date, StringComparer.Ordinal);
        if (ids is null) throw new InvalidOperationException($"stream '{stream.Name}' has no column ids");
        return new Tables.TableMetadataCommit
        {
            TableKey = tableKey,
            Formats = Tables.TableFormatCommitter.NamesOf(formats),
            Prefix = prefix,
            Location = store.Bucket.Canonical + "/" + prefix.TrimEnd('/'),
            Operation = replace ? Tables.TableMetadataCommit.Overwrite
                : rewritten is { Count: > 0 } ? Tables.TableMetadataCommit.Merge : Tables.TableMetadataCommit.Append,
            Removed = replace ? [] : [.. rewritten ?? []],
            KeepsEarlierFiles = !replace,
            PartitionBy = pipeline.Destination.PartitionBy,
            Schema = Tables.TableMetadataCommit.SchemaOfRun(columns, fileSchemas, ids, pipeline.Destination.PartitionBy),
            BaseLastColumnId = formats.HasFlag(TableFormats.Iceberg) ? ids.BaseLastColumnId : null,
            Files = [.. files.Select(f => Tables.DataFileFooter.Read(f.LocalPath, f.Key, partitionDates.GetValueOrDefault(f.LocalPath)))],
        };
    }

    /// <summary>The tap's private folder with its config, <paramref name="state"/> (null: none handed over) and catalog files.</summary>
    private static SourceInvocation PrepareInvocation(PipelineDefinition pipeline, StoredObject? state, string privateDir, CatalogSelection? selection)
    {
        CreatePrivateDirectory(privateDir);
        PrivateTempRoot.MarkOwner(privateDir);
        string? configPath = pipeline.Source.ConfigPath;
        if (pipeline.Source.InlineConfig is { } inline)
        {
            configPath = Path.Combine(privateDir, "config.json");
            // Unescaped (UTF-8 as it is): the tap reads the values the user wrote, and a tap that echoes the file
            // shows them in the form the masking looks for first (escaped forms are masked too).
            WritePrivate(configPath, inline.ToJsonString(RawJson));
        }
        else if (configPath is not null && !File.Exists(configPath))
        {
            throw new TapFailedException($"tap config '{configPath}' does not exist");
        }
        string? statePath = null;
        if (state is not null)
        {
            statePath = Path.Combine(privateDir, "state.json");
            WritePrivate(statePath, System.Text.Encoding.UTF8.GetString(state.Content.Span));
        }
        string? catalogPath = null;
        if (selection?.Catalog is { } catalog)
        {
            catalogPath = Path.Combine(privateDir, "catalog.json");
            WritePrivate(catalogPath, catalog.ToJsonString());
        }
        return new SourceInvocation
        {
            ConfigPath = configPath,
            StatePath = statePath,
            CatalogPath = catalogPath,
            CatalogFlags = selection?.Capabilities.CatalogFlags ?? [CatalogFlags.Catalog],
            Definition = pipeline.Source,
            RunFolder = privateDir,
        };
    }

    private static readonly JsonSerializerOptions RawJson = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static void CreatePrivateDirectory(string dir)
    {
        Directory.CreateDirectory(dir);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    private static void WritePrivate(string path, string content)
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var fs = new FileStream(path, options);
        using var w = new StreamWriter(fs);
        w.Write(content);
    }

    /// <summary>Where secrets for one run live (tap config, state, catalog): local, mode 0700, removed after the run.</summary>
    internal static string PrivateDirectory(IObjectStore store, string pipeline, string runId) =>
        Path.Combine(LocalTempFolder("private", store.Bucket, pipeline), runId);

    /// <summary>The local temp folder of one kind for one pipeline in one bucket (see <see cref="LakePaths.LocalTempFolder"/>).</summary>
    internal static string LocalTempFolder(string kind, BucketUri bucket, string pipeline) =>
        LakePaths.LocalTempFolder(PrivateTempRoot.ForCurrentUser(), kind, bucket.Canonical, pipeline);

    /// <summary>Where finished Parquet files wait for the commit: inside a file:// bucket (so landing is a rename), else local temp.</summary>
    internal static string SpoolDirectory(IObjectStore store, string pipeline, string runId) =>
        store.LocalRoot is { } root
            ? Path.Combine(root, LakePaths.SpoolPrefix(pipeline, runId))
            : Path.Combine(LocalTempFolder("spool", store.Bucket, pipeline), runId);

    /// <summary>
    /// A file:// write killed between its temp file and the rename leaves a temp file (<see cref="LakePaths.TempNameOf"/>,
    /// or an earlier build's suffix form). This pipeline's journal, state, lock and log temp files are ours (we hold its
    /// lock); the shared manifest's only when old.
    /// </summary>
    private static List<string> CleanMetadataTempFiles(IObjectStore store, string pipeline, DateTimeOffset now)
    {
        var notices = new List<string>();
        if (store.Bucket.Scheme != "file") return notices; // by scheme: a wrapped file:// store writes the same temp files
        var root = store.Bucket.LocalPath;
        // A folder and the one key whose temp files are taken there (null: every temp file of the folder).
        var candidates = new List<(string Folder, string? Key, bool OnlyOld)>
        {
            (Path.GetDirectoryName(LakeCommitter.JournalKey(pipeline))!, LakeCommitter.JournalKey(pipeline), false),
            (Path.GetDirectoryName(LakePaths.LockKey(pipeline))!, LakePaths.LockKey(pipeline), false),
            (Path.GetDirectoryName(LakePaths.StateKey(pipeline))!, null, false),
            (LakePaths.LogsPrefix(pipeline).TrimEnd('/'), null, false),
            (Path.GetDirectoryName(LakePaths.ManifestKey)!, LakePaths.ManifestKey, true),
        };
        foreach (var (folder, key, onlyOld) in candidates)
        {
            var dir = Path.Combine(root, folder);
            if (!Directory.Exists(dir)) continue;
            foreach (var file in Directory.GetFiles(dir)) // hidden names included (Compatible enumeration skips no attribute)
            {
                var fileKey = folder + "/" + Path.GetFileName(file);
                if (key is null ? !LakePaths.IsTempName(fileKey) : !LakePaths.IsTempOf(fileKey, key)) continue;
                if (onlyOld && File.GetLastWriteTimeUtc(file) > now.UtcDateTime.AddMinutes(-10)) continue;
                try { File.Delete(file); } catch (IOException) { continue; } catch (UnauthorizedAccessException) { continue; }
                notices.Add($"removed a leftover temp file {Path.GetRelativePath(root, file).Replace('\\', '/')}");
            }
        }
        return notices;
    }

    /// <summary>
    /// A run whose stale lock this one took over died holding it (killed, out of memory, its machine stopped); when it
    /// also wrote no run log, nothing else records that it ran, and <c>status</c> still shows the run before it: said
    /// here so that the log of the next run does. (A <c>maintain</c> holding the lock writes no run log anyway.)
    /// </summary>
    private static async Task<string?> DiedWithoutLogAsync(IObjectStore store, string pipeline, string? deadRun, CancellationToken cancellationToken)
    {
        if (deadRun is null || deadRun.StartsWith(RunLock.MaintainRunIdPrefix, StringComparison.Ordinal)) return null;
        await foreach (var obj in store.ListAsync(LakePaths.LogsPrefix(pipeline), cancellationToken).ConfigureAwait(false))
            if (LakePaths.RunIdOfLogKey(obj.Key) == deadRun) return null;
        return $"run {deadRun} ended without a run log (killed while it ran, or its store failed when it saved the log); the notices of this run's recovery say whether its commit had begun";
    }

    /// <summary>
    /// Removes the temp folders (tap config with its credentials, state, spool files) of earlier runs of this pipeline that
    /// were killed. A run makes its folders only once it holds its lock and removes them before it releases it, so a folder
    /// belongs to a live run only while that run holds one of the pipeline's locks: the pipeline's own, or (split parts run
    /// side by side, in other processes or hosts) its part's. Those folders are kept; every other one is a killed run's.
    /// </summary>
    private async Task<IEnumerable<string>> CleanLeftoversAsync(IObjectStore store, string pipeline, string privateParent, string spoolParent, string runId, CancellationToken cancellationToken)
    {
        var candidates = new[] { privateParent, spoolParent }.Where(Directory.Exists).SelectMany(Directory.GetDirectories)
            .Where(dir => Path.GetFileName(dir) != runId).ToList();
        if (candidates.Count == 0) return [];
        // Read after the folders were listed: a live run's lock was there before its folder, so it is in this read.
        var live = await RunLock.LiveHoldersAsync(store, LakePaths.LocksPrefix(pipeline), _time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        var notices = new List<string>();
        foreach (var dir in candidates.Where(dir => !live.Contains(Path.GetFileName(dir))))
        {
            // Its tap first, if it outlived its run: it would go on extracting beside this run, reading files deleted here.
            if (TapRecord.StopLeftover(dir) is { } stopped) notices.Add(stopped);
            TryDelete(dir);
            notices.Add($"removed leftover temp files of an earlier run ({Path.GetFileName(dir)})");
        }
        return notices.Distinct();
    }

    private static void TryDelete(string dir)
    {
        try { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>Counts the time of the last byte read, for the idle timeout.</summary>
    private sealed class ActivityStream(Stream inner, TimeProvider time) : ReadOnlyStream
    {
        private long _last = time.GetUtcNow().UtcTicks;
        public DateTimeOffset LastActivity => new(Interlocked.Read(ref _last), TimeSpan.Zero);
        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = inner.Read(buffer, offset, count);
            Interlocked.Exchange(ref _last, time.GetUtcNow().UtcTicks);
            return n;
        }
    }
}

/// <summary>The tap failed: non-zero exit, killed, timed out, or its config is missing.</summary>
public sealed class TapFailedException(string message) : PipeException(message)
{
    /// <summary>The tap's exit code, when it failed outside the run's own extraction (its <c>--discover</c>), for the run log.</summary>
    public int? ExitCode { get; init; }
    /// <summary>The end of what it wrote to stderr then, secrets masked.</summary>
    public string? StderrTail { get; init; }
    /// <summary>It stopped on its configuration before any data moved: a usage error (exit 2), not a failed run.</summary>
    public bool Configuration { get; init; }

    public override PipeErrorKind Kind => Configuration ? PipeErrorKind.Usage : PipeErrorKind.Failed;
}
