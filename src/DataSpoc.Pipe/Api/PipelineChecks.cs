using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Sources;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Transforms;

namespace DataSpoc.Pipe.Api;

/// <summary>
/// The checks of <see cref="PipeClient.ValidateAsync"/>, run in the order a run would meet the problems: config,
/// variables, tap config, transforms, tap, catalog, bucket. A check that fails also yields located problems. Each
/// bucket check waits <c>bucketTimeout</c> for the bucket (<see cref="PipeClient.BucketReadTimeout"/>).
/// </summary>
internal sealed class PipelineChecks(PipeHome home, ObjectStoreFactory stores, Func<string, string?>? environment, TimeSpan bucketTimeout)
{
    /// <summary>How long a built-in tap's source may take to list its streams (a bucket of many files, a slow server).</summary>
    internal static TimeSpan SourceAnswerTimeout { get; set; } = TimeSpan.FromMinutes(2);

    private readonly List<ValidationCheck> _checks = [];
    private readonly List<ValidationProblem> _problems = [];
    /// <summary>The loaded pipeline's secrets: every detail passes through them (a <c>${VAR}</c> path is one too).</summary>
    private ConfigSecrets _secrets = new();

    public async Task<PipelineValidation> RunAsync(string name, CancellationToken cancellationToken)
    {
        var loader = PipelineLoader.ForHome(home, environment, allowUnsetVariables: true);
        PipelineDefinition pipeline;
        try
        {
            pipeline = loader.LoadFile(home.FindPipelineFile(name)!);
        }
        catch (ConfigException e)
        {
            // A broken tap config file is reported by the loader too (with its file and line).
            Fail(e.File is { } f && f.EndsWith(".json", StringComparison.Ordinal) ? "tap config" : "config", e.Message, ValidationProblem.From(e));
            return Result(name);
        }
        _secrets = PipelineSecrets.Of(pipeline);
        Pass("config", pipeline.FilePath + (pipeline.Schedule?.Cron is { } c ? $" (schedule '{c}' valid)" : "")
            + (pipeline.Schedule?.Maintain is { } m ? $" (maintain schedule '{m.Cron}' valid)" : ""));
        // Valid syntax that matches no date (the 31st of February): cron accepts it and never runs the pipeline.
        if (pipeline.Schedule?.Cron is { Length: > 0 } cron && PipelineLoader.CronNeverFires(cron))
        {
            var never = $"schedule '{cron}' never fires: no date matches its day-of-month and month";
            Fail("schedule", never, new ValidationProblem("schedule.cron", pipeline.FilePath, null, never));
        }
        if (pipeline.Schedule?.Maintain is { } maintain && PipelineLoader.CronNeverFires(maintain.Cron))
        {
            var never = $"schedule.maintain '{maintain.Cron}' never fires: no date matches its day-of-month and month";
            Fail("schedule", never, new ValidationProblem("schedule.maintain.cron", pipeline.FilePath, null, never));
        }
        if (pipeline.Incremental.Enabled && pipeline.Destination.WriteMode == WriteMode.Replace)
            Pass("write_mode", "destination.write_mode: replace with incremental.enabled: true: every run reads the whole source " +
                "(no bookmark) and replaces the table with it, as incremental.enabled: false does; to land only what is new, use " +
                "write_mode: append or merge", warning: true);
        CheckVariables(pipeline, loader.Variables);
        // As a run refuses it.
        if (PipelineSecrets.InTableLocation(pipeline, pipeline.Source.Name) is { } leak)
            Fail("destination", $"{leak.Key}: {leak.Message}", new ValidationProblem(leak.Key, pipeline.FilePath, null, leak.Message));
        CheckSharedFolder(pipeline, loader);
        Pass("tap config", pipeline.Source.ConfigFile is { } file ? $"{file} is valid JSON"
            : pipeline.Source.InlineConfig is not null ? "inline in the pipeline YAML" : "none (the tap gets an empty config)");
        if (pipeline.Transforms.Count > 0)
        {
            var invalid = TransformCompiler.Validate(pipeline);
            if (invalid.Count == 0) Pass("transforms", $"{pipeline.Transforms.Count} stream map(s) compile");
            else Fail("transforms", string.Join("; ", invalid.Select(p => p.Message)), [.. invalid.Select(ValidationProblem.From)]);
        }
        CheckLineage(loader.Variables);
        CheckTempFolder();
        CheckParquetLibrary();
        if (await CheckTapAsync(pipeline, cancellationToken).ConfigureAwait(false))
            await CheckCatalogAsync(pipeline, cancellationToken).ConfigureAwait(false);
        string detail;
        try
        {
            var probe = await BucketReadAsync(pipeline, token => BucketProbe.RunAsync(stores, pipeline.Destination.Bucket, pipeline.Destination.StorageOptions, token), cancellationToken).ConfigureAwait(false);
            detail = $"{pipeline.Destination.Bucket}: {probe.Detail}";
            if (probe.Ok)
            {
                Pass("bucket", detail);
                await BucketReadAsync(pipeline, async token => { await CheckStateLeftBehindAsync(pipeline, token).ConfigureAwait(false); return true; }, cancellationToken).ConfigureAwait(false);
                await BucketReadAsync(pipeline, async token => { await CheckStateOwnerAsync(pipeline, token).ConfigureAwait(false); return true; }, cancellationToken).ConfigureAwait(false);
                return Result(name);
            }
        }
        catch (StorageException e) when (e.InnerException is TimeoutException)
        {
            detail = e.Message;
        }
        Fail("bucket", detail, new ValidationProblem("destination.bucket", pipeline.FilePath, null, detail));
        return Result(name);
    }

