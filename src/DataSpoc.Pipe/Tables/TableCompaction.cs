using System.Globalization;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Parquet;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Tables;

/// <summary>Defaults of <c>maintain --compact</c>, shared by the CLI, the MCP tool and the API.</summary>
public static class CompactionDefaults
{
    /// <summary>Files below this size are compacted into files of about this size (engines read 64-512 MB files best).</summary>
    public const int TargetFileMb = 128;

    /// <summary>
    /// Why a target size given without compaction is refused, or null: nothing would write files of that size, and a
    /// caller that meant to compact would think it had. <paramref name="compactSwitch"/> is how that caller turns
    /// compaction on (<c>--compact</c>, <c>compact: true</c>). The one rule of <c>maintain</c>, its MCP tool and
    /// <c>schedule.maintain</c>.
    /// </summary>
    public static string? TargetWithoutCompactionProblem(int? targetFileMb, bool compact, string compactSwitch) =>
        targetFileMb is not null && !compact ? $"sizes the files compaction writes: add {compactSwitch}" : null;
}

/// <summary>What compaction did to one table: how many small files it rewrote into how many, holding how many rows.</summary>
public sealed record TableCompactionResult(string Table, int RewrittenFiles, int WrittenFiles, long Rows)
{
    /// <summary>
    /// The keys of the rewritten files its commit deleted: a plain Parquet table's; an Iceberg or Delta table keeps them
    /// for time travel until <c>maintain</c>'s expiry deletes them (and counts them then).
    /// </summary>
    public IReadOnlyList<string> DeletedFiles { get; init; } = [];
}

/// <summary>
/// <c>maintain --compact</c>: per table of a pipeline and per partition folder, the live data files smaller than the
/// target size are concatenated, in file order, into files of about the target size (only files of one Parquet schema
/// together), never more rows or bytes than the pipeline's <c>max_file_rows</c> / <c>max_file_mb</c> allow. Everything lands through one journaled <see cref="LakeCommitter"/> commit: the new files first, then
/// (plain Parquet tables) the rewritten files are deleted, or (Iceberg/Delta) one <c>replace</c> snapshot and one
/// <c>dataChange: false</c> log entry take them out of the table, which keeps them on storage until expiry; then the
/// manifest. The caller holds the pipeline's run lock, so no run of this pipeline commits in between; a run of another
/// pipeline landing one of these tables may, and the commit holds each table's commit claim as a run's does
/// (<see cref="LakePaths.TableCommitClaimKey"/>), so they take turns.
/// </summary>
internal sealed class TableCompaction(IObjectStore store, TimeProvider time)
{
    private sealed record LiveFile(string Key, long Bytes);
    /// <summary><paramref name="RowsWritten"/>: the latest store time of the files its rows were first written to (null: unknown).</summary>
    private sealed record LocalFile(LiveFile File, string Path, string Schema, long Rows, DateTimeOffset? RowsWritten);

    /// <summary>
    /// Compacts the tables of <paramref name="pipeline"/>: files below <paramref name="targetFileBytes"/> (capped by
    /// <paramref name="fileLimits"/>' bytes, the pipeline's <c>max_file_mb</c>) are joined into files of about that
    /// size holding no more rows than its <c>max_file_rows</c> (<see cref="WriteLimits.WithFileLimitsOf"/>).
    /// <paramref name="heldLock"/>, the pipeline lock the caller holds, is checked right before the commit, as a run's is,
    /// and bounds the commit's rollback when it is lost (<paramref name="cancellationToken"/> is cancelled then).
    /// </summary>
    public Task<List<TableCompactionResult>> RunAsync(string pipeline, Compression compression, long targetFileBytes, WriteLimits fileLimits,
        CancellationToken cancellationToken, RunLock? heldLock = null) =>
        RunAsync(pipeline, compression, targetFileBytes, fileLimits, MaintainedTables.LastWrittenBy(pipeline), cancellationToken, heldLock);

    /// <summary>
    /// As above, for the tables <paramref name="covered"/> names. A commit of another pipeline that rewrote or removed a
    /// file this one rewrites first (<see cref="CommitConflictException"/>: nothing of this one landed) has it planned again
    /// on the tables as they are then, as a run's commit is (<see cref="Runs.CommitAttempts"/>); <paramref name="notices"/>
    /// receives why.
    /// </summary>
    public Task<List<TableCompactionResult>> RunAsync(string pipeline, Compression compression, long targetFileBytes, WriteLimits fileLimits,
        MaintainedTables covered, CancellationToken cancellationToken, RunLock? heldLock = null, List<string>? notices = null)
    {
        if (targetFileBytes <= 0) throw new ArgumentOutOfRangeException(nameof(targetFileBytes), "the target file size must be positive");
        targetFileBytes = Math.Min(targetFileBytes, fileLimits.MaxFileBytes);
        notices ??= [];
        return Runs.CommitAttempts.RunAsync(notices,
            _ => CompactOnceAsync(pipeline, compression, targetFileBytes, fileLimits, covered, cancellationToken, heldLock, notices), cancellationToken);
    }

