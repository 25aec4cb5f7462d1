using Xunit.Abstractions;
using System.Diagnostics;
using DataSpoc.Pipe.Cli.Tests.Support;
using DataSpoc.Pipe.Cloud.Tests;
using DataSpoc.Pipe.Cloud.Tests.Runs;

namespace DataSpoc.Pipe.Cli.Tests.Deploy;

/// <summary>
/// deploy/container/Containerfile, built the offline way (a base image from Debian's packages by build-base.sh, the
/// native binary ./dataspoc-pipe built into .build/cli) with podman, and run for real: --version, demo, and a pipeline
/// into the S3 test server on the host's 127.0.0.1, read back with DuckDB. The container runs as the image's user with a
/// read-only root, no capabilities and no network beyond what each case needs.
/// </summary>
public sealed class ContainerImageTests(CloudServers servers, ITestOutputHelper output) : IClassFixture<CloudServers>, IDisposable
{
    private const string Image = "localhost/dataspoc-pipe:test";
    private const string Base = "localhost/debian-min:bookworm-slim";
    private static readonly string Conf = Path.Combine(CliProcess.RepoRoot, "deploy", "container", "containers.conf");
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    private static readonly string[] Hardened = ["--rm", "--read-only", "--cap-drop=ALL", "--security-opt", "no-new-privileges", "--pids-limit", "256", "--memory", "512m"];

    [Fact]
    public async Task The_image_builds_offline_and_runs_version_demo_and_a_pipeline_into_S3_on_the_host()
    {
        var binary = Path.Combine(CliProcess.RepoRoot, ".build", "cli", "dataspoc-pipe");
        Assert.True(File.Exists(binary), $"{binary} is missing: the image copies the native binary; build it with ./dataspoc-pipe --version (./test.sh does)");

        var watch = Stopwatch.StartNew();
        Run("bash", [Path.Combine(CliProcess.RepoRoot, "deploy", "container", "build-base.sh"), Base], TimeSpan.FromMinutes(10));
        output.WriteLine($"base image ready in {watch.Elapsed.TotalSeconds:F1} s");
        watch.Restart();
        Run("podman", ["build", "--pull=never", "-f", Path.Combine(CliProcess.RepoRoot, "deploy", "container", "Containerfile"),
            "--build-arg", "BINARY=prebuilt", "--build-arg", "BASE=" + Base, "-t", Image, CliProcess.RepoRoot], TimeSpan.FromMinutes(5));
        var size = long.Parse(Run("podman", ["image", "inspect", "--format", "{{.Size}}", Image]).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        output.WriteLine($"image built in {watch.Elapsed.TotalSeconds:F1} s: {size:N0} bytes ({size / 1e6:F1} MB)");
        // The binary and the Parquet library are ~72 MB of it; the Debian base it gathers from is not in the image.
        Assert.InRange(size, 60_000_000, 110_000_000);

        // Nothing in the root filesystem beyond the binary, its libraries, certificates and the user's files.
        var expectedVersion = Run(binary, ["--version"]).Trim();
        Assert.Equal(expectedVersion, Run("podman", ["run", .. Hardened, "--network=none", Image, "--version"]).Trim());
        var noShell = RunProcess("podman", ["run", .. Hardened, "--network=none", "--entrypoint", "/bin/sh", Image, "-c", "true"], TimeSpan.FromMinutes(1));
        Assert.NotEqual(0, noShell.ExitCode);

        // demo writes its home, so HOME moves to the one writable place (podman 4.3 cannot chown a tmpfs to the user).
        var demo = Run("podman", ["run", .. Hardened, "--network=none", "--tmpfs", "/tmp", "-e", "HOME=/tmp", Image, "demo"]);
        Assert.Contains("Lake:        file:///tmp/.dataspoc-pipe/demo-lake", demo);
        Assert.Contains("│ 1,000 │", demo);

        // A pipeline whose bucket and keys come from the environment, as a Kubernetes Secret gives them.
        await using var lake = new CloudLake(new S3Target(servers));
        var data = Path.Combine(_home.Root, "data");
        Directory.CreateDirectory(data);
        const int rows = 2500;
        await File.WriteAllLinesAsync(Path.Combine(data, "events.csv"), ["id,kind", .. Enumerable.Range(1, rows).Select(i => $"{i},k{i % 7}")]);
        _home.WritePipeline("events", """
            source:
              tap: csv
              config: {path: /data/events.csv}
            destination:
              bucket: ${LAKE_BUCKET}
              storage_options: {conditional_writes: "false"}   # s3rver ignores If-None-Match: single-writer mode
            """);
        var env = CloudServers.S3Environment(servers.S3.Port);
        env["LAKE_BUCKET"] = lake.Bucket;
        var run = Run("podman", [
            "run", .. Hardened, "--network=host", "--tmpfs", "/tmp",
            "-v", _home.Home + ":/home/pipe/.dataspoc-pipe:ro", "-v", data + ":/data:ro",
            .. env.SelectMany(e => new[] { "-e", $"{e.Key}={e.Value}" }),
            Image, "run", "events", "-o", "json"]);
        Assert.True(System.Text.Json.Nodes.JsonNode.Parse(run)?["status"]?.GetValue<string>() == "success", run);
        var keys = (await lake.KeysAsync()).Where(k => k.EndsWith(".parquet", StringComparison.Ordinal)).ToList();
        Assert.Equal($"{rows}|{rows}|1|{rows}", await lake.IdSummaryAsync([Assert.Single(keys)]));
    }

    private string Run(string file, string[] args, TimeSpan? timeout = null)
    {
        var result = RunProcess(file, args, timeout ?? TimeSpan.FromMinutes(3));
        Assert.True(result.ExitCode == 0, $"{file} {string.Join(' ', args.Where(a => !a.Contains("SECRET", StringComparison.Ordinal)))} failed: {result}");
        return result.Stdout;
    }

    /// <summary>Runs a process with the podman settings this kind of host needs; output goes to files (a pipe into a reader that stops early made podman exit 126).</summary>
    private CliProcess.Result RunProcess(string file, string[] args, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        psi.Environment["CONTAINERS_CONF"] = Conf;
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {args.FirstOrDefault()} did not finish in {timeout}");
        }
        var result = new CliProcess.Result(p.ExitCode, stdout.Result, stderr.Result);
        if (result.ExitCode != 0) output.WriteLine($"{file} {string.Join(' ', args.Take(3))}: {result}");
        return result;
    }
}