    /// <summary>A check's reads of the pipeline's bucket, bounded as the read-only views' are (<see cref="BucketDeadline"/>).</summary>
    private Task<T> BucketReadAsync<T>(PipelineDefinition pipeline, Func<CancellationToken, Task<T>> read, CancellationToken cancellationToken) =>
        BucketDeadline.ReadAsync(pipeline.Destination.Bucket, pipeline.Destination.StorageOptions, bucketTimeout, read, cancellationToken);

    /// <summary>
    /// A table in this pipeline's folder last written by a pipeline that left the home but not its state, while this
    /// incremental pipeline has none (it was renamed): the run refuses to append every earlier row again
    /// (<see cref="TableOwnership.CheckStateLeftBehindAsync"/>), so this is a failure; with merge, a warning.
    /// </summary>
    private async Task CheckStateLeftBehindAsync(PipelineDefinition pipeline, CancellationToken cancellationToken)
    {
        if (WriteModes.ReadsWholeSource(pipeline, fullRefreshRequested: false) || TablesFolder(pipeline) is not { } mine) return;
        await using var store = stores.Open(pipeline.Destination.Bucket, pipeline.Destination.StorageOptions);
        var manifest = await new Lake.ManifestStore(store, TimeProvider.System).ReadAsync(cancellationToken).ConfigureAwait(false);
        var names = home.PipelineNames();
        var checkedOwners = new Dictionary<string, string?>(StringComparer.Ordinal);
        var problems = new List<string>();
        foreach (var (key, table) in manifest.Tables.OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            if (!table.Location.StartsWith(mine.Folder, StringComparison.Ordinal)) continue;
            if (!checkedOwners.TryGetValue(table.Pipeline, out var owner))
                checkedOwners[table.Pipeline] = owner = await TableOwnership.StateLeftBehindAsync(store, pipeline, table.Pipeline, names.Contains, cancellationToken).ConfigureAwait(false);
            if (owner is not null) problems.Add(TableOwnership.StateLeftBehind(pipeline, owner, pipeline.Destination.Bucket, $"table {key} ({table.Location})"));
        }
        if (problems.Count == 0) return;
        var owners = checkedOwners.Values.OfType<string>().ToList();
        if (pipeline.Destination.WriteMode == WriteMode.Merge)
        {
            Pass("tables", string.Join("; ", problems) + ": a run extracts everything again; merged by key, the rows it sends again replace the earlier ones", warning: true);
            return;
        }
        var detail = string.Join("; ", problems) + ": a run would extract everything again and append every earlier row a second time. " +
            string.Join("; ", owners.Select(o => TableOwnership.WaysOut(pipeline, o, pipeline.Destination.Bucket)));
        Fail("tables", detail, new ValidationProblem(null, pipeline.FilePath, null, detail));
    }

