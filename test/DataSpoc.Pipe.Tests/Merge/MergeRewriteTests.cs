using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Merge;

/// <summary>
/// What a merge keeps of a row it carries over (a run's repeated key, a row of a rewritten file): every value as the
/// table holds it, whatever the transforms, the value (NaN, a 38-digit decimal) or a column the SCHEMA no longer has;
/// and what it refuses or counts. Each run is a real tap script; DuckDB reads the values back.
/// </summary>
public sealed class MergeRewriteTests : IDisposable
{
    private readonly TempLake _lake = new();

    public void Dispose() => _lake.Dispose();

    private int _inputs;

    private PipelineDefinition Pipeline(string[] lines, JsonObject? transform = null, MergeSettings? merge = null) =>
        _lake.Pipeline("k-merge", _lake.WriteSinger($"run{++_inputs}.jsonl", lines), p => p with
        {
            Destination = p.Destination with { PartitionBy = PartitionBySettings.None, WriteMode = WriteMode.Merge, Merge = merge ?? new MergeSettings() },
            Transforms = transform is null ? p.Transforms : new Dictionary<string, JsonNode?> { ["k"] = transform },
        });

    private async Task<DataSpoc.Pipe.Runs.RunResult> Run(string[] lines, JsonObject? transform = null, bool full = false, MergeSettings? merge = null)
    {
        var result = await TempLake.RunAsync(Pipeline(lines, transform, merge), full);
        Assert.True(result.Succeeded, result.Log.Error);
        return result;
    }

    private List<List<string?>> Rows(string columns, string order = "1") =>
        _lake.Query($"SELECT {columns} FROM read_parquet('{{lake}}/raw/test/k/*.parquet', union_by_name=true) ORDER BY {order}");

    private static string Schema(string properties, string key = "id") =>
        $$$"""{"type":"SCHEMA","stream":"k","schema":{"type":"object","properties":{{{properties}}}},"key_properties":["{{{key}}}"]}""";

    private static string Record(string record) => $$$"""{"type":"RECORD","stream":"k","record":{{{record}}}}""";

    private static readonly string IdV = Schema("""{"id":{"type":"integer"},"v":{"type":["null","string"]}}""");

    [Fact]
    public async Task A_key_repeated_in_a_run_keeps_its_renamed_and_computed_columns()
    {
        var map = JsonNode.Parse("""{"rename":{"id":"user_id"},"compute":{"c":"id + 1"}}""")!.AsObject();
        await Run([IdV, Record("""{"id":1,"v":"a"}"""), Record("""{"id":2,"v":"b"}"""), Record("""{"id":2,"v":"b2"}""")], map);
        Assert.Equal([["1", "a", "2"], ["2", "b2", "3"]], Rows("user_id, v, c"));

        // A rewritten file's rows keep them too (key 2 shares the file with the updated key 1).
        await Run([IdV, Record("""{"id":1,"v":"a2"}""")], (JsonObject)map.DeepClone());
        Assert.Equal([["1", "a2", "2"], ["2", "b2", "3"]], Rows("user_id, v, c"));
    }

    [Fact]
    public async Task A_new_merge_key_is_taken_with_a_notice_naming_the_old_and_the_new_key()
    {
        var idKV = """{"id":{"type":"integer"},"k":{"type":"integer"},"v":{"type":["null","string"]}}""";
        await Run([Schema(idKV), Record("""{"id":1,"k":1,"v":"a"}"""), Record("""{"id":2,"k":1,"v":"b"}""")]);
        var same = await Run([Schema(idKV), Record("""{"id":2,"k":1,"v":"b2"}""")]);
        Assert.DoesNotContain(same.Log.Notices, n => n.Contains("merge key changes", StringComparison.Ordinal));

        // Rows 1 and 2 are distinct by id; by k they are one row, and the run's row replaces both.
        var rekeyed = await Run([Schema(idKV, key: "k"), Record("""{"id":3,"k":1,"v":"c"}""")]);
        Assert.Contains(rekeyed.Log.Notices, n => n.StartsWith("stream 'k': the merge key changes from (id) to (k)", StringComparison.Ordinal)
            && n.Contains("--full", StringComparison.Ordinal));
        Assert.Equal([["3", "1", "c"]], Rows("id, k, v"));
    }

