using System.Globalization;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Storage;
using static DataSpoc.Pipe.Tables.IcebergManifests;

namespace DataSpoc.Pipe.Tables;

/// <summary>
/// The manifest list of a new snapshot, made as Iceberg's own writers make it (MergingSnapshotProducer,
/// ManifestMergeManager): a manifest carried from the parent without a live (ADDED or EXISTING) entry is left out, since
/// DELETED entries matter only to the snapshot that deleted them; and small manifests are merged into one once a list
/// would hold <see cref="MinCountToMergeProperty"/> of them. Without both, every run added a manifest for good (an
/// append its new one, a merge or compaction a rewritten manifest of DELETED entries), and every commit and reader read
/// them all: 400 runs of a two-file table made a list of 411 manifests.
/// </summary>
internal sealed partial class IcebergTable
{
    /// <summary>Iceberg's table property switching manifest merging on (<c>true</c> unless the table says otherwise).</summary>
    public const string ManifestMergeEnabledProperty = "commit.manifest-merge.enabled";
    /// <summary>Iceberg's table property: how many manifests a list holds before the small ones are merged.</summary>
    public const string MinCountToMergeProperty = "commit.manifest.min-count-to-merge";
    /// <summary>Iceberg's table property: the size merged manifests grow to (manifests are merged in groups up to it).</summary>
    public const string ManifestTargetSizeProperty = "commit.manifest.target-size-bytes";
    public const int DefaultMinCountToMerge = 100;
    public const long DefaultManifestTargetSize = 8L * 1024 * 1024;

    /// <summary>
    /// One manifest of the list a commit is making. <c>Bytes</c> null: carried from the parent snapshot, its file stays as
    /// it is; else written by this commit, stored only if the list keeps it (not merged into another). <c>Entries</c>,
    /// when known (file paths as URIs), spare reading the manifest again for a merge.
    /// </summary>
    private sealed record PlannedManifest(ListEntry Row, List<ManifestEntry>? Entries = null, byte[]? Bytes = null)
    {
        public bool WrittenByThisCommit => Bytes is not null;
    }

    /// <summary>A manifest this commit writes at <paramref name="key"/> holding <paramref name="entries"/> (file paths as URIs).</summary>
    private static PlannedManifest NewManifest(TableMetadataCommit commit, string key, List<ManifestEntry> entries, PartitionField? partition,
        JsonArray specFields, JsonObject schema, int specId, long snapshotId, long sequenceNumber)
    {
        var bytes = WriteEntries(entries, uri => uri, partition, schema, specFields, specId);
        // The lowest data sequence number of the live entries (ADDED ones of this commit inherit the snapshot's).
        var minSequence = entries.Where(e => e.Status != ManifestEntry.Deleted).Select(e => e.SequenceNumber ?? sequenceNumber).DefaultIfEmpty(sequenceNumber).Min();
        var row = new ListEntry(UriOf(commit, key), bytes.Length, specId, 0, sequenceNumber, minSequence, snapshotId, 0, 0, 0, 0, 0, 0,
            partition is null ? [] : [Summary([.. entries.Select(e => e.File)])]);
        return new PlannedManifest(WithCounts(row, entries), entries, bytes);
    }

    /// <summary><paramref name="row"/> with the file and row counts of <paramref name="entries"/> per status.</summary>
    private static ListEntry WithCounts(ListEntry row, List<ManifestEntry> entries)
    {
        int Count(int status) => entries.Count(e => e.Status == status);
        long Rows(int status) => entries.Where(e => e.Status == status).Sum(e => e.File.Records);
        return row with
        {
            AddedFiles = Count(ManifestEntry.AddedStatus), ExistingFiles = Count(ManifestEntry.Existing), DeletedFiles = Count(ManifestEntry.Deleted),
            AddedRows = Rows(ManifestEntry.AddedStatus), ExistingRows = Rows(ManifestEntry.Existing), DeletedRows = Rows(ManifestEntry.Deleted),
            CountsMissing = false,
        };
    }

    /// <summary>ADDED entries (snapshot id and sequence numbers inherited) for a commit's new files, their paths as URIs.</summary>
    private static List<ManifestEntry> AddedEntries(TableMetadataCommit commit, IEnumerable<DataFileFacts> files) =>
    [
        .. files.Select(f => ManifestEntry.Added(new DataFileFacts
        {
            Key = UriOf(commit, f.Key), Bytes = f.Bytes, Records = f.Records, PartitionDate = f.PartitionDate, Columns = f.Columns,
        })),
    ];

