using System.Diagnostics;
using System.Diagnostics.Metrics;
using DataSpoc.Pipe.Lake;

namespace DataSpoc.Pipe.Runs;

/// <summary>
/// A run's traces and metrics through System.Diagnostics only (no SDK here: the CLI wires an exporter when
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set; without a listener every call below costs next to nothing).
/// Spans: <c>run &lt;pipeline&gt;</c> with children <c>extract</c>, <c>write</c>, <c>commit</c>, and <c>upload</c> per file.
/// </summary>
public static class RunTelemetry
{
    /// <summary>The name of the ActivitySource and of the Meter.</summary>
    public const string Name = "DataSpoc.Pipe";

    internal static readonly ActivitySource Source = new(Name, ToolVersion.Current);

    /// <summary>
    /// Bucket bounds in seconds, from a quick run to a day's: without them an SDK uses its default bounds, which are made
    /// for milliseconds (0, 5, 10, 25, ... 10000) and would put every run under 5 s in one bucket. Declared before the
    /// histograms: static fields are set in order, and a histogram created before this one would get no advice.
    /// </summary>
    internal static readonly InstrumentAdvice<double> DurationBuckets = new()
    {
        HistogramBucketBoundaries = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400],
    };

    private static readonly Meter Meter = new(Name, ToolVersion.Current);
    private static readonly Counter<long> Records = Meter.CreateCounter<long>("dataspoc_pipe.records", "{record}", "Records written, per pipeline and stream");
    private static readonly Counter<long> Bytes = Meter.CreateCounter<long>("dataspoc_pipe.bytes", "By", "Parquet bytes written, per pipeline and stream");
    private static readonly Counter<long> Files = Meter.CreateCounter<long>("dataspoc_pipe.files", "{file}", "Parquet files written, per pipeline and stream");
    private static readonly Counter<long> Runs = Meter.CreateCounter<long>("dataspoc_pipe.runs", "{run}", "Runs, per pipeline and status");
    private static readonly Counter<long> Failures = Meter.CreateCounter<long>("dataspoc_pipe.failures", "{run}", "Failed runs, per pipeline and failed step");
    private static readonly Histogram<double> RunDuration = Meter.CreateHistogram<double>("dataspoc_pipe.run.duration", "s", "Run duration, per pipeline and status",
        tags: null, advice: DurationBuckets);
    private static readonly Histogram<double> StreamDuration = Meter.CreateHistogram<double>("dataspoc_pipe.stream.duration", "s",
        "Per pipeline and stream: from the start of the run until the stream's files were written", tags: null, advice: DurationBuckets);

    internal static Activity? StartRun(RunStart run)
    {
        var activity = Source.StartActivity("run " + run.Pipeline.Name, ActivityKind.Internal, parentContext: default);
        activity?.SetTag("dataspoc.pipeline", run.Pipeline.Name);
        activity?.SetTag("dataspoc.run_id", run.RunId);
        activity?.SetTag("dataspoc.bucket", run.Redactor.Redact(run.Bucket.Canonical));
        return activity;
    }

    internal static Activity? StartStep(string step) => Source.StartActivity(step);

    /// <summary>A span around one file's upload into the bucket (the commit's data-file phase).</summary>
    internal static Activity? StartUpload(string key)
    {
        var activity = Source.StartActivity("upload");
        activity?.SetTag("dataspoc.key", key);
        return activity;
    }

    internal static void Record(RunLog log, IReadOnlyDictionary<string, TimeSpan> streamDurations)
    {
        var pipeline = new KeyValuePair<string, object?>("pipeline", log.Pipeline);
        foreach (var (stream, s) in log.Streams)
        {
            var tag = new KeyValuePair<string, object?>("stream", stream);
            Records.Add(s.Records, pipeline, tag);
            Bytes.Add(s.Bytes, pipeline, tag);
            Files.Add(s.Files, pipeline, tag);
            if (streamDurations.TryGetValue(stream, out var d)) StreamDuration.Record(d.TotalSeconds, pipeline, tag);
        }
        var status = new KeyValuePair<string, object?>("status", log.Status);
        Runs.Add(1, pipeline, status);
        RunDuration.Record(log.DurationSeconds, pipeline, status);
        if (log.Status != "success") Failures.Add(1, pipeline, new KeyValuePair<string, object?>("step", log.FailedStep ?? "unknown"));
    }
}
