using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tables;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Failures;

/// <summary>
/// The commit journal across builds: a journal an older build left (format 1, no <c>format</c> field) is completed with
/// the counts it carries; the journal this build writes is one an older build completes right (the superseded files in
/// <c>deletions</c>, a merge's absolute <c>totals</c>) or cannot read at all; a journal of a later format is refused.
/// Each starts from a real merge whose commit stopped with all its files landed (the delete of the rewritten original
/// fails, as a kill there leaves it): 10 rows, then a run that updates id 3, deletes id 5 and adds ids 11 and 12.
/// </summary>
public sealed class JournalFormatTests : IDisposable
{
    private const string Pipeline = "orders-merge";
    private readonly TempLake _lake = new();

    public void Dispose() => _lake.Dispose();

    private const string Schema = """{"type":"SCHEMA","stream":"orders","schema":{"type":"object","properties":{"id":{"type":"integer"},"status":{"type":["null","string"]},"_sdc_deleted_at":{"type":["null","string"],"format":"date-time"}}},"key_properties":["id"]}""";

    private static string Record(int id, string status, bool deleted = false) =>
        $$$"""{"type":"RECORD","stream":"orders","record":{"id":{{{id}}},"status":"{{{status}}}","_sdc_deleted_at":{{{(deleted ? "\"2026-01-01T00:00:00Z\"" : "null")}}}}}""";

    private static readonly List<List<string?>> Merged =
        [["1", "a"], ["2", "a"], ["3", "b"], ["4", "a"], ["6", "a"], ["7", "a"], ["8", "a"], ["9", "a"], ["10", "a"], ["11", "n"], ["12", "n"]];

    private PipelineDefinition MergePipeline(string file) => _lake.Pipeline(Pipeline, file, p => p with
    {
        Destination = p.Destination with { PartitionBy = PartitionBySettings.None, WriteMode = WriteMode.Merge, Merge = new MergeSettings() },
    });

    private List<List<string?>> Orders() => _lake.Query("SELECT id, status FROM read_parquet('{lake}/raw/test/orders/*.parquet') ORDER BY id");

    private string JournalPath => Path.Combine(_lake.Root, LakeCommitter.JournalKey(Pipeline));

    /// <summary>The merge stopped after its files landed: returns the original (still there) and the journal this build wrote.</summary>
    private async Task<(string Original, JsonObject Journal)> LandedMergeAsync()
    {
        var first = _lake.WriteSinger("first.jsonl", [Schema, .. Enumerable.Range(1, 10).Select(i => Record(i, "a"))]);
        Assert.True((await TempLake.RunAsync(MergePipeline(first))).Succeeded);
        var original = Assert.Single(_lake.ParquetKeys());
        var second = _lake.WriteSinger("second.jsonl", Schema, Record(3, "b"), Record(5, "x", deleted: true), Record(11, "n"), Record(12, "n"),
            """{"type":"STATE","value":{"bookmark":12}}""");
        var stores = new ObjectStoreFactory();
        stores.Register("file", (uri, _) => new FaultingStore(new LocalObjectStore(uri), failDelete: key => key == original));

        var stopped = await TempLake.RunAsync(MergePipeline(second), runner: new PipelineRunner(stores));

        Assert.False(stopped.Succeeded);
        Assert.Equal(2, _lake.ParquetKeys().Count);
        return (original, JsonNode.Parse(File.ReadAllText(JournalPath))!.AsObject());
    }

    private async Task<string?> RecoverAsync()
    {
        await using var store = new LocalObjectStore(BucketUri.Parse(_lake.Bucket));
        return (await new LakeCommitter(store, TimeProvider.System).RecoverAsync(Pipeline, CancellationToken.None))?.Notice;
    }

