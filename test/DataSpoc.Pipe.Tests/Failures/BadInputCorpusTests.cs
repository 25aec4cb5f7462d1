using System.Text;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Failures;

/// <summary>
/// Each file in Assets/bad-input breaks one rule of the Singer protocol or of its schema. A good run lands first;
/// the bad run must fail with an error naming the line (and stream/field where it has one), or follow its documented
/// handling, never throw, and leave what the good run committed exactly as it was.
/// </summary>
public class BadInputCorpusTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static string Corpus(string name) => TempLake.Asset(Path.Combine("bad-input", name));

    public static TheoryData<string, string[]> FailingCases => new()
    {
        { "invalid-json-line.singer", ["line 3", "not valid JSON"] },
        { "truncated-last-line.singer", ["line 3", "truncated"] },
        { "missing-type.singer", ["line 3", "no \"type\""] },
        { "missing-stream.singer", ["line 3", "no \"stream\""] },
        { "missing-record.singer", ["line 3", "stream 'items'", "no \"record\""] },
        { "record-before-schema.singer", ["line 1", "stream 'items'", "RECORD before any SCHEMA"] },
        { "wrong-type-value.singer", ["line 3", "stream 'items'", "amount", "on_invalid_record"] },
        { "integer-overflow.singer", ["line 3", "stream 'items'", "id", "on_invalid_record"] },
        { "invalid-date-time.singer", ["line 3", "stream 'items'", "at", "on_invalid_record"] },
        { "binary-garbage-line.singer", ["line 3", "not valid JSON"] },
        { "non-utf8-bytes.singer", ["line 3", "stream 'items'", "name", "not valid UTF-8"] },
        { "stream-name-dot-dot.singer", ["line 1", "'..'", "only dots"] },
        { "schema-not-an-object.singer", ["line 1", "stream 'items'", "invalid SCHEMA"] },
        // One table to Glue, Hive and Trino, and one folder on a case-insensitive file system: refused, naming both streams.
        { "streams-differ-by-case.singer", ["line 3", "stream 'CS'", "streams 'cs' and 'CS'", "differ only in case"] },
    };

    [Theory]
    [MemberData(nameof(FailingCases))]
    public async Task A_bad_stream_fails_with_an_error_naming_its_line_and_leaves_committed_data_and_state_untouched(string file, string[] expected)
    {
        using var lake = new TempLake();
        var pipeline = "corpus-" + Path.GetFileNameWithoutExtension(file);
        await LandGoodRunAsync(lake, pipeline);

        var bad = await TempLake.RunAsync(lake.Pipeline(pipeline, Corpus(file)));

        output.WriteLine($"{file}: {bad.Log.Error}");
        Assert.False(bad.Succeeded);
        Assert.NotNull(bad.Log.Error);
        foreach (var words in expected) Assert.Contains(words, bad.Log.Error, StringComparison.Ordinal);
        Assert.False(bad.Log.StateCommitted);
        var written = Assert.Single(lake.Logs(pipeline), l => l.RunId == bad.Log.RunId);
        Assert.Equal("failure", written.Status);
        Assert.Equal(bad.Log.Error, written.Error);
        AssertGoodRunUntouched(lake, pipeline);
    }

    [Fact]
    public async Task A_record_nested_ten_thousand_levels_deep_fails_on_its_line_without_overflowing_the_stack()
    {
        using var lake = new TempLake();
        const string pipeline = "corpus-deep-nesting";
        await LandGoodRunAsync(lake, pipeline);
        var deep = new StringBuilder("""{"type":"RECORD","stream":"items","record":{"id":102,"name":""");
        deep.Append('[', 10_000).Append(1).Append(']', 10_000).Append("}}");
        var file = lake.WriteSinger("deep.singer", Schema, Record(101), deep.ToString(), Record(103));

        var bad = await TempLake.RunAsync(lake.Pipeline(pipeline, file));

        output.WriteLine($"deep nesting: {bad.Log.Error}");
        Assert.False(bad.Succeeded);
        Assert.Contains("line 3", bad.Log.Error);
        Assert.Contains("(stream 'items'): the RECORD nests deeper than 200 JSON levels", bad.Log.Error);
        AssertGoodRunUntouched(lake, pipeline);
    }

    [Fact]
    public async Task A_single_100_MB_line_is_read_whole_and_its_value_lands_intact()
    {
        using var lake = new TempLake();
        const string pipeline = "corpus-huge-line";
        await LandGoodRunAsync(lake, pipeline);
        const int size = 100 * 1024 * 1024;
        var file = lake.WriteSinger("huge.singer", Schema, Record(101),
            "{\"type\":\"RECORD\",\"stream\":\"items\",\"record\":{\"id\":102,\"name\":\"" + new string('x', size - 1) + "y\"}}", Record(103));

        var run = await TempLake.RunAsync(lake.Pipeline(pipeline, file));

        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Equal([["101", "4"], ["102", size.ToString()], ["103", "4"]],
            lake.Query("select id, length(name) from read_parquet('{lake}/raw/test/items/*/*.parquet') where id > 100 order by id"));
        Assert.Equal([["y"]], lake.Query("select right(name, 1) from read_parquet('{lake}/raw/test/items/*/*.parquet') where id = 102"));
    }

    [Fact]
    public async Task Python_s_NaN_and_Infinity_in_a_number_column_land_as_those_doubles()
    {
        using var lake = new TempLake();
        const string pipeline = "corpus-nan-infinity";
        await LandGoodRunAsync(lake, pipeline);

        var run = await TempLake.RunAsync(lake.Pipeline(pipeline, Corpus("nan-infinity.singer")));

        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Equal([["101", "151.5"], ["102", "nan"], ["103", "inf"]],
            lake.Query("select id, amount::varchar from read_parquet('{lake}/raw/test/items/*/*.parquet') where id > 100 order by id"));
    }

    [Fact]
    public async Task A_value_of_a_million_digits_or_a_huge_bad_date_time_is_quoted_short_and_the_run_log_is_written()
    {
        using var lake = new TempLake();
        var file = Path.Combine(lake.Root, "huge.singer");
        var schema = """{"type":"SCHEMA","stream":"items","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"t":{"type":["null","string"],"format":"date-time"}}}}""";
        File.WriteAllText(file, schema + "\n" + """{"type":"RECORD","stream":"items","record":{"id":""" + new string('7', 1_000_000) + "}}\n");
        var run = await TempLake.RunAsync(lake.Pipeline("huge", file));
        Assert.False(run.Succeeded);
        Assert.Contains("… (1000000 bytes) is not a 64-bit integer", run.Log.Error);
        Assert.True(run.Log.Error!.Length < 1000, run.Log.Error.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Single(Directory.GetFiles(Path.Combine(lake.Root, ".dataspoc", "logs", "huge")));

        File.WriteAllText(file, schema + "\n" + """{"type":"RECORD","stream":"items","record":{"id":1,"t":"é""" + new string('x', 3_000_000) + "\"}}\n");
        var date = await TempLake.RunAsync(lake.Pipeline("huge", file));
        Assert.Contains("'éxxx", date.Log.Error);
        Assert.Contains("… (3000002 bytes)' is not an ISO-8601 date-time", date.Log.Error);
        Assert.True(date.Log.Error!.Length < 1000);
    }

    [Fact]
    public async Task A_schema_of_more_columns_than_a_table_takes_is_refused_before_any_buffer_is_made()
    {
        // 100,000 properties took 25 s and 4.6 GB before: every column keeps its own buffers and Parquet writer.
        using var lake = new TempLake();
        var properties = string.Join(",", Enumerable.Range(0, 10_001).Select(i => $"\"c{i}\":{{\"type\":\"integer\"}}"));
        var file = lake.WriteSinger("wide.singer",
        [
            """{"type":"SCHEMA","stream":"wide","key_properties":[],"schema":{"type":"object","properties":{""" + properties + "}}}",
            """{"type":"RECORD","stream":"wide","record":{"c0":1}}""",
        ]);
        var run = await TempLake.RunAsync(lake.Pipeline("wide", file));
        Assert.False(run.Succeeded);
        Assert.Contains("the schema declares 10001 columns; a table takes at most 10000", run.Log.Error);
        Assert.Contains("stream 'wide'", run.Log.Error);
    }

    [Fact]
    public async Task A_stream_name_too_long_for_a_file_name_is_refused_by_name_not_by_the_Parquet_library()
    {
        // 300 characters failed in the Parquet library: "N7parquet22ParquetStatusExceptionE (message: 'IOError: ...".
        using var lake = new TempLake();
        var stream = new string('s', 300);
        var file = lake.WriteSinger("long.singer",
        [
            """{"type":"SCHEMA","stream":""" + '"' + stream + '"' + ""","key_properties":[],"schema":{"type":"object","properties":{"id":{"type":"integer"}}}}""",
            """{"type":"RECORD","stream":""" + '"' + stream + '"' + ""","record":{"id":1}}""",
        ]);
        var run = await TempLake.RunAsync(lake.Pipeline("long", file));
        Assert.False(run.Succeeded);
        Assert.Contains("is 300 bytes long in UTF-8: a folder and its data files' names take at most 200", run.Log.Error);
        Assert.DoesNotContain("parquet", run.Log.Error, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_message_with_two_records_is_refused_not_half_landed()
    {
        // The second "record" was dropped without a count or a notice.
        using var lake = new TempLake();
        var file = lake.WriteSinger("twice.singer",
        [
            """{"type":"SCHEMA","stream":"items","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"}}}}""",
            """{"type":"RECORD","stream":"items","record":{"id":1}}""",
            """{"type":"RECORD","stream":"items","record":{"id":2},"record":{"id":3}}""",
        ]);
        var run = await TempLake.RunAsync(lake.Pipeline("twice", file));
        Assert.False(run.Succeeded);
        Assert.Equal("line 3: the message holds \"record\" twice", run.Log.Error);
    }

    [Fact]
    public async Task A_byte_order_mark_before_the_first_line_is_skipped_and_one_inside_a_later_line_is_no_JSON()
    {
        using var lake = new TempLake();
        var file = Path.Combine(lake.Root, "bom.singer");
        var schema = """{"type":"SCHEMA","stream":"items","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"}}}}""";
        File.WriteAllBytes(file, [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(schema + "\r\n" + """{"type":"RECORD","stream":"items","record":{"id":7}}""" + "\r\n")]);
        var run = await TempLake.RunAsync(lake.Pipeline("bom", file));
        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Equal([["7"]], lake.Query("select id from read_parquet('{lake}/raw/test/items/*/*.parquet')"));

        File.WriteAllBytes(file, [.. Encoding.UTF8.GetBytes(schema + "\n"), 0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes("""{"type":"RECORD","stream":"items","record":{"id":8}}""" + "\n")]);
        var bad = await TempLake.RunAsync(lake.Pipeline("bom", file));
        Assert.False(bad.Succeeded);
        Assert.StartsWith("line 2: not valid JSON", bad.Log.Error);
    }

    [Fact]
    public async Task A_stream_name_with_slashes_and_dots_lands_in_one_safe_folder_inside_the_source()
    {
        using var lake = new TempLake();
        var run = await TempLake.RunAsync(lake.Pipeline("corpus-slash", Corpus("stream-name-with-slash.singer")));

        Assert.True(run.Succeeded, run.Log.Error);
        var key = Assert.Single(lake.ParquetKeys());
        Assert.StartsWith("raw/test/sales_.._items/dt=", key);
        Assert.Equal([["101"]], lake.Query("select id from read_parquet('{lake}/raw/test/sales_.._items/*/*.parquet')"));
        Assert.Contains("test/sales_.._items", lake.Manifest().Tables.Keys);
    }

    [Fact]
    public async Task Two_properties_differing_only_in_case_are_refused_naming_both()
    {
        using var lake = new TempLake();
        const string pipeline = "corpus-dup-case";
        await LandGoodRunAsync(lake, pipeline);

        var bad = await TempLake.RunAsync(lake.Pipeline(pipeline, Corpus("duplicate-columns-by-case.singer")));
        output.WriteLine($"duplicate-columns-by-case: {bad.Log.Error}");

        Assert.False(bad.Succeeded);
        Assert.Contains("line 1", bad.Log.Error);
        Assert.Contains("'Name'", bad.Log.Error);
        Assert.Contains("'name'", bad.Log.Error);
        AssertGoodRunUntouched(lake, pipeline);
    }

    [Fact]
    public async Task An_empty_schema_is_refused_naming_its_line_and_stream()
    {
        using var lake = new TempLake();
        const string pipeline = "corpus-empty-schema";
        await LandGoodRunAsync(lake, pipeline);

        var bad = await TempLake.RunAsync(lake.Pipeline(pipeline, Corpus("empty-schema.singer")));
        output.WriteLine($"empty-schema: {bad.Log.Error}");

        Assert.False(bad.Succeeded);
        Assert.Contains("line 1 (stream 'items')", bad.Log.Error);
        AssertGoodRunUntouched(lake, pipeline);
    }

    internal const string Schema = """{"type":"SCHEMA","stream":"items","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"name":{"type":["null","string"]},"amount":{"type":["null","number"]},"at":{"type":["null","string"],"format":"date-time"}}}}""";

    internal static string Record(int id) =>
        $$$"""{"type":"RECORD","stream":"items","record":{"id":{{{id}}},"name":"n{{{id}}}","amount":{{{id}}}.5,"at":"2025-01-20T10:00:00Z"}}""";

    /// <summary>Rows 1..3 and state {"bookmark":3}: what every bad run must leave alone.</summary>
    internal static async Task LandGoodRunAsync(TempLake lake, string pipeline)
    {
        var good = lake.WriteSinger("good.singer", Schema, Record(1), Record(2), Record(3), """{"type":"STATE","value":{"bookmark":3}}""");
        var run = await TempLake.RunAsync(lake.Pipeline(pipeline, good));
        Assert.True(run.Succeeded, run.Log.Error);
    }

    internal static void AssertGoodRunUntouched(TempLake lake, string pipeline)
    {
        Assert.Equal([["1", "n1"], ["2", "n2"], ["3", "n3"]], lake.Query("select id, name from read_parquet('{lake}/raw/test/items/*/*.parquet') order by id"));
        Assert.Single(lake.ParquetKeys());
        Assert.Equal("""{"bookmark":3}""", lake.State(pipeline)!.ToJsonString());
        Assert.Equal(3, lake.Manifest().Tables["test/items"].RowCount);
        Assert.DoesNotContain(lake.Keys(), k => k.Contains(".tmp-", StringComparison.Ordinal) || k.EndsWith(".part", StringComparison.Ordinal) || k.Contains("/journal/", StringComparison.Ordinal));
    }
}
