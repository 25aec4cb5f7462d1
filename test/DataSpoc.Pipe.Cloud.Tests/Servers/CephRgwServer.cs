using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Amazon.S3;
using Amazon.S3.Model;

namespace DataSpoc.Pipe.Cloud.Tests.Servers;

/// <summary>
/// Ceph's RADOS Gateway from Debian's packages (<c>.ci/setup</c> installs them): a one-host cluster — one monitor,
/// one OSD on a memory store, one gateway — on free 127.0.0.1 ports in a temp folder, with one S3 user and bucket.
/// It is the local S3 server that enforces conditional writes as AWS does (If-None-Match: * on PutObject), with
/// RGW's own quirks: If-Match is compared with the unquoted ETag, CompleteMultipartUpload ignores conditions, and a
/// racing PutObject may answer 500. The recipe is ../shared/docs/emulators.md's. Every daemon runs in the
/// foreground as our child, so disposing stops all of them.
/// </summary>
public sealed class CephRgwServer : IAsyncLifetime
{
    public const string AccessKey = "DATASPOCTEST";
    public const string SecretKey = "dataspoc-test-secret";
    public const string BucketName = "lake";

    private static readonly string[] Binaries = ["/usr/bin/ceph-mon", "/usr/bin/ceph-osd", "/usr/bin/radosgw", "/usr/bin/ceph", "/usr/bin/monmaptool", "/usr/bin/radosgw-admin"];

    /// <summary>Null when the packages are installed; else why the Ceph tests are skipped (CI installs them, so there they run).</summary>
    public static string? MissingReason { get; } = Binaries.FirstOrDefault(b => !File.Exists(b)) is { } missing
        ? $"Ceph is not installed here ({missing} is missing); run .ci/setup, which installs ceph-mon ceph-osd radosgw ceph-common"
        : null;

    private readonly List<Process> _daemons = [];
    private readonly StringBuilder _output = new();
    private string _dir = "";

    public int Port { get; private set; }
    public string Endpoint => $"http://127.0.0.1:{Port}";

    /// <summary>Seconds from the first command to a bucket ready for use (reported by the tests, for the CI budget).</summary>
    public double StartSeconds { get; private set; }

