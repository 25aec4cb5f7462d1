using System.Text.Json.Nodes;
using DataSpoc.Pipe.Cli.Tests.Support;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

/// <summary>
/// A Delta commit reads of the latest log entry only what it needs (who wrote it, the table's metaData): an entry listing
/// tens of thousands of files (a run with a <c>partition_by</c> of many values) is streamed past, so a later run commits
/// under a managed heap limit (<c>DOTNET_GCHeapHardLimit</c>) that holding the entry would exceed.
/// </summary>
public sealed class DeltaLogMemoryTests : IDisposable
{
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    private const string Tap = """
        import json, os
        off = int(os.environ["OFF"])
        print(json.dumps({"type": "SCHEMA", "stream": "ev", "key_properties": ["id"], "schema": {"type": "object", "properties": {
            "id": {"type": "integer"}, "d": {"type": "string", "format": "date"}}}}))
        for i in range(3):
            print(json.dumps({"type": "RECORD", "stream": "ev", "record": {"id": off + i, "d": "2024-01-0%d" % (i + 1)}}))
        """;

    private string Log => Path.Combine(_home.Lake, "raw", "many", "ev", "_delta_log");

    private static List<JsonObject> Actions(string entry) =>
        [.. File.ReadLines(entry).Where(l => l.Length > 0).Select(l => JsonNode.Parse(l)!.AsObject())];

    [Fact]
    public void A_run_after_one_whose_log_entry_is_large_commits_within_a_48_MiB_managed_heap()
    {
        var tap = Path.Combine(_home.Root, "tap.py");
        File.WriteAllText(tap, Tap);
        _home.WritePipeline("many", $"""
            source:
              tap: "python3 {tap}"
              name: many
            destination:
              bucket: {_home.Bucket}
              path: raw
              partition_by: d
              table_format: delta
              write_mode: append
            """);
        var first = CliProcess.Run(_home.Set("OFF", "0"), "run", "many");
        Assert.True(first.ExitCode == 0, first.ToString());
        // As large as a run of 60,000 files makes it (~17 MB): tombstones of files the table never held, which change no snapshot.
        var entry0 = Path.Combine(Log, "00000000000000000000.json");
        using (var padding = File.AppendText(entry0))
            for (var i = 0; i < 60_000; i++)
                padding.WriteLine("""{"remove":{"path":"d=1900-01-01/never-""" + i.ToString("D6", System.Globalization.CultureInfo.InvariantCulture) +
                    """.parquet","deletionTimestamp":1,"dataChange":true,"extendedFileMetadata":true,"partitionValues":{"d":"1900-01-01"},"size":1000,"tags":{"padding":""" +
                    $"\"{new string('x', 160)}\"" + "}}}");

        var second = CliProcess.Run(_home.Set("OFF", "100").Set("DOTNET_GCHeapHardLimit", "0x3000000"), "run", "many");

        Assert.True(second.ExitCode == 0, second.ToString());
        var entries = Directory.GetFiles(Log, "*.json").Order(StringComparer.Ordinal).ToList();
        Assert.Equal(["00000000000000000000.json", "00000000000000000001.json"], entries.Select(Path.GetFileName));
        var metaData = entries.Select(e => Actions(e).Select(a => a["metaData"]).OfType<JsonObject>().Single()).ToList();
        Assert.Equal(metaData[0]["id"]!.GetValue<string>(), metaData[1]["id"]!.GetValue<string>());
        // The table the log replays to (adds less removes) holds both runs' rows.
        var live = new HashSet<string>(StringComparer.Ordinal);
        foreach (var action in entries.SelectMany(Actions))
            if (action["add"]?["path"]?.GetValue<string>() is { } added) live.Add(added);
            else if (action["remove"]?["path"]?.GetValue<string>() is { } removed) live.Remove(removed);
        Assert.Equal(6, live.Count);
        var files = string.Join(", ", live.Select(p => $"'{Path.Combine(_home.Lake, "raw", "many", "ev", Uri.UnescapeDataString(p))}'"));
        Assert.Equal([[6L, 6L, 0L, 102L]], LakeReader.Query($"SELECT count(*), count(DISTINCT id), min(id), max(id) FROM read_parquet([{files}])"));
    }
}
