using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Tables;

/// <summary>
/// The table-format step of a lake commit: for each table of the plan with Iceberg and/or Delta metadata, one
/// snapshot (Iceberg) and one log entry (Delta) over the files the plan landed. Runs inside
/// <see cref="LakeCommitter"/>, after the data files and before the manifest; every commit is idempotent per run id.
/// </summary>
internal sealed class TableFormatCommitter(IObjectStore store, TimeProvider time)
{
    public const string Iceberg = "iceberg";
    public const string Delta = "delta";

    /// <summary>The format names (<see cref="Iceberg"/>, <see cref="Delta"/>) a destination's <c>table_format</c> writes, in commit order.</summary>
    public static List<string> NamesOf(Config.TableFormats formats) =>
        [.. new[] { (Config.TableFormats.Iceberg, Iceberg), (Config.TableFormats.Delta, Delta) }.Where(f => formats.HasFlag(f.Item1)).Select(f => f.Item2)];

    /// <summary>
    /// Computes, into the plan (and so into its journal), what the table-format commits write that depends on the plan
    /// alone: Delta's schema string and each added file's stats. Called before the journal is saved, so a value that
    /// cannot be written fails the run with nothing visible; the commit itself then only reads each table's current
    /// version and writes. Fills only what is missing (a journal saved by an earlier version is completed the same way).
    /// </summary>
    public static void Prepare(CommitPlan plan)
    {
        foreach (var table in plan.TableMetadata)
            if (table.Has(Delta)) DeltaTable.Prepare(table);
    }

    public async Task CommitAsync(CommitPlan plan, CancellationToken cancellationToken)
    {
        Prepare(plan);
        foreach (var table in plan.TableMetadata)
        {
            if (table.Has(Iceberg))
            {
                var iceberg = new IcebergTable(store, time);
                table.IcebergMetadata = store.Bucket.Canonical + "/" + await (table.RemovesAndAdds
                    ? iceberg.ReplaceAsync(table, plan.RunId, cancellationToken)
                    : iceberg.CommitAsync(table, plan.RunId, cancellationToken)).ConfigureAwait(false);
            }
            if (table.Has(Delta))
            {
                var delta = new DeltaTable(store, time);
                table.DeltaLog = store.Bucket.Canonical + "/" + await (table.RemovesAndAdds
                    ? delta.OptimizeAsync(table, plan.RunId, cancellationToken)
                    : delta.CommitAsync(table, plan.RunId, cancellationToken)).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// The keys of the data files a table reads now: its current Iceberg snapshot's when it has Iceberg metadata, else its
    /// latest Delta version's; empty for a table without a commit yet.
    /// </summary>
    public async Task<List<string>> LiveDataFileKeysAsync(TableMetadataCommit table, CancellationToken cancellationToken)
    {
        if (table.Has(Iceberg)) return await new IcebergTable(store, time).LiveDataFileKeysAsync(table, cancellationToken).ConfigureAwait(false);
        var delta = new DeltaTable(store, time);
        var latest = await delta.LatestVersionAsync(table.Prefix, cancellationToken).ConfigureAwait(false);
        if (latest < 0) return [];
        return [.. (await delta.LiveFilesAsync(table.Prefix, latest, cancellationToken).ConfigureAwait(false)).Keys
            .Select(path => DeltaTable.KeyOf(table.Prefix, path))];
    }
}
