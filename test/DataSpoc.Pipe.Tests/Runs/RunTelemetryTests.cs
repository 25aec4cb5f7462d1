using System.Diagnostics;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Tests.Support;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace DataSpoc.Pipe.Tests.Runs;

/// <summary>
/// Real runs observed through the OpenTelemetry SDK with in-memory exporters. Other tests run pipelines at the same
/// time, so spans are picked by this run's trace and metrics by this test's unique pipeline name.
/// </summary>
public sealed class RunTelemetryTests : IDisposable
{
    private readonly TempLake _lake = new();
    private readonly LockedCollection<Activity> _spans = new();
    private readonly LockedCollection<Metric> _metrics = new();
    private readonly TracerProvider _traces;
    private readonly MeterProvider _meters;
    private readonly string _pipeline = "otel-" + Guid.NewGuid().ToString("N")[..8];

    public RunTelemetryTests()
    {
        _traces = Sdk.CreateTracerProviderBuilder().AddSource(RunTelemetry.Name).AddInMemoryExporter(_spans).Build()!;
        _meters = Sdk.CreateMeterProviderBuilder().AddMeter(RunTelemetry.Name).AddInMemoryExporter(_metrics).Build()!;
    }

    public void Dispose()
    {
        _traces.Dispose();
        _meters.Dispose();
        _lake.Dispose();
    }

    private string Shop(int orders) => _lake.WriteSinger("shop.singer", [
        """{"type":"SCHEMA","stream":"orders","schema":{"properties":{"id":{"type":"integer"}}},"key_properties":["id"]}""",
        .. Enumerable.Range(1, orders).Select(i => "{\"type\":\"RECORD\",\"stream\":\"orders\",\"record\":{\"id\":" + i + "}}"),
        """{"type":"SCHEMA","stream":"customers","schema":{"properties":{"id":{"type":"integer"}}},"key_properties":["id"]}""",
        """{"type":"RECORD","stream":"customers","record":{"id":1}}""",
    ]);

    private List<Activity> SpansOf(RunResult result)
    {
        _traces.ForceFlush();
        var spans = _spans.Snapshot();
        var root = Assert.Single(spans, s => s.GetTagItem("dataspoc.run_id") as string == result.Log.RunId);
        return spans.Where(s => s.TraceId == root.TraceId).ToList();
    }

