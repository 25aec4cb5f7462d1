using DataSpoc.Pipe.Cli.Tests.Support;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

/// <summary>
/// <c>write_mode: merge</c> with <c>partition_by</c>: telling which of a key's records in different partitions came last
/// costs no memory per key beyond the key's winner, so a run whose every key spans two partitions merges under a managed
/// heap limit (<c>DOTNET_GCHeapHardLimit</c>) that holding each spanning key's candidates would exceed.
/// </summary>
public sealed class MergeMemoryTests : IDisposable
{
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    // 200,000 records of 100,000 keys: each key's second record falls on another of 28 dates.
    private const string Tap = """
        import json
        n = 200000
        print(json.dumps({"type": "SCHEMA", "stream": "items", "key_properties": ["id"], "schema": {"type": "object", "properties": {
            "id": {"type": "integer"}, "d": {"type": "string", "format": "date"}, "v": {"type": "string"}}}}))
        for i in range(n):
            print(json.dumps({"type": "RECORD", "stream": "items", "record": {"id": i % (n // 2), "d": "2024-01-%02d" % (1 + (i * 7 + i // (n // 2)) % 28), "v": "v%d" % i}}))
        """;

    [Fact]
    public void Keys_spanning_partitions_merge_within_an_80_MiB_managed_heap()
    {
        var tap = Path.Combine(_home.Root, "spanning_tap.py");
        File.WriteAllText(tap, Tap);
        _home.WritePipeline("spanning", $"""
            source:
              tap: "python3 {tap}"
              name: spanning
            destination:
              bucket: {_home.Bucket}
              path: raw
              partition_by: d
              write_mode: merge
            """);
        _home.Set("DOTNET_GCHeapHardLimit", "0x5000000");

        var result = CliProcess.Run(_home, "run", "spanning");

        Assert.True(result.ExitCode == 0, result.ToString());
        var manifest = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(_home.Lake, ".dataspoc", "manifest.json")))!;
        Assert.Equal(100_000, (long)manifest["tables"]!["spanning/items"]!["row_count"]!);
    }
}
