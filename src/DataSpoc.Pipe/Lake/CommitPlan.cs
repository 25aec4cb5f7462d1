using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace DataSpoc.Pipe.Lake;

/// <summary>
/// Everything a run will change in the lake, computed before anything becomes visible and saved as a journal
/// (<c>.dataspoc/journal/&lt;pipeline&gt;.json</c>), so a run killed mid-commit is rolled back (files not all landed)
/// or completed (files landed) by the next run of the pipeline.
/// </summary>
public sealed class CommitPlan
{
    public const string PhaseStaged = "staged";
    public const string PhaseLanded = "landed";
    public const string PhaseDeleted = "deleted";
    public const string PhaseCataloged = "cataloged";

    [JsonPropertyName("run_id")] public string RunId { get; set; } = "";
    [JsonPropertyName("pipeline")] public string Pipeline { get; set; } = "";
    [JsonPropertyName("phase")] public string Phase { get; set; } = PhaseStaged;
    [JsonPropertyName("started_at")] public DateTimeOffset StartedAt { get; set; }
    /// <summary>Data (and quarantine) files: spooled local path -> final key.</summary>
    [JsonPropertyName("files")] public List<PlannedFile> Files { get; set; } = [];
    /// <summary>Older files of replaced tables and leftover temp files, removed once every new file has landed.</summary>
    [JsonPropertyName("deletions")] public List<string> Deletions { get; set; } = [];
    /// <summary>
    /// Data files this commit rewrote into its own files (a merge's or a compaction's, plain Parquet tables), removed with
    /// <see cref="Deletions"/>; each is claimed first, so two commits that rewrote one file never both land (the table
    /// would hold its rows twice): the second finds the claim, or the file gone, and lands nothing.
    /// </summary>
    [JsonPropertyName("superseded")] public List<string> Superseded { get; set; } = [];
    [JsonPropertyName("tables")] public List<TableChange> Tables { get; set; } = [];
    /// <summary>Iceberg / Delta metadata commits of tables that have a table format, made after the data files landed.</summary>
    [JsonPropertyName("table_metadata")] public List<Tables.TableMetadataCommit> TableMetadata { get; set; } = [];
    /// <summary>The state to save (the last STATE value), or null to leave state untouched.</summary>
    [JsonPropertyName("state")] public Singer.SingerState? State { get; set; }

    /// <summary>
    /// Every data file this commit takes out of a table, claimed before anything lands: <see cref="Superseded"/> (plain
    /// tables: deleted) and the <see cref="Tables.TableMetadataCommit.Removed"/> files of tables with a table format
    /// (they stay in storage for older snapshots; the metadata commit removes them from the table).
    /// </summary>
    [JsonIgnore]
    public IEnumerable<string> Claimed => Superseded.Concat(TableMetadata.SelectMany(t => t.Removed)).Distinct(StringComparer.Ordinal);
}

/// <summary>
/// A file to land as <paramref name="Key"/>: from a local spool file, or (a split run's parts) copied from the object
/// <paramref name="StagedKey"/> a worker staged in the bucket.
/// </summary>
public sealed record PlannedFile(
    [property: JsonPropertyName("local")] string LocalPath,
    [property: JsonPropertyName("key")] string Key,
    [property: JsonPropertyName("staged"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? StagedKey = null);

/// <summary>A table's manifest change: its new description and what this run added.</summary>
public sealed class TableChange
{
    [JsonPropertyName("key")] public string Key { get; set; } = "";
    [JsonPropertyName("entry")] public ManifestTable Entry { get; set; } = new();
    [JsonPropertyName("replace")] public bool Replace { get; set; }
    [JsonPropertyName("rows")] public long Rows { get; set; }
    [JsonPropertyName("files")] public long Files { get; set; }
    [JsonPropertyName("bytes")] public long Bytes { get; set; }
    /// <summary>
    /// A compaction (<c>maintain --compact</c>), not an extraction: the rows stay as they are; <see cref="Files"/> and
    /// <see cref="Bytes"/> are the files written, <see cref="RemovedFiles"/> and <see cref="RemovedBytes"/> the files
    /// whose rows they hold now.
    /// </summary>
    [JsonPropertyName("compaction")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public bool Compaction { get; set; }
    [JsonPropertyName("removed_files")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public long RemovedFiles { get; set; }
    [JsonPropertyName("removed_bytes")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public long RemovedBytes { get; set; }
    /// <summary>
    /// A merge's counts: rows and files also leave a merged table, so the manifest's totals are the current entry's
    /// (whatever commits landed since this run read it) minus what left and plus <see cref="Files"/>, <see cref="Bytes"/>
    /// and the rows written (the records received, <see cref="Rows"/>, were reduced). Null for append and replace.
    /// </summary>
    [JsonPropertyName("merge")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public MergeCounts? Merge { get; set; }
}

/// <summary>What a merge wrote (rows of its new files) and what left the table (the superseded files, their rows and bytes).</summary>
public sealed record MergeCounts(
    [property: JsonPropertyName("rows_written")] long RowsWritten,
    [property: JsonPropertyName("rows_removed")] long RowsRemoved,
    [property: JsonPropertyName("files_removed")] long FilesRemoved,
    [property: JsonPropertyName("bytes_removed")] long BytesRemoved);

/// <summary>The content of a claim on a superseded file (<see cref="LakePaths.SupersededClaimKey"/>): whose commit removes it.</summary>
public sealed record SupersededClaim(
    [property: JsonPropertyName("pipeline")] string Pipeline,
    [property: JsonPropertyName("run_id")] string RunId);