    public async Task InitializeAsync()
    {
        if (MissingReason is not null) return;
        var watch = Stopwatch.StartNew();
        // A free port can be taken by another process between our check and the daemon's bind: start over on new ports.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await StartClusterAsync();
                break;
            }
            catch (Exception e) when (attempt < 3)
            {
                lock (_output) _output.AppendLine($"attempt {attempt} failed: {e.Message}");
                await StopDaemonsAsync();
            }
        }
        StartSeconds = watch.Elapsed.TotalSeconds;
    }

    private async Task StartClusterAsync()
    {
        _dir = Directory.CreateTempSubdirectory("ceph-rgw-").FullName;
        foreach (var sub in new[] { "run", "log", "mon", "osd" }) Directory.CreateDirectory(Path.Combine(_dir, sub));
        var (monV1, monV2, rgw) = (FreePort.Next(), FreePort.Next(), FreePort.Next());
        Port = rgw;
        var fsid = Guid.NewGuid().ToString();
        var monAddress = $"[v2:127.0.0.1:{monV2},v1:127.0.0.1:{monV1}]";
        var conf = Path.Combine(_dir, "ceph.conf");
        await File.WriteAllTextAsync(conf, $"""
            [global]
            fsid = {fsid}
            mon host = {monAddress}
            public addr = 127.0.0.1
            cluster addr = 127.0.0.1
            auth cluster required = none
            auth service required = none
            auth client required = none
            auth supported = none
            ms mon client mode = crc
            ms client mode = crc
            ms cluster mode = crc
            ms service mode = crc
            ms mon cluster mode = crc
            ms mon service mode = crc
            osd pool default size = 1
            osd pool default min size = 1
            osd pool default pg num = 8
            osd pool default pgp num = 8
            osd pool default pg autoscale mode = off
            mon allow pool size one = true
            mon max pg per osd = 1000
            # The monitor's data is a few MB in a temp folder: a disk past 95% full (its default limit) must not stop it.
            mon data avail crit = 0
            mon data avail warn = 0
            osd crush chooseleaf type = 0
            osd objectstore = memstore
            memstore device bytes = 4294967296
            keyring = /dev/null
            run dir = {_dir}/run
            log file = {_dir}/log/$name.log
            pid file = {_dir}/run/$name.pid
            admin socket = {_dir}/run/$name.asok
            mon data = {_dir}/mon/$cluster-$id
            osd data = {_dir}/osd/$cluster-$id
            [client.rgw]
            rgw frontends = beast endpoint=127.0.0.1:{rgw}
            rgw data = {_dir}/rgw

            """);
        await RunAsync("monmaptool", "--create", "--addv", "a", monAddress, "--fsid", fsid, Path.Combine(_dir, "monmap"));
        await RunAsync("ceph-mon", "-c", conf, "--mkfs", "-i", "a", "--monmap", Path.Combine(_dir, "monmap"));
        StartDaemon("ceph-mon", "-f", "-c", conf, "-i", "a");
        await WaitForPortAsync(monV1, "ceph-mon");

        var osdUuid = Guid.NewGuid().ToString();
        var osdId = (await RunAsync("ceph", "-c", conf, "osd", "new", osdUuid)).Trim();
        Directory.CreateDirectory(Path.Combine(_dir, "osd", "ceph-" + osdId));
        await RunAsync("ceph-osd", "-c", conf, "-i", osdId, "--mkfs", "--osd-uuid", osdUuid);
        StartDaemon("ceph-osd", "-f", "-c", conf, "-i", osdId);
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (!(await RunAsync("ceph", "-c", conf, "osd", "stat")).Contains("1 up", StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the Ceph OSD did not come up within 90 s: {Output}");
            await Task.Delay(200);
        }

        StartDaemon("radosgw", "-f", "-c", conf, "-n", "client.rgw");
        await WaitForPortAsync(rgw, "radosgw");
        await RunAsync("radosgw-admin", "-c", conf, "user", "create", "--uid=test", "--display-name=test", $"--access-key={AccessKey}", $"--secret={SecretKey}");
        // The gateway creates its own pools on first use; the first bucket may take a few tries while they settle.
        using var client = Client();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await client.PutBucketAsync(new PutBucketRequest { BucketName = BucketName });
                return;
            }
            catch (AmazonS3Exception) when (attempt < 30)
            {
                await Task.Delay(500);
            }
        }
    }

    /// <summary>An SDK client for the tests' own checks, as our store configures one for a custom endpoint.</summary>
    public AmazonS3Client Client() => new(AccessKey, SecretKey, new AmazonS3Config
    {
        ServiceURL = Endpoint,
        ForcePathStyle = true,
        AuthenticationRegion = "us-east-1",
        RequestChecksumCalculation = Amazon.Runtime.RequestChecksumCalculation.WHEN_REQUIRED,
        ResponseChecksumValidation = Amazon.Runtime.ResponseChecksumValidation.WHEN_REQUIRED,
    });

    /// <summary>The environment an S3 store sees for this gateway.</summary>
    public Dictionary<string, string> Environment() => new()
    {
        ["AWS_ACCESS_KEY_ID"] = AccessKey,
        ["AWS_SECRET_ACCESS_KEY"] = SecretKey,
        ["AWS_ENDPOINT_URL_S3"] = Endpoint,
    };

    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    private void StartDaemon(string name, params string[] arguments)
    {
        var process = Process.Start(StartInfo(name, arguments)) ?? throw new InvalidOperationException($"cannot start {name}");
        process.OutputDataReceived += (_, e) => Append(name, e.Data);
        process.ErrorDataReceived += (_, e) => Append(name, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _daemons.Add(process);
    }

    private static ProcessStartInfo StartInfo(string name, string[] arguments)
    {
        var info = new ProcessStartInfo(name) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments) info.ArgumentList.Add(a);
        return info;
    }

    private void Append(string name, string? line)
    {
        if (line is null) return;
        lock (_output) if (_output.Length < 64_000) _output.Append(name).Append(": ").AppendLine(line);
    }

    private async Task<string> RunAsync(string name, params string[] arguments)
    {
        using var process = Process.Start(StartInfo(name, arguments)) ?? throw new InvalidOperationException($"cannot start {name}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try { await process.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{name} {string.Join(' ', arguments)} did not finish within 60 s: {Output}");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{name} {string.Join(' ', arguments)} exited with {process.ExitCode}: {await stderr}{Output}");
        return await stdout;
    }

    private async Task WaitForPortAsync(int port, string name)
    {
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (true)
        {
            if (_daemons.Any(d => d.HasExited))
                throw new InvalidOperationException($"{name} exited before listening on 127.0.0.1:{port}: {Output}");
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    private async Task StopDaemonsAsync()
    {
        // The gateway first, the monitor last: each stops cleanly while the cluster it talks to is still there.
        foreach (var daemon in Enumerable.Reverse(_daemons))
        {
            if (!daemon.HasExited)
            {
                _ = kill(daemon.Id, 15);
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                try { await daemon.WaitForExitAsync(wait.Token); }
                catch (OperationCanceledException)
                {
                    daemon.Kill(entireProcessTree: true);
                    await daemon.WaitForExitAsync();
                }
            }
            daemon.Dispose();
        }
        _daemons.Clear();
        try { if (_dir.Length > 0) Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    public Task DisposeAsync() => StopDaemonsAsync();
}

/// <summary>A test that needs Ceph RGW: skipped, saying why, only where its packages are not installed.</summary>
public sealed class CephFactAttribute : FactAttribute
{
    public CephFactAttribute()
    {
        if (CephRgwServer.MissingReason is { } reason) Skip = reason;
    }
}

[CollectionDefinition(Name)]
public sealed class CephRgwCollection : ICollectionFixture<CephRgwServer>
{
    public const string Name = "ceph rgw";
}