    /// <summary>
    /// The rows of the new snapshot's manifest list from <paramref name="planned"/> (this commit's new manifest first,
    /// then the parent's carried or rewritten ones): carried manifests without live entries are left out, small ones
    /// merged (always, when <paramref name="consolidate"/>: a compaction leaves one manifest per spec and target size), and
    /// the manifests of this commit the list keeps are stored, their keys added to <paramref name="written"/>.
    /// </summary>
    private async Task<List<ListEntry>> FinishManifestListAsync(TableMetadataCommit commit, JsonObject metadata, JsonObject schema,
        List<PlannedManifest> planned, long snapshotId, long sequenceNumber, string mergedKeyStem, bool consolidate, List<string> written,
        CancellationToken cancellationToken)
    {
        var kept = new List<PlannedManifest>();
        foreach (var manifest in planned)
        {
            var counted = manifest;
            // A row without file counts (a v1 list): this list writes them, so they are counted now; written as 0, the
            // next commit would take the manifest for one without live files.
            if (manifest.Row.CountsMissing && manifest.Row.Content == 0)
            {
                var entries = manifest.Entries ?? await ReadManifestAsync(commit, manifest.Row, cancellationToken).ConfigureAwait(false);
                counted = manifest with { Entries = entries, Row = WithCounts(manifest.Row, entries) };
            }
            if (counted.WrittenByThisCommit || counted.Row.MayHaveLiveFiles) kept.Add(counted);
        }
        var merged = await MergeAsync(commit, metadata, schema, kept, snapshotId, sequenceNumber, mergedKeyStem, consolidate, cancellationToken).ConfigureAwait(false);
        foreach (var manifest in merged.Where(m => m.WrittenByThisCommit))
        {
            var key = KeyOf(commit, manifest.Row.Path);
            await store.PutAsync(key, manifest.Bytes!, WriteCondition.None, cancellationToken).ConfigureAwait(false);
            written.Add(key);
        }
        return [.. merged.Select(m => m.Row)];
    }

    /// <summary>
    /// Iceberg's manifest merge (ManifestMergeManager): per partition spec, the manifests are packed from the end into
    /// groups up to <see cref="ManifestTargetSizeProperty"/> bytes; a group of several is written as one manifest, except
    /// the group holding the list's first manifest (the new one) while it has fewer than
    /// <see cref="MinCountToMergeProperty"/> manifests. So a list grows by one manifest a commit up to that count, then
    /// becomes one manifest again. Manifests this tool cannot write again (delete manifests, partition specs it does not
    /// write) are carried as they are.
    /// </summary>
    private async Task<List<PlannedManifest>> MergeAsync(TableMetadataCommit commit, JsonObject metadata, JsonObject schema, List<PlannedManifest> manifests,
        long snapshotId, long sequenceNumber, string keyStem, bool consolidate, CancellationToken cancellationToken)
    {
        var (enabled, minCount, targetBytes) = MergeSettings(metadata);
        if (consolidate) (enabled, minCount) = (true, 2);
        if (!enabled || manifests.Count < 2) return manifests;
        var first = manifests[0];
        var result = new List<PlannedManifest>();
        var index = 0;
        foreach (var group in manifests.GroupBy(m => Rewritable(metadata, m.Row) ? m.Row.SpecId : (int?)null))
        {
            if (group.Key is not { } specId)
            {
                result.AddRange(group);
                continue;
            }
            foreach (var bin in PackFromEnd([.. group], targetBytes))
            {
                if (bin.Count == 1 || (bin.Any(m => ReferenceEquals(m, first)) && bin.Count < minCount)) result.AddRange(bin);
                else result.Add(await MergedAsync(commit, metadata, schema, specId, bin, snapshotId, sequenceNumber, $"{keyStem}-merged{index++}.avro", cancellationToken).ConfigureAwait(false));
            }
        }
        return result;
    }

    /// <summary>
    /// One manifest holding the entries of <paramref name="bin"/>: files this commit adds stay ADDED, files it deletes stay
    /// DELETED, other live files become EXISTING with their snapshot id and both sequence numbers explicit (the spec:
    /// only ADDED entries inherit them), and files earlier snapshots deleted are left out (as Iceberg's merge does).
    /// </summary>
    private async Task<PlannedManifest> MergedAsync(TableMetadataCommit commit, JsonObject metadata, JsonObject schema, int specId, List<PlannedManifest> bin,
        long snapshotId, long sequenceNumber, string key, CancellationToken cancellationToken)
    {
        var entries = new List<ManifestEntry>();
        foreach (var manifest in bin)
            foreach (var e in manifest.Entries ?? await ReadManifestAsync(commit, manifest.Row, cancellationToken).ConfigureAwait(false))
            {
                var ofThisCommit = (e.SnapshotId ?? snapshotId) == snapshotId;
                if (e.Status == ManifestEntry.Deleted) { if (ofThisCommit) entries.Add(e); }
                else if (e.Status == ManifestEntry.AddedStatus && ofThisCommit) entries.Add(e);
                else entries.Add(e with { Status = ManifestEntry.Existing });
            }
        var (partition, specFields) = Spec(metadata, specId);
        return NewManifest(commit, key, entries, partition, specFields, schema, specId, snapshotId, sequenceNumber);
    }

