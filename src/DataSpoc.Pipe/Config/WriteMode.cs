namespace DataSpoc.Pipe.Config;

/// <summary><c>destination.write_mode</c>: what a run does to the rows its tables already hold.</summary>
public enum WriteMode
{
    /// <summary>Every record becomes another row.</summary>
    Append,
    /// <summary>The table holds the latest row per key (<c>key_properties</c>); <c>_sdc_deleted_at</c> deletes a key.</summary>
    Merge,
    /// <summary>Every run replaces the table.</summary>
    Replace,
}

/// <summary><c>destination.merge</c>: how <see cref="WriteMode.Merge"/> picks the row of a key.</summary>
public sealed record MergeSettings
{
    /// <summary>
    /// The column whose greatest value wins among a run's records of one key (ties: the later record); null: the last
    /// record of the key wins.
    /// </summary>
    public string? OrderBy { get; init; }
    /// <summary>A record whose <c>_sdc_deleted_at</c> is not null removes its key (true) or is kept as the key's row (false).</summary>
    public bool HardDelete { get; init; } = true;

    /// <summary>The Singer column that marks a deleted row (log-based taps).</summary>
    public const string DeletedAtColumn = "_sdc_deleted_at";
}

public static class WriteModes
{
    /// <summary>
    /// Whether a run replaces its tables: <c>--full</c> always does (a one-off reset); otherwise the explicit write mode
    /// decides, and without one a full pipeline (incremental disabled) replaces, an incremental one appends.
    /// </summary>
    public static bool Replaces(PipelineDefinition pipeline, bool fullRefreshRequested) =>
        fullRefreshRequested || pipeline.Destination.WriteMode switch
        {
            WriteMode.Replace => true,
            WriteMode.Append or WriteMode.Merge => false,
            _ => !pipeline.Incremental.Enabled,
        };

    /// <summary>
    /// Whether a run reads the whole source, handing the tap no state (no bookmark): <c>--full</c>, a full pipeline
    /// (incremental disabled), and <c>write_mode: replace</c>, whose table must hold the whole source, as it replaces
    /// every row: a replace of only what is new since the bookmark would drop the rest (the rows of files that did not
    /// change, of a database's earlier rows).
    /// </summary>
    public static bool ReadsWholeSource(PipelineDefinition pipeline, bool fullRefreshRequested) =>
        fullRefreshRequested || !pipeline.Incremental.Enabled || pipeline.Destination.WriteMode == WriteMode.Replace;

    public static WriteMode? Parse(string? text) => text?.ToLowerInvariant() switch
    {
        null => null,
        "append" => WriteMode.Append,
        "merge" => WriteMode.Merge,
        "replace" => WriteMode.Replace,
        _ => throw new FormatException($"expected append, merge or replace, got '{text}'"),
    };
}
