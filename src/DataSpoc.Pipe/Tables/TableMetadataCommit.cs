using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace DataSpoc.Pipe.Tables;

/// <summary>
/// One table's Iceberg/Delta change in a run, computed before the commit and kept in the commit journal, so a crash
/// after the data files landed is completed with the same snapshot by the next run.
/// </summary>
public sealed class TableMetadataCommit
{
    public const string Append = "append";
    public const string Overwrite = "overwrite";
    /// <summary>Compaction: <see cref="Removed"/> leave the table and <see cref="Files"/> (the same rows) join it.</summary>
    public const string Replace = "replace";
    /// <summary>
    /// A merge that rewrote files: <see cref="Removed"/> (the files it rewrote) leave the table and <see cref="Files"/> (the
    /// run's new files, the rewritten files' other rows among them) join it; every other file of the table stays. It is
    /// applied to the table as it is at commit time, so a commit that landed after the merge read the table (an append)
    /// keeps its files; the removed files are claimed before anything lands, so no other commit rewrote them meanwhile.
    /// </summary>
    public const string Merge = "merge";

    /// <summary>The manifest key (<c>&lt;source&gt;/&lt;table&gt;</c>).</summary>
    [JsonPropertyName("table_key")] public string TableKey { get; set; } = "";
    /// <summary><c>iceberg</c> and/or <c>delta</c>.</summary>
    [JsonPropertyName("formats")] public List<string> Formats { get; set; } = [];
    /// <summary>The table folder's key in the bucket, ending in '/'.</summary>
    [JsonPropertyName("prefix")] public string Prefix { get; set; } = "";
    /// <summary>The table folder as a URI (<c>file:///lake/raw/csv/orders</c>), no trailing '/'.</summary>
    [JsonPropertyName("location")] public string Location { get; set; } = "";
    /// <summary><see cref="Append"/> or <see cref="Overwrite"/> (full refresh, new ACTIVATE_VERSION).</summary>
    [JsonPropertyName("operation")] public string Operation { get; set; } = Append;
    [JsonPropertyName("partition_by")] public string PartitionBy { get; set; } = "";
    /// <summary>The Iceberg schema of the run's files' columns (fields with ids, no schema-id); Delta's schema derives from it.</summary>
    [JsonPropertyName("schema")] public JsonObject Schema { get; set; } = [];
    /// <summary>
    /// The table keeps its earlier live files (an append or a merge; a replace does not): the table's schema then keeps
    /// the columns only they hold (<see cref="FieldsKeepingEarlier"/>).
    /// </summary>
    [JsonPropertyName("keeps_earlier_files")] public bool KeepsEarlierFiles { get; set; }
    [JsonPropertyName("files")] public List<DataFileFacts> Files { get; set; } = [];
    /// <summary>For <see cref="Replace"/> and <see cref="Merge"/>: the keys of the files whose rows <see cref="Files"/> now hold.</summary>
    [JsonPropertyName("removed")] public List<string> Removed { get; set; } = [];
    /// <summary>The metadata file (Iceberg) that the commit made current, once done.</summary>
    [JsonPropertyName("iceberg_metadata")] public string? IcebergMetadata { get; set; }
    /// <summary>The log entry (Delta) that the commit wrote, once done.</summary>
    [JsonPropertyName("delta_log")] public string? DeltaLog { get; set; }

    public bool Has(string format) => Formats.Contains(format, StringComparer.Ordinal);

    /// <summary>The commit removes <see cref="Removed"/> from the table as it is when it commits, adds <see cref="Files"/> and keeps the rest.</summary>
    [JsonIgnore] public bool RemovesAndAdds => Operation is Replace or Merge;

    /// <summary>
    /// A table schema's top-level fields after this commit: <paramref name="fields"/> (the commit's), then, when the table
    /// keeps its earlier files, the fields of <paramref name="earlier"/> (its schema before the commit) that it lacks by
    /// name, as they were (Iceberg: optional, with their ids): those files still hold the columns, and a reader that
    /// takes the table's schema would otherwise lose their values without a word. A same-named field of another type
    /// is the commit's (a type change follows the ids' rules). The data columns come in the manifest's order (its
    /// columns follow the same rule), then <c>_extraction_date</c>, which no data file holds.
    /// </summary>
    internal JsonArray FieldsKeepingEarlier(JsonArray fields, JsonArray? earlier)
    {
        static string Name(JsonNode? field) => field!["name"]!.GetValue<string>();
        var names = fields.Select(Name).ToHashSet(StringComparer.Ordinal);
        var kept = KeepsEarlierFiles && earlier is not null ? earlier.Where(f => !names.Contains(Name(f))).ToList() : [];
        var extractionDate = fields.Where(f => Name(f) == IcebergFieldIds.ExtractionDateColumn);
        return new JsonArray([.. fields.Except(extractionDate).Concat(kept).Concat(extractionDate).Select(f => f!.DeepClone())]);
    }
}

/// <summary>How a table-format commit that lost the race for the next version waits before it re-plans on the new base.</summary>
internal static class CommitAttempts
{
    /// <summary>
    /// Waits a short random time, longer after each lost attempt (so racing committers spread out), or gives up after
    /// <paramref name="maxAttempts"/> with <paramref name="what"/> ("Delta table …: 32 commit attempts") in the error.
    /// </summary>
    public static Task PauseOrGiveUpAsync(int attempt, int maxAttempts, string what, CancellationToken cancellationToken)
    {
        if (attempt >= maxAttempts) throw new Storage.StorageException($"{what} all lost to concurrent commits");
        return Task.Delay(Random.Shared.Next(5, 20 * Math.Min(attempt, 10)), cancellationToken);
    }
}
