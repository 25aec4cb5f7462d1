using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Parquet;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tables;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Lake;

/// <summary>
/// Claims a run that died left with nothing that would release them: an older build (from before table-commit claims)
/// completed or rolled back its journal without knowing the claims, or the journal was deleted by hand. The next commit of
/// the table takes such a claim over and says so; a claim whose dead holder still has its journal is left to that
/// pipeline's next run, which completes or rolls back the commit.
/// </summary>
public class OrphanedClaimTests
{
    private const string DeadRun = "0deadbe1";
    private const string TablePrefix = "raw/test/orders/";

    private const string Schema =
        """{"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"name":{"type":["null","string"]}}}}""";

    private static string[] Orders(int from, int to) =>
        [Schema, .. Enumerable.Range(from, to - from + 1).Select(i => "{\"type\":\"RECORD\",\"stream\":\"orders\",\"record\":{\"id\":" + i + ",\"name\":\"n" + i + "\"}}")];

    private static PipelineDefinition Orders(TempLake lake, string run, int from, int to) =>
        lake.Pipeline("orders", lake.WriteSinger(run, Orders(from, to)), p => p with { Destination = p.Destination with { PartitionBy = PartitionBySettings.None } });

    private static List<string> Ids(TempLake lake) =>
        lake.Query($"select id from read_parquet('{Path.Combine(lake.Root, "raw", "test", "orders")}/*.parquet') order by id").Select(r => r[0]!).ToList();

    private static List<string> Range(int from, int to) => Enumerable.Range(from, to - from + 1).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();

    private static string WriteClaim(TempLake lake, string key, string pipeline, string? column = null)
    {
        var path = Path.Combine(lake.Root, key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, LakeJson.Serialize(new SupersededClaim(pipeline, DeadRun, column)));
        return path;
    }

    /// <summary>The table's claims folder, which every pipeline writing the table shares.</summary>
    private static string ClaimsFolder(TempLake lake) => Path.Combine(lake.Root, LakePaths.ClaimsPrefix, TablePrefix);

