using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Runs;

public class PipelineRunnerTests
{
    private const string Schema = """{"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"name":{"type":["null","string"]},"amount":{"type":"number"},"paid":{"type":"boolean"},"created_at":{"type":"string","format":"date-time"}}}}""";

    [Fact]
    public async Task A_run_lands_every_record_as_parquet_that_duckdb_reads_back_value_for_value()
    {
        using var lake = new TempLake();
        var file = lake.WriteSinger("orders.singer",
            Schema,
            """{"type":"RECORD","stream":"orders","record":{"id":1,"name":"Ana","amount":10.5,"paid":true,"created_at":"2025-01-20T10:00:00+02:00"}}""",
            """{"type":"RECORD","stream":"orders","record":{"id":2,"name":null,"amount":-3,"paid":false,"created_at":"2025-01-20T23:59:59.123456Z"}}""",
            """{"type":"STATE","value":{"bookmark":2}}""");
        var result = await TempLake.RunAsync(lake.Pipeline("orders-local", file));
        Assert.True(result.Succeeded, result.Log.Error);
        var rows = lake.Query("select id, name, amount, paid, created_at from read_parquet('{lake}/raw/test/orders/*/*.parquet') order by id");
        Assert.Equal(
        [
            ["1", "Ana", "10.5", "true", "2025-01-20 08:00:00.000000"],
            ["2", null, "-3", "false", "2025-01-20 23:59:59.123456"],
        ], rows);
        Assert.Equal("""{"bookmark":2}""", lake.State("orders-local")!.ToJsonString());
    }

    [Fact]
    public async Task Interleaved_streams_odd_records_and_bad_ones_in_parallel_lanes_land_exactly_once_with_their_values()
    {
        // Two parsing lanes and small batches: batches fill and are handed over in the middle of a lane's chunk. Runs of
        // each stream alternate; some records take the tokenizer path (properties out of order, an escaped string, a
        // differently spelled envelope), and some do not fit their column (skipped).
        using var lake = new TempLake();
        var lines = new List<string>();
        foreach (var stream in new[] { "a", "b", "c" })
            lines.Add("""{"type":"SCHEMA","stream":"STREAM","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"name":{"type":["null","string"]},"amount":{"type":"number"}}}}""".Replace("STREAM", stream, StringComparison.Ordinal));
        var expected = new Dictionary<string, List<List<string?>>> { ["a"] = [], ["b"] = [], ["c"] = [] };
        var rejected = new Dictionary<string, int> { ["a"] = 0, ["b"] = 0, ["c"] = 0 };
        for (var i = 0; i < 60_000; i++)
        {
            var stream = (i / 700 % 3) switch { 0 => "a", 1 => "b", _ => i % 2 == 0 ? "c" : "a" };
            var name = i % 10 == 0 ? "null" : $"\"n{i}\"";
            string line;
            if (i % 997 == 0)
            {
                line = $$$"""{"type":"RECORD","stream":"{{{stream}}}","record":{"id":{{{i}}},"name":{{{name}}},"amount":"x{{{i}}}"}}""";
                rejected[stream]++;
            }
            else
            {
                line = (i % 5) switch
                {
                    0 => $$$"""{"type":"RECORD","stream":"{{{stream}}}","record":{"amount":{{{i}}}.5,"name":{{{name}}},"id":{{{i}}}}}""",
                    1 => $$$"""{"type": "RECORD", "stream": "{{{stream}}}", "record": {"id": {{{i}}}, "name": {{{name}}}, "amount": {{{i}}}.5}, "time_extracted": "2025-01-01T00:00:00Z"}""",
                    2 when i % 3 == 0 => $$$"""{"stream":"{{{stream}}}","type":"RECORD","record":{"id":{{{i}}},"name":"q\"{{{i}}}","amount":{{{i}}}.5}}""",
                    3 when i % 7 == 0 => $$$"""{"type":"RECORD","stream":"{{{stream}}}","record":{"id":{{{i}}},"name":"e\u0041{{{i}}}","amount":{{{i}}}.5}}""",
                    _ => $$$"""{"type":"RECORD","stream":"{{{stream}}}","record":{"id":{{{i}}},"name":{{{name}}},"amount":{{{i}}}.5}}""",
                };
                var storedName = (i % 5, i % 3, i % 7) switch
                {
                    (2, 0, _) => $"q\"{i}",
                    (3, _, 0) => $"eA{i}",
                    _ => i % 10 == 0 ? null : $"n{i}",
                };
                expected[stream].Add([i.ToString(System.Globalization.CultureInfo.InvariantCulture), storedName, $"{i}.5"]);
            }
            lines.Add(line);
        }
        lines.Add("""{"type":"STATE","value":{"done":true}}""");
        var file = lake.WriteSinger("interleaved.singer", [.. lines]);
        var runner = new DataSpoc.Pipe.Runs.PipelineRunner(new DataSpoc.Pipe.Storage.ObjectStoreFactory()) { Limits = new() { BatchRows = 2_048, ParseLanes = 2 } };

        var result = await TempLake.RunAsync(lake.Pipeline("interleaved", file, p => p with { OnInvalidRecord = DataSpoc.Pipe.Config.InvalidRecordPolicy.Skip }),
            runner: runner);

        Assert.True(result.Succeeded, result.Log.Error);
        foreach (var stream in new[] { "a", "b", "c" })
        {
            Assert.Equal(expected[stream].Count, result.Log.Streams[stream].Records);
            Assert.Equal(rejected[stream], result.Log.Streams[stream].Rejected);
            var rows = lake.Query($"select id, name, amount from read_parquet('{{lake}}/raw/test/{stream}/*/*.parquet') order by id");
            Assert.Equal(expected[stream], rows);
        }
    }
}
