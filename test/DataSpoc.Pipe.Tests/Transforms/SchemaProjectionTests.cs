using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;
using DataSpoc.Pipe.Transforms;

namespace DataSpoc.Pipe.Tests.Transforms;

/// <summary>
/// A map that only selects, drops or renames is applied to the schema (records are read through it, not rewritten):
/// the lake must be exactly what rewriting every record as a JSON object gives.
/// </summary>
public class SchemaProjectionTests
{
    private const string Schema = """{"type":"SCHEMA","stream":"events","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"name":{"type":["null","string"]},"email":{"type":["null","string"]},"amount":{"type":["null","number"]},"active":{"type":["null","boolean"]},"meta":{"type":["null","object"],"properties":{"k":{"type":["null","string"]}}},"created_at":{"type":["null","string"],"format":"date-time"}},"required":["id"]}}""";

    /// <summary>Records in the usual shapes and the unusual ones: spaced, reordered, escaped, missing and undeclared properties.</summary>
    private static readonly string[] Records =
    [
        """{"type":"RECORD","stream":"events","record":{"id":1,"name":"Ana","email":"ana@example.com","amount":10.5,"active":true,"meta":{"k":"a"},"created_at":"2025-01-20T10:00:00Z"}}""",
        """{"type": "RECORD", "stream": "events", "record": {"id": 2, "name": "Bo", "email": "b\u00f6@example.com", "amount": 3, "active": false, "meta": null, "created_at": "2025-01-21T00:00:00+02:00"}}""",
        """{"type":"RECORD","stream":"events","record":{"created_at":"2025-01-22T08:30:00Z","meta":{"k":"\"q\""},"active":null,"amount":-1e3,"email":"c\\d@x","name":"Cy","id":3}}""",
        """{"type":"RECORD","stream":"events","record":{"id":4,"email":{"nested":[1,2]},"extra":"undeclared","name":"D\u00e9"}}""",
        """{"type":"RECORD","stream":"events","record":{"id":5,"name":null,"email":null,"amount":null,"active":null,"meta":null,"created_at":null,"other":1}}""",
        """{"type":"RECORD","stream":"events","record":{"id":6,"name":"Ed","email":"e@x","amount":0.1,"active":true,"meta":{"k":null},"created_at":"2025-01-22T23:59:59.999999Z"}}""",
        """{"type":"STATE","value":{"bookmarks":{"events":{"id":6}}}}""",
    ];

    public static TheoryData<string, string> Maps => new()
    {
        { """{"drop":["email"]}""", PartitionBySettings.ExtractionDate },
        { """{"rename":{"name":"full_name","created_at":"at"}}""", PartitionBySettings.ExtractionDate },
        { """{"select":["created_at","id","name"]}""", PartitionBySettings.ExtractionDate },
        { """{"drop":["meta"],"select":["id","email","amount"],"rename":{"email":"mail","id":"event_id"}}""", PartitionBySettings.ExtractionDate },
        { """{"drop":["email","meta"],"rename":{"created_at":"at","id":"event_id"}}""", "at" },
    };

    [Theory]
    [MemberData(nameof(Maps))]
    public async Task A_map_that_only_selects_drops_or_renames_writes_the_lake_that_rewriting_each_record_writes(string map, string partitionBy)
    {
        using var onSchema = new TempLake();
        using var perRecord = new TempLake();
        var byProjection = await Run(onSchema, map, partitionBy, rewriteRecords: false);
        var byRewriting = await Run(perRecord, map, partitionBy, rewriteRecords: true);

        Assert.Equal(Describe(perRecord), Describe(onSchema));
        Assert.Equal(Rows(perRecord), Rows(onSchema));
        Assert.Equal(Partitioned(perRecord), Partitioned(onSchema));
        Assert.Equal(Relative(perRecord.ParquetKeys()), Relative(onSchema.ParquetKeys()));
        Assert.Equal(Manifested(perRecord), Manifested(onSchema));
        Assert.Equal(perRecord.State("events-map")?.ToJsonString(), onSchema.State("events-map")?.ToJsonString());
        var expected = byRewriting.Log.Streams["events"];
        var actual = byProjection.Log.Streams["events"];
        Assert.Equal((expected.Records, expected.Rejected, expected.Filtered, expected.Files, expected.Bytes),
            (actual.Records, actual.Rejected, actual.Filtered, actual.Files, actual.Bytes));
        Assert.Equal(expected.DroppedProperties, actual.DroppedProperties);
        Assert.Equal(6, actual.Records);
    }

