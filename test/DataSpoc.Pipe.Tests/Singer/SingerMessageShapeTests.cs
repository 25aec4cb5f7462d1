using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Singer;

/// <summary>
/// Singer messages of a shape the spec allows or a tap commonly prints (a null STATE value, a lone key name), and shapes
/// that are valid JSON but not a valid message: each through a real tap subprocess (the replay tap).
/// </summary>
public class SingerMessageShapeTests
{
    private const string Schema = """{"type":"SCHEMA","stream":"hw","schema":{"properties":{"id":{"type":"integer"},"org":{"type":"string"}}},"key_properties":["id"]}""";

    [Fact]
    public async Task A_null_state_value_commits_the_run_and_keeps_the_state_saved_before()
    {
        using var lake = new TempLake();
        var first = lake.WriteSinger("first.singer", Schema, """{"type":"RECORD","stream":"hw","record":{"id":1}}""", """{"type":"STATE","value":{"bookmark":1}}""");
        Assert.True((await TempLake.RunAsync(lake.Pipeline("nullstate", first))).Succeeded);

        // What a tap that prints the state it was given prints when it was given none.
        var second = lake.WriteSinger("second.singer", Schema, """{"type":"RECORD","stream":"hw","record":{"id":2}}""", """{"type":"STATE","value":null}""");
        var result = await TempLake.RunAsync(lake.Pipeline("nullstate", second));

        Assert.True(result.Succeeded, result.Log.Error);
        Assert.Equal("""{"bookmark":1}""", lake.State("nullstate")!.ToJsonString());
        Assert.Equal(2, lake.Manifest().Tables["test/hw"].RowCount);
        Assert.Equal(result.Log.RunId, lake.Manifest().Tables["test/hw"].Stats.LastRunId);
        Assert.False(File.Exists(Path.Combine(lake.Root, LakePaths.JournalKey("nullstate"))));
        Assert.Equal([["1"], ["2"]], lake.Query("select id from read_parquet('{lake}/raw/test/hw/*/*.parquet') order by id"));
    }

    [Fact]
    public async Task A_null_state_after_a_state_keeps_that_state_and_a_first_run_ending_in_null_saves_none()
    {
        using var lake = new TempLake();
        var file = lake.WriteSinger("later-null.singer", Schema, """{"type":"RECORD","stream":"hw","record":{"id":1}}""",
            """{"type":"STATE","value":{"bookmark":1}}""", """{"type":"RECORD","stream":"hw","record":{"id":2}}""", """{"type":"STATE","value":null}""");
        var withState = await TempLake.RunAsync(lake.Pipeline("laternull", file));
        Assert.True(withState.Succeeded, withState.Log.Error);
        Assert.Equal("""{"bookmark":1}""", lake.State("laternull")!.ToJsonString());

        var only = lake.WriteSinger("only-null.singer", Schema, """{"type":"RECORD","stream":"hw","record":{"id":1}}""", """{"type":"STATE","value":null}""");
        var result = await TempLake.RunAsync(lake.Pipeline("onlynull", only));
        Assert.True(result.Succeeded, result.Log.Error);
        Assert.Null(lake.State("onlynull"));
        Assert.False(result.Log.StateCommitted);
    }

    [Theory]
    [InlineData("\"12\"", "\"12\"")]
    [InlineData("null", "null")]
    [InlineData("1.5", "1.5")]
    public async Task An_activate_version_whose_version_is_not_an_integer_fails_naming_line_stream_and_field(string version, string shown)
    {
        using var lake = new TempLake();
        var file = lake.WriteSinger("av.singer", Schema, """{"type":"RECORD","stream":"hw","record":{"id":1}}""",
            $$"""{"type":"ACTIVATE_VERSION","stream":"hw","version":{{version}}}""");

        var result = await TempLake.RunAsync(lake.Pipeline("av", file));

        Assert.False(result.Succeeded);
        Assert.Contains("line 3", result.Log.Error);
        Assert.Contains("'hw'", result.Log.Error);
        Assert.Contains($"ACTIVATE_VERSION \"version\" must be an integer, got {shown}", result.Log.Error);
        Assert.Empty(lake.ParquetKeys());
    }

    [Fact]
    public async Task A_lone_key_name_is_a_one_property_key_as_singer_python_takes_it()
    {
        using var lake = new TempLake();
        var file = lake.WriteSinger("lone-key.singer",
            """{"type":"SCHEMA","stream":"hw","schema":{"properties":{"id":{"type":"integer"},"org":{"type":"string"}}},"key_properties":"id"}""",
            """{"type":"RECORD","stream":"hw","record":{"id":1,"org":"a"}}""", """{"type":"RECORD","stream":"hw","record":{"id":1,"org":"b"}}""");

        var result = await TempLake.RunAsync(lake.Pipeline("lonekey", file, p => p with { Destination = p.Destination with { WriteMode = WriteMode.Merge } }));

        Assert.True(result.Succeeded, result.Log.Error);
        Assert.Equal(["id"], lake.Manifest().Tables["test/hw"].KeyProperties);
        Assert.Equal([["1", "b"]], lake.Query("select id, org from read_parquet('{lake}/raw/test/hw/**/*.parquet')"));
    }

    [Fact]
    public async Task Key_properties_that_are_not_names_fail_at_the_schema_line()
    {
        using var lake = new TempLake();
        var file = lake.WriteSinger("bad-key.singer",
            """{"type":"SCHEMA","stream":"hw","schema":{"properties":{"id":{"type":"integer"}}},"key_properties":[1]}""",
            """{"type":"RECORD","stream":"hw","record":{"id":1}}""");

        var result = await TempLake.RunAsync(lake.Pipeline("badkey", file));

        Assert.False(result.Succeeded);
        Assert.Contains("line 1", result.Log.Error);
        Assert.Contains("SCHEMA \"key_properties\" must be a list of property names, got [1]", result.Log.Error);
    }

    [Fact]
    public async Task A_merge_whose_key_changes_within_the_run_fails_at_the_schema_that_changes_it()
    {
        using var lake = new TempLake();
        var file = lake.WriteSinger("key-change.singer",
            Schema.Replace("""["id"]""", """["id","org"]""", StringComparison.Ordinal),
            """{"type":"RECORD","stream":"hw","record":{"id":1,"org":"b"}}""", """{"type":"RECORD","stream":"hw","record":{"id":1,"org":"c"}}""",
            Schema,
            """{"type":"RECORD","stream":"hw","record":{"id":2,"org":"a"}}""");

        var result = await TempLake.RunAsync(lake.Pipeline("keychange", file, p => p with { Destination = p.Destination with { WriteMode = WriteMode.Merge } }));

        Assert.False(result.Succeeded);
        Assert.Contains("line 4", result.Log.Error);
        Assert.Contains("key_properties changed within the run from [id, org] to [id]", result.Log.Error);
        Assert.Empty(lake.ParquetKeys());

        // Appending, the key is only recorded: the same messages land every record.
        var appended = await TempLake.RunAsync(lake.Pipeline("keychange-append", file));
        Assert.True(appended.Succeeded, appended.Log.Error);
        Assert.Equal(3, lake.Manifest().Tables["test/hw"].RowCount);
    }
}
