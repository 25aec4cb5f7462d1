using System.Text.Json.Nodes;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tables;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Tables;

public class TableCommitConcurrencyTests
{
    private static TableMetadataCommit Commit(string bucket, int i) => new()
    {
        TableKey = "src/t",
        Formats = [TableFormatCommitter.Iceberg, TableFormatCommitter.Delta],
        Prefix = "raw/src/t/",
        Location = bucket + "/raw/src/t",
        Operation = TableMetadataCommit.Append,
        PartitionBy = "none",
        Schema = JsonNode.Parse("""{"type":"struct","fields":[{"id":1,"name":"id","required":false,"type":"long"}]}""")!.AsObject(),
        Files = [new DataFileFacts { Key = $"raw/src/t/f{i}.parquet", Bytes = 100 + i, Records = i + 1 }],
    };

    [Fact]
    public async Task Concurrent_committers_each_land_one_snapshot_and_one_log_entry_and_no_file_is_lost()
    {
        using var lake = new TempLake();
        await using var store = new ObjectStoreFactory().Open(lake.Bucket);
        const int committers = 8;
        await Task.WhenAll(Enumerable.Range(0, committers).Select(i => Task.Run(() =>
            new TableFormatCommitter(store, TimeProvider.System).CommitAsync(new CommitPlan { RunId = $"run{i}", TableMetadata = [Commit(lake.Bucket, i)] }, CancellationToken.None))));

        var metadataDir = Path.Combine(lake.Root, "raw", "src", "t", "metadata");
        Assert.Equal(committers.ToString(), File.ReadAllText(Path.Combine(metadataDir, "version-hint.text")));
        var metadata = JsonNode.Parse(File.ReadAllText(Path.Combine(metadataDir, $"v{committers}.metadata.json")))!;
        Assert.Equal(committers, metadata["snapshots"]!.AsArray().Count);
        Assert.Equal(Enumerable.Range(1, committers).Select(i => (long)i), metadata["snapshots"]!.AsArray().Select(s => s!["sequence-number"]!.GetValue<long>()));
        Assert.Equal(Enumerable.Range(0, committers).Sum(i => i + 1).ToString(), metadata["snapshots"]![committers - 1]!["summary"]!["total-records"]!.GetValue<string>());
        var runs = metadata["snapshots"]!.AsArray().Select(s => s!["summary"]![IcebergTable.RunIdProperty]!.GetValue<string>()).Order();
        Assert.Equal(Enumerable.Range(0, committers).Select(i => $"run{i}").Order(), runs);
        var list = new Uri(metadata["snapshots"]![committers - 1]!["manifest-list"]!.GetValue<string>()).LocalPath;
        var listed = Assert.Single(TableReaders.AvroCheck([list]))!;
        Assert.Equal(committers, listed["records"]!.GetValue<int>());
        // A loser deletes the manifest list it based on a stale snapshot: only the winners' lists remain.
        Assert.Equal(committers, Directory.GetFiles(metadataDir, "snap-*.avro").Length);

        var log = Path.Combine(lake.Root, "raw", "src", "t", "_delta_log");
        Assert.Equal(committers, Directory.GetFiles(log, "*.json").Length);
        var adds = Directory.GetFiles(log, "*.json").SelectMany(File.ReadAllLines).Count(l => l.StartsWith("{\"add\"", StringComparison.Ordinal));
        Assert.Equal(committers, adds);
    }

    [Fact]
    public async Task Committing_the_same_run_again_after_a_crash_adds_no_second_snapshot_or_log_entry()
    {
        using var lake = new TempLake();
        await using var store = new ObjectStoreFactory().Open(lake.Bucket);
        var committer = new TableFormatCommitter(store, TimeProvider.System);
        await committer.CommitAsync(new CommitPlan { RunId = "a", TableMetadata = [Commit(lake.Bucket, 0)] }, CancellationToken.None);
        var plan = new CommitPlan { RunId = "b", TableMetadata = [Commit(lake.Bucket, 1)] };
        await committer.CommitAsync(plan, CancellationToken.None);
        // Recovery replays the journal's plan: the table already has run b's snapshot.
        var again = new CommitPlan { RunId = "b", TableMetadata = [Commit(lake.Bucket, 1)] };
        await committer.CommitAsync(again, CancellationToken.None);
        Assert.Equal(plan.TableMetadata[0].IcebergMetadata, again.TableMetadata[0].IcebergMetadata);
        Assert.Equal(plan.TableMetadata[0].DeltaLog, again.TableMetadata[0].DeltaLog);
        Assert.EndsWith("/v2.metadata.json", again.TableMetadata[0].IcebergMetadata);
        Assert.False(File.Exists(Path.Combine(lake.Root, "raw", "src", "t", "metadata", "v3.metadata.json")));
        Assert.Equal(2, Directory.GetFiles(Path.Combine(lake.Root, "raw", "src", "t", "_delta_log"), "*.json").Length);
    }
}
