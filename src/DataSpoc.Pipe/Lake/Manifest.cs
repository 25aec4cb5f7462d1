using System.Text.Json.Serialization;

namespace DataSpoc.Pipe.Lake;

/// <summary><c>.dataspoc/manifest.json</c>: the bucket's table catalog (see the lake contract).</summary>
public sealed class Manifest
{
    public const string CurrentVersion = "1.0";

    [JsonPropertyName("version")] public string Version { get; set; } = CurrentVersion;
    [JsonPropertyName("updated_at")] public DateTimeOffset UpdatedAt { get; set; }
    /// <summary>Keyed by <c>&lt;source&gt;/&lt;table&gt;</c>.</summary>
    [JsonPropertyName("tables")] public SortedDictionary<string, ManifestTable> Tables { get; set; } = new(StringComparer.Ordinal);
}

public sealed class ManifestTable
{
    [JsonPropertyName("source")] public string Source { get; set; } = "";
    [JsonPropertyName("table")] public string Table { get; set; } = "";
    [JsonPropertyName("pipeline")] public string Pipeline { get; set; } = "";
    [JsonPropertyName("location")] public string Location { get; set; } = "";
    [JsonPropertyName("format")] public string Format { get; set; } = "parquet";
    /// <summary>Table formats kept over the Parquet files (<c>iceberg</c>, <c>delta</c>); absent for plain Parquet tables.</summary>
    [JsonPropertyName("table_formats")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public List<string>? TableFormats { get; set; }
    /// <summary>The current Iceberg metadata file (<c>.../metadata/v&lt;N&gt;.metadata.json</c>), for Iceberg tables.</summary>
    [JsonPropertyName("iceberg_metadata")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? IcebergMetadata { get; set; }
    /// <summary>The Delta log entry of the table's current version (<c>.../_delta_log/&lt;20 digits&gt;.json</c>), for Delta tables.</summary>
    [JsonPropertyName("delta_log")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? DeltaLog { get; set; }
    [JsonPropertyName("partitioning")] public List<string> Partitioning { get; set; } = [];
    [JsonPropertyName("write_mode")] public string WriteMode { get; set; } = "append";
    [JsonPropertyName("key_properties")] public List<string> KeyProperties { get; set; } = [];
    [JsonPropertyName("table_version")] public long? TableVersion { get; set; }
    [JsonPropertyName("row_count")] public long RowCount { get; set; }
    [JsonPropertyName("stats")] public ManifestStats Stats { get; set; } = new();
    [JsonPropertyName("columns")] public List<ManifestColumn> Columns { get; set; } = [];
    /// <summary>
    /// The columns whose values the last committed run hashed (<c>transforms: hash</c>), <c>[]</c> when it hashed none; null
    /// (absent) in entries of builds from before the field: not known (see <see cref="Lake.HashedColumns"/>).
    /// </summary>
    [JsonPropertyName("hashed_columns")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public List<string>? HashedColumns { get; set; }
}

public sealed class ManifestStats
{
    [JsonPropertyName("total_rows")] public long TotalRows { get; set; }
    [JsonPropertyName("extractions")] public long Extractions { get; set; }
    [JsonPropertyName("last_extraction")] public DateTimeOffset? LastExtraction { get; set; }
    [JsonPropertyName("last_extraction_rows")] public long LastExtractionRows { get; set; }
    [JsonPropertyName("files")] public long Files { get; set; }
    [JsonPropertyName("bytes")] public long Bytes { get; set; }
    /// <summary>The run that last changed the table (additive field: lets an interrupted commit be completed exactly once).</summary>
    [JsonPropertyName("last_run_id")] public string? LastRunId { get; set; }
}

public sealed record ManifestColumn(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("nullable")] bool Nullable)
{
    /// <summary>
    /// The columns both lists have whose type differs, as <c>'n' string -> int64</c>: files written with one and with
    /// the other disagree, and a reader that applies one schema to a whole table fails on some of them.
    /// </summary>
    internal static List<TypeChange> TypeChanges(IEnumerable<ManifestColumn> before, IEnumerable<ManifestColumn> after)
    {
        var old = before.GroupBy(c => c.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().Type, StringComparer.Ordinal);
        return [.. after.Where(c => old.TryGetValue(c.Name, out var type) && type != c.Type).Select(c => new TypeChange(c.Name, old[c.Name], c.Type))];
    }

    /// <summary>A column's type in earlier files and in new ones; written <c>'n' string -> int64</c>.</summary>
    internal sealed record TypeChange(string Name, string Before, string After)
    {
        /// <summary>
        /// A struct that stays a struct (its fields changed), or a list that stays a list (its element changed): the
        /// column keeps its Iceberg id, only the fields inside that changed type take new ones.
        /// </summary>
        public bool KeepsIcebergId => (Before.StartsWith("struct<", StringComparison.Ordinal) && After.StartsWith("struct<", StringComparison.Ordinal))
            || (Before.StartsWith("list<", StringComparison.Ordinal) && After.StartsWith("list<", StringComparison.Ordinal));

        public override string ToString() => $"'{Name}' {Before} -> {After}";
    }

    /// <summary>
    /// A table's columns after files with <paramref name="added"/> joined files listed as <paramref name="before"/>
    /// (an append or a merge): the new files' columns, then those only the earlier files hold. A column nullable on one
    /// side, or that only one side has, is nullable: the other side's rows have no value (a tap that stops sending a column leaves it in the
    /// table's earlier files; a new column has none in them).
    /// </summary>
    internal static List<ManifestColumn> AfterAdding(IReadOnlyList<ManifestColumn>? before, List<ManifestColumn> added)
    {
        if (before is null) return added;
        var earlier = before.GroupBy(c => c.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().Nullable, StringComparer.Ordinal);
        var now = added.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        return [.. added.Select(c => c with { Nullable = c.Nullable || earlier.GetValueOrDefault(c.Name, true) }),
            .. before.Where(c => !now.Contains(c.Name)).Select(c => c with { Nullable = true })];
    }
}