    private void AssertMergedTable(string original, string merged)
    {
        Assert.Equal([merged], _lake.ParquetKeys());
        Assert.DoesNotContain(original, _lake.ParquetKeys());
        Assert.Equal(Merged, Orders());
        var entry = _lake.Manifest().Tables["test/orders"];
        Assert.Equal((11L, 11L, 1L, new FileInfo(Path.Combine(_lake.Root, merged)).Length), (entry.RowCount, entry.Stats.TotalRows, entry.Stats.Files, entry.Stats.Bytes));
        Assert.Equal(2, entry.Stats.Extractions);
        Assert.Equal("""{"bookmark":12}""", _lake.State(Pipeline)!.ToJsonString());
        Assert.False(File.Exists(JournalPath));
    }

    [Fact]
    public async Task A_merge_journal_an_older_build_left_is_completed_with_its_totals_not_counted_as_an_append()
    {
        var (original, current) = await LandedMergeAsync();
        var runId = current["run_id"]!.GetValue<string>();
        var merged = current["files"]![0]!["key"]!.GetValue<string>();
        var bytes = new FileInfo(Path.Combine(_lake.Root, merged)).Length;
        // The journal as builds before journal formats wrote it (build 5f777af; shape as captured from its killed merge):
        // no format, the rewritten original in deletions, no superseded, the merge's absolute totals in tables[].totals.
        File.WriteAllText(JournalPath, $$"""
            {
              "run_id": "{{runId}}",
              "pipeline": "{{Pipeline}}",
              "phase": "landed",
              "started_at": "2026-12-06T14:58:42.8967677+00:00",
              "files": [
                {
                  "local": "{{_lake.Root}}/.dataspoc/tmp/{{Pipeline}}/{{runId}}/orders-merged-00000.parquet.part",
                  "key": "{{merged}}"
                }
              ],
              "deletions": [
                "{{original}}"
              ],
              "tables": [
                {
                  "key": "test/orders",
                  "entry": {
                    "source": "test",
                    "table": "orders",
                    "pipeline": "{{Pipeline}}",
                    "location": "{{_lake.Bucket}}/raw/test/orders",
                    "format": "parquet",
                    "partitioning": [],
                    "write_mode": "merge",
                    "key_properties": [
                      "id"
                    ],
                    "table_version": null,
                    "row_count": 0,
                    "stats": {
                      "total_rows": 0,
                      "extractions": 0,
                      "last_extraction": null,
                      "last_extraction_rows": 0,
                      "files": 0,
                      "bytes": 0,
                      "last_run_id": null
                    },
                    "columns": [
                      { "name": "id", "type": "int64", "nullable": true },
                      { "name": "status", "type": "string", "nullable": true },
                      { "name": "_sdc_deleted_at", "type": "timestamp[us, tz=UTC]", "nullable": true }
                    ]
                  },
                  "replace": false,
                  "rows": 4,
                  "files": 1,
                  "bytes": {{bytes}},
                  "totals": {
                    "rows": 11,
                    "files": 1,
                    "bytes": {{bytes}}
                  }
                }
              ],
              "table_metadata": [],
              "state": {"bookmark": 12}
            }
            """);

        var notice = await RecoverAsync();

        Assert.StartsWith($"completed the interrupted commit of run {runId}", notice);
        AssertMergedTable(original, merged);
        Assert.Equal(4, _lake.Manifest().Tables["test/orders"].Stats.LastExtractionRows);
    }

