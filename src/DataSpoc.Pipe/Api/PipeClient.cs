using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cronos;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Scheduling;
using DataSpoc.Pipe.Sources;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Transforms;

namespace DataSpoc.Pipe.Api;

/// <summary>
/// The .NET entry point to DataSpoc Pipe: list, inspect, validate and run the pipelines of a home folder
/// (<c>~/.dataspoc-pipe</c> or <c>$DATASPOC_PIPE_HOME</c>), read a bucket's manifest, and run pipelines defined in
/// code with in-process sources and transforms. Everything it returns has secrets masked as <c>***</c>.
/// </summary>
public sealed class PipeClient
{
    private readonly PipeHome _home;
    private readonly ObjectStoreFactory _stores;
    private readonly TimeProvider _time;
    private readonly Func<string, string?>? _environment;
    private readonly TimeZoneInfo _scheduleTimeZone;
    private readonly Crontab _crontab;

    /// <summary>A client for a home folder.</summary>
    /// <param name="home">The home folder; null uses <c>$DATASPOC_PIPE_HOME</c>, else <c>~/.dataspoc-pipe</c>.</param>
    /// <param name="stores">Opens buckets; null opens <c>file://</c> only (register <c>s3</c>, <c>gs</c>, <c>az</c> with DataSpoc.Pipe.Cloud).</param>
    /// <param name="time">The clock for runs and schedules; null uses the system clock.</param>
    /// <param name="environment">Variable lookup for <c>${VAR}</c> in pipeline files, over the home's <c>.env</c>; null uses the process environment.</param>
    /// <param name="scheduleTimeZone">The zone cron reads a crontab line in when the crontab sets no <c>CRON_TZ</c> above it; null uses the machine's (from <c>/etc/localtime</c>, not <c>$TZ</c>, which cron does not see).</param>
    /// <param name="crontab">The command that lists the user's crontab (called with <c>-l</c>), where <see cref="StatusAsync"/> finds the runs cron will make; null uses <c>$DATASPOC_PIPE_CRONTAB</c>, else <c>crontab</c>.</param>
    public PipeClient(string? home = null, ObjectStoreFactory? stores = null, TimeProvider? time = null, Func<string, string?>? environment = null,
        TimeZoneInfo? scheduleTimeZone = null, string? crontab = null)
    {
        _home = home is null ? PipeHome.Resolve() : new PipeHome(PipeHome.ExpandHome(home));
        _stores = stores ?? new ObjectStoreFactory();
        _time = time ?? TimeProvider.System;
        _environment = environment;
        _scheduleTimeZone = scheduleTimeZone ?? CronTimeZones.Machine;
        _crontab = new Crontab(crontab);
    }

    /// <summary>The home folder this client reads pipelines from (absolute).</summary>
    public string Home => _home.Root;

    /// <summary>
    /// The command <c>schedule install</c> writes on a crontab line to start this tool (the CLI sets its own path). A
    /// pipeline's line starting another one is a <see cref="PipelineStatus.ScheduleProblem"/>; null (the default: this
    /// process need not be the tool cron starts) checks the rest of each line's command only.
    /// </summary>
    public IReadOnlyList<string>? ScheduledProgram { get; init; }

    /// <summary>The status a crontab line of this home gets when the home has no pipeline of its name (deleted or renamed).</summary>
    public const string NotInHome = "not in home";

    /// <summary>The names of the pipelines in the home folder (<c>pipelines/*.yaml</c>), sorted.</summary>
    public IReadOnlyList<string> Pipelines() => _home.PipelineNames();

    /// <inheritdoc cref="PipeHome.Shown"/>
    public string ShownName(string name) => _home.Shown(name);

    /// <summary>
    /// Loads a pipeline by name (defaults from <c>config.yaml</c> applied, <c>${VAR}</c> expanded). The result holds
    /// secrets in clear: use it to run or adjust a pipeline, <see cref="Config"/> to show one.
    /// </summary>
    /// <exception cref="ConfigException">The pipeline does not exist or its YAML or tap config is invalid (names file, line and key).</exception>
    public PipelineDefinition Load(string name) => Load(name, allowUnsetVariables: false);

    private PipelineDefinition Load(string name, bool allowUnsetVariables) =>
        PipelineLoader.ForHome(_home, _environment, allowUnsetVariables).LoadFile(PipelineFile(name));

    /// <summary>The file of a pipeline of the home (not loaded).</summary>
    /// <exception cref="ConfigException">No pipeline has that name (the message lists the known ones).</exception>
    public string PipelineFile(string name) => _home.FindPipelineFile(name) ?? throw UnknownPipeline(name);

    /// <summary>The source a pipeline of the home reads (its <c>${VAR}</c>s need not be set); null when its file does not load.</summary>
    private SourceDefinition? SourceOf(string name)
    {
        try
        {
            return Load(name, allowUnsetVariables: true).Source;
        }
        catch (ConfigException)
        {
            return null;
        }
    }

    private ConfigException UnknownPipeline(string name) => new(Pipelines() is { Count: > 0 } known
        ? $"unknown pipeline '{name}'; known pipelines: {string.Join(", ", known)}"
        : $"unknown pipeline '{name}': there are no pipelines in {_home.PipelinesDirectory} yet (create one with: dataspoc-pipe add <name>)");

