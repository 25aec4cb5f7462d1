using System.Text.Json.Serialization;

namespace DataSpoc.Pipe.Lake;

/// <summary>One run's log, <c>.dataspoc/logs/&lt;pipeline&gt;/&lt;YYYY-MM-DDTHH-MM-SSZ&gt;_&lt;run&gt;.json</c>, written for success and failure alike.</summary>
public sealed class RunLog
{
    [JsonPropertyName("pipeline")] public string Pipeline { get; set; } = "";
    [JsonPropertyName("run_id")] public string RunId { get; set; } = "";
    [JsonPropertyName("started_at")] public DateTimeOffset StartedAt { get; set; }
    [JsonPropertyName("finished_at")] public DateTimeOffset FinishedAt { get; set; }
    [JsonPropertyName("duration_seconds")] public double DurationSeconds { get; set; }
    /// <summary><c>success</c> or <c>failure</c>.</summary>
    [JsonPropertyName("status")] public string Status { get; set; } = "";
    /// <summary><c>incremental</c> or <c>full</c>.</summary>
    [JsonPropertyName("mode")] public string Mode { get; set; } = "";
    [JsonPropertyName("streams")] public SortedDictionary<string, RunLogStream> Streams { get; set; } = new(StringComparer.Ordinal);
    [JsonPropertyName("total_records")] public long TotalRecords { get; set; }
    [JsonPropertyName("state_committed")] public bool StateCommitted { get; set; }
    [JsonPropertyName("error")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Error { get => _error; set => _error = Bounded(value); }
    /// <summary>The step that failed: <c>extract</c>, <c>write</c> or <c>commit</c>.</summary>
    [JsonPropertyName("failed_step")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? FailedStep { get; set; }
    [JsonPropertyName("tap")] public RunLogTap Tap { get; set; } = new();
    [JsonPropertyName("tool_version")] public string ToolVersion { get; set; } = "";
    /// <summary>Things the run noticed and handled (stale lock taken over, leftover temp files removed, unknown messages…).</summary>
    [JsonPropertyName("notices")] public List<string> Notices { get; set; } = [];

    /// <summary>
    /// The notices a front end also prints as warnings (stderr): where a configured hash left values in clear text
    /// (<see cref="HashedColumns"/>); a run that committed but left its state to the next run (<see cref="LakeCommitter.IsCommittedNotice"/>).
    /// </summary>
    [JsonIgnore] public IEnumerable<string> Warnings => Notices.Where(n => HashedColumns.IsNotice(n) || LakeCommitter.IsCommittedNotice(n));

    /// <summary>
    /// The interrupted commit of a killed run that this run completed first (<see cref="LakeCommitter.RecoverAsync"/>): that
    /// run never wrote a log, so its rows are counted here, apart from this run's own <see cref="Streams"/>. Null when this
    /// run completed none.
    /// </summary>
    [JsonPropertyName("recovered")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public RecoveredCommit? Recovered { get; set; }

    /// <summary>
    /// The rows this run landed: its own (<see cref="TotalRecords"/>) and those of the killed run's commit it completed
    /// (<see cref="Recovered"/>), which no other log counts. What a view of rows landed per run shows.
    /// </summary>
    [JsonIgnore] public long LandedRecords => TotalRecords + (Recovered?.Records ?? 0);

    /// <summary>The <see cref="Status"/> of a log that could not be read (<see cref="Damaged"/>).</summary>
    public const string DamagedStatus = "damaged";

    /// <summary>Whether this stands for a log in the bucket that could not be read (<see cref="Damaged"/>).</summary>
    [JsonIgnore] public bool IsDamaged => Status == DamagedStatus;

    /// <summary>
    /// Stands for the log at <paramref name="key"/>, which does not parse: its run id and start (to the second) from the
    /// key, status <c>damaged</c>, <paramref name="problem"/> (naming the key and what is wrong) as its error.
    /// </summary>
    public static RunLog Damaged(string pipeline, string key, string problem) => new()
    {
        Pipeline = pipeline,
        RunId = LakePaths.RunIdOfLogKey(key),
        StartedAt = LakePaths.StartOfLogKey(key) ?? default,
        Status = DamagedStatus,
        Error = problem,
    };

    /// <summary>
    /// The longest error a log keeps: an error quoting a hostile value (a million digits, a 200 MB string) would make
    /// each failed run's log, its OpenLineage event and the terminal line that size, or fail to serialise at all and
    /// leave no log.
    /// </summary>
    public const int MaxErrorChars = 4000;

    private string? _error;

    /// <summary>
    /// Masks every text of the log through <paramref name="redact"/>: the error, the notices, the tap's command and
    /// stderr, and the map keys that come from the tap's data (stream names, dropped property names), which a tap may
    /// name after anything it reads, a secret of its environment included. Keys that mask to one text are added together.
    /// </summary>
    internal void Redact(Func<string, string> redact)
    {
        Error = Error is null ? null : redact(Error);
        Notices = Notices.Select(redact).ToList();
        Tap.Command = redact(Tap.Command);
        Tap.StderrTail = redact(Tap.StderrTail);
        var streams = new SortedDictionary<string, RunLogStream>(StringComparer.Ordinal);
        foreach (var (name, stream) in Streams)
        {
            var dropped = new SortedDictionary<string, long>(StringComparer.Ordinal);
            foreach (var (property, count) in stream.DroppedProperties)
            {
                var maskedProperty = redact(property);
                dropped[maskedProperty] = dropped.GetValueOrDefault(maskedProperty) + count;
            }
            stream.DroppedProperties = dropped;
            var masked = redact(name);
            streams[masked] = streams.TryGetValue(masked, out var same) ? same.Plus(stream) : stream;
        }
        Streams = streams;
    }

    private static string? Bounded(string? error) =>
        error is null || error.Length <= MaxErrorChars ? error : error[..MaxErrorChars] + $" … ({error.Length - MaxErrorChars} more characters)";
}

public sealed class RunLogStream
{
    [JsonPropertyName("records")] public long Records { get; set; }
    [JsonPropertyName("rejected")] public long Rejected { get; set; }
    [JsonPropertyName("filtered")] public long Filtered { get; set; }
    [JsonPropertyName("files")] public long Files { get; set; }
    [JsonPropertyName("bytes")] public long Bytes { get; set; }
    /// <summary>Properties present in records but not in the schema, dropped (counted, never silently).</summary>
    [JsonPropertyName("dropped_properties")] public SortedDictionary<string, long> DroppedProperties { get; set; } = new(StringComparer.Ordinal);
    /// <summary>
    /// Dropped properties beyond the <see cref="CappedCounts.MaxListed"/> that <see cref="DroppedProperties"/> lists; null
    /// when there are none.
    /// </summary>
    [JsonPropertyName("dropped_properties_unlisted")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public RunLogUnlisted? DroppedPropertiesUnlisted { get; set; }

    /// <summary>The counts of two streams together (two stream names that the run log masks to one).</summary>
    internal RunLogStream Plus(RunLogStream other)
    {
        var dropped = new SortedDictionary<string, long>(DroppedProperties, StringComparer.Ordinal);
        foreach (var (property, count) in other.DroppedProperties) dropped[property] = dropped.GetValueOrDefault(property) + count;
        return new RunLogStream
        {
            Records = Records + other.Records,
            Rejected = Rejected + other.Rejected,
            Filtered = Filtered + other.Filtered,
            Files = Files + other.Files,
            Bytes = Bytes + other.Bytes,
            DroppedProperties = dropped,
            DroppedPropertiesUnlisted = RunLogUnlisted.Sum(DroppedPropertiesUnlisted, other.DroppedPropertiesUnlisted),
        };
    }
}

/// <summary>
/// Names counted apart from a listed few (<see cref="CappedCounts"/>): how many distinct ones (told apart up to
/// <see cref="CappedCounts.MaxUnlistedNamesCounted"/>: that count means at least that many), and how often they were met.
/// </summary>
public sealed record RunLogUnlisted(
    [property: JsonPropertyName("names")] long Names,
    [property: JsonPropertyName("occurrences")] long Occurrences)
{
    internal static RunLogUnlisted? Sum(RunLogUnlisted? a, RunLogUnlisted? b) =>
        a is null ? b : b is null ? a : new RunLogUnlisted(a.Names + b.Names, a.Occurrences + b.Occurrences);
}

public sealed class RunLogTap
{
    [JsonPropertyName("command")] public string Command { get; set; } = "";
    [JsonPropertyName("exit_code")] public int? ExitCode { get; set; }
    [JsonPropertyName("stderr_tail")] public string StderrTail { get; set; } = "";
}

/// <summary>
/// What a completed interrupted commit landed, from its journal: the rows its run read (a compaction's rewritten rows are
/// none) and the files, per table (the manifest's key), and in all.
/// </summary>
public sealed record RecoveredCommit(
    [property: JsonPropertyName("run_id")] string RunId,
    [property: JsonPropertyName("records")] long Records,
    [property: JsonPropertyName("files")] long Files,
    [property: JsonPropertyName("tables")] SortedDictionary<string, RecoveredTable> Tables);

/// <summary>One table's part of a <see cref="RecoveredCommit"/>.</summary>
public sealed record RecoveredTable(
    [property: JsonPropertyName("records")] long Records,
    [property: JsonPropertyName("files")] long Files);
