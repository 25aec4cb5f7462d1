using System.Text.Json.Nodes;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Runs;

/// <summary>Manifest, state and run log contents, field by field, after a success and after a failing tap.</summary>
public class RunRecordsTests
{
    private static readonly string[] Lines =
    [
        """{"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"total":{"type":["null","number"]}}}}""",
        """{"type":"RECORD","stream":"orders","record":{"id":1,"total":2.5,"unexpected":"x"}}""",
        """{"type":"RECORD","stream":"orders","record":{"id":2,"total":null}}""",
        """{"type":"STATE","value":{"bookmarks":{"orders":{"id":2}}}}""",
        """{"type":"SOMETHING_NEW","stream":"orders"}""",
    ];

    [Fact]
    public async Task A_successful_run_records_manifest_state_and_log_fields()
    {
        using var lake = new TempLake();
        var result = await TempLake.RunAsync(lake.Pipeline("orders-local", lake.WriteSinger("a.singer", Lines),
            extraConfig: new JsonObject { ["stderr"] = "tap says hello" }));
        Assert.True(result.Succeeded, result.Log.Error);

        var manifest = lake.Manifest();
        Assert.Equal("1.0", manifest.Version);
        var t = manifest.Tables["test/orders"];
        Assert.Equal(("test", "orders", "orders-local", $"{lake.Bucket}/raw/test/orders", "parquet"), (t.Source, t.Table, t.Pipeline, t.Location, t.Format));
        Assert.Equal(["dt"], t.Partitioning);
        Assert.Equal("append", t.WriteMode);
        Assert.Equal(["id"], t.KeyProperties);
        Assert.Null(t.TableVersion);
        Assert.Equal(2, t.RowCount);
        Assert.Equal((2L, 1L, 2L, 1L), (t.Stats.TotalRows, t.Stats.Extractions, t.Stats.LastExtractionRows, t.Stats.Files));
        Assert.Equal(new FileInfo(Path.Combine(lake.Root, lake.ParquetKeys()[0])).Length, t.Stats.Bytes);
        Assert.Equal(result.Log.StartedAt, t.Stats.LastExtraction);
        Assert.Equal([("id", "int64", false), ("total", "double", true)], t.Columns.Select(c => (c.Name, c.Type, c.Nullable)));

        Assert.Equal("""{"bookmarks":{"orders":{"id":2}}}""", lake.State("orders-local")!.ToJsonString());

        var log = Assert.Single(lake.Logs("orders-local"));
        Assert.Equal(("orders-local", "success", "incremental", 2L, true), (log.Pipeline, log.Status, log.Mode, log.TotalRecords, log.StateCommitted));
        Assert.Equal(8, log.RunId.Length);
        Assert.True(log.FinishedAt >= log.StartedAt);
        Assert.Equal(Math.Round((log.FinishedAt - log.StartedAt).TotalSeconds, 3), log.DurationSeconds);
        var s = log.Streams["orders"];
        Assert.Equal((2L, 0L, 1L, t.Stats.Bytes), (s.Records, s.Rejected, s.Files, s.Bytes));
        Assert.Equal(1, s.DroppedProperties["unexpected"]);
        Assert.Equal(0, log.Tap.ExitCode);
        Assert.Contains("replay_tap.py --config", log.Tap.Command);
        Assert.Equal("tap says hello", log.Tap.StderrTail);
        Assert.Null(log.Error);
        Assert.Contains(log.Notices, n => n.Contains("unknown type 'SOMETHING_NEW'"));
        Assert.Equal(ToolVersion.Current, log.ToolVersion);
    }

    [Fact]
    public async Task A_failing_tap_writes_a_failure_log_with_its_stderr_and_leaves_state_and_data_untouched()
    {
        using var lake = new TempLake();
        Assert.True((await TempLake.RunAsync(lake.Pipeline("orders-local", lake.WriteSinger("a.singer", Lines)))).Succeeded);
        var stateBefore = lake.State("orders-local")!.ToJsonString();
        var manifestBefore = File.ReadAllText(Path.Combine(lake.Root, ".dataspoc/manifest.json"));
        var keysBefore = lake.ParquetKeys();

        string[] more =
        [
            Lines[0],
            """{"type":"RECORD","stream":"orders","record":{"id":3,"total":1}}""",
            """{"type":"STATE","value":{"bookmarks":{"orders":{"id":3}}}}""",
        ];
        var result = await TempLake.RunAsync(lake.Pipeline("orders-local", lake.WriteSinger("b.singer", more),
            extraConfig: new JsonObject { ["exit_code"] = 3, ["stderr"] = "line one\nconnection refused" }));
        Assert.False(result.Succeeded);

        Assert.Equal(stateBefore, lake.State("orders-local")!.ToJsonString());
        Assert.Equal(manifestBefore, File.ReadAllText(Path.Combine(lake.Root, ".dataspoc/manifest.json")));
        Assert.Equal(keysBefore, lake.ParquetKeys());
        Assert.DoesNotContain(lake.Keys(), k => k.Contains(".dataspoc/tmp/orders-local/") || k.Contains("journal"));

        var log = lake.Logs("orders-local")[^1];
        Assert.Equal(("failure", "extract", false, 3), (log.Status, log.FailedStep, log.StateCommitted, log.Tap.ExitCode));
        Assert.Equal("the tap exited with code 3; its last stderr line: connection refused", log.Error);
        Assert.Equal("line one\nconnection refused", log.Tap.StderrTail);
        Assert.Equal(result.Log.RunId, log.RunId);
    }
}
