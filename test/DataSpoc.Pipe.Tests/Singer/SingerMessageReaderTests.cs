using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Singer;

/// <summary>Messages that are valid JSON but not valid Unicode or nest too deep fail naming their line (the first found by the mutation fuzzer).</summary>
public class SingerMessageReaderTests
{
    [Theory]
    [InlineData("""{"type":"\ud800","stream":"items","record":{"id":2}}""")]
    [InlineData("""{"type":"RECORD","stream":"\udc00 lone low","record":{"id":2}}""")]
    [InlineData("""{"type":"STATE","value":{"k":"\ud83d"}, "x":"\udc00"}""")]
    public async Task A_lone_surrogate_in_a_message_fails_naming_its_line(string line)
    {
        using var lake = new TempLake();
        var file = lake.WriteSinger("surrogate.singer",
            """{"type":"SCHEMA","stream":"items","schema":{"type":"object","properties":{"id":{"type":"integer"}}},"key_properties":["id"]}""",
            """{"type":"RECORD","stream":"items","record":{"id":1}}""",
            line);

        var result = await TempLake.RunAsync(lake.Pipeline("surrogate", file));

        Assert.False(result.Succeeded);
        Assert.Contains("line 3", result.Log.Error);
        Assert.Empty(lake.ParquetKeys());
    }

    [Fact]
    public async Task A_lone_surrogate_in_a_state_fails_naming_the_state_and_where_in_it()
    {
        using var lake = new TempLake();
        var file = lake.WriteSinger("surrogate-state.singer",
            """{"type":"SCHEMA","stream":"items","schema":{"type":"object","properties":{"id":{"type":"integer"}}},"key_properties":["id"]}""",
            """{"type":"RECORD","stream":"items","record":{"id":1}}""",
            """{"type":"STATE","value":{"bookmarks":{"items":{"k":"\ud800"}}}}""");

        var result = await TempLake.RunAsync(lake.Pipeline("surrogate-state", file));

        Assert.False(result.Succeeded);
        Assert.Contains("line 3: the STATE message's value.bookmarks.items.k is a string that is not valid Unicode", result.Log.Error);
        Assert.Empty(lake.ParquetKeys());
    }

    /// <summary>A SCHEMA and its records nested <paramref name="levels"/> objects deep under "c" (as t4's gen.py deep writes them).</summary>
    private static string[] Nested(int levels, int records = 3)
    {
        string Schema(int d) => d == 0 ? """{"type":["null","integer"]}""" : """{"type":["null","object"],"properties":{"lvl":{"type":"integer"},"c":""" + Schema(d - 1) + "}}";
        string Record(int d, int i) => d == 0 ? $"{i}" : $"{{\"lvl\":{d},\"c\":{Record(d - 1, i)}}}";
        return
        [
            """{"type":"SCHEMA","stream":"deep","schema":{"type":"object","properties":{"id":{"type":"integer"},"c":""" + Schema(levels) + """}},"key_properties":["id"]}""",
            .. Enumerable.Range(0, records).Select(i => $$"""{"type":"RECORD","stream":"deep","record":{"id":{{i}},"c":""" + Record(levels, i) + "}}"),
        ];
    }

    [Fact]
    public async Task A_schema_nested_past_the_json_depth_limit_fails_naming_its_stream_and_the_limit_not_calling_it_invalid_json()
    {
        using var lake = new TempLake();
        var result = await TempLake.RunAsync(lake.Pipeline("deep", lake.WriteSinger("deep.singer", Nested(100))));

        Assert.False(result.Succeeded);
        Assert.Contains("line 1 (stream 'deep'): the SCHEMA nests deeper than 200 JSON levels, the most a Singer message may nest", result.Log.Error);
        Assert.DoesNotContain("not valid JSON", result.Log.Error);
        Assert.Empty(lake.ParquetKeys());
    }

