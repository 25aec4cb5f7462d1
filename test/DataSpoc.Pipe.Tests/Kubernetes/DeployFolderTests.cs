using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Kubernetes;
using DataSpoc.Pipe.Tests.Support;
using k8s.Models;

namespace DataSpoc.Pipe.Tests.Kubernetes;

/// <summary>
/// deploy/k8s is the Kustomize base: what <c>k8s render</c> writes for deploy/k8s/example-home, plus the Indexed Job of a
/// split table. Re-record it with <c>DATASPOC_PIPE_UPDATE_SNAPSHOTS=1 dotnet test ... --filter DeployFolder</c>.
/// </summary>
public sealed class DeployFolderTests
{
    private static readonly string Folder = Path.Combine(KubernetesObjects.RepoRoot, "deploy", "k8s");

    public static readonly KubernetesRenderOptions BaseOptions = new()
    {
        Image = "localhost/dataspoc-pipe:latest",
    };

    [Fact]
    public void The_base_is_what_render_writes_for_the_example_home()
    {
        var rendered = KubernetesRender.Render(new PipeHome(Path.Combine(Folder, "example-home")), BaseOptions, _ => null);
        if (Environment.GetEnvironmentVariable("DATASPOC_PIPE_UPDATE_SNAPSHOTS") == "1") rendered.WriteTo(Folder);
        foreach (var (path, text) in rendered.Files)
        {
            var committed = Path.Combine(Folder, path);
            Assert.True(File.Exists(committed), $"deploy/k8s/{path} is missing: re-record with DATASPOC_PIPE_UPDATE_SNAPSHOTS=1");
            Assert.True(text == File.ReadAllText(committed), $"deploy/k8s/{path} differs from what render writes: re-record with DATASPOC_PIPE_UPDATE_SNAPSHOTS=1");
        }
        var written = Directory.EnumerateFiles(Folder, "*.yaml", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(Folder, f).Replace('\\', '/')).Where(p => !p.StartsWith("example-home/", StringComparison.Ordinal));
        Assert.Equal(rendered.Files.Select(f => f.Path).Order(), written.Order());
    }

    [Fact]
    public void kubectl_kustomize_renders_the_base_offline_into_strictly_valid_objects()
    {
        var objects = KubernetesObjects.LoadStrict(KubernetesObjects.Kustomize(Folder));
        Assert.Equal(["ServiceAccount", "ConfigMap", "ConfigMap", "CronJob"], objects.Select(o => o.Kind));
        Assert.Equal("Forbid", objects.OfType<V1CronJob>().Single().Spec.ConcurrencyPolicy);
        foreach (var job in Directory.EnumerateFiles(Path.Combine(Folder, "jobs")))
            Assert.IsType<V1Job>(Assert.Single(KubernetesObjects.LoadStrict(File.ReadAllText(job))));
    }
}