    [Fact]
    public async Task A_merge_key_renamed_between_runs_is_refused_before_it_leaves_earlier_rows_with_a_null_key()
    {
        await Run([IdV, Record("""{"id":1,"v":"a"}"""), Record("""{"id":10,"v":"b"}""")]);
        var renamed = JsonNode.Parse("""{"rename":{"id":"user_id"}}""")!.AsObject();

        // The table's rows have no user_id: merged by it, they would keep a null key and entity 1 would be there twice.
        var refused = await TempLake.RunAsync(Pipeline([IdV, Record("""{"id":1,"v":"a2"}""")], renamed));
        Assert.False(refused.Succeeded);
        Assert.StartsWith("stream 'k': the merge key changes from (id) to (user_id), but table test/k has no column 'user_id': its 2 earlier row(s) " +
            "would keep a null key", refused.Log.Error);
        Assert.Contains("run --full, or write_mode: replace", refused.Log.Error, StringComparison.Ordinal);
        Assert.Equal([["1", "a"], ["10", "b"]], Rows("id, v"));

        await Run([IdV, Record("""{"id":1,"v":"a2"}""")], (JsonObject)renamed.DeepClone(), full: true);
        Assert.Equal([["1", "a2"]], Rows("user_id, v"));
    }

    [Fact]
    public async Task A_key_repeated_in_a_run_keeps_a_hashed_column_renamed()
    {
        var map = JsonNode.Parse("""{"rename":{"v":"w"},"hash":["v"]}""")!.AsObject();
        await Run([IdV, Record("""{"id":1,"v":"a"}"""), Record("""{"id":1,"v":"b"}""")], map);
        var rows = Rows("id, w");
        Assert.Single(rows);
        Assert.Equal(64, rows[0][1]?.Length);
    }

    [Fact]
    public async Task A_rewritten_file_keeps_nan_and_the_infinities_flat_and_in_lists()
    {
        var schema = Schema("""{"id":{"type":"integer"},"f":{"type":["null","number"]},"arr":{"type":["null","array"],"items":{"type":["null","number"]}}}""");
        await Run([schema, Record("""{"id":1,"f":1.0}"""), Record("""{"id":2,"f":NaN,"arr":[NaN,Infinity,-0.0]}"""),
            Record("""{"id":3,"f":"Infinity"}"""), Record("""{"id":4,"f":-Infinity}""")]);
        var before = Rows("id, f::VARCHAR, arr::VARCHAR");

        await Run([schema, Record("""{"id":1,"f":2.0}""")]);
        Assert.Equal([["1", "2.0", null], .. before.Skip(1)], Rows("id, f::VARCHAR, arr::VARCHAR"));
        Assert.Equal(["2", "nan", "[nan, inf, -0.0]"], before[1]);
    }

    [Fact]
    public async Task A_rewritten_file_keeps_a_decimal_of_38_digits_exactly()
    {
        var schema = Schema("""{"id":{"type":"integer"},"d":{"type":["null","number"],"multipleOf":0.01}}""");
        await Run([schema, Record("""{"id":1,"d":1.00}"""), Record("""{"id":2,"d":123456789012345678901234567890.12}"""),
            Record("""{"id":3,"d":-999999999999999999999999999999999999.99}""")]);
        await Run([schema, Record("""{"id":1,"d":2.00}""")]);
        Assert.Equal([["1", "2.00"], ["2", "123456789012345678901234567890.12"], ["3", "-999999999999999999999999999999999999.99"]], Rows("id, d::VARCHAR"));
    }

    [Fact]
    public async Task An_integer_key_and_the_same_key_as_a_string_are_one_key_once_the_column_is_a_string()
    {
        await Run([IdV.Replace("\"v\":{\"type\":[\"null\",\"string\"]}", "\"v\":{\"type\":[\"null\",\"integer\"]}"), Record("""{"id":1,"v":1}"""), Record("""{"id":2,"v":2}""")]);
        await Run([Schema("""{"id":{"type":"string"},"v":{"type":["null","integer"]}}"""), Record("""{"id":"1","v":11}""")]);
        Assert.Equal([["1", "11"], ["2", "2"]], Rows("id::VARCHAR, v", "1"));
        Assert.Equal(2, _lake.Manifest().Tables["test/k"].RowCount);
    }

