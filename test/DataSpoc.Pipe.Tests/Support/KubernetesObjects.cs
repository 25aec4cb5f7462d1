using System.Diagnostics;
using k8s;
using k8s.Models;

namespace DataSpoc.Pipe.Tests.Support;

/// <summary>
/// Reads rendered manifests back through the Kubernetes API models of the KubernetesClient package, strictly: an unknown
/// or misspelled field, a duplicate key or a wrong type is an error, as an API server's strict field validation would make it.
/// </summary>
public static class KubernetesObjects
{
    public static List<IKubernetesObject> LoadStrict(string yaml)
    {
        var objects = KubernetesYaml.LoadAllFromString(yaml, strict: true);
        return objects.Select(o => Assert.IsAssignableFrom<IKubernetesObject>(o)).ToList();
    }

    public static string RepoRoot { get; } = FindRepoRoot();

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "DataSpoc.Pipe.slnx"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Runs <c>kubectl kustomize DIR</c> (offline: it renders without an API server) and returns its output.</summary>
    public static string Kustomize(string directory)
    {
        var psi = new ProcessStartInfo("kubectl", ["kustomize", directory]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("kubectl did not start");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"kubectl kustomize {directory} failed ({p.ExitCode}): {stderr}");
        return stdout.Result;
    }

    public static V1Container Container(V1PodTemplateSpec template) => Assert.Single(template.Spec.Containers);
}
