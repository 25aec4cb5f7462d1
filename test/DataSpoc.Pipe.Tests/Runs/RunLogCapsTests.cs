using System.Text.Json.Nodes;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Runs;

/// <summary>
/// Names a tap chooses (undeclared properties, unknown message types) are counted in the run log by name only for the
/// first 100: a tap writing map-like keys sends millions of distinct names, which grew the run's memory and its log
/// (118 MB, read again by `status` and `logs`) without bound.
/// </summary>
public class RunLogCapsTests
{
    [Fact]
    public async Task Undeclared_properties_and_unknown_message_types_past_the_first_100_names_are_counted_not_listed()
    {
        const int records = 2000, namesPerRecord = 10, unknownTypes = 300;
        var lines = new List<string>
        {
            """{"type":"SCHEMA","stream":"u","key_properties":[],"schema":{"type":"object","properties":{"id":{"type":"integer"}}}}""",
        };
        for (var r = 0; r < records; r++)
            lines.Add($$"""{"type":"RECORD","stream":"u","record":{"id":{{r}},"extra":1,""" + string.Join(",", Enumerable.Range(0, namesPerRecord).Select(i => $"\"p{r}_{i}\":{i}")) + "}}");
        for (var t = 0; t < unknownTypes; t++) lines.Add($$"""{"type":"NEW_{{t}}"}""");
        using var lake = new TempLake();
        var result = await TempLake.RunAsync(lake.Pipeline("caps", lake.WriteSinger("caps.singer", [.. lines])));
        Assert.True(result.Succeeded, result.Log.Error);

        var file = Assert.Single(Directory.GetFiles(Path.Combine(lake.Root, DataSpoc.Pipe.Lake.LakePaths.LogsPrefix("caps")), "*.json"));
        var log = JsonNode.Parse(File.ReadAllText(file))!;
        var stream = log["streams"]!["u"]!;
        Assert.Equal(records, (long)stream["records"]!);
        var listed = stream["dropped_properties"]!.AsObject();
        Assert.Equal(100, listed.Count);
        Assert.Equal(records, (long)listed["extra"]!);
        var unlisted = stream["dropped_properties_unlisted"];
        Assert.NotNull(unlisted);
        // 20,000 distinct names beyond the 99 listed with "extra": told apart up to 10,000.
        Assert.Equal(10_000, (long)unlisted["names"]!);
        Assert.Equal(records * (namesPerRecord + 1), listed.Sum(p => (long)p.Value!) + (long)unlisted["occurrences"]!);

        var notices = log["notices"]!.AsArray().Select(n => (string)n!).ToList();
        Assert.Equal(100, notices.Count(n => n.Contains("message(s) of unknown type 'NEW_", StringComparison.Ordinal)));
        Assert.Contains($"ignored {unknownTypes - 100} more message(s) of {unknownTypes - 100} more unknown type(s)", notices);
    }
}
