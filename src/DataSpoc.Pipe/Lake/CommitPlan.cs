using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using DataSpoc.Pipe.Storage;

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

    /// <summary>
    /// The journal format of builds from before the journal had a <c>format</c> field. Their reader ignores fields it does
    /// not know, takes a merge's superseded files from <c>deletions</c> and its counts from <c>tables[].totals</c>, and
    /// knows no Iceberg/Delta <c>merge</c> operation and no <c>singer_state_text</c> state.
    /// </summary>
    public const int LegacyFormat = 1;

    /// <summary>
    /// The journal format this build writes and the newest it completes: <c>superseded</c> and <c>tables[].merge</c>
    /// (claimed rewrites, merge counts applied to the manifest entry as it is at the commit), Iceberg/Delta <c>merge</c>
    /// operations, states with bare NaN/Infinity. Raise it when a journal gets something an older reader of this format
    /// would complete wrongly; a reader refuses a journal of a format above its own (<see cref="Read"/>).
    /// </summary>
    public const int CurrentFormat = 2;

    /// <summary>The journal's format (<see cref="LegacyFormat"/> when the field is absent: a journal of an older build).</summary>
    [JsonPropertyName("format")] public int Format { get; set; } = LegacyFormat;
    [JsonPropertyName("run_id")] public string RunId { get; set; } = "";
    [JsonPropertyName("pipeline")] public string Pipeline { get; set; } = "";
    [JsonPropertyName("phase")] public string Phase { get; set; } = PhaseStaged;
    [JsonPropertyName("started_at")] public DateTimeOffset StartedAt { get; set; }
    /// <summary>Data (and quarantine) files: spooled local path -> final key.</summary>
    [JsonPropertyName("files")] public List<PlannedFile> Files { get; set; } = [];
    /// <summary>Older files of replaced tables and leftover temp files, removed once every new file has landed.</summary>
    [JsonIgnore] public List<string> Deletions { get; set; } = [];

    /// <summary>
    /// The journal's <c>deletions</c>: <see cref="Deletions"/> and <see cref="Superseded"/>, since a build of the
    /// <see cref="LegacyFormat"/> that completes the commit deletes only what this lists (and would keep the superseded
    /// files: every rewritten row twice). Read back, the superseded files are in <see cref="Deletions"/> too; deleting a
    /// file twice is harmless.
    /// </summary>
    [JsonPropertyName("deletions")]
    public List<string> JournalDeletions
    {
        get => [.. Deletions.Concat(Superseded).Distinct(StringComparer.Ordinal)];
        set => Deletions = value;
    }
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
    /// <summary>Saved beside <see cref="State"/> (after it): the tables the state is for, so another pipeline of the same name is not handed it.</summary>
    [JsonPropertyName("state_owner")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public StateOwner? StateOwner { get; set; }

    /// <summary>
    /// The tables whose commit this one waits its turn for (<see cref="LakePaths.TableCommitClaimKey"/>): every table the
    /// commit writes. Claimed after the journal, released once the manifest holds the commit's entries (or with a rollback),
    /// so a recovery releases them too.
    /// </summary>
    [JsonPropertyName("table_claims")] public List<string> TableClaims { get; set; } = [];

    /// <summary>
    /// A plan that only holds its <see cref="TableClaims"/> while its process changes table metadata itself (a maintain's
    /// expiry, <see cref="LakeCommitter.WhileHoldingTablesAsync"/>): it lands, deletes and saves nothing, and has no run log.
    /// </summary>
    [JsonIgnore]
    public bool HoldsTablesOnly => TableClaims.Count > 0 && Files.Count == 0 && Deletions.Count == 0 && Superseded.Count == 0
        && Tables.Count == 0 && TableMetadata.Count == 0 && State is null;

    /// <summary>A <c>maintain --compact</c> commit: every table it changes only has its files rewritten (no run log).</summary>
    [JsonIgnore]
    public bool IsCompaction => Tables.Count > 0 && Tables.All(t => t.Compaction);

    /// <summary>
    /// The run whose pipeline lock this commit is made under, when it is not <see cref="RunId"/>: a split run's commit
    /// lands under the split run's id and the lock of the worker (or <c>--commit-parts</c>) that commits it. Its claims say
    /// so, and a commit waiting for one of them sees the lock name that run: its holder is alive.
    /// </summary>
    [JsonPropertyName("lock_run_id")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? LockRunId { get; set; }

    /// <summary>
    /// What the plan assumed of its tables, checked again once <see cref="TableClaims"/> are held, before anything lands
    /// (another run may have committed to a table since this run read it). Each returns why the commit must be planned
    /// again (<see cref="CommitConflictException"/>), or null; or throws a refusal. Not journaled: only the planning
    /// process commits before the commit point.
    /// </summary>
    [JsonIgnore] public List<Func<CancellationToken, Task<string?>>> BaseChecks { get; } = [];

    /// <summary>
    /// Notices that say what the commit did (the rows a merge replaced, the files it rewrote): the run log takes them only
    /// once the commit landed, so a refused commit's log never reports a merge that did not happen. Not journaled.
    /// </summary>
    [JsonIgnore] public List<string> LandedNotices { get; } = [];

    /// <summary>
    /// Whether the manifest counts this commit's rows (its write succeeded): from then on the commit's run has committed,
    /// whatever fails after it. Not journaled: the journal's <c>cataloged</c> phase says it to a recovery.
    /// </summary>
    [JsonIgnore] public bool Counted { get; set; }

    /// <summary>Whether this process saved <see cref="State"/> (and its owner). Not journaled.</summary>
    [JsonIgnore] public bool StateSaved { get; set; }

    /// <summary>
    /// The state and owner versions <see cref="State"/> is saved over (<see cref="Lake.StateFence"/>): those a run read before
    /// its tap started, or a split run's commit under the lock. Not journaled: a recovery saves the state over the versions
    /// it reads itself.
    /// </summary>
    [JsonIgnore] public StateFence StateFence { get; set; } = StateFence.None;

    /// <summary>
    /// Every data file this commit takes out of a table, claimed before anything lands: <see cref="Superseded"/> (plain
    /// tables: deleted) and the <see cref="Tables.TableMetadataCommit.Removed"/> files of tables with a table format
    /// (they stay in storage for older snapshots; the metadata commit removes them from the table).
    /// </summary>
    [JsonIgnore]
    public IEnumerable<string> Claimed => Superseded.Concat(TableMetadata.SelectMany(t => t.Removed)).Distinct(StringComparer.Ordinal);

    /// <summary>
    /// Rewrites the absolute URIs the journal holds for <paramref name="table"/> (its location and Iceberg/Delta pointers,
    /// in <see cref="TableMetadata"/> and in its manifest entry in <see cref="Tables"/>) to start as
    /// <paramref name="location"/>, the location the table's own metadata records, when that is another spelling of the
    /// table's folder (it ends in the table's prefix; <c>file://</c>: a symbolic link and its target). Iceberg metadata
    /// holds absolute URIs and a commit accepts only those under its location: a journal written by a run that spelled the
    /// bucket otherwise would fail its Iceberg commit at every recovery, stopping every run and maintain of the pipeline.
    /// Keys are bucket-relative and stay.
    /// </summary>
    public void RespellTable(Tables.TableMetadataCommit table, string location)
    {
        var folder = "/" + table.Prefix.TrimEnd('/');
        if (table.Prefix.Length <= 1 || location == table.Location || !location.EndsWith(folder, StringComparison.Ordinal)
            || !table.Location.EndsWith(folder, StringComparison.Ordinal)) return;
        var from = table.Location[..^folder.Length] + "/";
        var to = location[..^folder.Length] + "/";
        string? Respelled(string? uri) => uri is not null && uri.StartsWith(from, StringComparison.Ordinal) ? to + uri[from.Length..] : uri;
        table.Location = location;
        table.IcebergMetadata = Respelled(table.IcebergMetadata);
        table.DeltaLog = Respelled(table.DeltaLog);
        foreach (var change in Tables.Where(c => c.Key == table.TableKey))
        {
            change.Entry.Location = Respelled(change.Entry.Location)!;
            change.Entry.IcebergMetadata = Respelled(change.Entry.IcebergMetadata);
            change.Entry.DeltaLog = Respelled(change.Entry.DeltaLog);
        }
    }

    /// <summary>
    /// Why a build of the <see cref="LegacyFormat"/> would complete this commit wrongly, or null when it completes it right
    /// (from <c>deletions</c> and <c>totals</c>): an Iceberg/Delta merge (it knows no <c>merge</c> operation: Iceberg
    /// would keep only the new files, Delta the rewritten ones beside them), or a state it would save as the wrapper object.
    /// </summary>
    [JsonIgnore]
    public string? WhyLegacyBuildsCannotComplete =>
        TableMetadata.FirstOrDefault(t => t.Operation == DataSpoc.Pipe.Tables.TableMetadataCommit.Merge) is { } merge
            ? $"it merges into the {string.Join("/", merge.Formats)} table {merge.TableKey}"
            : State is { HasNamedFloats: true } ? "its state holds a bare NaN or Infinity" : null;

    /// <summary>
    /// The journal's content, in <see cref="CurrentFormat"/>, readable by builds of the <see cref="LegacyFormat"/> as far
    /// as they can complete it right (<see cref="JournalDeletions"/>, <see cref="TableChange.Totals"/>); one they would
    /// complete wrongly gets, in each table's <c>totals</c>, a sentence where they expect an object: their reader fails
    /// on it ("the journal is damaged", naming that line) instead of completing the commit.
    /// </summary>
    public byte[] ToJournal()
    {
        Format = CurrentFormat;
        var refusal = WhyLegacyBuildsCannotComplete is { } why
            ? $"journal format {CurrentFormat} ({why}): complete this commit with a dataspoc-pipe that reads journal format {CurrentFormat} or later (run or maintain the pipeline with it)"
            : null;
        foreach (var table in Tables) table.LegacyRefusal = refusal;
        return LakeJson.Serialize(this);
    }

    /// <summary>
    /// Reads a commit journal of any format up to <see cref="CurrentFormat"/>; a journal of a later format (a newer build's
    /// interrupted commit, which this build could complete wrongly) is refused before anything of it is read or done.
    /// </summary>
    /// <param name="content">The journal's bytes.</param>
    /// <param name="where">The journal's bucket and key, for errors.</param>
    /// <exception cref="StorageException">The journal is damaged, or of a later format.</exception>
    public static CommitPlan Read(ReadOnlyMemory<byte> content, string where)
    {
        try
        {
            // The format first: a later format may not even deserialize as this build's types.
            var format = DataSpoc.Pipe.Tables.TableJson.Parse(content.Span) is JsonObject root && root["format"] is { } node ? node.GetValue<int>() : LegacyFormat;
            if (format > CurrentFormat)
                throw new StorageException($"{where} is the journal of an interrupted commit in journal format {format}, written by a newer dataspoc-pipe; " +
                    $"this build reads journal formats up to {CurrentFormat} and could complete it wrongly, so it does not run or maintain the pipeline: " +
                    "run or maintain it once with a build that reads that format (the one that wrote it, or later), which completes the commit; then this build can run it again");
            return LakeJson.Deserialize<CommitPlan>(content, "commit journal");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new StorageException($"{where} is damaged ({e.Message}); inspect it and delete it to continue", e);
        }
    }
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
    /// <summary>A replace's files that another run wrote after it began, which it keeps (<see cref="ReplaceBaseline"/>): in the table's totals.</summary>
    [JsonPropertyName("kept")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public KeptFiles? Kept { get; set; }
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

    /// <summary>
    /// An append's or a merge's columns of its own files: the commit sets the entry's columns to these, then those only the
    /// table's earlier files hold, from the entry as it is at the commit (<see cref="ManifestColumn.AfterAdding"/>):
    /// another pipeline may have added to the table since this run read the manifest. Null for a replace, and in the
    /// journal of an older build (its <see cref="Entry"/>'s columns, computed when it planned, stand).
    /// </summary>
    [JsonPropertyName("run_columns")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public List<ManifestColumn>? RunColumns { get; set; }

    /// <summary>
    /// The entry's columns when the run planned (null: no entry), against which the run already reported its type
    /// changes; the commit finds those against columns another commit added since (<see cref="LateTypeChanges"/>).
    /// </summary>
    [JsonPropertyName("planned_over")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public List<ManifestColumn>? PlannedOver { get; set; }

    /// <summary>
    /// Set by the commit: the run's type changes against the entry as it was at the commit that it had not reported when
    /// it planned (another pipeline's files, committed meanwhile, hold the column in another type).
    /// </summary>
    [JsonIgnore] internal List<ManifestColumn.TypeChange> LateTypeChanges { get; set; } = [];

    /// <summary>
    /// A merge's table totals after the commit, from the manifest entry the run read: what a build of the
    /// <see cref="CommitPlan.LegacyFormat"/> sets the entry to (it knows no <see cref="Merge"/>), and what this build
    /// applies when it completes such a build's journal (which has no <see cref="Merge"/>).
    /// </summary>
    [JsonIgnore] public TableTotals? Totals { get; set; }

    /// <summary>Set by <see cref="CommitPlan.ToJournal"/>: the sentence written as <c>totals</c> so a legacy reader refuses the journal.</summary>
    [JsonIgnore] internal string? LegacyRefusal { get; set; }

    /// <summary>The journal's <c>totals</c>: <see cref="Totals"/> as an object, or <see cref="LegacyRefusal"/> (read back as no totals).</summary>
    [JsonPropertyName("totals")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public JsonNode? JournalTotals
    {
        get => LegacyRefusal is { } refusal ? JsonValue.Create(refusal)
            : Totals is { } t ? new JsonObject { ["rows"] = t.Rows, ["files"] = t.Files, ["bytes"] = t.Bytes } : null;
        set => Totals = value is JsonObject o ? new TableTotals(o["rows"]!.GetValue<long>(), o["files"]!.GetValue<long>(), o["bytes"]!.GetValue<long>()) : null;
    }
}

/// <summary>A table's row count, files and bytes.</summary>
public sealed record TableTotals(long Rows, long Files, long Bytes);

/// <summary>What a merge wrote (rows of its new files) and what left the table (the superseded files, their rows and bytes).</summary>
public sealed record MergeCounts(
    [property: JsonPropertyName("rows_written")] long RowsWritten,
    [property: JsonPropertyName("rows_removed")] long RowsRemoved,
    [property: JsonPropertyName("files_removed")] long FilesRemoved,
    [property: JsonPropertyName("bytes_removed")] long BytesRemoved)
{
    /// <summary>The table's totals after this merge, from <paramref name="entry"/> (its manifest entry, null for a new table) and the files written.</summary>
    public TableTotals TotalsAfter(ManifestTable? entry, long files, long bytes) =>
        new((entry?.RowCount ?? 0) - RowsRemoved + RowsWritten, (entry?.Stats.Files ?? 0) - FilesRemoved + files, (entry?.Stats.Bytes ?? 0) - BytesRemoved + bytes);
}

/// <summary>The content of a claim on a superseded file (<see cref="LakePaths.SupersededClaimKey"/>): whose commit removes it.</summary>
/// <remarks>
/// A claim on an Iceberg field id (<see cref="LakePaths.ColumnIdClaimKey"/>) also says which column it numbers (<c>path type</c>);
/// a split run's commit's claims, the run holding the pipeline's lock (<see cref="CommitPlan.LockRunId"/>).
/// </remarks>
public sealed record SupersededClaim(
    [property: JsonPropertyName("pipeline")] string Pipeline,
    [property: JsonPropertyName("run_id")] string RunId,
    [property: JsonPropertyName("column"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Column = null,
    [property: JsonPropertyName("lock_run_id"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? LockRunId = null);
