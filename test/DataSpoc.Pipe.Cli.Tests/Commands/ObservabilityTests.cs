using System.Text;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Cli.Tests.Support;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

/// <summary>`run` exporting to loopback collectors through the standard variables: OTLP/HTTP (protobuf) and OpenLineage.</summary>
public sealed class ObservabilityTests : IDisposable
{
    private readonly TempHome _home = new();
    private readonly LoopbackReceiver _receiver = new();

    public void Dispose()
    {
        _receiver.Dispose();
        _home.Dispose();
    }

    [Fact]
    public void With_OTEL_EXPORTER_OTLP_ENDPOINT_set_a_run_exports_its_trace_and_metrics_over_OTLP_HTTP()
    {
        _home.WriteShopPipeline("shop");
        _home.Set("OTEL_EXPORTER_OTLP_ENDPOINT", _receiver.Url).Set("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf");
        var result = CliProcess.Run(_home, "run", "shop");
        Assert.True(result.ExitCode == 0, result.ToString());

        var traces = _receiver.Requests.Where(r => r.Path == "/v1/traces").ToList();
        Assert.NotEmpty(traces);
        Assert.All(traces, r => Assert.Equal("application/x-protobuf", r.ContentType));
        // Protobuf keeps strings as UTF-8 bytes: the span and resource names are readable in the request body.
        var traceBytes = traces.SelectMany(r => r.Body).ToArray();
        foreach (var name in new[] { "run shop", "extract", "write", "commit", "upload", "dataspoc-pipe", "DataSpoc.Pipe" })
            Assert.True(Contains(traceBytes, name), $"the trace export holds no '{name}'");
        var metrics = _receiver.Requests.Where(r => r.Path == "/v1/metrics").SelectMany(r => r.Body).ToArray();
        foreach (var name in new[] { "dataspoc_pipe.records", "dataspoc_pipe.run.duration", "orders", "customers" })
            Assert.True(Contains(metrics, name), $"the metrics export holds no '{name}'");
        Assert.DoesNotContain(_receiver.Requests, r => r.Path.Contains("lineage", StringComparison.Ordinal));
    }

    /// <summary>
    /// A header written with ':' (the common mistake) or a timeout of 0 makes the OpenTelemetry SDK throw: telemetry is
    /// turned off for the command and the run goes on, saying so once on stderr and in its run log, naming the variable
    /// and never the header's value (it carries the token).
    /// </summary>
    [Theory]
    [InlineData("OTEL_EXPORTER_OTLP_HEADERS", "Authorization: Bearer tok-9f2e71", "OTEL_EXPORTER_OTLP_HEADERS is not a comma-separated list of name=value headers")]
    [InlineData("OTEL_EXPORTER_OTLP_TIMEOUT", "0", "OTEL_EXPORTER_OTLP_TIMEOUT is '0', not a whole number of milliseconds above 0")]
    public void A_malformed_OTLP_variable_turns_telemetry_off_with_a_warning_naming_it_and_the_run_goes_on(string variable, string value, string problem)
    {
        _home.WriteShopPipeline("shop");
        _home.Set("OTEL_EXPORTER_OTLP_ENDPOINT", _receiver.Url).Set("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf").Set(variable, value);

        var result = CliProcess.Run(_home, "run", "shop", "--output", "json");

        Assert.True(result.ExitCode == 0, result.ToString());
        var warning = Assert.Single(result.Stderr.Split('\n'), l => l.Contains("OpenTelemetry", StringComparison.Ordinal));
        Assert.StartsWith("warning: OpenTelemetry is off for this command: " + problem, warning);
        Assert.EndsWith("the run goes on without traces or metrics", warning);
        var notice = Assert.Single(Json.Parse(result)["notices"]!.AsArray(), n => ((string)n!).Contains(variable, StringComparison.Ordinal));
        Assert.Equal(warning["warning: ".Length..], (string)notice!);
        Assert.DoesNotContain("tok-9f2e71", result.Stdout + result.Stderr);
        Assert.Empty(_receiver.Requests);
    }

