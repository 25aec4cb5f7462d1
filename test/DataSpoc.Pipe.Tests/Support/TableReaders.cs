using System.Diagnostics;
using System.Text.Json.Nodes;

namespace DataSpoc.Pipe.Tests.Support;

/// <summary>
/// Independent readers of the table formats, run as node scripts (Assets/tables/): the npm <c>icebird</c> Iceberg
/// reader and the npm <c>avsc</c> Avro library, both installed by <c>.ci/setup</c> into <c>.ci/.tools</c>.
/// </summary>
public static class TableReaders
{
    public static string Tools { get; } = Path.Combine(FindRoot(), ".ci", ".tools");

    /// <summary>icebird's view of the table: current snapshot id, schema fields (<c>id:name</c>) and rows.</summary>
    public static JsonObject Icebird(string tableUrl, string? metadataFile = null, IReadOnlyDictionary<string, string>? environment = null) =>
        Node("icebird-read.mjs", [tableUrl, .. metadataFile is null ? Array.Empty<string>() : [metadataFile]], environment).AsObject();

    /// <summary>avsc's check of each Avro file against the spec's schemas: kind, records, problems, entries.</summary>
    public static JsonArray AvroCheck(IEnumerable<string> files) => Node("avro-check.mjs", [.. files], null).AsArray();

    private static JsonNode Node(string script, string[] args, IReadOnlyDictionary<string, string>? environment)
    {
        if (!Directory.Exists(Path.Combine(Tools, "node_modules", "icebird")) || !Directory.Exists(Path.Combine(Tools, "node_modules", "avsc")))
            throw new InvalidOperationException($"the npm readers icebird and avsc are not installed in {Tools}; run .ci/setup");
        var start = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Assets", "tables", script));
        start.ArgumentList.Add(Tools);
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) start.Environment[k] = v;
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"node {script} {string.Join(' ', args)} failed ({process.ExitCode}): {stderr.Result}");
        // A row of a 64-level column nests deeper than JsonNode's default 64 levels.
        return JsonNode.Parse(stdout, documentOptions: new System.Text.Json.JsonDocumentOptions { MaxDepth = 256 })!;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "DataSpoc.Pipe.slnx"))) return dir.FullName;
        throw new InvalidOperationException($"cannot find the repository root above {AppContext.BaseDirectory}");
    }
}
