using System.Diagnostics;
using System.Text.Json.Nodes;

namespace DataSpoc.Pipe.Tests.Support;

/// <summary>
/// Validates OpenLineage events with a real JSON-schema validator: Ajv (draft 2020-12, formats on), run by node over the
/// spec's schema files (Assets/openlineage, copied from the OpenLineage project). Ajv is installed by <c>.ci/setup</c>.
/// </summary>
public static class OpenLineageSchemas
{
    public static void AssertValid(IEnumerable<JsonNode> events)
    {
        var file = Path.Combine(Path.GetTempPath(), "dsp-ol-" + Guid.NewGuid().ToString("N")[..10] + ".jsonl");
        File.WriteAllLines(file, events.Select(e => e.ToJsonString()));
        try
        {
            var psi = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add(TempLake.Asset("validate_openlineage.js"));
            psi.ArgumentList.Add(TempLake.Asset("openlineage"));
            psi.ArgumentList.Add(file);
            psi.Environment["NODE_PATH"] = NodeModules();
            using var node = Process.Start(psi)!;
            var stdout = node.StandardOutput.ReadToEndAsync();
            var stderr = node.StandardError.ReadToEndAsync();
            Assert.True(node.WaitForExit(TimeSpan.FromMinutes(1)), "the validator did not finish");
            Assert.True(node.ExitCode == 0, $"OpenLineage schema validation failed:\n{stdout.Result}{stderr.Result}");
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static string NodeModules()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "DataSpoc.Pipe.slnx"))) dir = dir.Parent;
        var modules = Path.Combine(dir?.FullName ?? "", ".ci", ".tools", "node_modules");
        return Directory.Exists(Path.Combine(modules, "ajv"))
            ? modules
            : throw new InvalidOperationException($"ajv is not installed in {modules}: run .ci/setup");
    }
}