    private Dictionary<string, double> Sums(string metric, string byTag)
    {
        _meters.ForceFlush();
        var sums = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var m in _metrics.Where(m => m.Name == metric))
            foreach (ref readonly var point in m.GetMetricPoints())
            {
                string? pipeline = null, key = null;
                foreach (var tag in point.Tags)
                {
                    if (tag.Key == "pipeline") pipeline = tag.Value as string;
                    if (tag.Key == byTag) key = tag.Value as string;
                }
                if (pipeline != _pipeline || key is null) continue;
                var value = m.MetricType switch
                {
                    MetricType.LongSum => point.GetSumLong(),
                    MetricType.Histogram => point.GetHistogramCount(),
                    _ => double.NaN,
                };
                sums[key] = value; // cumulative temporality: the latest point is the total
            }
        return sums;
    }

    [Fact]
    public async Task A_run_is_one_trace_with_extract_write_commit_spans_and_an_upload_span_per_file()
    {
        var result = await TempLake.RunAsync(_lake.Pipeline(_pipeline, Shop(3)));
        Assert.True(result.Succeeded, result.Log.Error);

        var spans = SpansOf(result);
        var root = Assert.Single(spans, s => s.Parent is null && s.ParentSpanId == default);
        Assert.Equal("run " + _pipeline, root.DisplayName);
        Assert.Equal(("success", 4L), (root.GetTagItem("dataspoc.status"), root.GetTagItem("dataspoc.records")));
        var steps = spans.Where(s => s.ParentSpanId == root.SpanId).OrderBy(s => s.StartTimeUtc).ToList();
        Assert.Equal(["extract", "write", "commit"], steps.Select(s => s.DisplayName));
        for (var i = 1; i < steps.Count; i++) Assert.True(steps[i].StartTimeUtc >= steps[i - 1].StartTimeUtc + steps[i - 1].Duration);
        var uploads = spans.Where(s => s.DisplayName == "upload").ToList();
        Assert.All(uploads, u => Assert.Equal(steps[2].SpanId, u.ParentSpanId));
        Assert.Equal(_lake.ParquetKeys().Order(StringComparer.Ordinal), uploads.Select(u => (string)u.GetTagItem("dataspoc.key")!).Order(StringComparer.Ordinal));
        Assert.Equal(2, uploads.Count);

        Assert.Equal(new Dictionary<string, double> { ["orders"] = 3, ["customers"] = 1 }, Sums("dataspoc_pipe.records", "stream"));
        Assert.Equal(new Dictionary<string, double> { ["orders"] = 1, ["customers"] = 1 }, Sums("dataspoc_pipe.files", "stream"));
        Assert.Equal(result.Log.Streams["orders"].Bytes, Sums("dataspoc_pipe.bytes", "stream")["orders"]);
        Assert.Equal(new Dictionary<string, double> { ["orders"] = 1, ["customers"] = 1 }, Sums("dataspoc_pipe.stream.duration", "stream"));
        Assert.Equal(new Dictionary<string, double> { ["success"] = 1 }, Sums("dataspoc_pipe.run.duration", "status"));
        Assert.Empty(Sums("dataspoc_pipe.failures", "step"));

        var again = await TempLake.RunAsync(_lake.Pipeline(_pipeline, Shop(2)));
        Assert.True(again.Succeeded, again.Log.Error);
        Assert.Equal(5, Sums("dataspoc_pipe.records", "stream")["orders"]);
        Assert.Equal(new Dictionary<string, double> { ["success"] = 2 }, Sums("dataspoc_pipe.runs", "status"));
    }

    [Fact]
    public async Task Durations_go_to_buckets_in_seconds_so_a_short_run_is_told_apart_from_a_five_second_one()
    {
        var result = await TempLake.RunAsync(_lake.Pipeline(_pipeline, Shop(3)));
        Assert.True(result.Succeeded, result.Log.Error);
        _meters.ForceFlush();
        foreach (var name in new[] { "dataspoc_pipe.run.duration", "dataspoc_pipe.stream.duration" })
        {
            var points = new List<(double Lower, double Upper, double Sum)>();
            foreach (var m in _metrics.Where(m => m.Name == name))
                foreach (ref readonly var point in m.GetMetricPoints())
                {
                    var ours = false;
                    foreach (var tag in point.Tags) ours |= tag.Key == "pipeline" && tag.Value as string == _pipeline;
                    if (!ours) continue;
                    var lower = double.NegativeInfinity;
                    foreach (var bucket in point.GetHistogramBuckets())
                    {
                        if (bucket.BucketCount > 0) points.Add((lower, bucket.ExplicitBound, point.GetHistogramSum()));
                        lower = bucket.ExplicitBound;
                    }
                }
            Assert.NotEmpty(points);
            // The SDK's default bounds (made for milliseconds) put any run under 5 s in (0, 5]; these are at most 3x apart.
            Assert.All(points, p => Assert.True(p.Lower > 0 && p.Upper <= 3 * p.Lower && p.Lower < p.Sum, $"{name}: bucket ({p.Lower}, {p.Upper}]"));
        }
    }

    [Fact]
    public async Task A_run_that_cannot_open_its_bucket_sends_a_failed_span_and_counts_a_failure_at_start()
    {
        // A bucket folder below a plain file can never be created: its lock cannot be written.
        File.WriteAllText(Path.Combine(_lake.Root, "not-a-folder"), "");
        var pipeline = _lake.Pipeline(_pipeline, Shop(3), p => p with { Destination = p.Destination with { Bucket = _lake.Bucket + "/not-a-folder/lake" } });
        var error = await Assert.ThrowsAnyAsync<PipeException>(() => TempLake.RunAsync(pipeline));

        _traces.ForceFlush();
        var root = Assert.Single(_spans.Snapshot(), s => s.GetTagItem("dataspoc.pipeline") as string == _pipeline);
        Assert.Equal(ActivityStatusCode.Error, root.Status);
        Assert.Equal(error.Message, root.StatusDescription);
        Assert.Equal(("failure", "start"), (root.GetTagItem("dataspoc.status"), root.GetTagItem("dataspoc.failed_step")));
        Assert.Equal(new Dictionary<string, double> { ["start"] = 1 }, Sums("dataspoc_pipe.failures", "step"));
        Assert.Equal(new Dictionary<string, double> { ["failure"] = 1 }, Sums("dataspoc_pipe.runs", "status"));
    }

    [Fact]
    public async Task A_failed_run_marks_its_span_and_step_as_errors_and_counts_a_failure_by_step()
    {
        var result = await TempLake.RunAsync(_lake.Pipeline(_pipeline, Shop(3), extraConfig: new JsonObject { ["exit_code"] = 2 }));
        Assert.False(result.Succeeded);

        var spans = SpansOf(result);
        var root = Assert.Single(spans, s => s.ParentSpanId == default);
        Assert.Equal(ActivityStatusCode.Error, root.Status);
        Assert.Contains("the tap exited with code 2", root.StatusDescription);
        var extract = Assert.Single(spans, s => s.DisplayName == "extract");
        Assert.Equal(ActivityStatusCode.Error, extract.Status);
        Assert.DoesNotContain(spans, s => s.DisplayName is "commit" or "upload");
        Assert.Equal(new Dictionary<string, double> { ["extract"] = 1 }, Sums("dataspoc_pipe.failures", "step"));
        Assert.Equal(new Dictionary<string, double> { ["failure"] = 1 }, Sums("dataspoc_pipe.runs", "status"));
    }
}
