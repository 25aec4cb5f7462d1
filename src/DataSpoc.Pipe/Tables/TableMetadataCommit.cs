using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using DataSpoc.Pipe.Parquet;

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
    /// <summary>
    /// The Iceberg table's <c>last-column-id</c> when the run took the ids its files carry
    /// (<see cref="IcebergFieldIds.BaseLastColumnId"/>): the ids of <see cref="Schema"/> above it are the run's new ones,
    /// claimed before anything lands and checked against the table as it is then (<see cref="IcebergFieldIds.Collisions"/>).
    /// Null when the table has no Iceberg metadata to write, or in the journal of an older build.
    /// </summary>
    [JsonPropertyName("base_last_column_id")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? BaseLastColumnId { get; set; }

    /// <summary>The ids this commit gave columns new to the table (above <see cref="BaseLastColumnId"/>), with their paths and types.</summary>
    internal IEnumerable<(string Path, int Id, string Type)> NewColumns =>
        Has(TableFormatCommitter.Iceberg) && BaseLastColumnId is { } baseLast ? IcebergFieldIds.NewColumns(Schema["fields"]!.AsArray(), baseLast) : [];
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
    /// takes the table's schema would otherwise lose their values without a word. The same holds inside a struct (and a
    /// list's struct element) that both have as the same column: its earlier fields the commit's lacks follow its own.
    /// A same-named field of another type is the commit's (a type change follows the ids' rules). The data columns come
    /// in the manifest's order (its columns follow the same rule), then <c>_extraction_date</c>, which no data file holds.
    /// Iceberg's and Delta's field lists both fit: a field's <c>name</c> and <c>type</c>, a struct type's <c>fields</c>.
    /// </summary>
    internal JsonArray FieldsKeepingEarlier(JsonArray fields, JsonArray? earlier)
    {
        static bool IsExtractionDate(JsonNode? field) => Name(field) == IcebergFieldIds.ExtractionDateColumn;
        var kept = new JsonArray([.. fields.Where(f => !IsExtractionDate(f)).Select(f => f!.DeepClone())]);
        // The commit's _extraction_date, added last, stands for the earlier one.
        if (KeepsEarlierFiles && earlier is not null) AddEarlierFields(kept, earlier, fields.Any(IsExtractionDate) ? IcebergFieldIds.ExtractionDateColumn : null);
        foreach (var field in fields.Where(IsExtractionDate)) kept.Add(field!.DeepClone());
        return kept;
    }

    /// <summary>
    /// The Iceberg schema of a run's files for one table (<see cref="Schema"/>): <paramref name="columns"/>, each top-level
    /// column of the run as the latest of its SCHEMAs that declares it, then, inside a struct (and a list's struct
    /// element) that files written under an earlier SCHEMA of the run hold as the same column, the fields only those
    /// files hold, with the ids they carry. A tap may send a SCHEMA without a field in the middle of a run: the files
    /// written before it still hold the field's values, and a reader that takes the table's schema would otherwise lose
    /// them without a word. The rule is the one across runs (<see cref="AddEarlierFields"/>, newest first), so a field
    /// whose type changed in the run is the later SCHEMA's (Iceberg: another id); Delta refuses such a run before.
    /// </summary>
    internal static JsonObject SchemaOfRun(IReadOnlyList<SchemaNode> columns, IReadOnlyList<ColumnSchema> oldestFirst, IcebergFieldIds ids, string partitionBy)
    {
        var schema = IcebergSchema.Build(columns, ids, partitionBy);
        var fields = schema["fields"]!.AsArray();
        for (var i = oldestFirst.Count - 1; i >= 0; i--)
            AddEarlierFields(fields, IcebergSchema.TypeOf(oldestFirst[i].Root)["fields"]!.AsArray());
        return schema;
    }

    private static string Name(JsonNode? field) => field!["name"]!.GetValue<string>();

    /// <summary>
    /// Adds to <paramref name="fields"/> those of <paramref name="earlier"/> it lacks by name (but <paramref name="skip"/>);
    /// into the fields of a struct both have as one column, the same.
    /// </summary>
    private static void AddEarlierFields(JsonArray fields, JsonArray earlier, string? skip = null)
    {
        var byName = fields.ToDictionary(Name, f => f!.AsObject(), StringComparer.Ordinal);
        foreach (var old in earlier)
        {
            var name = Name(old);
            if (name == skip) continue;
            if (!byName.TryGetValue(name, out var now)) fields.Add(old!.DeepClone());
            // Iceberg: another id is another column (its type changed), which the earlier one is not part of. Delta has no ids.
            else if (now["id"]?.GetValue<int>() == old!["id"]?.GetValue<int>() && StructFieldsOf(now["type"], old["type"]) is var (nowFields, oldFields))
                AddEarlierFields(nowFields, oldFields);
        }
    }

    /// <summary>
    /// The fields of two struct types, or of two lists' struct elements (Iceberg: the same element id; Delta: an array's
    /// elementType); null for anything else.
    /// </summary>
    private static (JsonArray Now, JsonArray Earlier)? StructFieldsOf(JsonNode? now, JsonNode? earlier)
    {
        if (now is not JsonObject n || earlier is not JsonObject e) return null;
        var kind = n["type"]?.GetValue<string>();
        if (kind != e["type"]?.GetValue<string>()) return null;
        return kind switch
        {
            "struct" => (n["fields"]!.AsArray(), e["fields"]!.AsArray()),
            "list" when n["element-id"]?.GetValue<int>() == e["element-id"]?.GetValue<int>() => StructFieldsOf(n["element"], e["element"]),
            "array" => StructFieldsOf(n["elementType"], e["elementType"]),
            _ => null,
        };
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