    /// <summary>
    /// The pipeline's state in the bucket written for other tables (another home's pipeline of the same name, or this one
    /// before its source.name or path changed): an incremental run refuses to start (<see cref="Lake.StateOwner.CheckAsync"/>),
    /// so this is a failure; a pipeline that reads no state only replaces it (a warning).
    /// </summary>
    private async Task CheckStateOwnerAsync(PipelineDefinition pipeline, CancellationToken cancellationToken)
    {
        await using var store = stores.Open(pipeline.Destination.Bucket, pipeline.Destination.StorageOptions);
        if (await Lake.StateOwner.ConflictAsync(store, pipeline, Lake.LakePaths.SourceFolderOf(pipeline.Source), cancellationToken).ConfigureAwait(false) is not { } problem) return;
        if (WriteModes.ReadsWholeSource(pipeline, fullRefreshRequested: false))
        {
            Pass("state", problem + ": this pipeline reads no state (incremental.enabled: false or write_mode: replace); its next run replaces it with its own", warning: true);
            return;
        }
        var detail = problem + ". " + Lake.StateOwner.WaysOut(pipeline);
        Fail("state", detail, new ValidationProblem(null, pipeline.FilePath, null, detail));
    }

    private PipelineValidation Result(string name) => new(name, _checks.All(c => c.Ok), _checks.ToList(), _problems.ToList());

    private void Pass(string check, string detail, bool warning = false) => _checks.Add(new ValidationCheck(check, true, _secrets.Redact(detail), warning));

    private void Fail(string check, string detail, params ValidationProblem[] problems)
    {
        _checks.Add(new ValidationCheck(check, false, _secrets.Redact(detail)));
        _problems.AddRange(problems.Select(p => p with { Message = _secrets.Redact(p.Message) }));
    }

    /// <summary>
    /// The home's OpenLineage settings (<c>config.yaml</c> and <c>OPENLINEAGE_*</c>), read as a run reads them: a bad
    /// block or an unset <c>${VAR}</c> in it fails every run of the home before it starts.
    /// </summary>
    private void CheckLineage(PipeVariables variables)
    {
        try
        {
            if (Lineage.OpenLineageSettings.Load(home.ConfigPath, variables.Get) is { } lineage)
                Pass("openlineage", $"{lineage.Transport} transport to {lineage.ShownTarget}");
        }
        catch (ConfigException e)
        {
            Fail("openlineage", e.Message, ValidationProblem.From(e));
        }
    }

    /// <summary>
    /// The private temp folder (<c>$TMPDIR/dataspoc-pipe-&lt;uid&gt;</c>) a run's <c>start</c> step needs before anything
    /// else, checked (and created when missing, 0700) by the code the run uses: a missing or read-only <c>TMPDIR</c>, one
    /// that is a file, or a folder planted by another user fails every run.
    /// </summary>
    private void CheckTempFolder()
    {
        try
        {
            Pass("temp folder", PrivateTempRoot.ForCurrentUser());
        }
        catch (Exception e) when (e is StorageException or IOException or UnauthorizedAccessException)
        {
            Fail("temp folder", e.Message, new ValidationProblem("TMPDIR", null, null, e.Message));
        }
    }

