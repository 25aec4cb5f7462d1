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
    /// The longest error a log keeps: an error quoting a hostile value (a million digits, a 200 MB string) would make
    /// each failed run's log, its OpenLineage event and the terminal line that size, or fail to serialise at all and
    /// leave no log.
    /// </summary>
    public const int MaxErrorChars = 4000;

    private string? _error;

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
}

public sealed class RunLogTap
{
    [JsonPropertyName("command")] public string Command { get; set; } = "";
    [JsonPropertyName("exit_code")] public int? ExitCode { get; set; }
    [JsonPropertyName("stderr_tail")] public string StderrTail { get; set; } = "";
}
