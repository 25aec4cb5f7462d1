using System.Globalization;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>
/// Exports the engine's run traces and metrics (<see cref="RunTelemetry"/>) over OTLP when
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set; nothing otherwise. The exporter reads the standard variables itself
/// (<c>OTEL_EXPORTER_OTLP_PROTOCOL</c> grpc or http/protobuf, <c>_HEADERS</c>, <c>_TIMEOUT</c>, <c>OTEL_SERVICE_NAME</c>,
/// <c>OTEL_RESOURCE_ATTRIBUTES</c>). Disposing flushes: the spans and the metrics of the runs reach the collector
/// before the process exits, each export waited for up to its timeout.
/// </summary>
/// <remarks>
/// Telemetry never fails a run: a variable the SDK would throw on (a header without <c>=</c>, a timeout of 0) turns it
/// off for the command, with a <see cref="Started.Problem"/> naming the variable (never its value: headers carry keys).
/// </remarks>
internal static class OtlpTelemetry
{
    public const string EndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>The OTLP default export timeout (<c>OTEL_EXPORTER_OTLP_TIMEOUT</c> unset).</summary>
    public const int DefaultTimeoutMilliseconds = 10_000;

    /// <summary>
    /// The longest export timeout honoured: a larger one is cut to this, so a scheduled command whose collector never
    /// answers still exits within a minute.
    /// </summary>
    public const int MaxTimeoutMilliseconds = 60_000;

    /// <summary>The exporters (null when telemetry is off) and why telemetry is off though configured (null when it is not).</summary>
    public sealed record Started(IDisposable? Telemetry, string? Problem);

    public static Started StartFromEnvironment()
    {
        if (string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(EndpointVariable))) return new(null, null);
        if (VariableProblem() is { } problem) return new(null, Off(problem));
        TracerProvider? traces = null;
        try
        {
            var resource = ResourceBuilder.CreateDefault();
            if (string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("OTEL_SERVICE_NAME")))
                resource.AddService("dataspoc-pipe", serviceVersion: ToolVersion.Current);
            var tracesTimeout = TimeoutOf("TRACES");
            var metricsTimeout = TimeoutOf("METRICS");
            traces = Sdk.CreateTracerProviderBuilder().SetResourceBuilder(resource).AddSource(RunTelemetry.Name)
                .AddOtlpExporter(o => o.TimeoutMilliseconds = tracesTimeout).Build();
            var metrics = Sdk.CreateMeterProviderBuilder().SetResourceBuilder(resource).AddMeter(RunTelemetry.Name)
                .AddOtlpExporter(o => o.TimeoutMilliseconds = metricsTimeout).Build();
            return new(new Providers(traces, metrics, Math.Max(tracesTimeout, metricsTimeout)), null);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Whatever else the SDK refuses: its message, with any credential of the environment masked.
            traces?.Dispose();
            var secrets = new ConfigSecrets();
            foreach (var value in EnvironmentSecrets.Values(Environment.GetEnvironmentVariables())) secrets.AddValue(value);
            return new(null, Off($"its exporter could not be set up from the OTEL_* variables: {secrets.Redact(e.Message)}"));
        }
    }

    private static string Off(string why) => $"OpenTelemetry is off for this command: {why}; the run goes on without traces or metrics";

    /// <summary>
    /// The first OTLP variable the SDK would throw on, named with what is wrong and never its value: a header list item
    /// without <c>name=value</c> (<c>Authorization: Bearer ...</c> instead of <c>Authorization=Bearer ...</c>), or a
    /// timeout that is not a whole number of milliseconds above 0.
    /// </summary>
    internal static string? VariableProblem()
    {
        foreach (var name in new[] { "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_METRICS_HEADERS" })
        {
            if (Environment.GetEnvironmentVariable(name) is not { Length: > 0 } headers) continue;
            var items = headers.Split(',');
            for (var i = 0; i < items.Length; i++)
            {
                var equals = items[i].IndexOf('=', StringComparison.Ordinal);
                if (equals <= 0 || items[i][..equals].Trim().Length == 0)
                    return $"{name} is not a comma-separated list of name=value headers (its item {i + 1} of {items.Length} has no " +
                        $"'name=' before its value; write e.g. Authorization=Bearer <token>, with '=' and not ':')";
            }
        }
        foreach (var name in new[] { "OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT" })
        {
            if (Environment.GetEnvironmentVariable(name) is not { } text) continue;
            if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) || ms <= 0)
                return $"{name} is '{text}', not a whole number of milliseconds above 0 (e.g. 10000)";
        }
        return null;
    }

    /// <summary>A signal's export timeout: its own variable, else the common one, else 10 s; at most <see cref="MaxTimeoutMilliseconds"/>.</summary>
    internal static int TimeoutOf(string signal)
    {
        var text = Environment.GetEnvironmentVariable($"OTEL_EXPORTER_OTLP_{signal}_TIMEOUT") ?? Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_TIMEOUT");
        var ms = int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) && parsed > 0 ? parsed : DefaultTimeoutMilliseconds;
        return Math.Min(ms, MaxTimeoutMilliseconds);
    }

    private sealed class Providers(TracerProvider traces, MeterProvider metrics, int timeoutMilliseconds) : IDisposable
    {
        public void Dispose()
        {
            // Both flushed at once, each waited for up to the export timeout (and a little for the request to end): the
            // SDK's Dispose waits 5 s for each in turn, which cut a longer timeout and added the two waits up.
            var wait = timeoutMilliseconds + 500;
            Task.WaitAll(Task.Run(() => traces.Shutdown(wait)), Task.Run(() => metrics.Shutdown(wait)));
            traces.Dispose();
            metrics.Dispose();
        }
    }
}
