using DataSpoc.Pipe.Sources;

namespace DataSpoc.Pipe.Runs;

/// <summary>
/// A run's progress, reported to its caller's <see cref="RunOptions.Progress"/> every 200 ms from a task of its own, with
/// the step the run is in (<c>extract</c>, <c>write</c>, <c>commit</c>). The callback is the caller's code: one that
/// blocks delays only its own next report, never the watchdog that enforces <c>source.timeout</c> and
/// <c>idle_timeout</c> nor the run; one that throws gets no more reports and the run log says so in a notice, while the
/// run goes on (a bug in a progress bar must not throw a load away).
/// </summary>
internal sealed class ProgressReports : IDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);

    private readonly IProgress<RunProgress> _progress;
    private readonly RunIngest _ingest;
    private readonly DateTimeOffset _startedAt;
    private readonly TimeProvider _time;
    private readonly Redactor _redactor;
    private readonly CancellationTokenSource _stop = new();
    private volatile string _phase = "extract";
    private volatile string? _failure;

    private ProgressReports(IProgress<RunProgress> progress, RunIngest ingest, DateTimeOffset startedAt, TimeProvider time, Redactor redactor)
    {
        (_progress, _ingest, _startedAt, _time, _redactor) = (progress, ingest, startedAt, time, redactor);
        _ = Task.Run(ReportAsync, CancellationToken.None);
    }

    /// <summary>Starts reporting (from the extract step on: the counters are the ingest's); null when nobody listens.</summary>
    public static ProgressReports? Start(IProgress<RunProgress>? progress, RunIngest ingest, DateTimeOffset startedAt, TimeProvider time, Redactor redactor) =>
        progress is null ? null : new ProgressReports(progress, ingest, startedAt, time, redactor);

    /// <summary>The run's step, for the reports from now on.</summary>
    public string Phase { set => _phase = value; }

    /// <summary>The run log's notice when the callback threw (it got no more reports after that); null otherwise.</summary>
    public string? Failure => _failure;

    /// <summary>
    /// The run's counters so far, stream names masked with the run log's redactor: a stream may be named after a value
    /// that is a secret and also stated in clear in the tap config (a <c>${VAR}</c> dbname in tap-postgres's
    /// <c>&lt;dbname&gt;-&lt;schema&gt;-&lt;table&gt;</c>), and every front end shows progress as it comes (CLI lines, MCP
    /// notifications), so it is masked here, once, as the run log is.
    /// </summary>
    private RunProgress Snapshot() =>
        new(_time.GetUtcNow() - _startedAt,
            _ingest.Streams.Where(s => s.Selected).Select(s => new StreamProgress(_redactor.Redact(s.Name), s.Records, s.Rejected, s.FilesSoFar, s.BytesSoFar)).ToList(),
            _phase);

    private async Task ReportAsync()
    {
        while (true)
        {
            try { await Task.Delay(Interval, _time, _stop.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
            try
            {
                _progress.Report(Snapshot());
            }
            catch (Exception e)
            {
                _failure = $"the progress callback ({_progress.GetType().Name}) threw {e.GetType().Name}: {e.Message}; " +
                    "it got no more progress reports, and the run went on";
                return;
            }
        }
    }

    /// <summary>Stops reporting; a report under way (a callback that blocks) is not waited for.</summary>
    public void Dispose()
    {
        _stop.Cancel();
    }
}