    /// <summary>The native Parquet library every run's <c>write</c> step loads (<see cref="Parquet.ParquetLibrary"/>).</summary>
    private void CheckParquetLibrary()
    {
        if (Parquet.ParquetLibrary.LoadProblem() is { } problem)
            Fail("parquet library", problem, new ValidationProblem(null, null, null, problem));
    }

    /// <summary>Where each <c>${VAR}</c> comes from; fails on one set nowhere, warns on one a scheduled run would lack.</summary>
    private void CheckVariables(PipelineDefinition pipeline, PipeVariables variables)
    {
        if (pipeline.Variables.Count == 0) return;
        var unset = VariableProblems.Unset(pipeline, home);
        if (unset.Count > 0)
        {
            Fail("variables", string.Join("; ", unset.Select(p => p.Message)), [.. unset.Select(p => new ValidationProblem(p.Key, p.File, null, p.Message))]);
            return;
        }
        if ((pipeline.Schedule?.Cron is { Length: > 0 } || pipeline.Schedule?.Maintain is not null) && VariableProblems.ForSchedule(pipeline, home, variables) is { Count: > 0 } lacking)
        {
            Pass("variables", string.Join("; ", lacking.Select(p => p.Message)), warning: true);
            return;
        }
        Pass("variables", string.Join(", ", pipeline.Variables.DistinctBy(v => v.Name).Select(v => v.Name + (v.Origin switch
        {
            VariableOrigin.DotEnv => " from .env",
            VariableOrigin.Environment => " from the environment",
            _ => ": default",
        }))));
    }

    /// <summary>
    /// Warns when another pipeline of the home lands the same source folder name in the same bucket: under the same path
    /// from another source (two built-in csv pipelines of different folders, say), where a stream of the same name is one
    /// table and a replace by one fails rather than delete the other's rows; or under another path, where the manifest,
    /// which names tables by source and stream, refuses the stream to the second pipeline that lands it.
    /// </summary>
    private void CheckSharedFolder(PipelineDefinition pipeline, PipelineLoader loader)
    {
        if (TablesFolder(pipeline) is not { } mine) return;
        var samePath = new List<string>();
        var otherPath = new List<string>();
        foreach (var other in home.PipelineNames())
        {
            if (other == pipeline.Name) continue;
            try
            {
                // Inside the try: a stray file (pipelines/.yaml, an invalid name) is that file's problem, not this pipeline's.
                if (home.FindPipelineFile(other) is not { } file) continue;
                var definition = loader.LoadFile(file);
                if (TablesFolder(definition) is not { } theirs || theirs.Bucket != mine.Bucket || theirs.Source != mine.Source) continue;
                if (theirs.Path != mine.Path) otherPath.Add($"'{other}' ({theirs.Path})");
                else if (!pipeline.Source.ReadsTheSameSourceAs(definition.Source)) samePath.Add($"'{other}'");
            }
            catch (ConfigException)
            {
                // Its own validate says what is wrong with it.
            }
        }
        var problems = new List<string>();
        if (samePath.Count > 0)
            problems.Add($"{string.Join(", ", samePath)} also land(s) in {mine.Folder} from another source: a stream of the same name is one table there, " +
                "and a full refresh by one pipeline fails rather than delete the other's rows");
        if (otherPath.Count > 0)
            problems.Add($"{string.Join(", ", otherPath)} also land(s) source '{mine.Source}' in {mine.Bucket} under another path: the manifest names a table by " +
                "source and stream, so a stream of the same name fails in the second pipeline to land it");
        if (problems.Count > 0) Pass("tables", string.Join("; ", problems) + "; give each its own source.name (or destination.path)", warning: true);
    }

    private sealed record TablesLocation(string Bucket, string Path, string Source)
    {
        /// <summary>The folder the tables land in: <c>&lt;bucket&gt;/&lt;path&gt;/&lt;source&gt;/</c>.</summary>
        public string Folder => $"{Bucket}/{(Path.Length > 0 ? Path + "/" : "")}{Source}/";
    }

