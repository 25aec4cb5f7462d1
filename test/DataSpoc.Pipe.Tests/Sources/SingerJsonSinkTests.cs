using System.Text;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Sources.BuiltIn;

namespace DataSpoc.Pipe.Tests.Sources;

public class SingerJsonSinkTests
{
    [Fact]
    public async Task TypedValuesPrintAsTheSingerLinesTheLakeReadsBack()
    {
        var output = new MemoryStream();
        var sink = new SingerJsonSink(output);
        var schema = new JsonObject { ["properties"] = new JsonObject { ["id"] = new JsonObject(), ["at"] = new JsonObject(), ["day"] = new JsonObject(), ["t"] = new JsonObject(), ["n"] = new JsonObject(), ["j"] = new JsonObject(), ["b"] = new JsonObject() } };
        var rows = sink.WriteSchema("s", schema, ["id"]);
        rows.BeginRow();
        rows.Long(0, 7);
        rows.Timestamp(1, new DateTime(2024, 12, 31, 23, 59, 58, DateTimeKind.Utc).AddTicks(1234567));
        rows.Date(2, new DateOnly(2024, 2, 29));
        rows.Time(3, new TimeOnly(7, 5, 3).Add(TimeSpan.FromTicks(10)));
        rows.Decimal(4, 12.50m);
        rows.Json(5, "[1,{\"a\":null}]"u8);
        rows.Base64(6, [1, 2, 3]);
        rows.EndRow();
        rows.WriteJsonRow("{\"id\":8}"u8);
        sink.WriteState(new JsonObject { ["k"] = 1 });
        await sink.FlushAsync(CancellationToken.None);

        var lines = Encoding.UTF8.GetString(output.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);
        Assert.Equal("""{"type":"RECORD","stream":"s","record":{"id":7,"at":"2024-12-31T23:59:58.123456Z","day":"2024-02-29","t":"07:05:03.000001","n":12.50,"j":[1,{"a":null}],"b":"AQID"}}""", lines[1]);
        Assert.Equal("""{"type":"RECORD","stream":"s","record":{"id":8}}""", lines[2]);
        Assert.Equal("""{"type":"STATE","value":{"k":1}}""", lines[3]);
        Assert.Equal(2, sink.Records);
    }

    [Fact]
    public async Task NaN_and_the_infinities_print_as_bare_words_flat_and_where_the_schema_nests_a_number_but_a_text_NaN_stays_a_string()
    {
        // A nested value comes as JSON text (the postgres tap's array_to_json, the parquet tap's lists), where they are strings.
        var output = new MemoryStream();
        var sink = new SingerJsonSink(output);
        JsonObject Of(string type) => new() { ["type"] = new JsonArray("null", type) };
        var schema = new JsonObject
        {
            ["properties"] = new JsonObject
            {
                ["f"] = Of("number"),
                ["af"] = new JsonObject { ["type"] = new JsonArray("null", "array"), ["items"] = Of("number") },
                ["at"] = new JsonObject { ["type"] = new JsonArray("null", "array"), ["items"] = Of("string") },
                ["o"] = new JsonObject { ["type"] = "object", ["properties"] = new JsonObject { ["n"] = Of("number"), ["s"] = Of("string") } },
            },
        };
        var rows = sink.WriteSchema("s", schema, []);
        rows.BeginRow();
        rows.Double(0, double.NaN);
        rows.Json(1, """[1.5,"NaN","Infinity","-Infinity",null]"""u8);
        rows.Json(2, """["NaN","Infinity"]"""u8);
        rows.Json(3, """{"n":"-Infinity","s":"NaN"}""");
        rows.EndRow();
        await sink.FlushAsync(CancellationToken.None);

        var lines = Encoding.UTF8.GetString(output.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("""{"type":"RECORD","stream":"s","record":{"f":NaN,"af":[1.5,NaN,Infinity,-Infinity,null],"at":["NaN","Infinity"],"o":{"n":-Infinity,"s":"NaN"}}}""", lines[1]);
    }
}
