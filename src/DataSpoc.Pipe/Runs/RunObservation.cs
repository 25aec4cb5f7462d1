using System.Diagnostics;
using DataSpoc.Pipe.Lake;

namespace DataSpoc.Pipe.Runs;

/// <summary>
/// The runner's one hook for watching a run: its trace (a span per step, see <see cref="RunTelemetry"/>) and metrics,
/// and the <see cref="IRunObserver"/>s (e.g. OpenLineage), whose failures become run-log notices, so a collector that
/// is down never fails a run.
/// </summary>
/// <remarks>
/// <see cref="Start"/>, <see cref="Step"/> and the synchronous part of <see cref="FinishAsync"/> change
/// <see cref="Activity.Current"/> in the runner's own flow (an async method's changes would not reach it), so work the
/// runner does inside a step (the commit's uploads) becomes that step's child span.
/// </remarks>
internal sealed class RunObservation
{
    private readonly IReadOnlyList<IRunObserver> _observers;
    private readonly RunStart _run;
    private readonly Activity? _runSpan;
    private readonly long _startTimestamp = Stopwatch.GetTimestamp();
    private readonly Dictionary<string, TimeSpan> _streamWritten = new(StringComparer.Ordinal);
    private Activity? _stepSpan;

    private RunObservation(IReadOnlyList<IRunObserver> observers, RunStart run)
    {
        _observers = observers;
        _run = run;
        _runSpan = RunTelemetry.StartRun(run);
    }

    /// <summary>Opens the run's span; <see cref="StartedAsync"/> then tells the observers.</summary>
    public static RunObservation Start(IReadOnlyList<IRunObserver> observers, RunStart run) => new(observers, run);

    /// <summary>
    /// A run that failed before it could start (its bucket could not be opened, its lock not taken): observers hear of it
    /// as of any failed run, START then FAIL with <paramref name="log"/>'s error, and it counts as a failure in the metrics.
    /// </summary>
    public static async Task FailedToStartAsync(IReadOnlyList<IRunObserver> observers, RunStart run, RunLog log)
    {
        var observation = Start(observers, run);
        await observation.StartedAsync(log.Notices).ConfigureAwait(false);
        await observation.FinishAsync(log, null).ConfigureAwait(false);
    }

    public async Task StartedAsync(List<string> notices)
    {
        foreach (var observer in _observers)
            await SafelyAsync(notices, () => observer.RunStartedAsync(_run, CancellationToken.None)).ConfigureAwait(false);
    }

    /// <summary>Ends the current step's span and opens the next one's.</summary>
    public void Step(string step)
    {
        _stepSpan?.Dispose();
        Activity.Current = _runSpan ?? Activity.Current;
        _stepSpan = RunTelemetry.StartStep(step);
    }

    /// <summary>A stream's files are complete: its duration for the per-stream metric.</summary>
    public void StreamWritten(string stream) => _streamWritten[stream] = Stopwatch.GetElapsedTime(_startTimestamp);

    /// <summary>Ends the spans, records the metrics and tells the observers; <paramref name="plan"/> is the committed plan (null when none).</summary>
    public Task FinishAsync(RunLog log, CommitPlan? plan)
    {
        var failed = log.Status != "success";
        if (failed)
        {
            _stepSpan?.SetStatus(ActivityStatusCode.Error, log.Error);
            _runSpan?.SetStatus(ActivityStatusCode.Error, log.Error);
            _runSpan?.SetTag("dataspoc.failed_step", log.FailedStep);
        }
        _runSpan?.SetTag("dataspoc.status", log.Status);
        _runSpan?.SetTag("dataspoc.records", log.TotalRecords);
        _stepSpan?.Dispose();
        _runSpan?.Dispose();
        RunTelemetry.Record(log, _streamWritten);
        var tables = plan is null || failed ? [] : TablesOf(plan, _run.Bucket.Canonical);
        return NotifyFinishedAsync(log, tables);
    }

    private async Task NotifyFinishedAsync(RunLog log, List<TableOutput> tables)
    {
        foreach (var observer in _observers)
            await SafelyAsync(log.Notices, () => observer.RunFinishedAsync(_run, log, tables, CancellationToken.None)).ConfigureAwait(false);
    }

    private static List<TableOutput> TablesOf(CommitPlan plan, string bucket) =>
        plan.Tables.Select(t => new TableOutput(bucket,
            t.Entry.Location.StartsWith(bucket + "/", StringComparison.Ordinal) ? t.Entry.Location[(bucket.Length + 1)..] : t.Entry.Location,
            // A merge's received records (deletes among them) are not what it wrote: its files hold the merged rows.
            t.Entry.Columns, t.Merge?.RowsWritten ?? t.Rows, t.Bytes, t.Files)).ToList();

    private async Task SafelyAsync(List<string> notices, Func<Task> call)
    {
        try { await call().ConfigureAwait(false); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            notices.Add(_run.Redactor.Redact(e.Message));
        }
    }
}
