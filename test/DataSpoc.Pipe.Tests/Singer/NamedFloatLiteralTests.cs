using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Singer;
using DataSpoc.Pipe.Tests.Support;
using Xunit;

namespace DataSpoc.Pipe.Tests.Singer;

/// <summary>
/// Python's <c>json.dumps</c> (and simplejson, which singer-python taps print with) writes <c>float('nan')</c> and the
/// infinities as bare <c>NaN</c>, <c>Infinity</c>, <c>-Infinity</c>: a tap built on pandas marks every missing value so.
/// They land in a number column as the doubles they name (Parquet holds them; DuckDB reads them back); any other
/// column refuses them by name, under <c>on_invalid_record</c>.
/// </summary>
public sealed class NamedFloatLiteralTests
{
    private const string Schema = """
        {"type":"SCHEMA","stream":"m","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"v":{"type":["null","number"]},"s":{"type":["null","string"]},"pt":{"type":["null","object"],"properties":{"x":{"type":["null","number"]}}},"xs":{"type":["null","array"],"items":{"type":["null","number"]}}}}}
        """;

    [Fact]
    public async Task NaN_and_the_infinities_as_python_writes_them_land_as_those_doubles_where_a_number_goes()
    {
        using var lake = new TempLake();
        var run = await TempLake.RunAsync(lake.Pipeline("nan", lake.WriteSinger("a.singer", Schema,
            """{"type":"RECORD","stream":"m","record":{"id":1,"v":1.5,"s":"NaN stays text","pt":{"x":2},"xs":[1]}}""",
            """{"type":"RECORD","stream":"m","record":{"id":2,"v":NaN,"s":"a \"NaN\", Infinity","pt":{"x":Infinity},"xs":[NaN, -Infinity, 3]}}""",
            // Spacing as json.dumps writes it, an undeclared property before the NaN (counted once), the record before its type.
            """{"record": {"id": 3, "extra": 1, "v": -Infinity, "s": null, "pt": null, "xs": null}, "type": "RECORD", "stream": "m"}""",
            """{"type":"RECORD","stream":"m","record":{"id":4,"v":Infinity,"s":"NaN"}}""")));
        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Equal(4, run.Log.Streams["m"].Records);
        Assert.Equal(1, run.Log.Streams["m"].DroppedProperties["extra"]);

        Assert.Equal(
            [
                ["1", "1.5", "NaN stays text", "2.0", "[1.0]"],
                ["2", "nan", "a \"NaN\", Infinity", "inf", "[nan, -inf, 3.0]"],
                ["3", "-inf", null, null, null],
                ["4", "inf", "NaN", null, null],
            ],
            lake.Query("select id, v::varchar, s, pt.x::varchar, xs::varchar from read_parquet('{lake}/raw/test/m/*/*.parquet') order by id"));
        Assert.Equal([["1", "1", "2"]], lake.Query("select count(*) filter (where isnan(v)), count(*) filter (where v = 'inf'::double), count(*) filter (where isinf(v)) from read_parquet('{lake}/raw/test/m/*/*.parquet')"));
    }

    [Fact]
    public async Task Anywhere_else_one_is_an_invalid_value_named_by_its_field_and_quarantined_as_the_tap_wrote_it()
    {
        using var lake = new TempLake();
        const string schema = """{"type":"SCHEMA","stream":"m","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"n":{"type":["null","integer"]},"doc":{"type":["null","object"]}}}}""";
        const string intNaN = """{"type":"RECORD","stream":"m","record":{"id":2,"n":NaN}}""";
        const string jsonNaN = """{"type":"RECORD","stream":"m","record":{"id":3,"doc":{"a":[1, NaN]}}}""";
        var input = lake.WriteSinger("b.singer", schema, """{"type":"RECORD","stream":"m","record":{"id":1,"n":1}}""", intNaN, jsonNaN);

        var failed = await TempLake.RunAsync(lake.Pipeline("nan-fail", input));
        Assert.False(failed.Succeeded);
        Assert.Contains("line 3: field 'n': NaN (Python's float('nan') or an infinity) fits a \"number\" column only, not this int64 column", failed.Log.Error);

        var kept = await TempLake.RunAsync(lake.Pipeline("nan-quarantine", input, p => p with { OnInvalidRecord = InvalidRecordPolicy.Quarantine }));
        Assert.True(kept.Succeeded, kept.Log.Error);
        Assert.Equal(2, kept.Log.Streams["m"].Rejected);
        Assert.Contains(kept.Log.Notices, n => n.Contains("field 'doc': NaN inside a JSON value", StringComparison.Ordinal));
        Assert.Equal(intNaN + "\n" + jsonNaN + "\n",
            File.ReadAllText(Path.Combine(lake.Root, LakePaths.QuarantineKey("nan-quarantine", kept.Log.RunId, "m"))));
        Assert.Equal([["1"]], lake.Query("select id from read_parquet('{lake}/raw/test/m/*/*.parquet')"));
    }

