using System.Text.Json;
using DataSpoc.Pipe.Parquet;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Parquet;

/// <summary>
/// anyOf/oneOf alternatives of one JSON type merge to the widest common type; local $refs and allOf are resolved;
/// names that differ only in Unicode normalization are refused like those that differ only in case.
/// </summary>
public class SchemaAlternativesTests
{
    private static string ArrowType(string property) =>
        ColumnSchema.FromJsonSchema(JsonElement.Parse("""{"type":"object","definitions":{"str":{"type":"string"},"node":{"type":"object","properties":{"child":{"$ref":"#/definitions/node"},"v":{"type":"integer"}}}},"$defs":{"addr":{"type":"object","properties":{"city":{"type":"string"}}}},"properties":{"p":""" + property + "}}"))
            .Root.Children[0].ArrowType;

    [Theory]
    [InlineData("""{"anyOf":[{"type":"string","format":"date-time"},{"type":"string"}]}""", "string")]
    [InlineData("""{"anyOf":[{"type":"string","format":"date"},{"type":"string","format":"date-time"}]}""", "timestamp[us, tz=UTC]")]
    [InlineData("""{"anyOf":[{"type":"array","items":{"type":"integer"}},{"type":"array","items":{"type":"string"}}]}""", "list<string>")]
    [InlineData("""{"anyOf":[{"type":"object","properties":{"a":{"type":"integer"}}},{"type":"object","properties":{"b":{"type":"string"}}}]}""", "struct<a: int64, b: string>")]
    [InlineData("""{"oneOf":[{"type":"object","properties":{"a":{"type":"integer"}}},{"type":"object"}]}""", "json")]
    [InlineData("""{"anyOf":[{"type":"number","multipleOf":0.01},{"type":"number","multipleOf":0.001}]}""", "double")]
    [InlineData("""{"anyOf":[{"type":["string","null"],"format":"date"},{"type":"string","format":"date"}]}""", "date32")]
    [InlineData("""{"$ref":"#/definitions/str"}""", "string")]
    [InlineData("""{"$ref":"#/$defs/addr"}""", "struct<city: string>")]
    [InlineData("""{"allOf":[{"type":"string"},{"maxLength":5}]}""", "string")]
    [InlineData("""{"allOf":[{"$ref":"#/$defs/addr"},{"type":"object","properties":{"zip":{"type":"string"}}}]}""", "struct<city: string, zip: string>")]
    [InlineData("""{"allOf":[{"type":["integer","string"]},{"type":["integer","null"]}]}""", "int64")]
    [InlineData("""{"$ref":"#/definitions/node"}""", "struct<child: json, v: int64>")]
    [InlineData("""{"$ref":"WellKnownTypes.json#/definitions/Integer"}""", "json")]
    [InlineData("""{"$ref":"#/definitions/missing"}""", "json")]
    public void Alternatives_references_and_allOf_map_to_the_widest_common_type(string property, string arrowType) =>
        Assert.Equal(arrowType, ArrowType(property));

