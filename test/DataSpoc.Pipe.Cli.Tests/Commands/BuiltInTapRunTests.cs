using DataSpoc.Pipe.Cli.Tests.Support;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

/// <summary>
/// Built-in file taps run by the CLI process (the native binary under <c>./test.sh</c>): <c>jsonl</c> with nested values
/// into Parquet, then <c>parquet</c> reading that table back out of the lake into another one.
/// </summary>
public sealed class BuiltInTapRunTests : IDisposable
{
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    [Fact]
    public void Jsonl_lands_nested_values_and_the_parquet_tap_reads_the_table_back_unchanged()
    {
        var data = Path.Combine(_home.Root, "data");
        Directory.CreateDirectory(data);
        File.WriteAllText(Path.Combine(data, "events.jsonl"), """
            {"id": 1, "name": "ana", "tags": ["a", "b"], "address": {"city": "Recife", "zip": "50000"}, "score": 1.5, "seen": "2025-01-20T10:00:00Z"}
            {"id": 2, "name": null, "tags": [], "address": {"city": "Porto", "zip": null}, "score": 2, "seen": "2025-01-21T11:30:00+01:00"}

            """);
        Assert.Equal(2, RunBuiltIn("events", "jsonl", data)["streams"]!["events"].Long("records"));
        var events = $"{_home.Lake}/raw/jsonl/events/dt=*/*.parquet";
        Assert.Equal(
            [
                [1L, "ana", 2L, "a", "Recife", "50000", 1.5, 1737367200L],
                [2L, null, 0L, null, "Porto", null, 2.0, 1737455400L],
            ],
            LakeReader.Rows(events, "id, name, len(tags), tags[1], address.city, address.zip, score, epoch(seen)::BIGINT", "id"));

        Assert.Equal(2, RunBuiltIn("copy", "parquet", $"{_home.Lake}/raw/jsonl/events/")["streams"]!["events"].Long("records"));
        var copy = $"{_home.Lake}/raw/parquet/events/dt=*/*.parquet";
        var columns = "id, name, tags, address, score, seen";
        Assert.Equal([[2L, 0L, 0L]], LakeReader.Query($"""
            SELECT (SELECT count(*) FROM read_parquet('{copy}')),
                   (SELECT count(*) FROM (SELECT {columns} FROM read_parquet('{events}') EXCEPT SELECT {columns} FROM read_parquet('{copy}'))),
                   (SELECT count(*) FROM (SELECT {columns} FROM read_parquet('{copy}') EXCEPT SELECT {columns} FROM read_parquet('{events}')))
            """));
    }

    [Fact]
    public void A_tilde_path_with_a_relative_HOME_is_refused_naming_HOME_not_how_the_path_is_written()
    {
        _home.WritePipeline("orders", $$"""
            source:
              tap: csv
              config: {files: ["~/data/orders.csv"]}
            destination:
              bucket: {{_home.Bucket}}
            """);
        _home.Set("HOME", "relative-home");

        var run = CliProcess.Run(_home, "run", "orders");

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("csv tap: config key 'files[0]' is '~/data/orders.csv', but HOME ('relative-home') is not an absolute path, so it " +
                        "would be read as the relative 'relative-home/data/orders.csv' from the folder the run is started in: set HOME to an " +
                        "absolute path, or write the path absolute", run.Stderr);
    }

    /// <summary>Writes a pipeline running built-in <paramref name="tap"/> on <paramref name="path"/>, runs it, and returns its JSON result.</summary>
    private System.Text.Json.Nodes.JsonNode RunBuiltIn(string pipeline, string tap, string path)
    {
        _home.WritePipeline(pipeline, $$"""
            source:
              tap: {{tap}}
              config: {path: "{{path}}"}
            destination:
              bucket: {{_home.Bucket}}
            """);
        var run = CliProcess.Run(_home, "run", pipeline, "-o", "json");
        Assert.True(run.ExitCode == 0, run.ToString());
        return Json.Parse(run);
    }
}
