using System.Text;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Sources.BuiltIn;
using DataSpoc.Pipe.Storage;
using Xunit;

namespace DataSpoc.Pipe.Tests.Sources.BuiltIn;

/// <summary>Runs a built-in tap the way <c>dataspoc-pipe tap</c> does (config, state and catalog as files) and parses its output.</summary>
public sealed class TapHarness : IDisposable
{
    public string Dir { get; } = Directory.CreateTempSubdirectory("dataspoc-taps-").FullName;

    public string Path(string relative) => System.IO.Path.Combine(Dir, relative);

    public string Write(string relative, string content, Encoding? encoding = null)
    {
        var path = Path(relative);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content, encoding ?? new UTF8Encoding(false));
        return path;
    }

    public async Task<(int ExitCode, byte[] Stdout, string Stderr)> RunRawAsync(string tap, JsonObject config, JsonObject? state = null, JsonObject? catalog = null,
        bool discover = false, ObjectStoreFactory? stores = null)
    {
        var id = Guid.NewGuid().ToString("N")[..8];
        var configPath = Write($"run-{id}/config.json", config.ToJsonString());
        var statePath = state is null ? null : Write($"run-{id}/state.json", state.ToJsonString());
        var catalogPath = catalog is null ? null : Write($"run-{id}/catalog.json", catalog.ToJsonString());
        using var stdout = new MemoryStream();
        using var stderr = new StringWriter();
        var exit = await BuiltInTapCommand.RunAsync(tap, configPath, statePath, catalogPath, discover, stdout, stderr, CancellationToken.None, stores);
        return (exit, stdout.ToArray(), stderr.ToString());
    }

    /// <summary>Runs a sync that must succeed and returns its checked Singer output.</summary>
    public async Task<SingerOutput> SyncAsync(string tap, JsonObject config, JsonObject? state = null, JsonObject? catalog = null, ObjectStoreFactory? stores = null)
    {
        var (exit, stdout, stderr) = await RunRawAsync(tap, config, state, catalog, stores: stores);
        Assert.True(exit == 0, $"tap exited {exit}: {stderr}");
        return SingerOutput.Parse(stdout);
    }

    public async Task<JsonObject> DiscoverAsync(string tap, JsonObject config)
    {
        var (exit, stdout, stderr) = await RunRawAsync(tap, config, discover: true);
        Assert.True(exit == 0, $"discovery exited {exit}: {stderr}");
        return JsonNode.Parse(stdout)!.AsObject();
    }

    /// <summary>Runs a sync that must fail (exit 1, or 2 for a config the tap cannot use) and returns its stderr.</summary>
    public async Task<string> FailAsync(string tap, JsonObject config, JsonObject? state = null)
    {
        var (exit, _, stderr) = await RunRawAsync(tap, config, state);
        Assert.True(exit is 1 or 2, $"tap exited {exit}: {stderr}");
        return stderr;
    }

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}