    /// <summary>
    /// Masks every secret any pipeline of the home knows (values under secret keys, <c>${VAR}</c> values, passwords in
    /// URIs): what a front end serving several pipelines at once passes its answers through last.
    /// </summary>
    public ConfigSecrets HomeSecrets()
    {
        var all = new ConfigSecrets();
        foreach (var name in Pipelines())
        {
            PipelineDefinition pipeline;
            try { pipeline = Load(name, allowUnsetVariables: true); }
            // An invalid pipeline exposes nothing: the loader's error never holds a secret. Any failure to load one file
            // is skipped, not only a ConfigException: every MCP answer passes through here, and one file the loader
            // trips on must fail the questions about that pipeline, never every tool for every pipeline.
            catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException) { continue; }
            var secrets = PipelineSecrets.Of(pipeline);
            foreach (var value in secrets.Values) all.AddValue(value);
        }
        return all;
    }

    /// <summary>
    /// A pipeline's effective configuration as JSON, with secrets masked as <c>***</c>: values under secret-looking keys
    /// (password, token, key…) of the tap config and storage options, values that came from <c>${VAR}</c>, every
    /// known secret value, and passwords inside URIs. A stream named like a secret (<c>api_tokens</c>) is shown.
    /// </summary>
    /// <exception cref="ConfigException">The pipeline does not exist or is invalid.</exception>
    public JsonObject Config(string name)
    {
        var pipeline = Load(name);
        // Every secret the pipeline knows of, the loader's and those set in code or inherited from the environment.
        return PipelineConfigView.ToJson(pipeline, PipelineSecrets.Of(pipeline));
    }

    /// <summary>Runs a pipeline of the home folder once and returns its run log (success or failure).</summary>
    /// <param name="name">The pipeline's name.</param>
    /// <param name="full">Full refresh: ignore saved state and replace every table the run writes.</param>
    /// <param name="progress">
    /// Receives per-stream counters and the run's step while the run works (<see cref="RunOptions.Progress"/>: from a
    /// background thread; a callback that throws is dropped with a run-log notice, never failing the run).
    /// </param>
    /// <param name="cancellationToken">
    /// Stops the run (the tap is killed, nothing becomes visible). Once the run has taken its pipeline lock, a stop at
    /// any moment returns a <see cref="RunResult"/> with status <c>cancelled</c>, and its run log is written. A token
    /// already cancelled when the run is asked for, or one that fires while the bucket is opened or the lock requested
    /// (and stops that request), throws <see cref="OperationCanceledException"/>: no run began, and no run log is written.
    /// </param>
    /// <exception cref="ConfigException">The pipeline or its transforms are invalid: nothing ran.</exception>
    /// <exception cref="PipelineLockedException">Another run of this pipeline holds its lock in the bucket: nothing ran.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired before the run took its lock: nothing ran.</exception>
    public Task<RunResult> RunAsync(string name, bool full = false, IProgress<RunProgress>? progress = null, CancellationToken cancellationToken = default) =>
        RunAsync(Load(name), null, null, full, progress, cancellationToken);

    /// <summary>
    /// Runs a pipeline defined in code (no YAML), optionally reading from an in-process <paramref name="source"/>
    /// (e.g. a <see cref="CodeSource"/>) instead of its tap, and applying code <paramref name="transforms"/> (e.g. a
    /// <see cref="CodeTransform"/>) before its declarative <c>Transforms</c>.
    /// </summary>
    /// <param name="pipeline">What to run; <see cref="PipelineDefinition.Source"/>'s tap is ignored when <paramref name="source"/> is given.</param>
    /// <param name="source">Where records come from; null starts the pipeline's tap.</param>
    /// <param name="transforms">Record transforms written in code, applied in order.</param>
    /// <param name="full">Full refresh: ignore saved state and replace every table the run writes.</param>
    /// <param name="progress">As for <see cref="RunAsync(string, bool, IProgress{RunProgress}?, CancellationToken)"/>.</param>
    /// <param name="cancellationToken">Stops the run, as for <see cref="RunAsync(string, bool, IProgress{RunProgress}?, CancellationToken)"/>.</param>
    /// <exception cref="ConfigException">
    /// The pipeline's name, bucket, <c>destination.path</c>, source name or declarative transforms are invalid: nothing ran.
    /// </exception>
    /// <exception cref="PipelineLockedException">Another run of this pipeline holds its lock in the bucket: nothing ran.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired before the run took its lock: nothing ran.</exception>
    public async Task<RunResult> RunAsync(PipelineDefinition pipeline, ISource? source, IEnumerable<IRecordTransform>? transforms = null,
        bool full = false, IProgress<RunProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        var options = new RunOptions { Full = full, Progress = progress, Source = source, CodeTransforms = transforms?.ToList() ?? [] };
        return await RunPipelineAsync(pipeline, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs a pipeline with every run option (what the CLI's <c>run</c> uses); the home's OpenLineage observers are added
    /// when <paramref name="options"/> names none.
    /// </summary>
    /// <exception cref="ConfigException">The pipeline's declarative transforms are invalid: nothing ran.</exception>
    /// <exception cref="PipelineLockedException">Another run of this pipeline holds its lock in the bucket: nothing ran.</exception>
    public async Task<RunResult> RunPipelineAsync(PipelineDefinition pipeline, RunOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        ArgumentNullException.ThrowIfNull(options);
        // A definition made in code never went through the loader: the rules the loader checks a file's values by are
        // checked here, so a bad value (MaxFileRows = 0, an undefined enum value) is a ConfigException before anything runs.
        PipelineRules.Check(pipeline, pipeline.Source.Name ?? options.Source?.DefaultName);
        if (TransformCompiler.Validate(pipeline) is { Count: > 0 } invalid) throw invalid[0];
        // config.yaml's ${VAR}s (an OpenLineage api_key) come from the same variables as the pipeline's: the home's .env too.
        if (options.Observers.Count == 0)
            options = options with { Observers = Lineage.OpenLineageEmitter.ForHome(_home, PipeVariables.ForHome(_home, _environment).Get, _time) };
        options = options with { HomePipelines = options.HomePipelines ?? new HomePipelines(Pipelines(), SourceOf) };
        return await new PipelineRunner(_stores, _time).RunAsync(pipeline, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Lands the staged parts of a split run (<c>source.split</c>, workers run with <see cref="RunOptions.Part"/>) in one
    /// commit, when every part is done; what the CLI's <c>run &lt;name&gt; --commit-parts</c> uses. Throws
    /// <see cref="Runs.SplitRunException"/>, writing no run log, when the split run was already committed.
    /// </summary>
    public Task<RunResult> CommitPartsAsync(PipelineDefinition pipeline, string splitRunId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        return new PipelineRunner(_stores, _time).CommitPartsAsync(pipeline, splitRunId, new HomePipelines(Pipelines(), SourceOf), cancellationToken);
    }

    /// <summary>
    /// How long a read-only view waits for a bucket (15 s unless set): <see cref="StatusAsync"/> for each bucket's run
    /// logs, <see cref="ManifestAsync"/>, and each bucket check of <see cref="ValidateAsync"/>. An endpoint that accepts
    /// connections but never answers would otherwise hold status, validate, the dashboard and the MCP tools for the store's
    /// own timeouts and retries (minutes: they are sized for a run's uploads, and runs keep them); past this, the read
    /// fails with a <see cref="StorageException"/> naming the bucket (validate fails its <c>bucket</c> check with it), and
    /// in status only that bucket's pipelines show as <c>unknown</c>.
    /// </summary>
    public TimeSpan BucketReadTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How many buckets <see cref="StatusAsync"/> reads at once, so stalled buckets cost one timeout, not one each.</summary>
    private const int StatusReads = 8;

    /// <summary>
    /// Each pipeline's latest run (read from its bucket's run logs) and the next run cron will make: from the pipeline's
    /// line in the user's crontab (its schedule, in the <c>CRON_TZ</c> above it or the machine's zone), not from
    /// <c>schedule.cron</c>, which cron does not read; <see cref="PipelineStatus.ScheduleProblem"/> says when the two differ,
    /// and when the line is not the one <c>schedule install</c> writes now. A crontab line of this home whose pipeline the
    /// home does not have comes last, as a row with the status <see cref="NotInHome"/>.
    /// </summary>
    /// <remarks>
    /// A bucket that does not answer within <see cref="BucketReadTimeout"/> gives its pipelines the status <c>unknown</c>
    /// and an error naming it, as an unreadable bucket does; once one read of a bucket timed out, its other pipelines
    /// are not read again.
    /// </remarks>
    public async Task<IReadOnlyList<PipelineStatus>> StatusAsync(CancellationToken cancellationToken = default)
    {
        var installed = InstalledSchedules();
        // The zone cron reads a line in; for a line not installed yet, the one install would put it under (the crontab's last CRON_TZ).
        string ZoneOf(CrontabEntry? line) => line is null ? installed.ZoneAtEnd ?? ScheduleTimeZone : TimeZoneOf(line);
        var names = Pipelines();
        var rows = new PipelineStatus[names.Count];
        var reads = new List<Task>();
        using var gate = new SemaphoreSlim(StatusReads);
        var silent = new System.Collections.Concurrent.ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < names.Count; i++)
        {
            var name = names[i];
            // A run line the user wrote by hand is what cron runs the pipeline by when install wrote none (install keeps it).
            var handWrittenRun = installed.HandWritten.FirstOrDefault(e => e.Pipeline == name && e.Kind == ScheduleKind.Run);
            var entry = installed.Entries.FirstOrDefault(e => e.Pipeline == name && e.Kind == ScheduleKind.Run) ?? handWrittenRun;
            var maintainEntry = installed.Entries.FirstOrDefault(e => e.Pipeline == name && e.Kind == ScheduleKind.Maintain);
            var next = entry is null ? null : NextRun(entry);
            var nextMaintain = maintainEntry is null ? null : NextRun(maintainEntry);
            var zone = ZoneOf(entry);
            PipelineDefinition pipeline;
            try
            {
                pipeline = Load(name);
            }
            catch (ConfigException e)
            {
                rows[i] = new PipelineStatus(name, "invalid", null, null, null, null, null, next, e.Message, zone)
                {
                    InstalledSchedule = entry?.Cron, NextMaintain = nextMaintain, MaintainTimeZone = maintainEntry is null ? null : ZoneOf(maintainEntry),
                };
                continue;
            }
            var cron = pipeline.Schedule?.Cron;
            var maintain = pipeline.Schedule?.Maintain;
            var neverRun = new PipelineStatus(name, "never run", null, null, null, null, cron, next, null, zone)
            {
                InstalledSchedule = entry?.Cron,
                ScheduleProblem = ScheduleProblem(cron, entry, installed.Problem) ?? (entry is null || entry == handWrittenRun ? null : LineProblem(entry, names)),
                MaintainSchedule = maintain?.Cron,
                NextMaintain = nextMaintain,
                MaintainTimeZone = maintain is null && maintainEntry is null ? null : ZoneOf(maintainEntry),
                MaintainProblem = MaintainProblem(maintain, maintainEntry, installed.HandWritten.Any(e => e.Pipeline == name && e.Kind == ScheduleKind.Maintain), installed.Problem)
                    ?? (maintainEntry is null ? null : LineProblem(maintainEntry, names)),
            };
            var row = i;
            reads.Add(Task.Run(async () =>
            {
                await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
                try { rows[row] = await StatusOfAsync(pipeline, neverRun, silent, cancellationToken).ConfigureAwait(false); }
                finally { gate.Release(); }
            }, cancellationToken));
        }
        await Task.WhenAll(reads).ConfigureAwait(false);
        // A line of this home whose pipeline is gone still makes cron run a failing command every time: its own row,
        // with its run line's schedule and its maintain line's, whichever it has.
        var orphans = installed.Entries.Where(e => !names.Contains(e.Pipeline, StringComparer.Ordinal)).GroupBy(e => e.Pipeline)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (Run: g.FirstOrDefault(e => e.Kind == ScheduleKind.Run), Maintain: g.FirstOrDefault(e => e.Kind == ScheduleKind.Maintain)))
            .Select(o => new PipelineStatus((o.Run ?? o.Maintain)!.Pipeline, NotInHome, null, null, null, null, null, o.Run is null ? null : NextRun(o.Run), null,
                TimeZoneOf((o.Run ?? o.Maintain)!))
            {
                InstalledSchedule = o.Run?.Cron,
                ScheduleProblem = o.Run is null ? null : LineProblem(o.Run, names),
                NextMaintain = o.Maintain is null ? null : NextRun(o.Maintain),
                MaintainTimeZone = o.Maintain is null ? null : ZoneOf(o.Maintain),
                MaintainProblem = o.Maintain is null ? null : LineProblem(o.Maintain, names),
            });
        return [.. rows, .. orphans];
    }

    /// <summary>
    /// What is wrong with a crontab line of this home whatever the pipeline's <c>schedule.cron</c> says, or null: it runs
    /// a pipeline the home does not have (deleted or renamed), or its command is not the one <c>schedule install</c> writes
    /// now (an earlier version's, or another binary's; see <see cref="ScheduledProgram"/>). <c>schedule list</c> shows it.
    /// </summary>
    public string? LineProblem(CrontabEntry entry)
    {
        IReadOnlyList<string>? names;
        try
        {
            names = Pipelines();
        }
        catch (ConfigException)
        {
            names = null; // an unreadable pipelines folder is status's error to show; the line's command can still be checked
        }
        return LineProblem(entry, names);
    }

    private string? LineProblem(CrontabEntry entry, IReadOnlyList<string>? names)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (names is not null && !names.Contains(entry.Pipeline, StringComparer.Ordinal))
            return $"the crontab runs '{entry.Pipeline}', which is not in this home (run: dataspoc-pipe schedule remove {entry.Pipeline})";
        return CrontabEntries.CommandProblem(entry, _home.Root, ScheduledProgram);
    }

    /// <summary>
    /// This home's crontab lines, the <c>CRON_TZ</c> a line added by <c>schedule install</c> would get, the pipelines a
    /// hand-written line runs or maintains (<see cref="CrontabEntries.HandWritten"/>), and why the crontab could not be read.
    /// </summary>
    private (IReadOnlyList<CrontabEntry> Entries, string? ZoneAtEnd, IReadOnlyList<CrontabEntry> HandWritten, string? Problem) InstalledSchedules()
    {
        try
        {
            var text = _crontab.Read();
            return (CrontabEntries.Parse(text, _home.Root), CrontabEntries.CronTimeZoneAtEnd(text), CrontabEntries.HandWritten(text, _home.Root), null);
        }
        catch (CrontabException e)
        {
            return ([], null, [], e.Message);
        }
    }

    /// <summary>Why the maintains cron will make are not the ones <c>schedule.maintain</c> asks for, or null when they are.</summary>
    private static string? MaintainProblem(MaintainSchedule? maintain, CrontabEntry? entry, bool handWritten, string? crontabProblem)
    {
        const string install = "run: dataspoc-pipe schedule install";
        if (crontabProblem is not null)
            return maintain is null ? null : $"whether cron runs its maintain is unknown: the crontab could not be read: {crontabProblem}";
        if (entry is null)
        {
            if (maintain is null) return null;
            return handWritten
                ? "schedule.maintain is not installed: a crontab line schedule install did not write runs its maintain, and is kept " +
                  "(remove that line with crontab -e, then run: dataspoc-pipe schedule install)"
                : $"schedule.maintain is not installed: cron does not run its maintain ({install})";
        }
        if (maintain is null) return $"schedule.maintain is not set, but the crontab still runs its maintain at '{entry.Cron}' ({install} to remove the line)";
        if (string.Join(' ', maintain.Cron.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)) != entry.Cron)
            return $"the crontab runs its maintain at '{entry.Cron}', not at schedule.maintain.cron '{maintain.Cron}' ({install})";
        if (CrontabEntries.MaintainArgumentsOf(entry) is { } options && !options.SequenceEqual(CrontabEntries.MaintainArguments(maintain), StringComparer.Ordinal))
            return $"the crontab runs maintain with '{string.Join(' ', options)}', not with '{string.Join(' ', CrontabEntries.MaintainArguments(maintain))}' as schedule.maintain says ({install})";
        if (entry.CronTimeZone is { } tz && CronTimeZones.Find(tz) is null)
            return $"the crontab's CRON_TZ '{tz}' is not a time zone this machine knows, so its next maintain is unknown";
        return null;
    }

    /// <summary>Why the run cron will make is not the one <c>schedule.cron</c> asks for, or null when it is.</summary>
    private static string? ScheduleProblem(string? cron, CrontabEntry? entry, string? crontabProblem)
    {
        const string install = "run: dataspoc-pipe schedule install";
        if (crontabProblem is not null)
            return cron is null ? null : $"whether cron runs it is unknown: the crontab could not be read: {crontabProblem}";
        if (entry is null) return cron is null ? null : $"not installed: cron does not run it ({install})";
        if (cron is null) return $"schedule.cron is not set, but the crontab still runs it at '{entry.Cron}' ({install} to remove the line)";
        if (string.Join(' ', cron.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)) != entry.Cron)
            return $"the crontab runs it at '{entry.Cron}', not at schedule.cron '{cron}' ({install})";
        if (entry.CronTimeZone is { } tz && CronTimeZones.Find(tz) is null)
            return $"the crontab's CRON_TZ '{tz}' is not a time zone this machine knows, so its next run is unknown";
        return null;
    }

    /// <summary>
    /// <paramref name="neverRun"/> (the pipeline's row with its schedule and no run) with the pipeline's latest run, read
    /// from its bucket within <see cref="BucketReadTimeout"/>; <c>unknown</c> with the error when the bucket cannot be
    /// read, at once for a bucket (with its endpoint options) that another pipeline's read found silent.
    /// </summary>
    private async Task<PipelineStatus> StatusOfAsync(PipelineDefinition pipeline, PipelineStatus neverRun,
        System.Collections.Concurrent.ConcurrentDictionary<string, string> silent, CancellationToken cancellationToken)
    {
        PipelineStatus Unknown(string error) => neverRun with { Status = "unknown", Error = PipelineSecrets.Of(pipeline).Redact(error) };
        // The same bucket name behind another endpoint is another server: both make the key.
        var bucketKey = pipeline.Destination.Bucket + "|" + string.Join(",", (pipeline.Destination.StorageOptions ?? new Dictionary<string, string>()).OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => o.Key + "=" + o.Value));
        if (silent.TryGetValue(bucketKey, out var known)) return Unknown(known);
        try
        {
            // The lock first: a run that ends in between then shows as running and with its log, never as neither.
            var (running, latest) = await BoundedReadAsync(pipeline.Destination.Bucket, pipeline.Destination.StorageOptions,
                async token => (await RunningAsync(pipeline, token).ConfigureAwait(false), await LatestReadableLogAsync(pipeline, token).ConfigureAwait(false)),
                cancellationToken).ConfigureAwait(false);
            var damaged = latest.Damaged.Count == 0 ? null : string.Join("; ", latest.Damaged.Select(d => d.Error));
            return (latest.Log is { } log
                ? neverRun with { Status = log.Status, LastRun = log.StartedAt, DurationSeconds = log.DurationSeconds, Records = log.TotalRecords, RunId = log.RunId, Error = log.Error }
                : neverRun) with { Running = running, DamagedLogs = damaged };
        }
        catch (StorageException e) when (e.InnerException is TimeoutException)
        {
            silent.TryAdd(bucketKey, e.Message);
            return Unknown(e.Message);
        }
        catch (Exception e) when (e is StorageException or IOException or UnauthorizedAccessException or FormatException or JsonException)
        {
            return Unknown(e.Message);
        }
    }

    /// <summary>
    /// The pipeline's latest log that parses, and the damaged logs of later runs (newest first). Past the latest, up to
    /// <see cref="DamagedLogLookback"/> logs are read for a readable one.
    /// </summary>
    private async Task<(RunLog? Log, IReadOnlyList<RunLog> Damaged)> LatestReadableLogAsync(PipelineDefinition pipeline, CancellationToken cancellationToken)
    {
        var logs = await ReadLogsAsync(pipeline, 1, cancellationToken).ConfigureAwait(false);
        if (logs is [{ IsDamaged: true }]) logs = await ReadLogsAsync(pipeline, DamagedLogLookback, cancellationToken).ConfigureAwait(false);
        var damaged = logs.TakeWhile(l => l.IsDamaged).ToList();
        return (logs.Skip(damaged.Count).FirstOrDefault(), damaged);
    }

    /// <summary>How many of a pipeline's latest logs status reads for one that parses when the latest does not.</summary>
    internal const int DamagedLogLookback = 20;

    /// <summary>
    /// The run or maintain holding the pipeline's lock now (<see cref="PipelineStatus.Running"/>), else the split run whose
    /// part workers hold live part locks; null when none does. Stale locks (a killed worker's) count for nothing, by the
    /// rule that lets the next run take them over (<see cref="RunLock.Stale"/>).
    /// </summary>
    private async Task<RunInProgress?> RunningAsync(PipelineDefinition pipeline, CancellationToken cancellationToken)
    {
        await using var store = _stores.Open(pipeline.Destination.Bucket, pipeline.Destination.StorageOptions);
        var now = _time.GetUtcNow();
        if (await RunLock.LiveHolderAsync(store, LakePaths.LockKey(pipeline.Name), now, cancellationToken).ConfigureAwait(false) is { } holder)
            return new RunInProgress(holder.RunId.StartsWith(RunLock.MaintainRunIdPrefix, StringComparison.Ordinal) ? "maintain" : "run",
                holder.RunId, holder.AcquiredAt, holder.Host, holder.Pid) { Process = holder.Process, Unchecked = holder.Unchecked };
        // Only locks that name their split run are part workers' (another pipeline's name may extend this one's prefix).
        var parts = (await RunLock.LiveLocksAsync(store, LakePaths.SplitPartLocksPrefix(pipeline.Name), now, cancellationToken).ConfigureAwait(false))
            .Where(l => l.Holder.SplitRun is not null)
            .Select(l => (Index: LakePaths.SplitPartOfLock(pipeline.Name, l.Key), l.Holder))
            .Where(p => p.Index is not null)
            .ToList();
        if (parts.Count == 0) return null;
        // One split run at a time is the usual case; with several, the one whose worker started first is shown.
        var first = parts.MinBy(p => p.Holder.AcquiredAt).Holder;
        return new RunInProgress("part", first.SplitRun!, first.AcquiredAt, first.Host, first.Pid)
        {
            Process = first.Process,
            Unchecked = first.Unchecked,
            Parts = parts.Where(p => p.Holder.SplitRun == first.SplitRun).OrderBy(p => p.Index)
                .Select(p => new PartInProgress(p.Index!.Value, p.Holder.RunId, p.Holder.AcquiredAt, p.Holder.Host, p.Holder.Pid) { Process = p.Holder.Process }).ToList(),
        };
    }

    /// <summary><paramref name="read"/> of a bucket, given <see cref="BucketReadTimeout"/> (<see cref="BucketDeadline"/>).</summary>
    private Task<T> BoundedReadAsync<T>(string bucket, IReadOnlyDictionary<string, string>? options, Func<CancellationToken, Task<T>> read, CancellationToken cancellationToken) =>
        BucketDeadline.ReadAsync(bucket, options, BucketReadTimeout, read, cancellationToken);

    /// <summary>A pipeline's most recent run logs, newest first (secrets masked).</summary>
    /// <param name="name">The pipeline's name.</param>
    /// <param name="limit">How many logs at most.</param>
    /// <param name="cancellationToken">Stops reading.</param>
    public Task<IReadOnlyList<RunLog>> LogsAsync(string name, int limit = 10, CancellationToken cancellationToken = default) =>
        ReadLogsAsync(Load(name), limit, cancellationToken);

    /// <summary>
    /// Deletes a pipeline's run logs of runs that started more than <paramref name="olderThan"/> ago, except the latest
    /// one (so <c>status</c> still shows the last run): the bucket keeps one log per run otherwise, ~105,000 a year for a
    /// run every five minutes. Returns how many were deleted and how many are left.
    /// </summary>
    public async Task<RunLogExpiry> ExpireLogsAsync(string name, TimeSpan olderThan, CancellationToken cancellationToken = default)
    {
        if (olderThan < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(olderThan), "the age must not be negative");
        var pipeline = Load(name);
        await using var store = _stores.Open(pipeline.Destination.Bucket, pipeline.Destination.StorageOptions);
        var (deleted, kept) = await RunLogRetention.ExpireAsync(store, pipeline.Name, _time.GetUtcNow() - olderThan, countKept: true, cancellationToken).ConfigureAwait(false);
        return new RunLogExpiry(pipeline.Name, deleted, kept ?? 0);
    }

    /// <summary>One run log of a pipeline (secrets masked): the latest (as <see cref="LogsAsync"/> orders them), or the run <paramref name="runId"/>'s.</summary>
    /// <exception cref="RunLogNotFoundException">The pipeline has not run yet, or has no run with that id (the message lists recent ones).</exception>
    public async Task<RunLog> LogAsync(string name, string? runId = null, CancellationToken cancellationToken = default)
    {
        var pipeline = Load(name);
        if (runId is null)
        {
            var latest = await ReadLogsAsync(pipeline, 1, cancellationToken).ConfigureAwait(false);
            return latest is [var log] ? Readable(log) : throw new RunLogNotFoundException(
                $"{name} has not run yet (no log in {pipeline.Destination.Bucket}/{LakePaths.LogsPrefix(pipeline.Name)})", PipeErrorKind.Failed);
        }
        var keys = await LogKeysAsync(pipeline, null, cancellationToken).ConfigureAwait(false);
        var key = keys.FirstOrDefault(k => LakePaths.RunIdOfLogKey(k) == runId) ?? throw new RunLogNotFoundException(
            $"{name} has no run '{runId}'" + (keys.Count == 0 ? "" : $"; recent runs: {string.Join(", ", keys.Take(5).Select(LakePaths.RunIdOfLogKey))}"),
            PipeErrorKind.Usage);
        return Readable(await ReadLogAsync(pipeline, key, cancellationToken).ConfigureAwait(false)
            ?? throw new RunLogNotFoundException($"the log of run '{runId}' of {name} disappeared while reading it", PipeErrorKind.Failed));

        RunLog Readable(RunLog log) => log.IsDamaged
            ? throw new RunLogNotFoundException($"{log.Error}; list the other runs with: dataspoc-pipe logs {name} --list", PipeErrorKind.Failed)
            : log;
    }

    /// <summary>
    /// The streams a pipeline's tap offers (its <c>--discover</c> catalog, cached beside the pipeline) with what the
    /// pipeline selects and how a run passes the catalog: what <c>dataspoc-pipe streams</c> shows.
    /// </summary>
    /// <param name="name">The pipeline's name.</param>
    /// <param name="refresh">Run the tap's <c>--discover</c> again instead of using the cached catalog.</param>
    /// <param name="cancellationToken">Stops discovery.</param>
    public async Task<PipelineStreams> StreamsAsync(string name, bool refresh = false, CancellationToken cancellationToken = default)
    {
        var pipeline = Load(name);
        var catalogs = new TapCatalogs(_stores);
        // What the tap can do decides whether there is a catalog to show: a tap that cannot discover is not asked to.
        var capabilities = await catalogs.CapabilitiesAsync(pipeline, refresh, cancellationToken).ConfigureAwait(false);
        if (TapCatalogs.CatalogKeyProblem(pipeline, capabilities) is { } problem) throw problem;
        if (!TapCatalogs.HasCatalog(pipeline, capabilities))
            return new PipelineStreams(pipeline.Name, null, false, pipeline.Source.Streams is null, capabilities, []) { Note = TapCapabilities.RunsWithoutCatalog };
        // The catalog a run would use (source.discover decides whether the tap is asked); only --refresh renews the cache,
        // so the next run's log still says what changed since the catalog it last used.
        var catalog = await catalogs.CatalogAsync(pipeline, WriteModes.ReadsWholeSource(pipeline, fullRefreshRequested: false), refresh, refresh ? CatalogSave.Now : CatalogSave.IfNone, cancellationToken).ConfigureAwait(false);
        return new PipelineStreams(pipeline.Name, TapCatalogs.CachePath(pipeline), catalog.Fresh, pipeline.Source.Streams is null, capabilities, StreamCatalog.List(catalog.Catalog))
        {
            Changes = catalog.Notices,
        };
    }

    /// <summary>
    /// The state the pipeline's last successful run committed (<c>.dataspoc/state/&lt;pipeline&gt;/state.json</c>: the last
    /// Singer STATE, e.g. what a <see cref="CodeSource.WithState"/> saved), as its JSON text; null when none was committed.
    /// An incremental code pipeline reads it before its run to know where to resume, and passes the next bookmark to
    /// <see cref="CodeSource.WithState"/>. The text is kept as the source wrote it (a tap's <c>NaN</c> included), so
    /// parse it with <c>JsonNode.Parse</c> when it is plain JSON.
    /// </summary>
    /// <param name="pipeline">The pipeline (its name, bucket and storage options), defined in code or loaded with <see cref="Load(string)"/>.</param>
    /// <param name="cancellationToken">Stops reading.</param>
    /// <exception cref="StorageException">The bucket cannot be read, or did not answer within <see cref="BucketReadTimeout"/>.</exception>
    public async Task<string?> StateAsync(PipelineDefinition pipeline, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        LakeNames.Pipeline(pipeline.Name, pipeline.FilePath);
        return await BoundedReadAsync(pipeline.Destination.Bucket, pipeline.Destination.StorageOptions, async token =>
        {
            await using var store = _stores.Open(pipeline.Destination.Bucket, pipeline.Destination.StorageOptions);
            return await store.GetAsync(LakePaths.StateKey(pipeline.Name), token).ConfigureAwait(false) is { } state
                ? System.Text.Encoding.UTF8.GetString(state.Content.Span)
                : null;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A bucket's table catalog (<c>.dataspoc/manifest.json</c>); empty when the bucket has none yet.</summary>
    /// <param name="bucket"><c>file:///abs/dir</c>, <c>s3://bucket[/prefix]</c>, <c>gs://…</c> or <c>az://…</c>.</param>
    /// <param name="storageOptions">As a pipeline's <c>destination.storage_options</c> (endpoint_url, region…).</param>
    /// <param name="cancellationToken">Stops reading.</param>
    /// <exception cref="ConfigException"><paramref name="bucket"/> is not a bucket address (as <c>destination.bucket</c> would be refused).</exception>
    /// <exception cref="StorageException">The bucket cannot be read, its manifest does not parse, or it did not answer within <see cref="BucketReadTimeout"/>.</exception>
    public async Task<Manifest> ManifestAsync(string bucket, IReadOnlyDictionary<string, string>? storageOptions = null, CancellationToken cancellationToken = default)
    {
        CheckBucket(bucket);
        return await BoundedReadAsync(bucket, storageOptions, async token =>
        {
            await using var store = _stores.Open(bucket, storageOptions);
            return await new ManifestStore(store, _time).ReadAsync(token).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Whether <paramref name="manifest"/> (from <see cref="ManifestAsync"/>) was ever written: the client answers an
    /// empty one, without a time, for a bucket no pipeline has written to.
    /// </summary>
    public static bool IsWritten(Manifest manifest) => manifest.UpdatedAt != default;

    /// <summary>What front ends say of a bucket whose manifest was never written (<see cref="IsWritten"/>).</summary>
    public static string NoManifest(string bucket) =>
        $"no manifest in {bucket} ({LakePaths.ManifestKey} does not exist: no pipeline has written there yet)";

    /// <summary>
    /// A bucket address a caller passed is checked as a pipeline's <c>destination.bucket</c> is: a bad one is a
    /// <see cref="ConfigException"/> (a <see cref="PipeException"/>), not the parser's <see cref="FormatException"/>.
    /// </summary>
    private static void CheckBucket(string bucket)
    {
        ArgumentNullException.ThrowIfNull(bucket);
        if (PipelineLocation.BucketProblem(bucket) is { } problem) throw new ConfigException(problem);
    }

    /// <summary>
    /// The data files a table of a bucket's manifest holds now, as URIs under the bucket: an Iceberg table's current
    /// snapshot, else a Delta table's latest version (their folders also keep replaced files until <c>maintain</c>
    /// expires them), else the data files in the table's folder. Read these, not the folder, to read the table's rows.
    /// </summary>
    /// <param name="bucket">The bucket whose manifest lists the table.</param>
    /// <param name="storageOptions">As a pipeline's <c>destination.storage_options</c>.</param>
    /// <param name="tableKey">The table's key in the manifest (<c>source/table</c>), for messages.</param>
    /// <param name="table">The table's manifest entry.</param>
    /// <param name="cancellationToken">Stops reading.</param>
    /// <exception cref="ConfigException"><paramref name="bucket"/> is not a bucket address.</exception>
    /// <exception cref="StorageException">The table's location is outside the bucket, or its metadata cannot be read.</exception>
    public async Task<IReadOnlyList<string>> TableFilesAsync(string bucket, IReadOnlyDictionary<string, string>? storageOptions, string tableKey, ManifestTable table,
        CancellationToken cancellationToken = default)
    {
        CheckBucket(bucket);
        await using var store = _stores.Open(bucket, storageOptions);
        var keys = await Tables.TableFiles.LiveDataFileKeysAsync(store, tableKey, table, cancellationToken).ConfigureAwait(false);
        return [.. keys.Order(StringComparer.Ordinal).Select(k => store.Bucket.Canonical + "/" + k)];
    }

    /// <summary>
    /// Reads a table's current data files (<see cref="TableFilesAsync"/>) with <paramref name="read"/>, which gets the
    /// table's manifest entry and its files. A run that replaces files of the table between the listing and the read (a
    /// full refresh; a merge or compaction of a plain Parquet table deletes the files it replaced) makes the read fail on
    /// a file that is gone: the table is then taken from the manifest as it is now and read once more. A failure on
    /// files that did not change is the read's own and is thrown as it is.
    /// </summary>
    /// <param name="bucket">The bucket whose manifest lists the table.</param>
    /// <param name="storageOptions">As a pipeline's <c>destination.storage_options</c>.</param>
    /// <param name="tableKey">The table's key in the manifest (<c>source/table</c>).</param>
    /// <param name="table">The table's manifest entry as the caller read it.</param>
    /// <param name="read">Reads the files (and may check the entry first).</param>
    /// <param name="cancellationToken">Stops reading.</param>
    /// <exception cref="ConfigException"><paramref name="bucket"/> is not a bucket address.</exception>
    /// <exception cref="TableChangedException">The table's files changed again while they were read the second time.</exception>
    public async Task<T> ReadTableFilesAsync<T>(string bucket, IReadOnlyDictionary<string, string>? storageOptions, string tableKey, ManifestTable table,
        Func<ManifestTable, IReadOnlyList<string>, Task<T>> read, CancellationToken cancellationToken = default)
    {
        var files = await TableFilesAsync(bucket, storageOptions, tableKey, table, cancellationToken).ConfigureAwait(false);
        try
        {
            return await read(table, files).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            if (await CurrentFilesAsync() is not (var now, var again) || again.SequenceEqual(files)) throw;
            try
            {
                return await read(now, again).ConfigureAwait(false);
            }
            catch (Exception retried) when (retried is not OperationCanceledException)
            {
                if (await CurrentFilesAsync() is not (_, var third) || third.SequenceEqual(again)) throw;
                throw new TableChangedException($"the table {tableKey} changed while it was read (a run replaced its files)", retried);
            }
        }

        async Task<(ManifestTable, IReadOnlyList<string>)?> CurrentFilesAsync() =>
            (await ManifestAsync(bucket, storageOptions, cancellationToken).ConfigureAwait(false)).Tables.TryGetValue(tableKey, out var entry)
                ? (entry, await TableFilesAsync(bucket, storageOptions, tableKey, entry, cancellationToken).ConfigureAwait(false))
                : null;
    }

    /// <summary>
    /// Maintains a pipeline's Iceberg/Delta tables: expires Iceberg snapshots older than <paramref name="expireOlderThan"/>
    /// (never the current one) and deletes the files only expired snapshots or old Delta removes still list. Holds the
    /// pipeline's run lock meanwhile, so no run of it commits at the same time. Its tables: every table of its source folder
    /// (<c>&lt;path&gt;/&lt;source&gt;/</c>, whichever pipeline wrote it last) and every table the manifest says it wrote last.
    /// </summary>
    public Task<Tables.PipelineMaintenance> MaintainAsync(string name, TimeSpan expireOlderThan, CancellationToken cancellationToken = default) =>
        MaintainAsync(name, expireOlderThan, compactTargetFileMb: null, cancellationToken);

    /// <summary>
    /// As above, and with <paramref name="compactTargetFileMb"/> set, first compacts every table of the pipeline (plain
    /// Parquet, Iceberg and Delta): per partition, files smaller than that many MB are rewritten into files of about
    /// that size, committed as one journaled lake commit (an Iceberg <c>replace</c> snapshot, a Delta
    /// <c>dataChange: false</c> entry; plain Parquet tables lose the rewritten files in the same commit).
    /// </summary>
    /// <remarks>
    /// <see cref="Tables.PipelineMaintenance.Notices"/> says when a killed run's commit was completed or rolled back
    /// first, and when that run has no run log (it was stopped before writing one, so <c>status</c> and <c>logs</c> do
    /// not show it).
    /// </remarks>
    public async Task<Tables.PipelineMaintenance> MaintainAsync(string name, TimeSpan expireOlderThan, int? compactTargetFileMb,
        CancellationToken cancellationToken = default)
    {
        if (compactTargetFileMb is <= 0) throw new ArgumentOutOfRangeException(nameof(compactTargetFileMb), "the compaction target must be at least 1 MB");
        // Past 100 years "now minus the age" leaves the calendar, which failed only once the lock was taken.
        if (!Durations.IsTaken(expireOlderThan))
            throw new ArgumentOutOfRangeException(nameof(expireOlderThan), $"the age must be at least {Durations.Describe(Durations.Shortest)} and at most {Durations.Describe(Durations.Longest)} (100 years)");
        var pipeline = Load(name);
        // Compaction writes new files into the table folders, as a run does.
        if (compactTargetFileMb is not null) PipelineRunner.RefuseUnsafeLocation(pipeline, pipeline.Source.Name);
        await using var store = _stores.Open(pipeline.Destination.Bucket, pipeline.Destination.StorageOptions);
        await using var runLock = await RunLock.AcquireAsync(store, pipeline.Name, RunLock.MaintainRunIdPrefix + Guid.NewGuid().ToString("N")[..8], _time, cancellationToken).ConfigureAwait(false);
        // A lost lock stops maintain as it stops a run: another run may be writing as this pipeline by then.
        using var work = runLock.WorkCancellation(cancellationToken);
        // Kept outside the try: a maintain that fails still says what it did and left (Tables.PipelineMaintenance.NoticesOf).
        var notices = new List<string>();
        var step = Tables.MaintainSteps.Recover;
        try
        {
            // A run (or a compaction) killed mid-commit is finished first: its journal is the pipeline's one.
            // As every run does: a killed run's private folder (its expanded tap config) of any pipeline, renamed or deleted ones too.
            // (A temp folder that cannot be used is a run's failure, not maintenance's: nothing to clean then.)
            try { notices.AddRange(PrivateTempRoot.RemoveKilledRunFoldersOfCurrentUser()); }
            catch (StorageException) { }
            var interrupted = await InterruptedRunAsync(store, pipeline.Name, work.Token).ConfigureAwait(false);
            if (await new LakeCommitter(store, _time).RecoverAsync(pipeline.Name, work.Token).ConfigureAwait(false) is { } recovered)
            {
                notices.Add(recovered.Notice);
                // A run writes its log after its commit: one killed in the commit never did, and only this notice tells of it.
                if (interrupted is { } run && !await store.ExistsAsync(LakePaths.LogKey(pipeline.Name, run.StartedAt, run.RunId), work.Token).ConfigureAwait(false))
                    notices.Add($"run {run.RunId} (started {run.StartedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture)}) has no run log: " +
                        "it was stopped before writing one, so status and logs do not show it");
            }
            // Every table the pipeline lands (its source folder's), also one another pipeline of the source wrote last.
            var covered = Tables.MaintainedTables.Of(pipeline);
            step = Tables.MaintainSteps.Compact;
            var compacted = compactTargetFileMb is { } mb
                ? await new Tables.TableCompaction(store, _time).RunAsync(pipeline.Name, pipeline.Destination.Compression, mb * 1024L * 1024,
                    new Parquet.WriteLimits().WithFileLimitsOf(pipeline.Destination), covered, work.Token, runLock, notices).ConfigureAwait(false)
                : [];
            var skipped = new List<string>();
            step = Tables.MaintainSteps.Expire;
            var results = await new Tables.TableMaintenance(store, _time).RunAsync(pipeline.Name, expireOlderThan, covered, work.Token, runLock, notices, skipped).ConfigureAwait(false);
            await SplitRun.RemoveSettledLocksAsync(store, pipeline.Name, work.Token).ConfigureAwait(false);
            foreach (var c in compacted)
            {
                var index = results.FindIndex(r => r.Table == c.Table);
                if (index >= 0)
                    results[index] = results[index] with { CompactedFiles = c.RewrittenFiles, WrittenFiles = c.WrittenFiles, DeletedFiles = [.. c.DeletedFiles, .. results[index].DeletedFiles] };
                else results.Add(new Tables.TableMaintenanceResult(c.Table, 0, 0, c.DeletedFiles, c.RewrittenFiles, c.WrittenFiles));
            }
            return new Tables.PipelineMaintenance(results, notices, skipped);
        }
        catch (Exception e) when (e is not OutOfMemoryException && runLock.MaintainLostError(e) is { } lost)
        {
            // Whatever failed once the lock was lost (a cancelled call, above all) is its consequence.
            throw Tables.PipelineMaintenance.WithFailure(lost, step, notices);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Tables.PipelineMaintenance.WithFailure(e, step, notices);
            throw;
        }
    }

    /// <summary>
    /// The run whose commit journal the pipeline has (a killed run's), read before recovery replays and deletes it; null
    /// for none, a compaction's or an expiry's (neither has a run log), or a journal recovery will refuse (damaged, or of a later format).
    /// </summary>
    private static async Task<(string RunId, DateTimeOffset StartedAt)?> InterruptedRunAsync(IObjectStore store, string pipeline, CancellationToken cancellationToken)
    {
        if (await store.GetAsync(LakeCommitter.JournalKey(pipeline), cancellationToken).ConfigureAwait(false) is not { } journal) return null;
        try
        {
            var plan = CommitPlan.Read(journal.Content, LakeCommitter.JournalKey(pipeline));
            return plan.HoldsTablesOnly || plan.IsCompaction ? null : (plan.RunId, plan.StartedAt);
        }
        catch (StorageException)
        {
            return null; // damaged, or of a later format: recovery refuses it, naming why
        }
    }

    /// <summary>
    /// Checks a pipeline without running it, as <c>dataspoc-pipe validate</c> does: its YAML and tap config, every
    /// <c>${VAR}</c> it needs (set in the environment or the home's <c>.env</c>, or given a default; for a scheduled
    /// pipeline one only this process's environment sets is a warning), its transform maps, that its tap is found and
    /// answers <c>--help</c> or <c>--about</c>, that its catalog selection matches what the tap discovers, and that its
    /// bucket allows write, read, list and delete (a small probe object under <c>.dataspoc/probe/</c>, deleted again).
    /// Every problem names its file and key (and line, for YAML).
    /// </summary>
    /// <exception cref="ConfigException">No pipeline has that name.</exception>
    public Task<PipelineValidation> ValidateAsync(string name, CancellationToken cancellationToken = default)
    {
        if (_home.FindPipelineFile(name) is null) throw UnknownPipeline(name);
        return new PipelineChecks(_home, _stores, _environment, BucketReadTimeout).RunAsync(name, cancellationToken);
    }

    /// <summary>
    /// The machine's zone, which cron reads a crontab line's schedule in unless the crontab sets <c>CRON_TZ</c> above it
    /// (the times this client returns are UTC).
    /// </summary>
    public string ScheduleTimeZone => _scheduleTimeZone.Id;

    /// <summary>The zone cron reads <paramref name="entry"/>'s schedule in: the crontab's <c>CRON_TZ</c> above it, else the machine's.</summary>
    public string TimeZoneOf(CrontabEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return entry.CronTimeZone ?? ScheduleTimeZone;
    }

    /// <summary>
    /// When <paramref name="cron"/> fires next after now, reading it in the machine's zone (<see cref="ScheduleTimeZone"/>);
    /// null for no schedule or an invalid expression. For a crontab line, <see cref="NextRun(CrontabEntry)"/> also
    /// heeds its <c>CRON_TZ</c>.
    /// </summary>
    public DateTimeOffset? NextRun(string? cron) => NextRun(cron, _scheduleTimeZone);

    /// <summary>When cron runs <paramref name="entry"/> next, in its <c>CRON_TZ</c> or the machine's zone; null when that zone is unknown here.</summary>
    public DateTimeOffset? NextRun(CrontabEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (entry.CronTimeZone is null) return NextRun(entry.Cron, _scheduleTimeZone);
        return CronTimeZones.Find(entry.CronTimeZone) is { } zone ? NextRun(entry.Cron, zone) : null;
    }

    private DateTimeOffset? NextRun(string? cron, TimeZoneInfo zone)
    {
        if (string.IsNullOrWhiteSpace(cron)) return null;
        try
        {
            return CronSchedule.Parse(cron).NextAfter(_time.GetUtcNow(), zone)?.ToUniversalTime();
        }
        catch (CronFormatException)
        {
            return null;
        }
    }

    /// <summary>
    /// The latest runs first: keys sort by start second, and runs that started in the same second are ordered by their
    /// logs' <c>started_at</c>. Every front end reads "the latest run" here.
    /// </summary>
    private async Task<IReadOnlyList<RunLog>> ReadLogsAsync(PipelineDefinition pipeline, int limit, CancellationToken cancellationToken)
    {
        var keys = await LogKeysAsync(pipeline, Math.Max(0, limit), cancellationToken).ConfigureAwait(false);
        var logs = new List<RunLog>();
        var cut = Math.Min(keys.Count, Math.Max(0, limit));
        while (cut > 0 && cut < keys.Count && SameSecond(keys[cut - 1], keys[cut])) cut++;
        foreach (var key in keys.Take(cut))
            if (await ReadLogAsync(pipeline, key, cancellationToken).ConfigureAwait(false) is { } log) logs.Add(log);
        return logs.OrderByDescending(l => l.StartedAt).Take(Math.Max(0, limit)).ToList();
    }

    /// <summary>
    /// A pipeline's run log keys, greatest (latest second) first: all of them, or (with <paramref name="wanted"/>) at least
    /// the latest that many where there are (every key of each month listed). A pipeline run every five minutes has
    /// ~105,000 logs after a year, which an object store lists 1,000 a request, oldest first: a status must not list
    /// them all. So the listing stops after one page's worth; a longer history is listed day by day (keys start with
    /// the run's UTC time), newest first, skipping each month without a log at the cost of one key, until enough are
    /// found, and only then, for a pipeline idle for over <see cref="RecentLogMonths"/> months, whole. The latest log then
    /// costs one page, a few months' first keys and a day or two of keys, however long the history.
    /// </summary>
    private async Task<List<string>> LogKeysAsync(PipelineDefinition pipeline, int? wanted, CancellationToken cancellationToken)
    {
        await using var store = _stores.Open(pipeline.Destination.Bucket, pipeline.Destination.StorageOptions);
        var prefix = LakePaths.LogsPrefix(pipeline.Name);
        var keys = await ListLogKeysAsync(store, prefix, wanted is null ? null : LogListingPage, cancellationToken).ConfigureAwait(false);
        if (keys is null && wanted is { } n)
        {
            keys = [];
            // From next month (and tomorrow within it): a run's clock may be ahead of this machine's.
            var now = _time.GetUtcNow().UtcDateTime;
            var tomorrow = DateOnly.FromDateTime(now).AddDays(1);
            var month = new DateOnly(now.Year, now.Month, 1).AddMonths(1);
            for (var i = 0; i < RecentLogMonths && keys.Count < Math.Max(n, 1); i++, month = month.AddMonths(-1))
            {
                var monthPrefix = prefix + month.ToString("yyyy-MM", CultureInfo.InvariantCulture);
                if (await ListLogKeysAsync(store, monthPrefix, 1, cancellationToken).ConfigureAwait(false) is not null) continue;
                // Day by day, newest first: a month of a pipeline run every minute holds ~44,000 logs.
                var last = month.AddMonths(1).AddDays(-1);
                for (var day = last > tomorrow && month <= tomorrow ? tomorrow : last; day >= month && keys.Count < Math.Max(n, 1); day = day.AddDays(-1))
                    keys.AddRange(await ListLogKeysAsync(store, prefix + day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), null, cancellationToken).ConfigureAwait(false) ?? []);
            }
            if (keys.Count < Math.Max(n, 1)) keys = null;
        }
        keys ??= await ListLogKeysAsync(store, prefix, null, cancellationToken).ConfigureAwait(false) ?? [];
        keys.Sort(StringComparer.Ordinal);
        keys.Reverse();
        return keys;
    }

    /// <summary>How many log keys one listing takes before a longer history is listed month by month (an object store's page).</summary>
    internal const int LogListingPage = 1000;

    /// <summary>How many months back a long history is listed month by month before it is listed whole.</summary>
    internal const int RecentLogMonths = 25;

    /// <summary>
    /// The run log keys under <paramref name="prefix"/>; null once <paramref name="atMost"/> are read (there may be more:
    /// stopping there keeps the listing to one request of an object store).
    /// </summary>
    private static async Task<List<string>?> ListLogKeysAsync(IObjectStore store, string prefix, int? atMost, CancellationToken cancellationToken)
    {
        var keys = new List<string>();
        await foreach (var o in store.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
        {
            if (!o.Key.EndsWith(".json", StringComparison.Ordinal)) continue;
            keys.Add(o.Key);
            if (keys.Count == atMost) return null;
        }
        return keys;
    }

    /// <summary>
    /// The log at <paramref name="key"/> (null when it is gone); one that does not parse (a truncated upload, a hand
    /// edit) comes back as <see cref="RunLog.Damaged"/> naming it, so it neither hides the pipeline's other logs nor goes unnoticed.
    /// </summary>
    private async Task<RunLog?> ReadLogAsync(PipelineDefinition pipeline, string key, CancellationToken cancellationToken)
    {
        await using var store = _stores.Open(pipeline.Destination.Bucket, pipeline.Destination.StorageOptions);
        if (await store.GetAsync(key, cancellationToken).ConfigureAwait(false) is not { } stored) return null;
        RunLog log;
        try
        {
            log = LakeJson.Deserialize<RunLog>(stored.Content, "run log " + key);
        }
        catch (JsonException e)
        {
            log = RunLog.Damaged(pipeline.Name, key, $"run log {key} in {pipeline.Destination.Bucket} is not valid JSON ({e.Message}): skipped");
        }
        // Logs are redacted when written; masking again covers secrets added to the config since.
        log.Redact(PipelineSecrets.Of(pipeline).Redact);
        return log;
    }

    /// <summary>Log keys are <c>…/&lt;YYYY-MM-DDTHH-MM-SSZ&gt;_&lt;run&gt;.json</c>.</summary>
    private static bool SameSecond(string a, string b)
    {
        var ia = a.LastIndexOf('_');
        var ib = b.LastIndexOf('_');
        return ia > 0 && ia == ib && string.CompareOrdinal(a, 0, b, 0, ia) == 0;
    }
}