    [Fact]
    public async Task A_number_key_kept_as_a_string_is_its_plain_digits_so_the_same_key_as_a_string_matches_it()
    {
        // .NET writes the double 1e20 as 1E+20: the kept row's key must be the digits the source sends as a string.
        await Run([Schema("""{"id":{"type":"number"},"v":{"type":["null","string"]}}"""),
            Record("""{"id":1e20,"v":"c"}"""), Record("""{"id":1e-7,"v":"d"}"""), Record("""{"id":1.5,"v":"a"}""")]);
        await Run([Schema("""{"id":{"type":"string"},"v":{"type":["null","string"]}}"""),
            Record("""{"id":"100000000000000000000","v":"c2"}"""), Record("""{"id":"1.5","v":"a2"}""")]);
        Assert.Equal([["1.5", "a2"], ["100000000000000000000", "c2"], ["0.0000001", "d"]], Rows("id, v", "v"));
        Assert.Equal(3, _lake.Manifest().Tables["test/k"].RowCount);
    }

    [Fact]
    public async Task A_string_key_that_the_schema_now_types_as_an_integer_fails_the_merge_naming_it()
    {
        await Run([Schema("""{"id":{"type":"string"},"v":{"type":["null","integer"]}}"""), Record("""{"id":"1","v":1}""")]);
        var before = _lake.ParquetKeys();
        var result = await TempLake.RunAsync(Pipeline([Schema("""{"id":{"type":"integer"},"v":{"type":["null","integer"]}}"""), Record("""{"id":1,"v":11}""")]));
        Assert.False(result.Succeeded);
        Assert.Contains("key property 'id'", result.Log.Error, StringComparison.Ordinal);
        Assert.Contains("--full", result.Log.Error, StringComparison.Ordinal);
        Assert.Equal(before, _lake.ParquetKeys());
    }

    [Fact]
    public async Task A_rewritten_file_keeps_a_column_the_schema_no_longer_declares()
    {
        var withB = Schema("""{"id":{"type":"integer"},"b":{"type":["null","string"]}}""");
        await Run([withB, Record("""{"id":1,"b":"b1"}"""), Record("""{"id":2,"b":"b2"}""")]);
        await Run([withB, Record("""{"id":3,"b":"b3"}"""), Record("""{"id":4,"b":"b4"}""")]);
        await Run([Schema("""{"id":{"type":"integer"}}"""), Record("""{"id":1}""")]);
        Assert.Equal([["1", null], ["2", "b2"], ["3", "b3"], ["4", "b4"]], Rows("id, b"));
    }