    [Fact]
    public async Task Values_of_any_alternative_land_whole_and_references_land_typed()
    {
        using var lake = new TempLake();
        var file = lake.WriteSinger("alts.singer",
        [
            """
            {"type":"SCHEMA","stream":"alts","key_properties":["id"],"schema":{"type":"object","definitions":{"str":{"type":"string"}},"$defs":{"addr":{"type":"object","properties":{"city":{"type":"string"}}}},"properties":{"id":{"type":"integer"},
            "dt_or_s":{"anyOf":[{"type":"string","format":"date-time"},{"type":"string"}]},
            "d_or_dt":{"anyOf":[{"type":"string","format":"date"},{"type":"string","format":"date-time"}]},
            "ai_or_as":{"anyOf":[{"type":"array","items":{"type":"integer"}},{"type":"array","items":{"type":"string"}}]},
            "payload":{"oneOf":[{"type":"object","properties":{"kind":{"const":"click"},"x":{"type":"integer"}}},{"type":"object","properties":{"kind":{"const":"search"},"query":{"type":"string"}}}]},
            "ref_s":{"$ref":"#/definitions/str"},"ref_obj":{"$ref":"#/$defs/addr"},"allof":{"allOf":[{"type":"string"},{"maxLength":5}]},
            "remote":{"$ref":"WellKnownTypes.json#/definitions/Integer"}}}}
            """.ReplaceLineEndings(""),
            """{"type":"RECORD","stream":"alts","record":{"id":1,"dt_or_s":"not a date","d_or_dt":"2024-06-02T23:30:00-05:00","ai_or_as":["x"],"payload":{"kind":"search","query":"shoes"},"ref_s":"hello","ref_obj":{"city":"Lisbon"},"allof":"abc","remote":7}}""",
            """{"type":"RECORD","stream":"alts","record":{"id":2,"dt_or_s":"2024-02-02","d_or_dt":"2024-06-02","ai_or_as":[1,2],"payload":{"kind":"click","x":3}}}""",
        ]);
        var result = await TempLake.RunAsync(lake.Pipeline("alts", file));
        Assert.True(result.Succeeded, result.Log.Error);
        var rows = lake.Query("""
            select dt_or_s, strftime(d_or_dt, '%Y-%m-%d %H:%M:%S'), ai_or_as::varchar, payload.query, payload.x::varchar,
                   typeof(ref_s), ref_s, ref_obj.city, typeof(allof), allof, remote::varchar
            from read_parquet('{lake}/raw/test/alts/*/*.parquet') order by id
            """);
        Assert.Equal(["not a date", "2024-06-03 04:30:00", "[x]", "shoes", null, "VARCHAR", "hello", "Lisbon", "VARCHAR", "abc", "7"], rows[0]);
        Assert.Equal(["2024-02-02", "2024-06-02 00:00:00", "[1, 2]", null, "3", "VARCHAR", null, null, "VARCHAR", null, null], rows[1]);
        Assert.Contains(result.Log.Notices, n => n.Contains("stream 'alts': property 'remote': \"$ref\": \"WellKnownTypes.json#/definitions/Integer\" points outside the SCHEMA message", StringComparison.Ordinal));
        Assert.DoesNotContain(result.Log.Notices, n => n.Contains("payload", StringComparison.Ordinal));
    }

    private const string Nfc = "caf\u00e9", Nfd = "cafe\u0301";

    [Fact]
    public void Properties_that_differ_only_in_Unicode_normalization_are_refused_naming_both()
    {
        var e = Assert.Throws<SchemaException>(() => ColumnSchema.FromJsonSchema(JsonElement.Parse(
            $$$$"""{"type":"object","properties":{"{{{{Nfc}}}}":{"type":"string"},"{{{{Nfd}}}}":{"type":"string"}}}""")));
        Assert.Equal($"property '{Nfd}': properties '{Nfc}' and '{Nfd}' differ only in Unicode normalization (one NFC, the other NFD: they print the same); " +
            "readers print them alike, and catalogs and file systems that normalize names (macOS) take them as one", e.Message);
        Assert.Throws<SchemaException>(() => ColumnSchema.FromJsonSchema(JsonElement.Parse(
            $$$$"""{"type":"object","properties":{"{{{{Nfc}}}}":{"type":"string"},"{{{{Nfd.ToUpperInvariant()}}}}":{"type":"string"}}}""")));
    }

    [Fact]
    public async Task Streams_that_differ_only_in_Unicode_normalization_are_refused_naming_both()
    {
        using var lake = new TempLake();
        string Schema(string stream) => "{\"type\":\"SCHEMA\",\"stream\":\"" + stream + "\",\"key_properties\":[],\"schema\":{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"}}}}";
        string Record(string stream) => $$$$"""{"type":"RECORD","stream":"{{{{stream}}}}","record":{"id":1}}""";
        var file = lake.WriteSinger("twins.singer", [Schema(Nfc), Record(Nfc), Schema(Nfd), Record(Nfd)]);
        var result = await TempLake.RunAsync(lake.Pipeline("twins", file));
        Assert.False(result.Succeeded);
        Assert.Contains($"streams '{Nfc}' and '{Nfd}' map to table folders '{Nfc}' and '{Nfd}', which differ only in Unicode normalization", result.Log.Error);
    }
}
