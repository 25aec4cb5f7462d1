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
/// before the process exits.
/// </summary>
internal static class OtlpTelemetry
{
    public const string EndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    public static IDisposable? StartFromEnvironment()
    {
        if (string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(EndpointVariable))) return null;
        var resource = ResourceBuilder.CreateDefault();
        if (string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("OTEL_SERVICE_NAME")))
            resource.AddService("dataspoc-pipe", serviceVersion: ToolVersion.Current);
        var traces = Sdk.CreateTracerProviderBuilder().SetResourceBuilder(resource).AddSource(RunTelemetry.Name).AddOtlpExporter().Build();
        var metrics = Sdk.CreateMeterProviderBuilder().SetResourceBuilder(resource).AddMeter(RunTelemetry.Name).AddOtlpExporter().Build();
        return new Providers(traces, metrics);
    }

    private sealed class Providers(TracerProvider? traces, MeterProvider? metrics) : IDisposable
    {
        public void Dispose()
        {
            // Traces first: their batch is flushed, then the metric reader collects the final counts once more.
            traces?.Dispose();
            metrics?.Dispose();
        }
    }
}