    /// <summary>Where a pipeline's tables land; null when its names are invalid (a run says why).</summary>
    private static TablesLocation? TablesFolder(PipelineDefinition pipeline)
    {
        try
        {
            return new TablesLocation(pipeline.Destination.Bucket.TrimEnd('/'), Lake.LakePaths.BasePath(pipeline.Destination.Path),
                Lake.LakePaths.SourceFolderOf(pipeline.Source));
        }
        catch (Exception e) when (e is ArgumentException or PipeException)
        {
            return null;
        }
    }

    /// <summary>That the tap is a built-in one whose source lists its streams, or is found (<c>~</c> and PATH as a run resolves it) and answers <c>--help</c> or <c>--about</c>.</summary>
    private async Task<bool> CheckTapAsync(PipelineDefinition pipeline, CancellationToken cancellationToken)
    {
        var tap = pipeline.Source.Tap;
        if (SourceFactory.IsBuiltIn(tap)) return await CheckBuiltInSourceAsync(pipeline, tap, cancellationToken).ConfigureAwait(false);
        string executable;
        try
        {
            executable = TapProcess.ResolveCommand(CommandLine.Split(tap));
        }
        catch (TapNotFoundException e)
        {
            Fail("tap", e.Message, new ValidationProblem("source.tap", pipeline.FilePath, null, e.Message));
            return false;
        }
        var tried = new List<string>();
        foreach (var flag in new[] { "--help", "--about" })
        {
            try
            {
                var result = await TapAnswer.AskAsync(tap, [flag], TapCapabilities.AnswerTimeoutFor(pipeline.Source), cancellationToken).ConfigureAwait(false);
                if (result.ExitCode == 0)
                {
                    Pass("tap", $"{executable} answers {flag}");
                    return true;
                }
                tried.Add($"{flag}: exit {result.ExitCode}{(result.StderrTail.Length > 0 ? " " + TapAnswer.LastLine(result.StderrTail) : "")}");
            }
            catch (Exception e) when (e is TapFailedException or TapNotFoundException)
            {
                tried.Add($"{flag}: {e.Message}");
            }
        }
        var detail = $"{executable} answers neither --help nor --about ({string.Join("; ", tried)})";
        Fail("tap", detail, new ValidationProblem("source.tap", pipeline.FilePath, null, detail));
        return false;
    }

    /// <summary>
    /// A built-in tap is always found, but its source may be out of reach (a server that refuses the connection, a
    /// folder that is not there): listing its streams, what a run does first, is the check. Skipped when a variable is
    /// missing: the source would only fail for the reason already reported.
    /// </summary>
    private async Task<bool> CheckBuiltInSourceAsync(PipelineDefinition pipeline, string tap, CancellationToken cancellationToken)
    {
        if (_checks.Any(c => c is { Check: "variables", Ok: false }))
        {
            Pass("tap", $"'{tap}' is a built-in tap (its source is not tried while a variable is missing)", warning: true);
            return false;
        }
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(SourceAnswerTimeout);
        try
        {
            // Not every wait inside a source heeds the token (Npgsql waits for a server's first answer by its own timeout):
            // the check stops waiting at the limit either way.
            var json = await new TapCatalogs(stores).DiscoverAsync(pipeline, limit.Token).WaitAsync(limit.Token).ConfigureAwait(false);
            var streams = StreamCatalog.List(StreamCatalog.Parse(json, $"'{tap}' stream list")).Select(e => e.TapStreamId).ToList();
            const int Shown = 5;
            var names = string.Join(", ", streams.Take(Shown)) + (streams.Count > Shown ? $", and {streams.Count - Shown} more" : "");
            Pass("tap", $"'{tap}' is a built-in tap; its source lists {streams.Count} stream(s){(streams.Count > 0 ? ": " + names : "")}",
                warning: streams.Count == 0);
            return true;
        }
        catch (Exception e) when ((e is TapFailedException or OperationCanceledException) && limit.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            var detail = $"'{tap}' is a built-in tap, but its source did not list its streams within {SourceAnswerTimeout.TotalSeconds:0} s";
            Fail("tap", detail, new ValidationProblem("source.config", pipeline.FilePath, null, detail));
            return false;
        }
        catch (TapFailedException e)
        {
            var reason = e.StderrTail is { Length: > 0 } tail ? TapAnswer.LastLine(tail) : e.Message;
            var detail = $"'{tap}' is a built-in tap, but its source cannot be read: {reason}";
            Fail("tap", detail, new ValidationProblem("source.config", pipeline.FilePath, null, detail));
            return false;
        }
        catch (ConfigException e)
        {
            Fail("tap", e.Message, ValidationProblem.From(e));
            return false;
        }
        catch (Exception e) when (e is StorageException or IOException or UnauthorizedAccessException)
        {
            // The tap config's scratch copy could not be written (the temp folder check says why): a failure, not a crash.
            Fail("tap", $"'{tap}' is a built-in tap, but its source could not be tried: {e.Message}", new ValidationProblem("source.tap", pipeline.FilePath, null, e.Message));
            return false;
        }
    }

