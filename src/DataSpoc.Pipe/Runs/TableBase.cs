using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Runs;

/// <summary>
/// What a plan assumed of a table that another run's commit can change before this one lands (two runs plan at once,
/// or one commits during the other's extraction): checked again at the commit, with the table's commit claim held
/// (<see cref="CommitPlan.BaseChecks"/>). A change sends the run back to plan against the table as it is then.
/// </summary>
internal static class TableBase
{
    /// <summary>This commit waits for other commits of the table (<see cref="LakePaths.TableCommitClaimKey"/>).</summary>
    public static void Claim(CommitPlan plan, string prefix)
    {
        var key = LakePaths.TableCommitClaimKey(prefix);
        if (!plan.TableClaims.Contains(key)) plan.TableClaims.Add(key);
    }

    /// <summary>
    /// The table's data files (plain: those stored; with table metadata: the current snapshot's) must still be
    /// <paramref name="planned"/> at the commit: a merge that merged with them (its keys new to the table would be added
    /// a second time beside another merge's), an Iceberg/Delta overwrite that keeps nothing else.
    /// </summary>
    public static void MustStay(CommitPlan plan, IObjectStore store, PipelineDefinition pipeline, string table, string tableKey, string prefix, IReadOnlyCollection<string> planned)
    {
        Claim(plan, prefix);
        var before = planned.ToHashSet(StringComparer.Ordinal);
        plan.BaseChecks.Add(async cancellationToken =>
        {
            var now = pipeline.Destination.TableFormat != TableFormats.Parquet
                ? await PipelineRunner.LiveDataFileKeysAsync(pipeline, store, prefix, cancellationToken).ConfigureAwait(false)
                : await StoredDataFilesAsync(store, prefix, table, cancellationToken).ConfigureAwait(false);
            var added = now.Where(k => !before.Contains(k)).Order(StringComparer.Ordinal).ToList();
            var gone = before.Except(now, StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
            if (added.Count == 0 && gone.Count == 0) return null;
            return $"table {tableKey} changed after this run planned its commit on {before.Count} file(s): another commit " +
                string.Join(" and ", new[] { added.Count > 0 ? $"added {added.Count} ({added[0]}{(added.Count > 1 ? ", ..." : "")})" : null,
                    gone.Count > 0 ? $"removed {gone.Count} ({gone[0]}{(gone.Count > 1 ? ", ..." : "")})" : null }.OfType<string>());
        });
    }

    /// <summary>
    /// A replace decided from the table's last writer (<see cref="TableOwnership.CheckReplace"/>) and kept the files
    /// written after it began: the manifest's last run of the table must still be <paramref name="plannedRun"/>.
    /// </summary>
    public static void WriterMustStay(CommitPlan plan, IObjectStore store, string tableKey, string? plannedRun) =>
        plan.BaseChecks.Add(async cancellationToken =>
        {
            var now = (await new ManifestStore(store, TimeProvider.System /* reads only */).ReadAsync(cancellationToken).ConfigureAwait(false))
                .Tables.GetValueOrDefault(tableKey);
            if (now?.Stats.LastRunId == plannedRun) return null;
            // A compaction leaves the entry's pipeline (the last writer) as it was: it is named by its own id.
            var committer = Tables.TableCompaction.IsCompactionId(now?.Stats.LastRunId) ? $"a compaction (maintain {now!.Stats.LastRunId})"
                : $"run {now?.Stats.LastRunId ?? "?"} of pipeline '{now?.Pipeline}'";
            return $"table {tableKey} was committed by {committer} after this run planned to replace it";
        });

    private static async Task<List<string>> StoredDataFilesAsync(IObjectStore store, string prefix, string table, CancellationToken cancellationToken)
    {
        var keys = new List<string>();
        await foreach (var obj in store.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
            if (LakePaths.IsDataFileKey(prefix, table, obj.Key)) keys.Add(obj.Key);
        return keys;
    }
}
