using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Sources;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;
using Xunit;

namespace DataSpoc.Pipe.Tests.Sources;

/// <summary>
/// A pipeline built in code has no file to cache what its tap says of itself beside: the process remembers it, so the
/// tap is started once for <c>--help</c> and then once per run, until the tap is edited.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class KnownTapCapabilitiesTests : IDisposable
{
    private readonly TempLake _lake = new();
    private readonly string _folder = Directory.CreateTempSubdirectory("dsp-counted-tap-").FullName;

    public void Dispose()
    {
        _lake.Dispose();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }

    /// <summary>A tap that writes its first argument to <c>starts.log</c> each time it starts, then answers or extracts.</summary>
    private string WriteTap(string extraLine = "")
    {
        var tap = Path.Combine(_folder, "tap-counted");
        File.WriteAllText(tap, """
            #!/bin/sh
            echo "$1" >> 'STARTS_LOG'
            EXTRA_LINE
            if [ "$1" = "--help" ]; then echo "usage: tap-counted [--config CONFIG] [--state STATE] [--catalog CATALOG]"; exit 0; fi
            echo '{"type": "SCHEMA", "stream": "s", "schema": {"type": "object", "properties": {"id": {"type": "integer"}}}, "key_properties": []}'
            echo '{"type": "RECORD", "stream": "s", "record": {"id": 1}}'
            """.Replace("STARTS_LOG", StartsLog).Replace("EXTRA_LINE", extraLine));
        File.SetUnixFileMode(tap, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return tap;
    }

    private string StartsLog => Path.Combine(_folder, "starts.log");

    private string[] Starts() => File.Exists(StartsLog) ? File.ReadAllLines(StartsLog) : [];

    private PipelineDefinition Pipeline(string tap) => new()
    {
        Name = "counted",
        Source = new SourceDefinition { Tap = tap, InlineConfig = [] },
        Destination = new DestinationDefinition { Bucket = _lake.Bucket },
    };

    private static async Task RunAsync(PipelineDefinition pipeline)
    {
        var result = await new PipelineRunner(new ObjectStoreFactory()).RunAsync(pipeline, new RunOptions(), CancellationToken.None);
        Assert.True(result.Succeeded, $"run failed: {result.Log.Error} / stderr: {result.Log.Tap?.StderrTail}");
    }

    [Fact]
    public async Task A_pipeline_without_a_file_asks_its_tap_for_help_once_and_then_starts_it_once_per_run()
    {
        var pipeline = Pipeline(WriteTap());
        await RunAsync(pipeline);
        await RunAsync(pipeline);
        await RunAsync(pipeline);
        Assert.Equal(["--help", "--config", "--config", "--config"], Starts());
    }

    [Fact]
    public async Task An_edited_tap_is_asked_again_and_a_refresh_always_asks()
    {
        var pipeline = Pipeline(WriteTap());
        var catalogs = new TapCatalogs(new ObjectStoreFactory());
        var first = await catalogs.CapabilitiesAsync(pipeline, refresh: false, CancellationToken.None);
        Assert.Equal("--help", first.Origin);
        Assert.False(first.CanDiscover);
        await catalogs.CapabilitiesAsync(pipeline, refresh: false, CancellationToken.None);
        Assert.Equal(["--help"], Starts());

        WriteTap(extraLine: "# edited: one more line, so the size differs even if the clock does not move");
        await catalogs.CapabilitiesAsync(pipeline, refresh: false, CancellationToken.None);
        Assert.Equal(["--help", "--help"], Starts());

        await catalogs.CapabilitiesAsync(pipeline, refresh: true, CancellationToken.None);
        Assert.Equal(["--help", "--help", "--help"], Starts());
        var remembered = await catalogs.CapabilitiesAsync(pipeline, refresh: false, CancellationToken.None);
        Assert.Equal(["--help", "--help", "--help"], Starts());
        Assert.Equal(first.CatalogFlags, remembered.CatalogFlags);
        Assert.Equal("--help", remembered.Origin);
    }

    [Fact]
    public async Task A_script_run_by_an_interpreter_is_asked_again_when_the_script_changes()
    {
        var script = WriteTap();
        var pipeline = Pipeline("sh " + script);
        var catalogs = new TapCatalogs(new ObjectStoreFactory());
        await catalogs.CapabilitiesAsync(pipeline, refresh: false, CancellationToken.None);
        await catalogs.CapabilitiesAsync(pipeline, refresh: false, CancellationToken.None);
        Assert.Equal(["--help"], Starts());
        WriteTap(extraLine: "# edited");
        await catalogs.CapabilitiesAsync(pipeline, refresh: false, CancellationToken.None);
        Assert.Equal(["--help", "--help"], Starts());
    }
}
