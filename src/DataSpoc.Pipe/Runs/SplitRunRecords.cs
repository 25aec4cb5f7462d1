using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using DataSpoc.Pipe.Lake;

namespace DataSpoc.Pipe.Runs;

// The files of a split run's staging folder (LakePaths.SplitRunPrefix); see SplitRun for who writes each and when.

/// <summary><c>plan.json</c>: the key ranges every worker reads, and whether the split run is a full refresh.</summary>
public sealed class SplitPlanRecord
{
    [JsonPropertyName("split_run")] public string SplitRun { get; set; } = "";
    [JsonPropertyName("created_at")] public DateTimeOffset CreatedAt { get; set; }
    [JsonPropertyName("full")] public bool Full { get; set; }
    /// <summary>How many parts the split run has (<c>source.split.parts</c> when the plan was made): its commit lands exactly these.</summary>
    [JsonPropertyName("parts")] public int Parts { get; set; }
    /// <summary>The source's own description of the ranges (for the postgres tap: column, type, boundaries, window).</summary>
    [JsonPropertyName("ranges")] public JsonObject Ranges { get; set; } = [];

    /// <summary>
    /// <see cref="Parts"/>; for a plan an earlier version wrote (without it), the postgres tap's <c>ranges.parts</c>
    /// (the only source that plans splits); 0 when neither says.
    /// </summary>
    [JsonIgnore]
    public int PartCount => Parts > 0 ? Parts : Ranges["parts"] is JsonValue v && v.TryGetValue<int>(out var n) ? n : 0;
}

/// <summary><c>done/part-NNNN.json</c>: what one part staged; its existence says the part is done.</summary>
public sealed class SplitPartRecord
{
    [JsonPropertyName("part")] public int Part { get; set; }
    [JsonPropertyName("parts")] public int Parts { get; set; }
    [JsonPropertyName("run_id")] public string RunId { get; set; } = "";
    [JsonPropertyName("finished_at")] public DateTimeOffset FinishedAt { get; set; }
    [JsonPropertyName("full")] public bool Full { get; set; }
    /// <summary>The part's last STATE (every part ends with the same one: the plan's bookmark).</summary>
    [JsonPropertyName("state")] public Singer.SingerState? State { get; set; }
    [JsonPropertyName("streams")] public List<SplitStreamRecord> Streams { get; set; } = [];
}

public sealed class SplitStreamRecord
{
    [JsonPropertyName("stream")] public string Stream { get; set; } = "";
    [JsonPropertyName("table")] public string Table { get; set; } = "";
    [JsonPropertyName("records")] public long Records { get; set; }
    [JsonPropertyName("key_properties")] public List<string> KeyProperties { get; set; } = [];
    [JsonPropertyName("activated_version")] public long? ActivatedVersion { get; set; }
    [JsonPropertyName("columns")] public List<ManifestColumn> Columns { get; set; } = [];
    /// <summary>The columns the part's map hashed (the manifest entry's <c>hashed_columns</c>); null from workers of builds before the field.</summary>
    [JsonPropertyName("hashed_columns")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public List<string>? HashedColumns { get; set; }
    [JsonPropertyName("files")] public List<SplitFileRecord> Files { get; set; } = [];
    /// <summary>The staged key of the part's rejected records, when <c>on_invalid_record: quarantine</c> kept some.</summary>
    [JsonPropertyName("quarantine")] public string? Quarantine { get; set; }
}

public sealed class SplitFileRecord
{
    [JsonPropertyName("staged")] public string Staged { get; set; } = "";
    /// <summary>The partition folder under the table (<c>dt=2024-01-01/</c>), empty when not partitioned.</summary>
    [JsonPropertyName("folder")] public string Folder { get; set; } = "";
    [JsonPropertyName("rows")] public long Rows { get; set; }
    [JsonPropertyName("bytes")] public long Bytes { get; set; }
}

/// <summary><c>commit-claim.json</c>: the part that makes the commit.</summary>
public sealed class SplitClaim
{
    [JsonPropertyName("part")] public int Part { get; set; }
    [JsonPropertyName("run_id")] public string RunId { get; set; } = "";
    [JsonPropertyName("claimed_at")] public DateTimeOffset ClaimedAt { get; set; }
}

/// <summary><c>committed.json</c>: the split run landed; its parts are neither read nor committed again.</summary>
public sealed class SplitCommitted
{
    [JsonPropertyName("run_id")] public string RunId { get; set; } = "";
    [JsonPropertyName("committed_at")] public DateTimeOffset CommittedAt { get; set; }
    [JsonPropertyName("parts")] public int Parts { get; set; }
    [JsonPropertyName("rows")] public long Rows { get; set; }
}
