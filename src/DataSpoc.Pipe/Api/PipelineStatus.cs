using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using DataSpoc.Pipe.Config;

namespace DataSpoc.Pipe.Api;

/// <summary>A pipeline's latest run and the next run cron will make.</summary>
/// <param name="Pipeline">The pipeline's name.</param>
/// <param name="Status"><c>success</c>, <c>failure</c> or <c>cancelled</c> (its latest run; <c>cancelled</c>: stopped by its caller or a signal, nothing of it committed), <c>never run</c>, <c>invalid</c> (its YAML does not load), <c>unknown</c> (its bucket could not be read), or <c>not in home</c> (<see cref="PipeClient.NotInHome"/>: a crontab line of this home runs a pipeline it does not have, deleted or renamed; <see cref="ScheduleProblem"/> says so).</param>
/// <param name="LastRun">When the latest run started.</param>
/// <param name="DurationSeconds">How long the latest run took.</param>
/// <param name="Records">Records the latest run wrote.</param>
/// <param name="RunId">The latest run's id.</param>
/// <param name="Schedule">The pipeline's <c>schedule.cron</c>, if set.</param>
/// <param name="NextRun">The next time cron runs the pipeline, in UTC: from its line in the user's crontab (read in <paramref name="ScheduleTimeZone"/>); null when the crontab has no line for it.</param>
/// <param name="Error">Why the latest run failed, or why the status is invalid/unknown (secrets masked).</param>
/// <param name="ScheduleTimeZone">The zone cron reads the pipeline's crontab line in (or would, once installed): the crontab's <c>CRON_TZ</c> above the line, else the machine's.</param>
public sealed record PipelineStatus(string Pipeline, string Status, DateTimeOffset? LastRun, double? DurationSeconds, long? Records,
    string? RunId, string? Schedule, DateTimeOffset? NextRun, string? Error, string ScheduleTimeZone)
{
    /// <summary>The schedule of the pipeline's line in the user's crontab (what cron runs); null when it has none.</summary>
    public string? InstalledSchedule { get; init; }

    /// <summary>
    /// Why the runs cron makes are not what <see cref="Schedule"/> asks for, e.g. <c>not installed: cron does not run it
    /// (run: dataspoc-pipe schedule install)</c>, a crontab line left from an earlier schedule, a line whose command an
    /// earlier version or another binary wrote, or a line running a pipeline not in the home; null when they agree.
    /// </summary>
    public string? ScheduleProblem { get; init; }

    /// <summary>The pipeline's <c>schedule.maintain.cron</c>, if set.</summary>
    public string? MaintainSchedule { get; init; }

    /// <summary>
    /// The next time cron runs <c>maintain</c> on the pipeline, in UTC: from its maintain line in the user's crontab (read
    /// in <see cref="MaintainTimeZone"/>, as <see cref="NextRun"/> is in <see cref="ScheduleTimeZone"/>); null when the crontab has no such line.
    /// </summary>
    public DateTimeOffset? NextMaintain { get; init; }

    /// <summary>
    /// The zone cron reads the pipeline's maintain line in (or would, once installed), by <see cref="ScheduleTimeZone"/>'s
    /// rule: the crontab's <c>CRON_TZ</c> above that line, else the machine's. Null when the pipeline has neither
    /// <c>schedule.maintain</c> nor a maintain line.
    /// </summary>
    public string? MaintainTimeZone { get; init; }

    /// <summary>
    /// Why the maintains cron makes are not what <see cref="MaintainSchedule"/> asks for (not installed, a line left from
    /// an earlier <c>schedule.maintain</c>, other options, an earlier version's line), as <see cref="ScheduleProblem"/>
    /// says it of runs; null when they agree.
    /// </summary>
    public string? MaintainProblem { get; init; }

    /// <summary>
    /// The run (or <c>maintain</c>) of the pipeline in progress now: the holder of its lock, unless that lock is stale (its
    /// process is gone or its lease expired: a killed run's); else the part workers of a split run holding live part locks
    /// (<c>run --part</c>, which run without the pipeline's lock). Null when none is. The other fields still describe the
    /// latest run that ended.
    /// </summary>
    public RunInProgress? Running { get; init; }

    /// <summary>
    /// The pipeline's run logs newer than the one shown that could not be read (each named by its bucket key, with what
    /// is wrong): the other fields describe the latest readable run. Null when none is damaged.
    /// </summary>
    public string? DamagedLogs { get; init; }
}

/// <summary>A run, <c>maintain</c> or split run in progress: what its pipeline's lock, or its part workers' locks, record.</summary>
/// <param name="Kind"><c>run</c>, <c>maintain</c>, or <c>part</c> (part workers of a split run; <see cref="Parts"/> lists them).</param>
/// <param name="RunId">Its run id (a maintain's starts with <c>maintain-</c>; a run's is the one its run log will have); for <c>part</c>, the split run's id (<c>--split-run</c>).</param>
/// <param name="Since">When it took the lock; for <c>part</c>, when the first of its live part workers did.</param>
/// <param name="Host">The machine it runs on (for <c>part</c>, the first live part worker's).</param>
/// <param name="Pid">Its process id on that machine (for <c>part</c>, the first live part worker's).</param>
public sealed record RunInProgress(string Kind, string RunId, DateTimeOffset Since, string Host, int Pid)
{
    /// <summary>For <c>part</c>: each live part worker of the split run, by part index; null for a run or maintain.</summary>
    public IReadOnlyList<PartInProgress>? Parts { get; init; }

    /// <summary>
    /// Its process as a run refused for its lock names it: <c>pid P on HOST</c>, or, for a pid this process cannot look at,
    /// where it is (<c>pid 1 in another PID namespace on HOST, such as a container's</c>, <c>pid P on host HOST</c>).
    /// </summary>
    public string Process { get; init; } = "";