    /// <summary>Every file below <paramref name="folder"/> as the file system has it (a store's listing leaves out <c>.lck</c> sidecars).</summary>
    private static List<string> FilesIn(string folder) =>
        Directory.Exists(folder) ? [.. Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(folder, f))] : [];

    /// <summary>The journal of pipeline <paramref name="pipeline"/>'s run <paramref name="runId"/>, claiming the table at <paramref name="tablePrefix"/>.</summary>
    private static void WriteJournal(TempLake lake, string pipeline, string runId, string tablePrefix = TablePrefix)
    {
        var path = Path.Combine(lake.Root, LakePaths.JournalKey(pipeline));
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var plan = new CommitPlan { RunId = runId, Pipeline = pipeline, StartedAt = DateTimeOffset.UtcNow, TableClaims = [LakePaths.TableCommitClaimKey(tablePrefix)] };
        File.WriteAllBytes(path, plan.ToJournal());
    }

    /// <summary>
    /// The table's commit claim of a dead run (of this pipeline, its lock now another run's; or of another pipeline, whose
    /// lock is gone) with no journal, or with its pipeline's journal another run's (of another table): the run takes it
    /// over and lands its rows.
    /// </summary>
    [Theory]
    [InlineData("orders", null)]
    [InlineData("ghost", null)]
    [InlineData("ghost", "0a1b2c3d")]
    public async Task A_table_claim_a_dead_run_left_without_its_journal_is_taken_over_by_the_next_commit(string holder, string? journalRun)
    {
        using var lake = new TempLake();
        Assert.True((await TempLake.RunAsync(Orders(lake, "r1", 1, 4))).Succeeded);
        var claimKey = LakePaths.TableCommitClaimKey(TablePrefix);
        var claim = WriteClaim(lake, claimKey, holder);
        if (journalRun is not null) WriteJournal(lake, holder, journalRun, "raw/test/other/");

        var run = await TempLake.RunAsync(Orders(lake, "r2", 5, 8));

        AssertTookOver(lake, run, claimKey, holder, claim);
    }

    /// <summary>The run landed rows 1-8 after taking over the dead run's claim, said so, and left no claim file behind.</summary>
    private static void AssertTookOver(TempLake lake, RunResult run, string claimKey, string holder, string claim)
    {
        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Contains(run.Log.Notices, n => n.StartsWith($"took over the claim {lake.Bucket}/{claimKey} of run {DeadRun} of pipeline '{holder}', which died", StringComparison.Ordinal));
        Assert.Equal(Range(1, 8), Ids(lake));
        Assert.Equal(8, lake.Manifest().Tables["test/orders"].RowCount);
        Assert.False(File.Exists(claim), "the run released the claim it took over");
        Assert.Empty(FilesIn(ClaimsFolder(lake)));
    }

    /// <summary>
    /// The dead run's journal is still there: its pipeline's next run completes or rolls back that commit and releases the
    /// claim, so the claim is not taken over (the table would move on under a commit that may still complete).
    /// </summary>
    [Fact]
    public async Task A_table_claim_whose_dead_holder_still_has_its_journal_is_refused()
    {
        using var lake = new TempLake();
        Assert.True((await TempLake.RunAsync(Orders(lake, "r1", 1, 4))).Succeeded);
        var claimKey = LakePaths.TableCommitClaimKey(TablePrefix);
        var claim = WriteClaim(lake, claimKey, "ghost");
        WriteJournal(lake, "ghost", DeadRun);

        var run = await TempLake.RunAsync(Orders(lake, "r2", 5, 8));

        Assert.False(run.Succeeded);
        Assert.Contains($"{claimKey} is held by another commit of the table (run {DeadRun} of pipeline 'ghost', which no longer runs", run.Log.Error ?? "");
        Assert.DoesNotContain(run.Log.Notices, n => n.StartsWith("took over", StringComparison.Ordinal));
        Assert.True(File.Exists(claim));
        Assert.Equal(Range(1, 4), Ids(lake));
    }

    /// <summary>
    /// A dead run's claim on the Iceberg field id the next run gives its new column (for another column of the dead run),
    /// with no journal left: taken over as a table claim is, and the run lands the column under that id.
    /// </summary>
    [Fact]
    public async Task A_field_id_claim_a_dead_run_left_without_its_journal_is_taken_over_by_the_next_commit()
    {
        using var lake = new TempLake();
        PipelineDefinition Iceberg(PipelineDefinition p) => p with { Destination = p.Destination with { TableFormat = TableFormats.Iceberg } };
        Assert.True((await TempLake.RunAsync(Iceberg(Orders(lake, "r1", 1, 4)))).Succeeded);
        // The table has field ids 1 (id) and 2 (name): the next new column gets 3.
        var claimKey = LakePaths.ColumnIdClaimKey(TablePrefix, 3);
        var claim = WriteClaim(lake, claimKey, "ghost", "'other' (int64)");
        const string withExtra =
            """{"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"name":{"type":["null","string"]},"extra":{"type":["null","string"]}}}}""";
        var records = Enumerable.Range(5, 4).Select(i => "{\"type\":\"RECORD\",\"stream\":\"orders\",\"record\":{\"id\":" + i + ",\"name\":\"n" + i + "\",\"extra\":\"e" + i + "\"}}");
        var second = lake.Pipeline("orders", lake.WriteSinger("r2", [withExtra, .. records]), p => Iceberg(p with { Destination = p.Destination with { PartitionBy = PartitionBySettings.None } }));

        var run = await TempLake.RunAsync(second);

        AssertTookOver(lake, run, claimKey, "ghost", claim);
    }

    /// <summary>A dead run's claim on a file a compaction rewrites, with no journal left: the compaction takes it over.</summary>
    [Fact]
    public async Task A_file_claim_a_dead_run_left_without_its_journal_is_taken_over_by_the_next_compaction()
    {
        using var lake = new TempLake();
        for (var run = 0; run < 3; run++)
            Assert.True((await TempLake.RunAsync(Orders(lake, "r" + run, run * 4 + 1, run * 4 + 4))).Succeeded);
        var before = lake.ParquetKeys();
        var claimKey = LakePaths.SupersededClaimKey(before.Order(StringComparer.Ordinal).First());
        var claim = WriteClaim(lake, claimKey, "orders");

        await using var store = new ObjectStoreFactory().Open(lake.Bucket);
        await using var runLock = await RunLock.AcquireAsync(store, "orders", "compact-test", TimeProvider.System, CancellationToken.None);
        var notices = new List<string>();
        var compacted = Assert.Single(await new TableCompaction(store, TimeProvider.System).RunAsync("orders", Compression.Zstd, 128L * 1024 * 1024,
            new WriteLimits(), MaintainedTables.LastWrittenBy("orders"), CancellationToken.None, runLock, notices));

        Assert.Equal((3, 1), (compacted.RewrittenFiles, compacted.WrittenFiles));
        Assert.Contains(notices, n => n.StartsWith($"took over the claim {lake.Bucket}/{claimKey} of run {DeadRun} of pipeline 'orders', which died", StringComparison.Ordinal));
        Assert.Equal(Range(1, 12), Ids(lake));
        Assert.Single(lake.ParquetKeys());
        Assert.False(File.Exists(claim), "released with the file it claimed");
    }
}