    [Fact]
    public async Task Through_a_row_map_a_NaN_is_a_double_like_any_other()
    {
        using var lake = new TempLake();
        var map = new JsonObject { ["filter"] = "id != 2", ["compute"] = new JsonObject { ["w"] = "id * 2" }, ["drop"] = new JsonArray("s") };
        var run = await TempLake.RunAsync(lake.Pipeline("nan-map", lake.WriteSinger("c.singer", Schema,
            """{"type":"RECORD","stream":"m","record":{"id":1,"v":NaN,"s":"x"}}""",
            """{"type":"RECORD","stream":"m","record":{"id":2,"v":Infinity}}""",
            """{"type":"RECORD","stream":"m","record":{"id":3,"v":-Infinity}}"""),
            p => p with { Transforms = new Dictionary<string, JsonNode?> { ["m"] = map } }));
        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Equal([["1", "nan", "2"], ["3", "-inf", "6"]],
            lake.Query("select id, v::varchar, w::varchar from read_parquet('{lake}/raw/test/m/*/*.parquet') order by id"));
    }

    [Fact]
    public async Task Iceberg_and_delta_tables_commit_them_with_bounds_only_where_a_reader_can_use_them()
    {
        using var lake = new TempLake();
        var run = await TempLake.RunAsync(lake.Pipeline("nan-tables", lake.WriteSinger("d.singer", Schema,
            """{"type":"RECORD","stream":"m","record":{"id":1,"v":1.5}}""",
            """{"type":"RECORD","stream":"m","record":{"id":2,"v":NaN}}""",
            """{"type":"RECORD","stream":"m","record":{"id":3,"v":Infinity}}"""),
            p => p with { Destination = p.Destination with { TableFormat = TableFormats.Iceberg | TableFormats.Delta } }));
        Assert.True(run.Succeeded, run.Log.Error);

        var table = Path.Combine(lake.Root, "raw", "test", "m");
        // npm icebird reads the table (its JSON output shows NaN and Infinity as null: JSON has neither).
        var read = TableReaders.Icebird("file://" + table);
        Assert.Equal([1L, 2L, 3L], read["rows"]!.AsArray().Select(r => long.Parse(r!["id"]!.ToString())).Order());
        Assert.Equal(1.5, read["rows"]!.AsArray().Single(r => r!["id"]!.ToString() == "1")!["v"]!.GetValue<double>());
        // Delta statistics are JSON: a bound that is not a finite number is left out, never written as a string or null.
        var add = File.ReadAllLines(Path.Combine(table, "_delta_log", "00000000000000000000.json"))
            .Select(l => JsonNode.Parse(l)!).Single(n => n["add"] is not null)["add"]!;
        var stats = JsonNode.Parse((string)add["stats"]!)!;
        Assert.Equal(3, (int)stats["numRecords"]!);
        Assert.All(new[] { stats["minValues"]?["v"], stats["maxValues"]?["v"] }, bound => Assert.True(bound is null || double.IsFinite(bound.GetValue<double>())));
    }

