using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Runs;

/// <summary>A <c>hash:</c> added between runs leaves the table's earlier rows in clear text: the run that adds it says so.</summary>
public class HashedColumnsTests
{
    private static string Singer(TempLake lake, int run) => lake.WriteSinger($"run{run}.singer",
        """{"type":"SCHEMA","stream":"t","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"v":{"type":["null","string"]}}}}""",
        $$$"""{"type":"RECORD","stream":"t","record":{"id":{{{run * 10 + 1}}},"v":"secret-{{{run}}}a"}}""",
        $$$"""{"type":"RECORD","stream":"t","record":{"id":{{{run * 10 + 2}}},"v":"secret-{{{run}}}b"}}""");

    private static Task<Pipe.Runs.RunResult> RunAsync(TempLake lake, int run, bool hash) =>
        TempLake.RunAsync(lake.Pipeline("t", Singer(lake, run), p => hash
            ? p with { Transforms = new Dictionary<string, JsonNode?> { ["t"] = new JsonObject { ["hash"] = new JsonArray("v") } } }
            : p));

    [Fact]
    public async Task A_run_that_newly_hashes_a_column_the_table_holds_names_its_earlier_clear_rows_once()
    {
        using var lake = new TempLake();
        var first = await RunAsync(lake, 1, hash: false);
        Assert.True(first.Succeeded, first.Log.Error);
        Assert.Equal([], lake.Manifest().Tables["test/t"].HashedColumns!);

        var second = await RunAsync(lake, 2, hash: true);
        Assert.True(second.Succeeded, second.Log.Error);
        var notice = Assert.Single(second.Log.Notices, n => n.Contains("hashed by this run", StringComparison.Ordinal));
        Assert.Equal("stream 't': column(s) 'v' hashed by this run but not by the last run that wrote table test/t: the 2 row(s) the table held " +
            "before this run keep their values in clear text beside the hashed ones; run --full to rehash them", notice);
        Assert.Equal([notice], second.Log.Warnings);
        Assert.Equal(["v"], lake.Manifest().Tables["test/t"].HashedColumns!);

        var third = await RunAsync(lake, 3, hash: true);
        Assert.True(third.Succeeded, third.Log.Error);
        Assert.DoesNotContain(third.Log.Notices, n => n.Contains("hashed by this run", StringComparison.Ordinal));
        Assert.Empty(third.Log.Warnings);
    }

    [Fact]
    public async Task A_code_transform_that_declares_the_columns_it_hashes_has_them_recorded_and_warned_about()
    {
        using var lake = new TempLake();
        Assert.True((await RunAsync(lake, 1, hash: false)).Succeeded);
        // A column the stream does not land ('absent') is not recorded.
        var pseudonymise = new DataSpoc.Pipe.Api.CodeTransform("t", r => { r["v"] = "h:" + r["v"]!.GetValue<string>().Length; return r; })
        {
            HashedColumns = ["v", "absent"],
        };
        var second = await new Pipe.Runs.PipelineRunner(new DataSpoc.Pipe.Storage.ObjectStoreFactory())
            .RunAsync(lake.Pipeline("t", Singer(lake, 2)), new Pipe.Runs.RunOptions { CodeTransforms = [pseudonymise] }, CancellationToken.None);
        Assert.True(second.Succeeded, second.Log.Error);
        Assert.Equal(["v"], lake.Manifest().Tables["test/t"].HashedColumns!);
        Assert.Single(second.Log.Warnings, w => w.StartsWith("stream 't': column(s) 'v' hashed by this run but not by the last run", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_manifest_entry_from_before_hashed_columns_says_nothing()
    {
        // Which columns its runs hashed is not known: no notice rather than a wrong one.
        using var lake = new TempLake();
        Assert.True((await RunAsync(lake, 1, hash: false)).Succeeded);
        var path = Path.Combine(lake.Root, LakePaths.ManifestKey);
        var manifest = JsonNode.Parse(File.ReadAllText(path))!;
        Assert.True(manifest["tables"]!["test/t"]!.AsObject().Remove("hashed_columns"));
        File.WriteAllText(path, manifest.ToJsonString());

        var second = await RunAsync(lake, 2, hash: true);
        Assert.True(second.Succeeded, second.Log.Error);
        Assert.DoesNotContain(second.Log.Notices, n => n.Contains("hashed by this run", StringComparison.Ordinal));
        Assert.Equal(["v"], lake.Manifest().Tables["test/t"].HashedColumns!);
    }

    [Fact]
    public async Task A_full_run_that_newly_hashes_says_nothing_it_rewrites_the_table()
    {
        using var lake = new TempLake();
        Assert.True((await RunAsync(lake, 1, hash: false)).Succeeded);
        var full = await TempLake.RunAsync(lake.Pipeline("t", Singer(lake, 2),
            p => p with { Transforms = new Dictionary<string, JsonNode?> { ["t"] = new JsonObject { ["hash"] = new JsonArray("v") } } }), full: true);
        Assert.True(full.Succeeded, full.Log.Error);
        Assert.Empty(full.Log.Warnings);
    }
}