    [Fact]
    public async Task A_record_nested_past_the_json_depth_limit_fails_naming_its_stream_line_and_the_limit()
    {
        using var lake = new TempLake();
        var deep = string.Concat(Enumerable.Repeat("""{"a":""", 250)) + "1" + new string('}', 250);
        var file = lake.WriteSinger("deep.singer",
            """{"type":"SCHEMA","stream":"deep","schema":{"type":"object","properties":{"id":{"type":"integer"},"doc":{}}},"key_properties":["id"]}""",
            """{"type":"RECORD","stream":"deep","record":{"id":1,"doc":{"a":1}}}""",
            """{"type":"RECORD","stream":"deep","record":{"id":2,"doc":""" + deep + "}}");

        var result = await TempLake.RunAsync(lake.Pipeline("deep", file));

        Assert.False(result.Succeeded);
        Assert.Contains("line 3 (stream 'deep'): the RECORD nests deeper than 200 JSON levels, the most a Singer message may nest", result.Log.Error);
        Assert.Empty(lake.ParquetKeys());
    }

    [Theory]
    [InlineData(TableFormats.Parquet)]
    [InlineData(TableFormats.Iceberg | TableFormats.Delta)]
    public async Task A_column_nested_64_levels_lands_and_a_65th_level_is_refused_naming_the_full_path(TableFormats formats)
    {
        // "c" (level 1) holds 62 more objects, the innermost "c" integer is level 64: the deepest a column may nest.
        // Iceberg and Delta hold it too: their schema documents (and the commit journal) nest ~3 JSON levels a level.
        PipelineDefinition WithFormats(PipelineDefinition p) => p with { Destination = p.Destination with { TableFormat = formats } };
        using var lake = new TempLake();
        var pipeline = lake.Pipeline("deep", lake.WriteSinger("deep.singer", Nested(63)), WithFormats);
        var result = await TempLake.RunAsync(pipeline);
        Assert.True(result.Succeeded, result.Log.Error);
        var path = "c" + string.Concat(Enumerable.Repeat(".c", 62));
        List<List<string>> expected = [["0", "63", "1"], ["1", "63", "1"], ["2", "63", "1"]];
        Assert.Equal(expected,
            lake.Query($"SELECT {path}.c, c.lvl, {path}.lvl FROM read_parquet('{lake.Root}/**/*.parquet') ORDER BY 1").Select(r => r.Select(v => v!).ToList()).ToList());
        if (formats != TableFormats.Parquet)
        {
            // A second run reads the table's metadata back (Iceberg metadata, Delta log and schemaString) to append to it.
            var again = await TempLake.RunAsync(pipeline);
            Assert.True(again.Succeeded, again.Log.Error);
            List<List<string>> twice = [.. expected.SelectMany(r => new[] { r, r })];
            var table = Path.Combine(lake.Root, "raw", "test", "deep");
            var icebird = TableReaders.Icebird("file://" + table)["rows"]!.AsArray()
                .Select(r => Enumerable.Range(0, 63).Aggregate(r!["c"]!, (n, _) => n["c"]!))
                .Select(innermost => innermost.ToString()).Order().ToList();
            Assert.Equal(["0", "0", "1", "1", "2", "2"], icebird);
            await using var store = new DataSpoc.Pipe.Storage.LocalObjectStore(DataSpoc.Pipe.Storage.BucketUri.Parse(lake.Bucket));
            var delta = new DataSpoc.Pipe.Tables.DeltaTable(store, TimeProvider.System);
            var live = (await delta.LiveFilesAsync("raw/test/deep/", await delta.LatestVersionAsync("raw/test/deep/", CancellationToken.None), CancellationToken.None)).Keys;
            Assert.Equal(twice, lake.Query($"SELECT {path}.c, c.lvl, {path}.lvl FROM read_parquet([" +
                string.Join(", ", live.Select(k => $"'{table}/{Uri.UnescapeDataString(k)}'")) + "]) ORDER BY 1").Select(r => r.Select(v => v!).ToList()).ToList());
        }

        using var deeper = new TempLake();
        var refused = await TempLake.RunAsync(deeper.Pipeline("deep", deeper.WriteSinger("deep.singer", Nested(64)), WithFormats));
        Assert.False(refused.Succeeded);
        Assert.Contains($"line 1 (stream 'deep'): invalid SCHEMA: property '{path}.c.lvl': nesting deeper than 64 levels is not supported", refused.Log.Error);
        Assert.Empty(deeper.ParquetKeys());
    }
}
