using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Sources;

namespace DataSpoc.Pipe.Runs;

/// <summary>
/// The runner's one hook for watching a run: tells the <see cref="IRunObserver"/>s that it started and ended, and turns
/// anything they throw into a run-log notice, so a lineage collector or similar that is down never fails a run.
/// </summary>
internal sealed class RunObservation(IReadOnlyList<IRunObserver> observers, RunStart run)
{
    public static async Task<RunObservation> StartAsync(IReadOnlyList<IRunObserver> observers, RunStart run, List<string> notices)
    {
        var observation = new RunObservation(observers, run);
        foreach (var observer in observers)
            await observation.SafelyAsync(notices, () => observer.RunStartedAsync(run, CancellationToken.None)).ConfigureAwait(false);
        return observation;
    }

    /// <summary>Tells the observers the run ended; <paramref name="plan"/> is the committed plan (null when the run failed).</summary>
    public async Task FinishAsync(RunLog log, CommitPlan? plan)
    {
        var tables = plan is null || log.Status != "success" ? [] : TablesOf(plan, run.Bucket.Canonical);
        foreach (var observer in observers)
            await SafelyAsync(log.Notices, () => observer.RunFinishedAsync(run, log, tables, CancellationToken.None)).ConfigureAwait(false);
    }

    private static List<TableOutput> TablesOf(CommitPlan plan, string bucket) =>
        plan.Tables.Select(t => new TableOutput(bucket,
            t.Entry.Location.StartsWith(bucket + "/", StringComparison.Ordinal) ? t.Entry.Location[(bucket.Length + 1)..] : t.Entry.Location,
            t.Entry.Columns, t.Rows, t.Bytes, t.Files)).ToList();

    private async Task SafelyAsync(List<string> notices, Func<Task> call)
    {
        try { await call().ConfigureAwait(false); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            notices.Add(run.Redactor.Redact(e.Message));
        }
    }
}
