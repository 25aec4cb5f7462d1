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
}