    /// <summary>
    /// Null when this process can look at it (it runs); else, as a run refused for its lock says, that it cannot be checked
    /// from here and when its lease runs out if it was killed (<c>cannot be checked from here: ...</c>).
    /// </summary>
    public string? Unchecked { get; init; }
}

/// <summary>One part worker of a split run in progress (<c>run --part I/N</c>): what its part's lock records.</summary>
/// <param name="Part">Its part index I.</param>
/// <param name="RunId">The worker's own run id (its run log's).</param>
/// <param name="Since">When it took its part's lock.</param>
/// <param name="Host">The machine (pod) it runs on.</param>
/// <param name="Pid">Its process id there.</param>
public sealed record PartInProgress(int Part, string RunId, DateTimeOffset Since, string Host, int Pid)
{
    /// <summary>Its process as <see cref="RunInProgress.Process"/> names one.</summary>
    public string Process { get; init; } = "";
}

/// <summary>What <see cref="PipeClient.StreamsAsync"/> found.</summary>
/// <param name="Pipeline">The pipeline's name.</param>
/// <param name="CatalogFile">Where the discovered catalog is cached (null when it is not: a built-in tap).</param>
/// <param name="Discovered">True when the tap was asked now, false when the cached catalog was used.</param>
/// <param name="AllStreams">True when the pipeline has no <c>source.streams</c> (every stream is extracted).</param>
/// <param name="Capabilities">How a run passes the catalog to the tap, and where that was learnt.</param>
/// <param name="Streams">Each stream with its selection, key, replication and column count.</param>
public sealed record PipelineStreams(string Pipeline, string? CatalogFile, bool Discovered, bool AllStreams, Sources.TapCapabilities Capabilities,
    IReadOnlyList<Sources.StreamCatalog.Entry> Streams)
{
    /// <summary>Why there are no streams to show when the tap has no catalog (it cannot discover); null otherwise.</summary>
    public string? Note { get; init; }
    /// <summary>What changed in the tap's catalog since the cached one (streams, columns), and a cache that could not be read or written.</summary>
    public IReadOnlyList<string> Changes { get; init; } = [];

    /// <summary>The document <c>streams NAME --output json</c> prints and the MCP tool <c>list_streams</c> answers.</summary>
    public JsonObject ToJson() => new()
    {
        ["pipeline"] = Pipeline,
        ["catalog"] = CatalogFile,
        ["discovered"] = Discovered,
        ["selection"] = AllStreams ? "all" : "listed",
        ["catalog_flags"] = new JsonArray([.. Capabilities.CatalogFlags.Select(f => (JsonNode)JsonValue.Create(f))]),
        ["catalog_flags_from"] = Capabilities.Origin,
        ["can_discover"] = Capabilities.CanDiscover,
        ["note"] = Note,
        ["changes"] = new JsonArray([.. Changes.Select(c => (JsonNode)JsonValue.Create(c))]),
        ["streams"] = new JsonArray([.. Streams.Select(e => (JsonNode)new JsonObject
        {
            ["stream"] = e.Stream,
            ["tap_stream_id"] = e.TapStreamId,
            ["selected"] = e.Selected,
            ["key_properties"] = new JsonArray([.. e.KeyProperties.Select(k => (JsonNode)JsonValue.Create(k))]),
            ["replication_method"] = e.ReplicationMethod,
            ["replication_key"] = e.ReplicationKey,
            ["columns"] = e.PropertyCount,
        })]),
    };
}

/// <summary>What <see cref="PipeClient.ValidateAsync"/> found.</summary>
/// <param name="Pipeline">The pipeline's name.</param>
/// <param name="Ok">True when every check passed (warnings allowed).</param>
/// <param name="Checks">Each check in the order it ran: config, variables, tap config, transforms, tap, catalog, bucket.</param>
/// <param name="Problems">Each failure, naming its key and file (and line, for YAML).</param>
public sealed record PipelineValidation(string Pipeline, bool Ok, IReadOnlyList<ValidationCheck> Checks, IReadOnlyList<ValidationProblem> Problems);

/// <summary>One check of <see cref="PipeClient.ValidateAsync"/>.</summary>
/// <param name="Check">What was checked: <c>config</c>, <c>schedule</c> (fails for a cron expression that matches no date), <c>variables</c>, <c>tables</c> (a warning: another pipeline lands in the same folder from another source), <c>tap config</c>, <c>transforms</c>, <c>tap</c>, <c>catalog</c> or <c>bucket</c>.</param>
/// <param name="Ok">Whether it passed.</param>
/// <param name="Detail">What was found (secrets masked).</param>
/// <param name="Warning">Passed, but something will fail later (a variable a scheduled run will not have).</param>
public sealed record ValidationCheck(string Check, bool Ok, string Detail,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] bool Warning = false);

/// <summary>One configuration problem.</summary>
/// <param name="Key">The dotted key, e.g. <c>transforms.orders.rename</c> or <c>destination.compression</c>.</param>
/// <param name="File">The file it is in.</param>
/// <param name="Line">The 1-based line, when known.</param>
/// <param name="Message">The full message (file, line, key and reason; never a secret).</param>
public sealed record ValidationProblem(string? Key, string? File, int? Line, string Message)
{
    internal static ValidationProblem From(ConfigException e) => new(e.Key, e.File, e.Line, e.Message);
}

/// <summary>What <see cref="PipeClient.ExpireLogsAsync"/> did: run logs deleted, and run logs the bucket still holds.</summary>
public sealed record RunLogExpiry(string Pipeline, int Deleted, int Kept);
