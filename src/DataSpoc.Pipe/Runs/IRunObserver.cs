using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Sources;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Runs;

/// <summary>
/// Hears about a run as it starts and when it ends (e.g. to emit OpenLineage events). An observer never fails a run:
/// whatever it throws becomes a notice in the run log. It is awaited, so it should bound its own waiting (a timeout).
/// </summary>
public interface IRunObserver
{
    /// <summary>
    /// The run holds its pipeline's lock and is about to extract; or it could not get there (its bucket could not be
    /// opened, its lock not taken), and <see cref="RunFinishedAsync"/> follows at once with the failure.
    /// </summary>
    Task RunStartedAsync(RunStart run, CancellationToken cancellationToken);

    /// <summary>
    /// The run ended; <paramref name="log"/> is complete but for notices (a failure here adds one) and not yet saved (never,
    /// for a run that failed before it could start: it has no run log).
    /// <paramref name="tables"/> holds the tables it made visible (none when it failed).
    /// </summary>
    Task RunFinishedAsync(RunStart run, RunLog log, IReadOnlyList<TableOutput> tables, CancellationToken cancellationToken);
}

/// <summary>A run that has started.</summary>
/// <param name="Pipeline">What runs.</param>
/// <param name="RunId">The run's id (as in its run log).</param>
/// <param name="StartedAt">When it started.</param>
/// <param name="Bucket">The bucket it writes to.</param>
/// <param name="SourceName">The <c>&lt;source&gt;</c> folder its tables go to.</param>
/// <param name="Redactor">Masks the pipeline's secrets in anything an observer sends or reports.</param>
public sealed record RunStart(PipelineDefinition Pipeline, string RunId, DateTimeOffset StartedAt, BucketUri Bucket, string SourceName, Redactor Redactor);

/// <summary>One table a run wrote.</summary>
/// <param name="Bucket">The bucket's URI (e.g. <c>s3://lake</c>).</param>
/// <param name="Path">The table's folder inside the bucket (e.g. <c>raw/postgres/orders</c>).</param>
/// <param name="Columns">Its columns as written.</param>
/// <param name="Rows">Rows this run wrote.</param>
/// <param name="Bytes">Bytes of Parquet this run wrote.</param>
/// <param name="Files">Files this run wrote.</param>
public sealed record TableOutput(string Bucket, string Path, IReadOnlyList<ManifestColumn> Columns, long Rows, long Bytes, long Files);
