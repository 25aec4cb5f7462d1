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
            var replace = table.Operation == TableMetadataCommit.Replace;
            if (table.Has(Iceberg))
            {
                var iceberg = new IcebergTable(store, time);
                table.IcebergMetadata = store.Bucket.Canonical + "/" + await (replace
                    ? iceberg.ReplaceAsync(table, plan.RunId, cancellationToken)
                    : iceberg.CommitAsync(table, plan.RunId, cancellationToken)).ConfigureAwait(false);
            }
            if (table.Has(Delta))
            {
                var delta = new DeltaTable(store, time);
                table.DeltaLog = store.Bucket.Canonical + "/" + await (replace
                    ? delta.OptimizeAsync(table, plan.RunId, cancellationToken)
                    : delta.CommitAsync(table, plan.RunId, cancellationToken)).ConfigureAwait(false);
            }
        }
    }
}