    [Fact]
    public async Task A_state_holding_NaN_or_an_infinity_is_saved_and_handed_back_to_the_tap_as_it_wrote_them()
    {
        // A float bookmark as json.dumps writes it: saved as the strings "Infinity"/"NaN" before, the tap (which compares
        // its float key with the bookmark) failed on the next run: '<=' not supported between 'int' and 'str'.
        using var lake = new TempLake();
        const string state = """{"bookmark": Infinity, "f": [NaN, -Infinity], "s": "NaN", "n": 1.10}""";
        var input = lake.WriteSinger("st.singer", Schema, """{"type":"RECORD","stream":"m","record":{"id":1,"v":1.5}}""",
            """{"type":"STATE","value":""" + state + "}");
        var first = await TempLake.RunAsync(lake.Pipeline("nan-state", input));
        Assert.True(first.Succeeded, first.Log.Error);
        var stateFile = Path.Combine(lake.Root, LakePaths.StateKey("nan-state"));
        Assert.Equal(state, File.ReadAllText(stateFile));

        // The replay tap in incremental mode reads --state with Python's json and skips ids <= the bookmark (inf).
        var next = await TempLake.RunAsync(lake.Pipeline("nan-state", input, extraConfig: new JsonObject { ["incremental"] = true }));
        Assert.True(next.Succeeded, next.Log.Error + " / " + next.Log.Tap?.StderrTail);
        Assert.Equal(0, next.Log.Streams["m"].Records);
        Assert.Equal("""{"bookmark": Infinity}""", File.ReadAllText(stateFile));
    }

    [Fact]
    public void A_commit_journal_keeps_a_state_with_named_floats_as_its_text_and_a_json_state_as_json()
    {
        // A run killed mid-commit saves the state from its journal: the NaN must survive the journal too.
        var named = SingerState.FromTapText("""{"b": NaN, "s": "NaN"}""", hasNamedFloats: true);
        var plan = LakeJson.Deserialize<CommitPlan>(LakeJson.Serialize(new CommitPlan { State = named }), "journal");
        Assert.True(plan.State!.HasNamedFloats);
        Assert.Equal("""{"b": NaN, "s": "NaN"}""", System.Text.Encoding.UTF8.GetString(LakeCommitter.StateFile(plan.State)));

        var json = LakeJson.Serialize(new CommitPlan { State = SingerState.FromJson("""{"b":1.10}""") });
        Assert.Equal(1.10m, JsonNode.Parse(json)!["state"]!["b"]!.GetValue<decimal>());
        var back = LakeJson.Deserialize<CommitPlan>(json, "journal").State!;
        Assert.False(back.HasNamedFloats);
        Assert.Equal("{\n  \"b\": 1.10\n}", System.Text.Encoding.UTF8.GetString(LakeCommitter.StateFile(back)));
    }

    [Theory]
    [InlineData("""{"a":NaN}""", """{"a":"NaN"}""")]
    [InlineData("""{"a": [Infinity,-Infinity , NaN]}""", """{"a": ["Infinity","-Infinity" , "NaN"]}""")]
    [InlineData("""{"s":"NaN","t":"x\"NaN"}""", null)]
    [InlineData("""{"NaN":1}""", null)]
    [InlineData("""{"a":NaNa}""", null)]
    [InlineData("""{"a":-Infinityx}""", null)]
    [InlineData("[NaN", "[\"NaN\"")]
    [InlineData("[Infinity", "[\"Infinity\"")]
    [InlineData("""[NaNNaNNaN]""", null)]
    public void Only_bare_words_where_a_value_stands_are_quoted(string line, string? quoted) =>
        Assert.Equal(quoted, NamedFloatLiterals.Quote(System.Text.Encoding.UTF8.GetBytes(line)) is { } q ? System.Text.Encoding.UTF8.GetString(q.Line) : null);

    [Fact]
    public async Task A_line_of_a_million_brackets_is_searched_once_not_once_per_bracket()
    {
        // Quadratic before: each '[' searched to the line's end for a delimiter (200,000 took 86 s, 10 million ~34 h).
        var line = System.Text.Encoding.UTF8.GetBytes("""{"type":"STATE","value":""" + new string('[', 2_000_000) + "NaN");
        var quote = Task.Run(() => NamedFloatLiterals.Quote(line));
        var rewrite = await quote.WaitAsync(TimeSpan.FromSeconds(60)); // throws TimeoutException when it takes longer
        Assert.EndsWith("[\"NaN\"", System.Text.Encoding.UTF8.GetString(rewrite!.Line));
    }
}