    private async Task<List<TableCompactionResult>> CompactOnceAsync(string pipeline, Compression compression, long targetFileBytes, WriteLimits fileLimits,
        MaintainedTables covered, CancellationToken cancellationToken, RunLock? heldLock, List<string> notices)
    {
        var manifest = await new ManifestStore(store, time).ReadAsync(cancellationToken).ConfigureAwait(false);
        var compactionId = NewId();
        // Under the maintain's lock: a commit waiting for this one's table claims sees that lock name its holder (alive).
        var plan = new CommitPlan { RunId = compactionId, Pipeline = pipeline, StartedAt = time.GetUtcNow(), LockRunId = heldLock?.RunId };
        var results = new List<TableCompactionResult>();
        var work = WorkFolder(pipeline, compactionId);
        try
        {
            foreach (var (tableKey, table) in manifest.Tables)
            {
                if (!covered.Covers(store, table)) continue;
                var result = await PlanTableAsync(plan, tableKey, table, compression, targetFileBytes, fileLimits.MaxFileRows, work.FullName, cancellationToken).ConfigureAwait(false);
                results.Add(result);
            }
            if (plan.Files.Count > 0)
            {
                if (heldLock is not null) await heldLock.EnsureHeldAsync(cancellationToken).ConfigureAwait(false);
                await new LakeCommitter(store, time).CommitAsync(plan, cancellationToken, notices, heldLock?.WindDown ?? default, heldLock?.Lost ?? default).ConfigureAwait(false);
            }
            return results;
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    /// <summary>
    /// A compaction's id, named like a run id (its data files' names and the manifest's last run of the table carry it):
    /// the leading 'c' marks a compaction, as no run id starts with it (a run's starts with a hex millisecond, 000-3e7;
    /// a split run's commit's with 's').
    /// </summary>
    private static string NewId() => "c" + Guid.NewGuid().ToString("N")[..7];

    /// <summary>Whether <paramref name="runId"/> (a manifest entry's last run, say) is a compaction's (<see cref="NewId"/>).</summary>
    public static bool IsCompactionId(string? runId) => runId is { Length: 8 } && runId[0] == 'c';

    /// <summary>
    /// A folder for this compaction's local copies of the table's files, in the user's private temp folder (mode 0700:
    /// they hold the table's rows) under this pipeline and bucket. The caller holds the pipeline's lock, so any other
    /// folder there is a killed compaction's, and is removed now: nothing else ever would.
    /// </summary>
    private DirectoryInfo WorkFolder(string pipeline, string compactionId)
    {
        var parent = LakePaths.LocalTempFolder(Runs.PrivateTempRoot.ForCurrentUser(), "compact", store.Bucket.Canonical, pipeline);
        if (Directory.Exists(parent))
            foreach (var leftover in Directory.GetDirectories(parent))
            {
                try { Directory.Delete(leftover, recursive: true); }
                catch (IOException) { }
                catch (UnauthorizedAccessException) { }
            }
        return Directory.CreateDirectory(Path.Combine(parent, compactionId));
    }

    private async Task<TableCompactionResult> PlanTableAsync(CommitPlan plan, string tableKey, ManifestTable table, Compression compression,
        long targetFileBytes, long maxFileRows, string work, CancellationToken cancellationToken)
    {
        var prefix = store.Bucket.KeyPrefixOf(table.Location)
            ?? throw new StorageException($"table {tableKey} is at {table.Location}, outside {store.Bucket}");
        var formats = table.TableFormats ?? [];
        var commit = new TableMetadataCommit
        {
            TableKey = tableKey, Formats = [.. formats], Prefix = prefix, Location = table.Location, Operation = TableMetadataCommit.Replace,
        };

        // Every data file on storage (for the next file index) and the live ones (what the table reads now).
        var stored = new List<ObjectInfo>();
        await foreach (var obj in store.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
            if (LakePaths.IsDataFileKey(prefix, table.Table, obj.Key)) stored.Add(obj);
        var storedAt = stored.ToDictionary(o => o.Key, o => o.LastModified, StringComparer.Ordinal);
        List<LiveFile> live;
        if (formats.Count == 0) live = [.. stored.Select(o => new LiveFile(o.Key, o.Size))];
        else
        {
            IEnumerable<LiveFile>? both = null;
            if (commit.Has(TableFormatCommitter.Iceberg))
                both = await IcebergLiveFilesAsync(commit, cancellationToken).ConfigureAwait(false);
            if (commit.Has(TableFormatCommitter.Delta))
            {
                var delta = new DeltaTable(store, time);
                var latest = await delta.LatestVersionAsync(prefix, cancellationToken).ConfigureAwait(false);
                var deltaFiles = (await delta.LiveFilesAsync(prefix, latest, cancellationToken).ConfigureAwait(false))
                    .Select(p => new LiveFile(prefix + Uri.UnescapeDataString(p.Key), p.Value["size"]?.GetValue<long>() ?? 0)).ToList();
                var deltaKeys = deltaFiles.Select(d => d.Key).ToHashSet(StringComparer.Ordinal);
                // Only files both formats read are rewritten: neither table may lose or gain rows.
                both = both is null ? deltaFiles : both.Where(i => deltaKeys.Contains(i.Key)).ToList();
            }
            live = [.. both!.Where(f => LakePaths.IsDataFileKey(prefix, table.Table, f.Key))];
        }

        int rewritten = 0, written = 0;
        long rows = 0;
        foreach (var folder in live.GroupBy(f => f.Key[..(f.Key.LastIndexOf('/') + 1)], StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var small = folder.Where(f => f.Bytes < targetFileBytes)
                .OrderBy(f => LakePaths.DataFileIndex(table.Table, f.Key[(f.Key.LastIndexOf('/') + 1)..])).ThenBy(f => f.Key, StringComparer.Ordinal).ToList();
            if (small.Count < 2) continue;
            var nextIndex = stored.Where(o => o.Key.StartsWith(folder.Key, StringComparison.Ordinal) && !o.Key[folder.Key.Length..].Contains('/'))
                .Select(o => LakePaths.DataFileIndex(table.Table, o.Key[folder.Key.Length..])).DefaultIfEmpty(-1).Max() + 1;
            var partitionDate = PartitionDateOf(prefix, folder.Key);

            var local = new List<LocalFile>();
            foreach (var file in small)
            {
                var path = LakePaths.ScratchFile("compact-input", ".parquet", work);
                try
                {
                    await using var source = await store.OpenReadAsync(file.Key, cancellationToken).ConfigureAwait(false);
                    await using var target = File.Create(path);
                    await source.CopyToAsync(target, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // Another pipeline's full reload or merge removed it since the listing (a plain table's files go at
                    // once): the compaction plans again on the table as that commit left it.
                    await Runs.CommitAttempts.ThrowIfRemovedAsync(store, file.Key, "this compaction", cancellationToken).ConfigureAwait(false);
                    throw;
                }
                // An earlier compaction's file holds rows written before its own stamp: the time it records is theirs.
                var rowsWritten = ReplaceBaseline.InputsWrittenBefore(path)
                    ?? (storedAt.TryGetValue(file.Key, out var at) && at != default ? at : null);
                local.Add(new LocalFile(file, path, ParquetConcatenation.SchemaSignature(path), DataFileFooter.Read(path, file.Key, partitionDate).Records, rowsWritten));
            }
            foreach (var sameSchema in local.GroupBy(l => l.Schema, StringComparer.Ordinal))
                foreach (var pack in Pack(sameSchema.ToList(), targetFileBytes, maxFileRows))
                {
                    var output = LakePaths.ScratchFile("compacted", ".parquet", work);
                    var expected = pack.Sum(p => p.Rows);
                    // A full reload that began after all of them deletes the file as it would have deleted them (ReplaceBaseline);
                    // with one of unknown time the first input's record, copied along, is taken out: the file is then kept.
                    var inputsWritten = pack.All(p => p.RowsWritten is not null) ? pack.Max(p => p.RowsWritten) : null;
                    var copied = ParquetConcatenation.Concatenate([.. pack.Select(p => p.Path)], output, compression, new Dictionary<string, string?>
                    {
                        [ReplaceBaseline.InputsWrittenBeforeKey] = inputsWritten is { } latest ? ReplaceBaseline.InputsWrittenBeforeValue(latest) : null,
                    });
                    var key = folder.Key + LakePaths.DataFileName(table.Table, nextIndex++, plan.RunId);
                    var facts = DataFileFooter.Read(output, key, partitionDate);
                    if (copied != expected || facts.Records != expected)
                        throw new InvalidDataException($"compacting {pack.Count} files of {tableKey} in {folder.Key} gave {facts.Records} rows, not {expected}; nothing was committed");
                    plan.Files.Add(new PlannedFile(output, key));
                    commit.Files.Add(facts);
                    commit.Removed.AddRange(pack.Select(p => p.File.Key));
                    rewritten += pack.Count;
                    written++;
                    rows += expected;
                }
        }
        if (written == 0) return new TableCompactionResult(tableKey, 0, 0, 0);
        // Its commit takes its turn with the table's other commits (runs of other pipelines): a replace committing beside it
        // would delete the files it rewrites and set the entry's totals while its compacted file lands, its rows then twice.
        Runs.TableBase.Claim(plan, prefix);

        if (formats.Count == 0) plan.Superseded.AddRange(commit.Removed);
        else
        {
            commit.Schema = commit.Has(TableFormatCommitter.Iceberg)
                ? await IcebergCurrentSchemaAsync(prefix, cancellationToken).ConfigureAwait(false)
                : await new DeltaTable(store, time).StatsSchemaAsync(prefix, commit.Files[0], cancellationToken).ConfigureAwait(false);
            plan.TableMetadata.Add(commit);
        }
        var removedKeys = commit.Removed.ToHashSet(StringComparer.Ordinal);
        var removedBytes = live.Where(f => removedKeys.Contains(f.Key)).Sum(f => f.Bytes);
        plan.Tables.Add(new TableChange
        {
            Key = tableKey,
            Entry = table,
            Compaction = true,
            Files = written,
            Bytes = commit.Files.Sum(f => f.Bytes),
            RemovedFiles = rewritten,
            RemovedBytes = removedBytes,
        });
        return new TableCompactionResult(tableKey, rewritten, written, rows) { DeletedFiles = formats.Count == 0 ? [.. commit.Removed] : [] };
    }

    /// <summary>
    /// Consecutive files packed while their sizes add up to the target and their rows to the row limit; a pack of one
    /// file is left as it is. (The concatenation copies the row groups, so its size is about the inputs' sum.)
    /// </summary>
    private static IEnumerable<List<LocalFile>> Pack(List<LocalFile> files, long targetFileBytes, long maxFileRows)
    {
        var pack = new List<LocalFile>();
        long bytes = 0, rows = 0;
        foreach (var file in files)
        {
            if (pack.Count > 0 && (bytes + file.File.Bytes > targetFileBytes || rows + file.Rows > maxFileRows))
            {
                if (pack.Count > 1) yield return pack;
                pack = [];
                bytes = 0;
                rows = 0;
            }
            pack.Add(file);
            bytes += file.File.Bytes;
            rows += file.Rows;
        }
        if (pack.Count > 1) yield return pack;
    }

    /// <summary>The data files of the current Iceberg snapshot written under the default partition spec (others are left as they are).</summary>
    private async Task<List<LiveFile>> IcebergLiveFilesAsync(TableMetadataCommit commit, CancellationToken cancellationToken)
    {
        var (_, metadata) = await new IcebergTable(store, time).LoadCurrentAsync(commit.Prefix, cancellationToken).ConfigureAwait(false);
        if (metadata is null || IcebergTable.CurrentSnapshot(metadata) is not { } snapshot) return [];
        var specId = metadata["default-spec-id"]!.GetValue<int>();
        var listKey = IcebergTable.KeyOf(commit, snapshot["manifest-list"]!.GetValue<string>());
        var list = await store.GetAsync(listKey, cancellationToken).ConfigureAwait(false)
            ?? throw new StorageException($"{store.Bucket}/{listKey} (the current snapshot's manifest list) is missing");
        var result = new List<LiveFile>();
        foreach (var listed in IcebergManifests.ReadList(list.Content.Span, $"{store.Bucket}/{listKey}").Where(l => l.SpecId == specId))
        {
            var manifestKey = IcebergTable.KeyOf(commit, listed.Path);
            var manifest = await store.GetAsync(manifestKey, cancellationToken).ConfigureAwait(false)
                ?? throw new StorageException($"{store.Bucket}/{manifestKey} (a manifest of the current snapshot) is missing");
            result.AddRange(IcebergManifests.ReadEntries(manifest.Content.Span, listed, $"{store.Bucket}/{manifestKey}")
                .Where(e => e.Status != IcebergManifests.ManifestEntry.Deleted)
                .Select(e => new LiveFile(IcebergTable.KeyOf(commit, e.File.Key), e.File.Bytes)));
        }
        return result;
    }

    private async Task<JsonObject> IcebergCurrentSchemaAsync(string prefix, CancellationToken cancellationToken)
    {
        var (_, metadata) = await new IcebergTable(store, time).LoadCurrentAsync(prefix, cancellationToken).ConfigureAwait(false);
        var id = metadata!["current-schema-id"]!.GetValue<int>();
        return metadata["schemas"]!.AsArray().First(s => s!["schema-id"]!.GetValue<int>() == id)!.AsObject().DeepClone().AsObject();
    }

    /// <summary>The UTC date of a <c>dt=</c> folder; null for the null partition or an unpartitioned table.</summary>
    private static DateOnly? PartitionDateOf(string prefix, string folder)
    {
        var name = folder[prefix.Length..].TrimEnd('/');
        return name.StartsWith("dt=", StringComparison.Ordinal)
            && DateOnly.TryParseExact(name[3..], "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date) ? date : null;
    }
}
