using System.Text;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Tests.Support;
using DataSpoc.Pipe.Transforms;

namespace DataSpoc.Pipe.Tests.Transforms;

/// <summary>
/// The run log's <c>dropped_properties</c> under a map count what the tap sent that its SCHEMA lacks, before the map:
/// the undeclared properties of the records a filter removes too, and none of a computed copy of a struct. A rejected
/// record counts as rejected, whole: none of its properties as dropped.
/// </summary>
public class DroppedPropertiesUnderMapsTests
{
    private static readonly string[] Lines =
    [
        """{"type":"SCHEMA","stream":"s","key_properties":["id"],"schema":{"properties":{"id":{"type":"integer"},"meta":{"type":"object","properties":{"a":{"type":"integer"}}}}}}""",
        """{"type":"RECORD","stream":"s","record":{"id":1,"meta":{"a":1,"x":9},"extra":1}}""",
        """{"type":"RECORD","stream":"s","record":{"id":2,"meta":{"a":2,"x":9}}}""",
        """{"type":"RECORD","stream":"s","record":{"id":3,"meta":{"a":3,"x":9},"extra":3}}""",
    ];

    [Theory]
    [InlineData("""{"filter":"id != 3","compute":{"copy":"meta"}}""", false)] // a copy of a struct: the JSON path
    [InlineData("""{"filter":"id != 3","compute":{"copy":"meta"}}""", true)]
    [InlineData("""{"filter":"id != 3","compute":{"twice":"id * 2"}}""", false)] // the typed path
    [InlineData("""{"filter":"id != 3","compute":{"twice":"id * 2"}}""", true)]
    [InlineData("""{"filter":"id != 3"}""", false)]
    public async Task Count_what_the_tap_sent_whatever_the_map_filters_or_copies(string map, bool keepJsonPath)
    {
        using var lake = new TempLake();
        var pipeline = lake.Pipeline("dropped", lake.WriteSinger("unused.singer", ""));
        pipeline = pipeline with { Transforms = new Dictionary<string, JsonNode?> { ["s"] = JsonNode.Parse(map) } };
        var result = await RunAsync(pipeline, Lines, keepJsonPath);

        var stream = result.Log.Streams["s"];
        Assert.Equal((2L, 1L), (stream.Records, stream.Filtered));
        Assert.Equal(new Dictionary<string, long> { ["meta.x"] = 3, ["extra"] = 2 }, stream.DroppedProperties.ToDictionary());
    }

    /// <summary>
    /// Found by the typed map's differential test (seed 43257544, case 36): a record rejected for a bad value counted the
    /// undeclared properties the shred met before the value, in the tap's order, on one path, and all of them on the JSON
    /// path under a map, so the same records gave different counts.
    /// </summary>
    [Theory]
    [InlineData(null, false)]
    [InlineData("""{"drop":["note"]}""", false)] // the typed path
    [InlineData("""{"drop":["note"]}""", true)]
    [InlineData("""{"filter":"id != 4"}""", false)]
    [InlineData("""{"filter":"id != 4"}""", true)]
    public async Task A_rejected_record_counts_none_of_its_undeclared_properties_wherever_its_bad_value_is(string? map, bool keepJsonPath)
    {
        string[] lines =
        [
            """{"type":"SCHEMA","stream":"s","key_properties":["id"],"schema":{"properties":{"id":{"type":"integer"},"day":{"type":["null","string"],"format":"date"},"note":{"type":["null","string"]}}}}""",
            """{"type":"RECORD","stream":"s","record":{"id":1,"day":"2024-01-02","extra":1}}""",
            """{"type":"RECORD","stream":"s","record":{"id":2,"extra":2,"day":"2024-13-01"}}""", // the undeclared property before the bad value
            """{"type":"RECORD","stream":"s","record":{"id":3,"day":60,"extra":3,"other":true}}""", // after it
            """{"type":"RECORD","stream":"s","record":{"id":4,"day":"2024-01-04","extra":4}}""", // filtered by one of the maps
        ];
        using var lake = new TempLake();
        var pipeline = lake.Pipeline("rejected", lake.WriteSinger("unused.singer", ""));
        pipeline = pipeline with
        {
            Transforms = map is null ? new Dictionary<string, JsonNode?>() : new Dictionary<string, JsonNode?> { ["s"] = JsonNode.Parse(map) },
            OnInvalidRecord = DataSpoc.Pipe.Config.InvalidRecordPolicy.Skip,
        };
        var result = await RunAsync(pipeline, lines, keepJsonPath);

        var stream = result.Log.Streams["s"];
        var filtered = map?.Contains("filter") == true;
        Assert.Equal((filtered ? 1L : 2L, 2L, filtered ? 1L : 0L), (stream.Records, stream.Rejected, stream.Filtered));
        // Records 1 and 4 (kept or filtered: the tap sent it all the same); 2 and 3 are rejected.
        Assert.Equal(new Dictionary<string, long> { ["extra"] = 2 }, stream.DroppedProperties.ToDictionary());
    }

    /// <summary>Runs <paramref name="lines"/> through <paramref name="pipeline"/>, which must succeed.</summary>
    private static async Task<RunResult> RunAsync(DataSpoc.Pipe.Config.PipelineDefinition pipeline, string[] lines, bool keepJsonPath)
    {
        // A code transform on the stream (one that changes nothing) keeps its map on the JSON path.
        IReadOnlyList<IRecordTransform> code = keepJsonPath ? [new DataSpoc.Pipe.Api.CodeTransform("s", r => r)] : [];
        var singer = Encoding.UTF8.GetBytes(string.Join('\n', lines) + "\n");
        var result = await new PipelineRunner(new DataSpoc.Pipe.Storage.ObjectStoreFactory())
            .RunAsync(pipeline, new RunOptions { Source = new SingerBytesSource(singer), CodeTransforms = code }, CancellationToken.None);
        Assert.True(result.Succeeded, result.Log.Error);
        return result;
    }
}