    [Fact]
    public async Task A_merge_journal_lists_its_superseded_files_in_deletions_and_its_totals_as_older_builds_read_them()
    {
        var (original, journal) = await LandedMergeAsync();
        var merged = journal["files"]![0]!["key"]!.GetValue<string>();
        var bytes = new FileInfo(Path.Combine(_lake.Root, merged)).Length;

        Assert.Equal(CommitPlan.CurrentFormat, journal["format"]!.GetValue<int>());
        Assert.Equal(CommitPlan.PhaseLanded, journal["phase"]!.GetValue<string>());
        // What an older build reads: it deletes only 'deletions' and sets the entry to 'totals' (it knows no 'superseded', no 'merge').
        Assert.Equal([original], journal["deletions"]!.AsArray().Select(k => k!.GetValue<string>()));
        Assert.Equal([original], journal["superseded"]!.AsArray().Select(k => k!.GetValue<string>()));
        var totals = journal["tables"]![0]!["totals"]!;
        Assert.Equal((11L, 1L, bytes), (totals["rows"]!.GetValue<long>(), totals["files"]!.GetValue<long>(), totals["bytes"]!.GetValue<long>()));

        // This build completes its own journal (deletions and superseded naming one file) the same.
        Assert.StartsWith("completed the interrupted commit", await RecoverAsync());
        AssertMergedTable(original, merged);
    }

    [Fact]
    public async Task A_journal_of_a_later_format_is_refused_by_recovery_and_runs_naming_it_and_nothing_changes()
    {
        var (original, journal) = await LandedMergeAsync();
        journal["format"] = CommitPlan.CurrentFormat + 1;
        journal["something_new"] = new JsonObject { ["a"] = 1 };
        File.WriteAllText(JournalPath, journal.ToJsonString());
        var keys = _lake.Keys();

        var refused = await Assert.ThrowsAsync<StorageException>(RecoverAsync);
        var run = await TempLake.RunAsync(MergePipeline(_lake.WriteSinger("third.jsonl", Schema, Record(13, "n"))));

        var where = $"{_lake.Bucket}/{LakeCommitter.JournalKey(Pipeline)}";
        Assert.Contains($"{where} is the journal of an interrupted commit in journal format {CommitPlan.CurrentFormat + 1}, written by a newer dataspoc-pipe; " +
            $"this build reads journal formats up to {CommitPlan.CurrentFormat}", refused.Message);
        Assert.False(run.Succeeded);
        Assert.Equal("recover", run.Log.FailedStep);
        Assert.Contains($"{where} is the journal of an interrupted commit in journal format {CommitPlan.CurrentFormat + 1}", run.Log.Error);
        // Nothing of the commit was completed or rolled back: the original and the landed file, the journal, the old counts.
        Assert.True(File.Exists(Path.Combine(_lake.Root, original)));
        Assert.True(File.Exists(JournalPath));
        Assert.Equal(10, _lake.Manifest().Tables["test/orders"].RowCount);
        Assert.Equal(keys.Where(k => k.EndsWith(".parquet", StringComparison.Ordinal)), _lake.Keys().Where(k => k.EndsWith(".parquet", StringComparison.Ordinal)));
    }

    [Fact]
    public void A_journal_older_builds_would_complete_wrongly_carries_a_sentence_where_they_expect_totals()
    {
        var plan = new CommitPlan
        {
            RunId = "r1",
            Pipeline = "p",
            Tables = { new TableChange { Key = "test/items", Merge = new MergeCounts(5, 3, 1, 100), Totals = new TableTotals(12, 2, 300) } },
            TableMetadata = { new TableMetadataCommit { TableKey = "test/items", Formats = ["iceberg"], Operation = TableMetadataCommit.Merge, Removed = { "raw/test/items/a.parquet" } } },
        };

        var journal = JsonNode.Parse(plan.ToJournal())!;

        // An older build reads tables[].totals as an object: a string fails its reader ("damaged", naming this line)
        // instead of completing an Iceberg merge it does not know (it would keep only the new files).
        Assert.Equal("journal format 2 (it merges into the iceberg table test/items): complete this commit with a dataspoc-pipe that reads " +
            "journal format 2 or later (run or maintain the pipeline with it)", journal["tables"]![0]!["totals"]!.GetValue<string>());
        var read = CommitPlan.Read(plan.ToJournal(), "journal");
        Assert.Equal((CommitPlan.CurrentFormat, new MergeCounts(5, 3, 1, 100)), (read.Format, read.Tables[0].Merge));
        Assert.Null(read.Tables[0].Totals);
    }
}
