using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Transforms;

/// <summary>A record invalid without a map is invalid with one: same message, same on_invalid_record, whatever the map does.</summary>
public class MappedRecordValidityTests
{
    private const string Schema = """{"type":"SCHEMA","stream":"t","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"i":{"type":["null","integer"]},"s":{"type":["null","string"]}}}}""";

    /// <summary>Maps of each form: the row form, the record-text form (a cast to a date), and a compute and hash.</summary>
    public static TheoryData<string> Maps => new()
    {
        """{"filter":"id > 1"}""",
        """{"filter":"id > 1","cast":{"s":"date"}}""",
        """{"filter":"id > 1","compute":{"c":"id * 2"},"hash":["s"]}""",
    };

    private static PipelineDefinition Pipeline(TempLake lake, string map, InvalidRecordPolicy policy, params string[] records)
    {
        var file = lake.WriteSinger("t.singer", [Schema, .. records.Select(r => $$"""{"type":"RECORD","stream":"t","record":{{r}}}""")]);
        return lake.Pipeline("p-" + Guid.NewGuid().ToString("N")[..6], file) with
        {
            OnInvalidRecord = policy,
            Transforms = new Dictionary<string, JsonNode?> { ["t"] = JsonNode.Parse(map) },
        };
    }

    private static async Task AssertRejected(string map, string record, string message)
    {
        using var lake = new TempLake();
        string[] records = [record, """{"id":5,"i":6,"s":null}"""];
        var failed = await TempLake.RunAsync(Pipeline(lake, map, InvalidRecordPolicy.Fail, records));
        Assert.False(failed.Succeeded);
        Assert.Contains(message, failed.Log.Error);
        Assert.Contains("stream 't'", failed.Log.Error);
        var skipped = await TempLake.RunAsync(Pipeline(lake, map, InvalidRecordPolicy.Skip, records));
        Assert.True(skipped.Succeeded, skipped.Log.Error);
        Assert.Equal(1, skipped.Log.Streams["t"].Rejected);
        Assert.Equal(0, skipped.Log.Streams["t"].Filtered);
        Assert.Equal(1, skipped.Log.Streams["t"].Records);
    }

    [Theory]
    [MemberData(nameof(Maps))]
    public Task A_record_the_filter_drops_is_still_rejected_for_a_value_its_column_does_not_take(string map) =>
        // Counted filtered, and on_invalid_record: fail passed: invalid data vanished without a word.
        AssertRejected(map, """{"id":1,"i":"abc","s":"x"}""", "field 'i': expected an integer, got a string");

    [Theory]
    [MemberData(nameof(Maps))]
    public Task A_property_given_twice_is_an_invalid_record_under_a_map(string map) =>
        // The JSON form failed the run with ArgumentException "An item with the same key has already been added".
        AssertRejected(map, """{"id":2,"i":1,"s":"x","s":"x"}""", "field 's': the property appears twice in the record");

    [Theory]
    [MemberData(nameof(Maps))]
    public Task An_escaped_lone_surrogate_is_an_invalid_record_under_a_map(string map) =>
        // Failed the run as "not valid JSON or UTF-8", ignoring skip.
        AssertRejected(map, """{"id":2,"i":1,"s":"\ud800"}""", "field 's': the string \"\\ud800\" holds an escaped lone surrogate");

    [Fact]
    public async Task A_map_for_a_stream_the_tap_never_sent_is_named_in_a_notice_that_is_also_a_warning()
    {
        // transforms: {T: {hash: [s]}} for stream t: the map was silently ignored and s landed in clear text.
        using var lake = new TempLake();
        var pipeline = Pipeline(lake, """{"hash":["s"]}""", InvalidRecordPolicy.Fail, """{"id":1,"i":1,"s":"x"}""");
        pipeline = pipeline with { Transforms = new Dictionary<string, JsonNode?> { ["T"] = JsonNode.Parse("""{"hash":["s"]}""") } };
        var result = await TempLake.RunAsync(pipeline);
        Assert.True(result.Succeeded, result.Log.Error);
        Assert.Contains(result.Log.Notices, n => n.StartsWith("transforms.T: the tap sent no stream 'T'", StringComparison.Ordinal) && n.Contains("(streams sent: t)"));
        // A map meant to hash personal data that hashed nothing: front ends print it on stderr too.
        Assert.Contains(result.Log.Warnings, n => n.StartsWith("transforms.T: the tap sent no stream 'T'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_copy_of_an_array_or_object_column_lands_the_same_value_and_type_as_the_column()
    {
        // compute: {v: "arr"} failed the run ("field 'v': expected an array, got a string"); {w: "obj"} landed a JSON
        // string of the object's text, non-ASCII escaped (\u00FC).
        using var lake = new TempLake();
        var file = lake.WriteSinger("s.singer", [
            """{"type":"SCHEMA","stream":"s","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"arr":{"type":["null","array"],"items":{"type":"integer"}},"obj":{"type":["null","object"],"properties":{"a":{"type":["null","integer"]},"b":{"type":["null","string"]}}}}}}""",
            """{"type":"RECORD","stream":"s","record":{"id":1,"arr":[1,2],"obj":{"a":1,"b":"ü"}}}""",
            """{"type":"RECORD","stream":"s","record":{"id":2,"arr":null,"obj":null}}"""]);
        var pipeline = lake.Pipeline("p-" + Guid.NewGuid().ToString("N")[..6], file) with
        {
            Transforms = new Dictionary<string, JsonNode?> { ["s"] = JsonNode.Parse("""{"compute":{"v":"arr","w":"[obj]"}}""") },
        };
        var result = await TempLake.RunAsync(pipeline);
        Assert.True(result.Succeeded, result.Log.Error);
        Assert.Equal([["1", "[1, 2]", "{'a': 1, 'b': ü}", "true", "true"], ["2", null, null, "true", "true"]],
            lake.Query("select id, v::varchar, w::varchar, (typeof(v) = typeof(arr))::varchar, (typeof(w) = typeof(obj))::varchar from read_parquet('{lake}/raw/test/s/*/*.parquet') order by id"));
    }

    [Fact]
    public async Task Hash_and_concat_of_a_number_beyond_2_to_the_53_take_the_double_the_column_stores()
    {
        // The column lands 9007199254740992 but hash and concat used the tap's text 9007199254740993.
        using var lake = new TempLake();
        var file = lake.WriteSinger("n.singer", [
            """{"type":"SCHEMA","stream":"n","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"n":{"type":["null","number"]},"h":{"type":["null","number"]}}}}""",
            """{"type":"RECORD","stream":"n","record":{"id":1,"n":9007199254740993,"h":9007199254740993}}"""]);
        var pipeline = lake.Pipeline("p-" + Guid.NewGuid().ToString("N")[..6], file) with
        {
            Transforms = new Dictionary<string, JsonNode?> { ["n"] = JsonNode.Parse("""{"compute":{"c":"concat(n)"},"hash":{"columns":["h"],"salt":"pepper"}}""") },
        };
        var result = await TempLake.RunAsync(pipeline);
        Assert.True(result.Succeeded, result.Log.Error);
        var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("pepper9007199254740992"u8));
        Assert.Equal([["9007199254740992", "9007199254740992", sha]],
            lake.Query("select n::bigint::varchar, c, h from read_parquet('{lake}/raw/test/n/*/*.parquet')"));
    }
}