    /// <summary>
    /// A collector that never answers holds the exit for about OTEL_EXPORTER_OTLP_TIMEOUT, traces and metrics flushed at
    /// once: not cut to 5 s per export (which lost a slow collector's exports), not the two timeouts added up.
    /// </summary>
    [Fact]
    public void A_collector_that_never_answers_holds_the_exit_for_about_OTEL_EXPORTER_OTLP_TIMEOUT()
    {
        using var stalled = new StalledEndpoint();
        _home.WriteShopPipeline("shop");
        Assert.Equal(0, CliProcess.Run(_home, "run", "shop").ExitCode); // warms up (first run of a home, cold caches): not measured
        var plain = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(0, CliProcess.Run(_home, "run", "shop").ExitCode);
        var baseline = plain.Elapsed.TotalSeconds;

        _home.Set("OTEL_EXPORTER_OTLP_ENDPOINT", stalled.Url).Set("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf").Set("OTEL_EXPORTER_OTLP_TIMEOUT", "12000");
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var result = CliProcess.Run(_home, "run", "shop");
        var extra = watch.Elapsed.TotalSeconds - baseline;

        Assert.True(result.ExitCode == 0, result.ToString());
        // 12 s: past the 5 s the SDK gave each export before (about 10 s in all, whatever the variable said), so the lower
        // bound tells the two apart however loaded the machine is; the upper one only says the exit is not held for long after.
        Assert.True(watch.Elapsed.TotalSeconds > 11.5 && extra < 22, $"the run took {watch.Elapsed.TotalSeconds:0.0} s, {extra:0.0} s longer than without a collector (expected about 12 s longer)");
    }

    [Fact]
    public void With_OPENLINEAGE_URL_set_a_run_posts_START_and_COMPLETE_and_without_it_nothing()
    {
        _home.WriteShopPipeline("shop");
        var quiet = CliProcess.Run(_home, "run", "shop");
        Assert.True(quiet.ExitCode == 0, quiet.ToString());
        Assert.Empty(_receiver.Requests);

        _home.Set("OPENLINEAGE_URL", _receiver.Url).Set("OPENLINEAGE_NAMESPACE", "ops");
        var result = CliProcess.Run(_home, "run", "shop", "--output", "json");
        Assert.True(result.ExitCode == 0, result.ToString());
        var events = _receiver.Requests.Select(r => (r.Path, Event: JsonNode.Parse(r.Body)!)).ToList();
        Assert.All(events, e => Assert.Equal("/api/v1/lineage", e.Path));
        Assert.Equal(["START", "COMPLETE"], events.Select(e => (string)e.Event["eventType"]!));
        Assert.Equal("ops", (string)events[1].Event["job"]!["namespace"]!);
        Assert.Equal(["raw/shop_tap/customers", "raw/shop_tap/orders"],
            events[1].Event["outputs"]!.AsArray().Select(o => (string)o!["name"]!).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void An_openlineage_block_in_config_yaml_with_the_file_transport_appends_the_events()
    {
        _home.WriteShopPipeline("shop");
        var file = Path.Combine(_home.Root, "lineage.jsonl");
        File.WriteAllText(Path.Combine(_home.Home, "config.yaml"), $"openlineage:\n  transport:\n    type: file\n    path: {file}\n");
        var result = CliProcess.Run(_home, "run", "shop");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(["START", "COMPLETE"], File.ReadAllLines(file).Select(l => (string)JsonNode.Parse(l)!["eventType"]!));

        File.WriteAllText(Path.Combine(_home.Home, "config.yaml"), "openlineage:\n  transport:\n    type: kafka\n");
        var bad = CliProcess.Run(_home, "run", "shop");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("config.yaml:3: openlineage.transport.type: expected http or file, got 'kafka'", bad.Stderr);
    }

    [Fact]
    public void An_api_key_variable_in_config_yaml_comes_from_the_homes_env_file_as_the_pipelines_do()
    {
        _home.WriteShopPipeline("shop");
        File.WriteAllText(Path.Combine(_home.Home, "config.yaml"),
            $"openlineage:\n  transport:\n    type: http\n    url: {_receiver.Url}\n    api_key: ${{LINEAGE_TEST_KEY}}\n");
        var unset = CliProcess.Run(_home, "validate", "shop", "--output", "json");
        Assert.Contains("openlineage.transport.api_key: environment variable 'LINEAGE_TEST_KEY' is not set", unset.Stdout);
        Assert.Empty(_receiver.Requests);

        var envFile = Path.Combine(_home.Home, ".env");
        File.AppendAllText(envFile, "LINEAGE_TEST_KEY=lk-from-dotenv-5e1\n");
        File.SetUnixFileMode(envFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var result = CliProcess.Run(_home, "run", "shop");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(["Bearer lk-from-dotenv-5e1", "Bearer lk-from-dotenv-5e1"], _receiver.Requests.Select(r => r.Authorization));
    }

    private static bool Contains(byte[] haystack, string needle) => haystack.AsSpan().IndexOf(Encoding.UTF8.GetBytes(needle)) >= 0;
}