    /// <summary>How the tap gets its catalog, and that the selection (streams, replication, select) matches what it discovers.</summary>
    private async Task CheckCatalogAsync(PipelineDefinition pipeline, CancellationToken cancellationToken)
    {
        try
        {
            // Not saved: the next run's log then still says what changed since the catalog it last used.
            var selection = await new TapCatalogs(stores).SelectAsync(pipeline, WriteModes.ReadsWholeSource(pipeline, fullRefreshRequested: false), CatalogSave.IfNone, cancellationToken).ConfigureAwait(false);
            var flags = $"passed with {selection.Capabilities.FlagsText} (from {selection.Capabilities.Origin})";
            // What a run would note too: a tap that did not answer, a cache that could not be written (a read-only home).
            var notices = new List<string>();
            if (selection.Capabilities.Notice is { } asked) notices.Add(asked);
            notices.AddRange(selection.Notices);
            if (selection.Catalog is not { } catalog)
            {
                Pass("catalog", (selection.Capabilities.CanDiscover
                    ? "none needed: the built-in tap sends every stream"
                    : "none: " + TapCapabilities.RunsWithoutCatalog) + string.Concat(notices.Select(n => "; " + n)), warning: notices.Count > 0);
                return;
            }
            var streams = StreamCatalog.List(catalog).Where(e => e.Selected).Select(e => e.Stream == e.TapStreamId ? e.Stream : $"{e.TapStreamId} (stream {e.Stream})").ToList();
            Pass("catalog", $"selects {streams.Count} stream(s): {string.Join(", ", streams)}; {flags}" +
                string.Concat(notices.Select(n => "; " + n)), warning: notices.Count > 0);
            // Which streams the transforms apply to is known only now (source.streams may select by id or glob), as in a run.
            if (TransformCompiler.ValidateSelection(pipeline, catalog) is { Count: > 0 } unselected)
                Fail("transforms", string.Join("; ", unselected.Select(p => p.Message)), [.. unselected.Select(ValidationProblem.From)]);
        }
        catch (ConfigException e)
        {
            Fail("catalog", e.Message, ValidationProblem.From(e));
        }
        catch (Exception e) when (e is TapFailedException or TapNotFoundException)
        {
            Fail("catalog", e.Message, new ValidationProblem("source.tap", pipeline.FilePath, null, e.Message));
        }
        catch (Exception e) when (e is StorageException or IOException or UnauthorizedAccessException)
        {
            // A cache beside the pipeline that cannot be read, a tap config that cannot be copied to the temp folder: the
            // check fails with the file named, and validate still reports every other check (and its JSON document).
            Fail("catalog", e.Message, new ValidationProblem("source.tap", pipeline.FilePath, null, e.Message));
        }
    }
}