    private static async Task<RunResult> Run(TempLake lake, string map, string partitionBy, bool rewriteRecords)
    {
        var file = lake.WriteSinger("events.singer", [Schema, .. Records]);
        var pipeline = lake.Pipeline("events-map", file, p => p with { Destination = p.Destination with { PartitionBy = partitionBy } })
            with { Transforms = new Dictionary<string, JsonNode?> { ["events"] = JsonNode.Parse(map) } };
        var options = new RunOptions();
        if (rewriteRecords)
        {
            // The same compiled map, hidden behind a transform the writer cannot see into: it rewrites every record.
            options = new RunOptions { CodeTransforms = [.. TransformCompiler.Compile(pipeline).Select(t => new PerRecord(t))] };
            pipeline = pipeline with { Transforms = new Dictionary<string, JsonNode?>() };
        }
        var result = await new PipelineRunner(new ObjectStoreFactory()).RunAsync(pipeline, options, CancellationToken.None);
        Assert.True(result.Succeeded, result.Log.Error);
        return result;
    }

    private sealed class PerRecord(IRecordTransform inner) : IRecordTransform
    {
        public bool AppliesTo(string stream) => inner.AppliesTo(stream);
        public JsonObject TransformSchema(string stream, JsonObject schema) => inner.TransformSchema(stream, schema);
        public JsonObject? TransformRecord(string stream, JsonObject record) => inner.TransformRecord(stream, record);
        public IReadOnlyList<string> TransformKeyProperties(string stream, IReadOnlyList<string> keyProperties) => inner.TransformKeyProperties(stream, keyProperties);
    }

    private static List<List<string?>> Describe(TempLake lake) =>
        lake.Query("select column_name, column_type from (describe select * from read_parquet('{lake}/raw/test/events/**/*.parquet', hive_partitioning = false))");

    /// <summary>Every row with its partition folder: a transform must not move a record (an offset date-time lands by its UTC date).</summary>
    private static string Partitioned(TempLake lake) => string.Join("\n", lake.Query("select regexp_extract(filename, 'dt=[^/]*'), cast(columns(* exclude (filename)) as varchar) from read_parquet('{lake}/raw/test/events/**/*.parquet', hive_partitioning = false, filename = true) order by all").Select(r => string.Join(",", r)));

    private static List<List<string?>> Rows(TempLake lake)
    {
        var columns = Describe(lake).Select(c => $"cast(\"{c[0]}\" as varchar)");
        return lake.Query($"select {string.Join(", ", columns)} from read_parquet('{{lake}}/raw/test/events/**/*.parquet', hive_partitioning = false) order by all");
    }

    /// <summary>Each file's partition folder and index (the name's run id part differs between runs).</summary>
    private static List<string> Relative(List<string> keys) => keys.Select(k => k[(k.IndexOf("/events/", StringComparison.Ordinal) + 1)..k.LastIndexOf('_')]).ToList();

    private static string Manifested(TempLake lake)
    {
        var table = lake.Manifest().Tables["test/events"];
        return string.Join("|", table.Columns.Select(c => $"{c.Name}:{c.Type}:{c.Nullable}")) + "|keys=" + string.Join(",", table.KeyProperties)
            + $"|partitioning={string.Join(",", table.Partitioning)}|rows={table.RowCount}|files={table.Stats.Files}|bytes={table.Stats.Bytes}";
    }
}