    /// <summary>A carried manifest's entries, inherited values resolved from its list row (file paths as URIs).</summary>
    private async Task<List<ManifestEntry>> ReadManifestAsync(TableMetadataCommit commit, ListEntry listed, CancellationToken cancellationToken)
    {
        var key = KeyOf(commit, listed.Path);
        var stored = await store.GetAsync(key, cancellationToken).ConfigureAwait(false)
            ?? throw new StorageException($"{store.Bucket}/{key} (a manifest of the current snapshot) is missing");
        return ReadEntries(stored.Content.Span, listed, $"{store.Bucket}/{key}");
    }

    /// <summary>
    /// Consecutive manifests packed from the end into groups of at most <paramref name="targetBytes"/> (Iceberg's packing,
    /// lookback 1): the one group left short is the first, which holds the new manifest and is merged again later.
    /// </summary>
    private static List<List<PlannedManifest>> PackFromEnd(List<PlannedManifest> manifests, long targetBytes)
    {
        var bins = new List<List<PlannedManifest>>();
        List<PlannedManifest>? bin = null;
        long size = 0;
        for (var i = manifests.Count - 1; i >= 0; i--)
        {
            if (bin is null || size + manifests[i].Row.Length > targetBytes)
            {
                bin = [];
                bins.Add(bin);
                size = 0;
            }
            bin.Insert(0, manifests[i]);
            size += manifests[i].Row.Length;
        }
        bins.Reverse();
        return bins;
    }

    /// <summary>
    /// Whether this tool can write a manifest's entries again: a data manifest of a spec it writes itself (none, or one
    /// date-valued field: identity on a date, day of a timestamp), since its manifests hold only such partition values.
    /// </summary>
    private static bool Rewritable(JsonObject metadata, ListEntry row)
    {
        if (row.Content != 0) return false;
        var spec = metadata["partition-specs"]?.AsArray().FirstOrDefault(s => s?["spec-id"]?.GetValue<int>() == row.SpecId);
        if (spec?["fields"] is not JsonArray fields || fields.Count > 1) return false;
        if (fields.Count == 0) return true;
        var sourceId = fields[0]?["source-id"]?.GetValue<int>();
        var transform = fields[0]?["transform"]?.GetValue<string>();
        var sourceType = metadata["schemas"]?.AsArray().SelectMany(s => s?["fields"]?.AsArray() ?? [])
            .FirstOrDefault(f => f?["id"]?.GetValue<int>() == sourceId)?["type"] as JsonValue;
        var type = sourceType?.GetValue<string>();
        return (transform == "identity" && type == "date") || (transform == "day" && type is "date" or "timestamp" or "timestamptz");
    }

    /// <summary>The table's manifest merge properties (Iceberg's defaults when unset); a value of the wrong kind is an error naming it.</summary>
    private static (bool Enabled, int MinCount, long TargetBytes) MergeSettings(JsonObject metadata)
    {
        var properties = metadata["properties"] as JsonObject;
        string? Text(string name) => properties?[name]?.ToString().Trim();
        StorageException Wrong(string name, string what) =>
            new($"Iceberg table {metadata["location"]}: table property {name} is '{Text(name)}', not {what}");

        var enabled = true;
        if (Text(ManifestMergeEnabledProperty) is { } e && !bool.TryParse(e, out enabled)) throw Wrong(ManifestMergeEnabledProperty, "true or false");
        var minCount = DefaultMinCountToMerge;
        if (Text(MinCountToMergeProperty) is { } m && !int.TryParse(m, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out minCount))
            throw Wrong(MinCountToMergeProperty, "a whole number");
        var target = DefaultManifestTargetSize;
        if (Text(ManifestTargetSizeProperty) is { } t && (!long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out target) || target <= 0))
            throw Wrong(ManifestTargetSizeProperty, "a positive whole number");
        return (enabled, minCount, target);
    }
}
