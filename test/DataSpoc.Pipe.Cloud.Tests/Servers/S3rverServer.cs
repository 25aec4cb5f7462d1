namespace DataSpoc.Pipe.Cloud.Tests.Servers;

/// <summary>npm <c>s3rver</c> on a free loopback port, storing objects in a temp directory; keys S3RVER/S3RVER.</summary>
public sealed class S3rverServer : IAsyncDisposable
{
    public const string AccessKey = "S3RVER";
    public const string SecretKey = "S3RVER";

    private ServerProcess? _process;

    public int Port { get; private set; }

    public string Directory { get; } = NewDirectory();

    /// <summary>
    /// A folder for this server's objects under one parent named by the test process. The shared servers stop when the
    /// test host exits, which may not wait for hundreds of MB of objects to be deleted, so each run left one behind;
    /// folders of test processes that have ended are removed here instead.
    /// </summary>
    private static string NewDirectory()
    {
        var parent = Path.Combine(Path.GetTempPath(), "dataspoc-tests-s3rver");
        System.IO.Directory.CreateDirectory(parent);
        foreach (var folder in System.IO.Directory.GetDirectories(parent))
        {
            var owner = Path.GetFileName(folder).Split('-')[0];
            if (int.TryParse(owner, out var pid) && !System.IO.Directory.Exists($"/proc/{pid}"))
                try { System.IO.Directory.Delete(folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        return System.IO.Directory.CreateDirectory(Path.Combine(parent, $"{Environment.ProcessId}-{Guid.NewGuid():N}")).FullName;
    }

    public string Endpoint => $"http://127.0.0.1:{Port}";

    public async Task StartAsync()
    {
        (_process, Port) = await ServerProcess.StartOnFreePortAsync(TestTools.NodeBinary("s3rver"),
            port => ["-d", Directory, "-a", "127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--silent"],
            ServerProcess.StartTimeout,
            // s3rver signs list continuation tokens with DES, which Node 17+ (OpenSSL 3) only offers through the legacy provider.
            new Dictionary<string, string> { ["NODE_OPTIONS"] = "--openssl-legacy-provider" });
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null) await _process.DisposeAsync();
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}
