using System.Text.Json.Nodes;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Sources.BuiltIn;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;
using Xunit;

namespace DataSpoc.Pipe.Tests.Sources.BuiltIn;

public sealed class JsonlTapTests : IDisposable
{
    private readonly TapHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Fact]
    public async Task Jsonl_tap_infers_nested_objects_arrays_and_formats_and_passes_records_through()
    {
        _h.Write("in/events.jsonl",
            """
            {"id": 1, "at": "2024-01-02T03:04:05Z", "day": "2024-01-02", "user": {"name": "Ann", "age": 31}, "tags": ["a", "b"], "score": 1}

            {"id": 2, "at": "2024-01-03T00:00:00+02:00", "day": null, "user": {"name": "Bo", "vip": true}, "tags": [], "score": 2.5, "note": "ü"}
            """ + "\n");
        var output = await _h.SyncAsync("jsonl", new JsonObject { ["path"] = _h.Path("in") });
        var schema = output.Schemas["events"];
        Assert.Equal("""{"type":["null","integer"]}""", SingerOutput.Json(schema["properties"]!["id"]));
        Assert.Equal("""{"type":["null","string"],"format":"date-time"}""", SingerOutput.Json(schema["properties"]!["at"]));
        Assert.Equal("""{"type":["null","string"],"format":"date"}""", SingerOutput.Json(schema["properties"]!["day"]));
        Assert.Equal("""{"type":["null","number"]}""", SingerOutput.Json(schema["properties"]!["score"]));
        Assert.Equal("""{"type":["null","object"],"properties":{"name":{"type":["null","string"]},"age":{"type":["null","integer"]},"vip":{"type":["null","boolean"]}}}""",
            SingerOutput.Json(schema["properties"]!["user"]));
        Assert.Equal("""{"type":["null","array"],"items":{"type":["null","string"]}}""", SingerOutput.Json(schema["properties"]!["tags"]));
        var rows = output.Records("events").ToList();
        Assert.Equal(2, rows.Count);
        // Passed through byte for byte, spacing included.
        Assert.Contains(output.Lines, l => l.EndsWith("""
            "record":{"id": 2, "at": "2024-01-03T00:00:00+02:00", "day": null, "user": {"name": "Bo", "vip": true}, "tags": [], "score": 2.5, "note": "ü"}}
            """, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_folder_reads_its_jsonl_files_whatever_the_case_of_their_extension_and_says_which_files_it_skipped()
    {
        _h.Write("in/upper.JSONL", "{\"id\": 1}\n");
        using (var gz = new System.IO.Compression.GZipStream(File.Create(_h.Path("in/mixed.Jsonl.GZ")), System.IO.Compression.CompressionLevel.Fastest))
            gz.Write("{\"id\": 2}\n"u8);
        var output = await _h.SyncAsync("jsonl", new JsonObject { ["path"] = _h.Path("in") });
        Assert.Single(output.Records("upper"));
        Assert.Single(output.Records("mixed"));

        // x.jsonl beside x.JSONL is one table twice, refused as x.jsonl beside x.jsonl.gz is.
        _h.Write("in/upper.jsonl", "{\"id\": 3}\n");
        Assert.Contains("upper", await _h.FailAsync("jsonl", new JsonObject { ["path"] = _h.Path("in") }));

        // A folder none of whose files is read says which files it holds and what it reads.
        _h.Write("other/a.json", "{\"id\": 1}\n");
        Assert.Contains($"jsonl tap: '{_h.Path("other")}' matches no file: its 1 file(s) (a.json) are not named *.jsonl, *.ndjson, *.jsonl.gz, *.ndjson.gz: name them in 'files'",
            await _h.FailAsync("jsonl", new JsonObject { ["path"] = _h.Path("other") }));
    }

    [Fact]
    public async Task A_declared_schema_and_key_properties_are_used_as_given()
    {
        _h.Write("in/a.jsonl", "{\"k\": \"x\", \"v\": 1}\n");
        var config = JsonNode.Parse("""
            {"files": ["IN/*.jsonl"], "streams": [{"name": "things", "pattern": "a.jsonl", "key_properties": ["k"],
              "schema": {"type": "object", "properties": {"k": {"type": "string"}, "v": {"type": ["null", "number"]}}}}]}
            """.Replace("IN", _h.Path("in")))!.AsObject();
        var output = await _h.SyncAsync("jsonl", config);
        Assert.Equal(["k"], output.KeyProperties["things"]);
        Assert.Equal("""{"type":["null","number"]}""", SingerOutput.Json(output.Schemas["things"]["properties"]!["v"]));
        Assert.Single(output.Records("things"));
    }

    [Fact]
    public async Task Python_s_bare_NaN_and_Infinity_are_sampled_as_numbers_and_land_as_those_doubles()
    {
        // json.dumps per line writes a float('nan') so; the line is not JSON, but no value of it is lost.
        _h.Write("in/m.jsonl", "{\"id\": 1, \"v\": 1.5, \"xs\": [1.0, NaN]}\n{\"id\": 2, \"v\": NaN, \"s\": \"NaN\"}\n{\"id\": 3, \"v\": -Infinity}\n");
        var config = new JsonObject { ["path"] = _h.Path("in") };
        var schema = (await _h.DiscoverAsync("jsonl", config))["streams"]![0]!["schema"]!;
        Assert.Equal("[\"null\",\"number\"]", schema["properties"]!["v"]!["type"]!.ToJsonString());
        Assert.Equal("[\"null\",\"number\"]", schema["properties"]!["xs"]!["items"]!["type"]!.ToJsonString());
        Assert.Equal("[\"null\",\"string\"]", schema["properties"]!["s"]!["type"]!.ToJsonString());

        using var lake = new TempLake();
        await TempLake.RunBuiltInAsync(lake.BuiltInPipeline("jsonl-nan", "jsonl", config));
        Assert.Equal([["1", "1.5", "[1.0, nan]", null], ["2", "nan", null, "NaN"], ["3", "-inf", null, null]],
            lake.Query("select id, v::varchar, xs::varchar, s from read_parquet('{lake}/raw/jsonl/m/*/*.parquet') order by id"));
    }

    [Fact]
    public async Task A_line_that_is_not_a_json_object_fails_naming_file_and_line()
    {
        var file = _h.Write("in/bad.jsonl", "{\"a\": 1}\n[1, 2]\n");
        var stderr = await _h.FailAsync("jsonl", new JsonObject { ["path"] = file });
        Assert.Contains($"{file} line 2: not a JSON object", stderr);
        var broken = _h.Write("in2/broken.jsonl", "{\"a\": 1}\n{\"a\": \n");
        stderr = await _h.FailAsync("jsonl", new JsonObject { ["path"] = broken });
        Assert.Contains($"{broken} line 2: not valid JSON", stderr);
    }

    [Fact]
    public async Task Jsonl_incremental_run_reads_only_new_files()
    {
        _h.Write("in/a.jsonl", "{\"id\": 1}\n");
        var config = new JsonObject { ["path"] = _h.Path("in") };
        var first = await _h.SyncAsync("jsonl", config);
        _h.Write("in/b.jsonl", "{\"id\": 2}\n");
        var second = await _h.SyncAsync("jsonl", config, first.LastState);
        Assert.Equal(["b"], second.RecordStreams);
    }

    [Fact]
    public async Task Integers_beyond_64_bits_land_exact_as_a_decimal_column_not_rounded_to_a_double()
    {
        _h.Write("in/ev.jsonl", """
            {"id": 1, "big": 9007199254740993, "ids": [1, 18446744073709551615], "wide": 1}
            {"id": 2, "big": -9223372036854775808, "ids": [], "wide": 123456789012345678901234567890123456789}
            {"id": 3, "big": 18446744073709551615, "ids": null, "wide": 2.5}
            """ + "\n");
        var config = new JsonObject { ["path"] = _h.Path("in") };
        var properties = (await _h.DiscoverAsync("jsonl", config))["streams"]![0]!["schema"]!["properties"]!;
        Assert.Equal("""{"type":["null","number"],"multipleOf":1}""", SingerOutput.Json(properties["big"]));
        Assert.Equal("""{"type":["null","number"],"multipleOf":1}""", SingerOutput.Json(properties["ids"]!["items"]));
        // 39 digits (beyond DECIMAL(38,0)) or a fraction: a double, as before.
        Assert.Equal("""{"type":["null","number"]}""", SingerOutput.Json(properties["wide"]));

        using var lake = new TempLake();
        await TempLake.RunBuiltInAsync(lake.BuiltInPipeline("jsonl-big", "jsonl", config));
        const string Table = "read_parquet('{lake}/raw/jsonl/ev/*/*.parquet')";
        Assert.Equal(["DECIMAL(38,0)", "DECIMAL(38,0)[]"], lake.Query($"SELECT column_type FROM (DESCRIBE SELECT big, ids FROM {Table})").Select(r => r[0]));
        Assert.Equal([["1", "9007199254740993", "[1, 18446744073709551615]"], ["2", "-9223372036854775808", "[]"], ["3", "18446744073709551615", null]],
            lake.Query($"SELECT id::VARCHAR, big::VARCHAR, ids::VARCHAR FROM {Table} ORDER BY id"));
    }

    [Fact]
    public async Task A_key_first_seen_past_the_sample_fails_naming_file_line_and_key_not_dropped()
    {
        const string Sampled = "{\"id\": 1, \"o\": {\"a\": 1}, \"l\": [{\"a\": 1}]}\n{\"id\": 2, \"o\": null, \"l\": []}\n";
        foreach (var (late, key) in new[] { ("{\"id\": 3, \"late\": \"x\"}", "late"), ("{\"id\": 3, \"o\": {\"a\": 1, \"b\": \"x\"}}", "o.b"),
                     ("{\"id\": 3, \"l\": [{\"a\": 2}, {\"b\": \"x\"}]}", "l.b") })
        {
            var file = _h.Write($"{key}/t.jsonl", Sampled + late + "\n");
            var stderr = await _h.FailAsync("jsonl", new JsonObject { ["path"] = file, ["sample_rows"] = 2 });
            Assert.Contains($"{file} line 3: key '{key}' is in none of the first 2 records", stderr);
            Assert.Contains("raise sample_rows", stderr);
        }
        // Within the sample the key is a column.
        var whole = _h.Write("all/t.jsonl", Sampled + "{\"id\": 3, \"o\": {\"b\": \"x\"}}\n");
        Assert.Equal(3, (await _h.SyncAsync("jsonl", new JsonObject { ["path"] = whole, ["sample_rows"] = 3 })).Records("t").Count());
    }

    [Fact]
    public async Task A_bad_value_is_named_by_its_file_and_line_not_the_record_message_s_line()
    {
        _h.Write("in/a.jsonl", string.Concat(Enumerable.Range(1, 10).Select(i => $"{{\"id\": {i}, \"x\": 1}}\n")));
        var b = _h.Write("in/b.jsonl", "{\"id\": 1, \"x\": 1}\n\n{\"id\": 2, \"x\": 1e400}\n");
        using var lake = new TempLake();
        Assert.True(BuiltInTaps.TryGet("jsonl", out var tap));
        var result = await new PipelineRunner(new ObjectStoreFactory()).RunAsync(lake.BuiltInPipeline("jsonl-line", "jsonl", new JsonObject { ["path"] = _h.Path("in") }),
            new RunOptions { Source = new BuiltInSource(tap) }, CancellationToken.None);
        Assert.False(result.Succeeded);
        Assert.Contains($"stream 'b', {b} line 3: field 'x'", result.Log.Error);
    }

    [Fact]
    public async Task An_object_nested_40_levels_lands()
    {
        var deep = string.Concat(Enumerable.Repeat("{\"n\": ", 40)) + "{\"v\": 1}" + new string('}', 40);
        _h.Write("in/deep.jsonl", $"{{\"id\": 1, \"d\": {deep}}}\n");
        using var lake = new TempLake();
        await TempLake.RunBuiltInAsync(lake.BuiltInPipeline("jsonl-deep", "jsonl", new JsonObject { ["path"] = _h.Path("in") }));
        Assert.Equal([["1", "1"]], lake.Query("select id::varchar, d" + string.Concat(Enumerable.Repeat(".n", 40)) + ".v::varchar from read_parquet('{lake}/raw/jsonl/deep/*/*.parquet')"));
    }

    [Fact]
    public async Task Text_that_is_not_text_fails_naming_file_line_and_key()
    {
        var surrogate = _h.Write("s/t.jsonl", "{\"i\": 1}\n{\"i\": 2, \"o\": {\"s\": \"a\\ud800b\"}}\n");
        var stderr = await _h.FailAsync("jsonl", new JsonObject { ["path"] = surrogate });
        Assert.Contains($"{surrogate} line 2: key 'o.s': not valid text", stderr);
        var utf8 = _h.Path("u/t.jsonl");
        Directory.CreateDirectory(_h.Path("u"));
        File.WriteAllBytes(utf8, [.. "{\"i\": 1}\n{\"s\": \"a"u8, 0xff, 0xfe, .. "\"}\n"u8]);
        stderr = await _h.FailAsync("jsonl", new JsonObject { ["path"] = utf8 });
        Assert.Contains($"{utf8} line 2: key 's': not valid text", stderr);
    }

    [Fact]
    public async Task An_empty_key_fails_naming_file_line_and_key()
    {
        var file = _h.Write("in/t.jsonl", "{\"a\": 1}\n{\"a\": 2, \"o\": {\"\": 1}}\n");
        var stderr = await _h.FailAsync("jsonl", new JsonObject { ["path"] = file });
        Assert.Contains($"{file} line 2: key 'o.\"\"': an empty key", stderr);
    }

    [Fact]
    public async Task Lone_CR_line_ends_are_named_in_the_error()
    {
        var file = _h.Write("in/t.jsonl", "{\"a\": 1}\r{\"a\": 2}\r");
        var stderr = await _h.FailAsync("jsonl", new JsonObject { ["path"] = file });
        Assert.Contains($"{file} line 1: not valid JSON", stderr);
        Assert.Contains("lone CR", stderr);
    }
}
