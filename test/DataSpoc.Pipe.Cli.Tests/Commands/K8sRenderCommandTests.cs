using System.Diagnostics;
using DataSpoc.Pipe.Cli.Tests.Support;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Kubernetes;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

/// <summary>
/// <c>k8s render</c> through the real CLI process (the native binary under ./test.sh): it writes what the engine's
/// renderer makes (the objects themselves are validated strictly in DataSpoc.Pipe.Tests/Kubernetes), and kubectl
/// renders the folder offline.
/// </summary>
public sealed class K8sRenderCommandTests : IDisposable
{
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    private void WritePipelines()
    {
        _home.WritePipeline("orders", """
            source:
              tap: postgres
              config: sources/orders.json
            destination:
              bucket: s3://lake
            schedule:
              cron: "*/15 * * * *"
            """);
        File.WriteAllText(Path.Combine(_home.Sources, "orders.json"), """{"host": "db", "password": "${PG_PASSWORD}"}""");
        _home.WritePipeline("adhoc", """
            source:
              tap: csv
              config: {path: /data}
            destination:
              bucket: gs://lake
            """);
    }

    [Fact]
    public void Render_writes_the_engines_manifests_to_a_folder_that_kubectl_kustomize_renders()
    {
        WritePipelines();
        _home.Set("PG_PASSWORD", "never-rendered-9f");
        var dir = Path.Combine(_home.Root, "k8s");
        var result = CliProcess.Run(_home, "k8s", "render", "--namespace", "data", "--image", "registry.example/pipe:2", "--output-dir", dir,
            "--gcp-service-account", "pipe@p.iam.gserviceaccount.com");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("Apply: kubectl apply -k " + dir + "\n", result.Stdout);
        Assert.Contains("PG_PASSWORD", result.Stdout);

        var expected = KubernetesRender.Render(new PipeHome(_home.Home), new KubernetesRenderOptions
        {
            Namespace = "data", Image = "registry.example/pipe:2", GcpServiceAccount = "pipe@p.iam.gserviceaccount.com",
        }, _ => null);
        foreach (var (path, text) in expected.Files) Assert.Equal(text, File.ReadAllText(Path.Combine(dir, path)));
        Assert.Equal(expected.Files.Count, Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Count());
        foreach (var file in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories))
            Assert.DoesNotContain("never-rendered-9f", File.ReadAllText(file));

        var kustomize = Process.Start(new ProcessStartInfo("kubectl", ["kustomize", dir]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var rendered = kustomize.StandardOutput.ReadToEnd();
        kustomize.WaitForExit();
        Assert.True(kustomize.ExitCode == 0, kustomize.StandardError.ReadToEnd());
        Assert.Contains("kind: CronJob", rendered);
        Assert.Contains("concurrencyPolicy: Forbid", rendered);

        // Without --output-dir: what `kubectl apply -f -` takes.
        var stdout = CliProcess.Run(_home, "k8s", "render", "--namespace", "data", "--image", "registry.example/pipe:2", "--gcp-service-account", "pipe@p.iam.gserviceaccount.com");
        Assert.True(stdout.ExitCode == 0, stdout.ToString());
        Assert.Equal(expected.ApplyStream, stdout.Stdout);

        // A file:// bucket renders, with the engine's warning on stderr (stdout stays what kubectl takes).
        _home.WritePipeline("adhoc", "source:\n  tap: csv\n  config: {path: /data}\ndestination:\n  bucket: file:///srv/lake\n");
        var local = CliProcess.Run(_home, "k8s", "render");
        Assert.True(local.ExitCode == 0, local.ToString());
        Assert.StartsWith("warning: pipeline 'adhoc' writes to file:///srv/lake, a folder inside the pod", local.Stderr);
        Assert.StartsWith("apiVersion: v1", local.Stdout);
    }

    [Fact]
    public void A_literal_secret_or_a_bad_namespace_is_a_usage_error_that_writes_nothing()
    {
        WritePipelines();
        File.WriteAllText(Path.Combine(_home.Sources, "orders.json"), """{"host": "db", "password": "plain-text-pw"}""");
        var dir = Path.Combine(_home.Root, "k8s");
        var result = CliProcess.Run(_home, "k8s", "render", "--output-dir", dir);
        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"error: {Path.Combine(_home.Sources, "orders.json")}: password: holds a literal secret", result.Stderr.Split(", which")[0]);
        Assert.DoesNotContain("plain-text-pw", result.Stderr + result.Stdout);
        Assert.False(Directory.Exists(dir));

        var bad = CliProcess.Run(_home, "k8s", "render", "--namespace", "Data_Team");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("--namespace 'Data_Team' is not a valid namespace", bad.Stderr);

        // The API server refuses a CronJob in a zone it does not know: refused here, before anything is written.
        var zone = CliProcess.Run(_home, "k8s", "render", "--time-zone", "Mars/Olympus", "--output-dir", dir);
        Assert.Equal(2, zone.ExitCode);
        Assert.Contains("--time-zone 'Mars/Olympus' is not a time zone this machine knows", zone.Stderr);
        Assert.False(Directory.Exists(dir));
        File.WriteAllText(Path.Combine(_home.Sources, "orders.json"), """{"host": "db", "password": "${PG_PASSWORD}"}""");
        var berlin = CliProcess.Run(_home, "k8s", "render", "--time-zone", "Europe/Berlin");
        Assert.True(berlin.ExitCode == 0, berlin.ToString());
        Assert.Contains("timeZone: Europe/Berlin", berlin.Stdout);
    }

    [Fact]
    public void K8s_without_a_subcommand_shows_its_help_and_is_a_usage_error()
    {
        var result = CliProcess.Run(_home, "k8s");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("render", result.Stdout);
    }
}
