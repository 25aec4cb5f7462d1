using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using DataSpoc.Pipe.Api;
using Xunit;

namespace DataSpoc.Pipe.Tests.Sources.BuiltIn;

/// <summary>
/// <c>validate</c> lists a built-in tap's streams, which reaches its source: a source that never answers must not hold
/// validation longer than <see cref="PipelineChecks.SourceAnswerTimeout"/>.
/// </summary>
public sealed class BuiltInSourceValidationTests : IDisposable
{
    private readonly string _home = Directory.CreateTempSubdirectory("dsp-validate-").FullName;

    public void Dispose() => Directory.Delete(_home, recursive: true);

    [Fact]
    public async Task A_server_that_accepts_the_connection_and_never_answers_fails_validation_when_its_time_is_up()
    {
        // Listening but never accepting: the connection is made by the kernel and the startup message gets no answer.
        var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        Directory.CreateDirectory(Path.Combine(_home, "pipelines"));
        File.WriteAllText(Path.Combine(_home, "pipelines", "silent.yaml"),
            $"source:\n  tap: postgres\n  config: {{host: 127.0.0.1, port: {port}, user: postgres, dbname: shop}}\n" +
            $"destination:\n  bucket: file://{_home}/lake\n");
        var before = PipelineChecks.SourceAnswerTimeout;
        PipelineChecks.SourceAnswerTimeout = TimeSpan.FromSeconds(1);
        try
        {
            var clock = Stopwatch.StartNew();
            var validation = await new PipeClient(_home).ValidateAsync("silent");
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"validation took {clock.Elapsed}"); // the server alone would hold it 15 s (Npgsql's connect timeout)
            Assert.False(validation.Ok);
            var tap = validation.Checks.Single(c => c.Check == "tap");
            Assert.Equal("'postgres' is a built-in tap, but its source did not list its streams within 1 s", tap.Detail);
            Assert.True(validation.Checks.Single(c => c.Check == "bucket").Ok);
        }
        finally
        {
            PipelineChecks.SourceAnswerTimeout = before;
            silent.Stop();
        }
    }

    [Fact]
    public async Task A_typo_in_a_built_in_taps_config_fails_validation_naming_the_key_it_is_likely_a_typo_of()
    {
        var data = Directory.CreateDirectory(Path.Combine(_home, "data")).FullName;
        File.WriteAllText(Path.Combine(data, "a.csv"), "a;b\n1;2\n");
        Directory.CreateDirectory(Path.Combine(_home, "pipelines"));
        File.WriteAllText(Path.Combine(_home, "pipelines", "typo.yaml"),
            $"source:\n  tap: csv\n  config: {{path: {data}, delimeter: ';'}}\ndestination:\n  bucket: file://{_home}/lake\n");
        var validation = await new PipeClient(_home).ValidateAsync("typo");
        Assert.False(validation.Ok);
        Assert.Equal("'csv' is a built-in tap, but its source cannot be read: csv tap: unknown config key 'delimeter' (did you mean 'delimiter'?)",
            validation.Checks.Single(c => c.Check == "tap").Detail);
    }
}