    [Fact]
    public async Task A_kept_date_time_that_is_not_midnight_utc_fails_a_merge_into_a_date_column_and_one_at_midnight_lands_as_its_date()
    {
        var asDateTime = Schema("""{"id":{"type":"integer"},"v":{"type":["null","string"],"format":"date-time"}}""");
        var asDate = Schema("""{"id":{"type":"integer"},"v":{"type":["null","string"],"format":"date"}}""");
        await Run([asDateTime, Record("""{"id":1,"v":"2024-06-02T10:00:00+01:00"}"""), Record("""{"id":2,"v":"2024-06-02T23:30:00-05:00"}""")]);
        var files = _lake.ParquetKeys();
        var state = _lake.State("k-merge")?.ToJsonString();

        // Row 2 (stored as 2024-06-03T04:30Z) shares the file of the updated row 1: as a date it would lose its time of day.
        var result = await TempLake.RunAsync(Pipeline([asDate, Record("""{"id":1,"v":"2024-07-01"}""")]));
        Assert.False(result.Succeeded);
        Assert.Contains("row 1 does not fit the stream's current schema (field 'v': '2024-06-03T04:30:00", result.Log.Error, StringComparison.Ordinal);
        Assert.Contains("not midnight UTC", result.Log.Error, StringComparison.Ordinal);
        Assert.Contains("--full", result.Log.Error, StringComparison.Ordinal);
        Assert.Equal(files, _lake.ParquetKeys());
        Assert.Equal(state, _lake.State("k-merge")?.ToJsonString());

        // At midnight UTC a date-time is exactly a date: the rewrite keeps it as that date.
        await Run([asDateTime, Record("""{"id":1,"v":"2024-06-02T10:00:00Z"}"""), Record("""{"id":2,"v":"2024-06-03T00:00:00Z"}""")]);
        var merged = await Run([asDate, Record("""{"id":1,"v":"2024-07-01"}""")]);
        Assert.Equal([["1", "2024-07-01"], ["2", "2024-06-03"]], Rows("id, strftime(v, '%Y-%m-%d')"));
        // The run log says the earlier file was rewritten, not that it keeps the old type.
        var notice = Assert.Single(merged.Log.Notices, n => n.Contains("since the table's earlier files", StringComparison.Ordinal));
        Assert.Contains("this merge rewrote them all (1 file(s)) under the stream's current schema", notice, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_kept_value_a_number_column_would_round_fails_the_merge_naming_file_row_field_and_types_and_one_it_holds_lands()
    {
        var integers = Schema("""{"id":{"type":"integer"},"amt":{"type":["null","integer"]},"s":{"type":["null","object"],"properties":{"a":{"type":["null","integer"]}}},"tags":{"type":["null","array"],"items":{"type":"integer"}}}""");
        var numbers = Schema("""{"id":{"type":"integer"},"amt":{"type":["null","number"]},"s":{"type":["null","object"],"properties":{"a":{"type":["null","number"]}}},"tags":{"type":["null","array"],"items":{"type":"number"}}}""");
        var decimals = Schema("""{"id":{"type":"integer"},"c":{"type":["null","number"],"multipleOf":0.01}}""");
        var plain = Schema("""{"id":{"type":"integer"},"c":{"type":["null","number"]}}""");
        // 2^53 + 1 in a top-level column, a struct's field and a list's element: a DOUBLE holds 2^53 instead.
        foreach (var big in (string[])["""{"id":2,"amt":9007199254740993}""", """{"id":2,"s":{"a":9007199254740993}}""", """{"id":2,"tags":[9007199254740993]}"""])
        {
            await Run([integers, Record("""{"id":1,"amt":1}"""), Record(big)], full: true);
            var files = _lake.ParquetKeys();
            var state = _lake.State("k-merge")?.ToJsonString();
            var result = await TempLake.RunAsync(Pipeline([numbers, Record("""{"id":1,"amt":1.5}""")]));
            Assert.False(result.Succeeded, big);
            Assert.Contains($"{files[0]} row 1 does not fit the stream's current schema", result.Log.Error, StringComparison.Ordinal);
            Assert.Contains("9007199254740993 would be stored as 9007199254740992", result.Log.Error, StringComparison.Ordinal);
            Assert.Contains(" in that file, ", result.Log.Error, StringComparison.Ordinal);
            Assert.Equal(files, _lake.ParquetKeys());
            Assert.Equal(state, _lake.State("k-merge")?.ToJsonString());
        }
        var list = (await TempLake.RunAsync(Pipeline([numbers, Record("""{"id":1}""")]))).Log.Error;
        Assert.Contains("(field 'tags[]': 9007199254740993 would be stored as 9007199254740992: a DOUBLE cannot hold it exactly; " +
            "column 'tags' is list<int64> in that file, list<double> in the stream's current schema)", list, StringComparison.Ordinal);

        // A decimal of more digits than a double holds, the same.
        await Run([decimals, Record("""{"id":1,"c":1.25}"""), Record("""{"id":2,"c":12345678901234567.89}""")], full: true);
        var failed = await TempLake.RunAsync(Pipeline([plain, Record("""{"id":1,"c":2.5}""")]));
        Assert.False(failed.Succeeded);
        Assert.Contains("field 'c': 12345678901234567.89 would be stored as", failed.Log.Error, StringComparison.Ordinal);
        Assert.Contains("column 'c' is decimal128(38, 2) in that file, double in the stream's current schema", failed.Log.Error, StringComparison.Ordinal);

        // Values a double holds (within 2^53, a decimal of few digits) are converted and land.
        await Run([decimals, Record("""{"id":1,"c":1.25}"""), Record("""{"id":2,"c":0.10}"""), Record("""{"id":3,"c":9007199254740992}""")], full: true);
        await Run([plain, Record("""{"id":1,"c":2.5}""")]);
        Assert.Equal([["1", "2.5"], ["2", "0.1"], ["3", "9007199254740992.0"]], Rows("id, c::VARCHAR"));
    }

    [Fact]
    public async Task A_merge_refused_for_a_list_element_type_change_names_the_column_and_its_types()
    {
        await Run([Schema("""{"id":{"type":"integer"},"tags":{"type":["null","array"],"items":{"type":"integer"}}}"""),
            Record("""{"id":1,"tags":[1]}"""), Record("""{"id":2,"tags":[2]}""")]);
        var result = await TempLake.RunAsync(Pipeline([Schema("""{"id":{"type":"integer"},"tags":{"type":["null","array"],"items":{"type":"object","properties":{"v":{"type":["null","integer"]}}}}}"""),
            Record("""{"id":1,"tags":[{"v":1}]}""")]));
        Assert.False(result.Succeeded);
        Assert.Contains("(field 'tags[]': expected an object, got a number; column 'tags' is list<int64> in that file, list<struct<v: int64>> in the stream's current schema)",
            result.Log.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_merge_whose_commit_is_refused_logs_no_replaced_rows_or_rewritten_files()
    {
        async Task<DataSpoc.Pipe.Runs.RunResult> Delta(string[] lines)
        {
            var p = Pipeline(lines);
            return await TempLake.RunAsync(p with { Destination = p.Destination with { TableFormat = TableFormats.Delta } });
        }
        var asInteger = Schema("""{"id":{"type":"integer"},"v":{"type":["null","integer"]}}""");
        Assert.True((await Delta([asInteger, Record("""{"id":1,"v":1}""")])).Succeeded);
        Assert.True((await Delta([asInteger, Record("""{"id":2,"v":2}""")])).Succeeded);
        var files = _lake.ParquetKeys();

        // The merge rewrites one of the two live files; Delta refuses the type change at the commit.
        var refused = await Delta([Schema("""{"id":{"type":"integer"},"v":{"type":["null","string"]}}"""), Record("""{"id":1,"v":"one"}""")]);
        Assert.False(refused.Succeeded);
        Assert.Contains("Nothing was written", refused.Log.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(refused.Log.Notices, n => n.Contains("row(s) replaced", StringComparison.Ordinal) || n.Contains("file(s) rewritten", StringComparison.Ordinal));
        Assert.Equal(files, _lake.ParquetKeys());
    }

    [Fact]
    public async Task A_rewritten_file_keeps_the_struct_fields_the_schema_no_longer_declares()
    {
        var before = Schema("""{"id":{"type":"integer"},"v":{"type":["null","object"],"properties":{"x":{"type":["null","integer"]},"y":{"type":["null","string"]}}},"""
            + "\"" + """w":{"type":["null","array"],"items":{"type":"object","properties":{"a":{"type":["null","integer"]},"b":{"type":["null","string"]}}}}}""");
        var after = Schema("""{"id":{"type":"integer"},"v":{"type":["null","object"],"properties":{"x":{"type":["null","integer"]}}},"""
            + "\"" + """w":{"type":["null","array"],"items":{"type":"object","properties":{"a":{"type":["null","integer"]}}}}}""");
        await Run([before, Record("""{"id":1,"v":{"x":1,"y":"y1"},"w":[{"a":1,"b":"b1"}]}"""), Record("""{"id":2,"v":{"x":2,"y":"y2"},"w":[{"a":2,"b":"b2"}]}""")]);
        // Row 2 shares the file of the updated row 1: the rewrite keeps its v.y and w[].b, which the SCHEMA no longer declares.
        var merge = await Run([after, Record("""{"id":1,"v":{"x":10},"w":[{"a":10}]}""")]);

        var rows = _lake.ParquetKeys().SelectMany(k => _lake.Query($"SELECT id, to_json(v)::VARCHAR, to_json(w)::VARCHAR FROM read_parquet('{{lake}}/{k}')"))
            .OrderBy(r => r[0], StringComparer.Ordinal).ToList();
        Assert.Equal([["1", """{"x":10}""", """[{"a":10}]"""], ["2", """{"x":2,"y":"y2"}""", """[{"a":2,"b":"b2"}]"""]], rows);
        // The merged files hold the fields: no column changed type.
        Assert.DoesNotContain(merge.Log.Notices, n => n.Contains("since the table's earlier files", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_full_run_of_a_merge_pipeline_still_keeps_one_row_per_key_and_applies_deletes()
    {
        var schema = Schema("""{"id":{"type":["null","integer"]},"v":{"type":["null","string"]},"_sdc_deleted_at":{"type":["null","string"],"format":"date-time"}}""");
        await Run([schema, Record("""{"id":5,"v":"old"}""")]);
        await Run([schema, Record("""{"id":1,"v":"a"}"""), Record("""{"id":1,"v":"a2"}"""),
            Record("""{"id":2,"v":"b","_sdc_deleted_at":"2024-01-01T00:00:00Z"}"""), Record("""{"id":3,"v":"c"}""")], full: true);
        Assert.Equal([["1", "a2"], ["3", "c"]], Rows("id, v"));
        Assert.Equal(2, _lake.Manifest().Tables["test/k"].RowCount);

        var result = await TempLake.RunAsync(Pipeline([schema, Record("""{"id":null,"v":"nullkey"}""")]), full: true);
        Assert.False(result.Succeeded);
        Assert.Contains("no value for key property 'id'", result.Log.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_nan_key_is_refused_by_name_and_an_infinite_key_is_a_key()
    {
        var schema = Schema("""{"id":{"type":"number"},"v":{"type":["null","string"]}}""");
        await Run([schema, Record("""{"id":1.5,"v":"a"}"""), Record("""{"id":Infinity,"v":"inf"}"""), Record("""{"id":-Infinity,"v":"-inf"}""")]);
        await Run([schema, Record("""{"id":Infinity,"v":"inf2"}""")]);
        Assert.Equal([["-inf", "-inf"], ["1.5", "a"], ["inf", "inf2"]], Rows("id::VARCHAR, v", "v"));

        var result = await TempLake.RunAsync(Pipeline([schema, Record("""{"id":NaN,"v":"nan"}""")]));
        Assert.False(result.Succeeded);
        Assert.Contains("key property 'id' is NaN", result.Log.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_run_log_counts_the_rows_a_delete_removed_not_the_deletes_received()
    {
        var schema = Schema("""{"id":{"type":"integer"},"_sdc_deleted_at":{"type":["null","string"],"format":"date-time"}}""");
        await Run([schema, Record("""{"id":1}""")]);
        const string at = "\"_sdc_deleted_at\":\"2024-01-01T00:00:00Z\"";
        var result = await Run([schema, Record($$"""{"id":1,{{at}}}"""), Record($$"""{"id":98,{{at}}}"""), Record($$"""{"id":99,{{at}}}""")]);
        Assert.Contains(result.Log.Notices, n => n.Contains("0 row(s) replaced, 1 row(s) deleted (3 key(s) marked deleted)", StringComparison.Ordinal));
        Assert.Empty(_lake.ParquetKeys());
        Assert.Equal(0, _lake.Manifest().Tables["test/k"].RowCount);
    }

    [Fact]
    public async Task An_undeclared_sdc_deleted_at_fails_the_merge_instead_of_nulling_the_row()
    {
        await Run([IdV, Record("""{"id":1,"v":"a"}""")]);
        var result = await TempLake.RunAsync(Pipeline([IdV, Record("""{"id":1,"_sdc_deleted_at":"2024-01-01T00:00:00Z"}""")]));
        Assert.False(result.Succeeded);
        Assert.Contains("_sdc_deleted_at", result.Log.Error, StringComparison.Ordinal);
        Assert.Contains("does not declare", result.Log.Error, StringComparison.Ordinal);
        Assert.Equal([["1", "a"]], Rows("id, v"));
    }
    [Fact]
    public async Task A_file_read_again_whole_by_a_merge_pipeline_gets_no_advice_to_merge()
    {
        var input = Path.Combine(_lake.Root + "-inputs", "files");
        Directory.CreateDirectory(input);
        File.WriteAllText(Path.Combine(input, "k.jsonl"), "{\"id\":1}\n");
        var pipeline = _lake.BuiltInPipeline("k-files", "jsonl", new JsonObject
        {
            ["path"] = input,
            ["streams"] = new JsonArray(new JsonObject { ["name"] = "k", ["key_properties"] = new JsonArray("id") }),
        }) with { Incremental = new IncrementalSettings { Enabled = true } };
        pipeline = pipeline with { Destination = pipeline.Destination with { PartitionBy = PartitionBySettings.None, WriteMode = WriteMode.Merge } };
        await TempLake.RunBuiltInAsync(pipeline);
        File.AppendAllText(Path.Combine(input, "k.jsonl"), "{\"id\":2}\n");
        Assert.True(DataSpoc.Pipe.Sources.BuiltIn.BuiltInTaps.TryGet("jsonl", out var tap));
        var second = await new DataSpoc.Pipe.Runs.PipelineRunner(new DataSpoc.Pipe.Storage.ObjectStoreFactory()).RunAsync(pipeline, new DataSpoc.Pipe.Runs.RunOptions { Source = new DataSpoc.Pipe.Sources.BuiltIn.BuiltInSource(tap) }, CancellationToken.None);
        Assert.True(second.Succeeded, second.Log.Error);
        var notice = Assert.Single(second.Log.Notices, n => n.Contains("read again whole", StringComparison.Ordinal));
        Assert.DoesNotContain("write_mode: merge with key_properties replaces them instead", notice, StringComparison.Ordinal);
        Assert.Equal([["1"], ["2"]], _lake.Query("SELECT id FROM read_parquet('{lake}/raw/jsonl/k/*.parquet') ORDER BY 1"));
    }
}
