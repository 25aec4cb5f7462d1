using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tables;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Failures;

/// <summary>
/// A file:// Iceberg lake whose folder has two spellings: <c>data/lake</c>, a symbolic link, and its target
/// <c>real/sub</c>. Iceberg metadata holds absolute URIs in the spelling of the run that created the table.
/// </summary>
public class BucketSpellingTests
{
    private const string Table = "test/items", Prefix = "raw/test/items/";

    [Fact]
    public async Task A_run_spelling_an_iceberg_lake_by_its_link_target_lands_nothing_and_names_both_spellings()
    {
        using var lake = new TempLake();
        var (link, target) = Spellings(lake);
        await RunAsync(lake, link, 1, 2);
        var landed = DataFiles(lake);

        var respelled = await TempLake.RunAsync(Pipeline(lake, target, 3));

        Assert.False(respelled.Succeeded);
        Assert.Contains($"lists the Iceberg table {Table} at {link}/{Prefix.TrimEnd('/')}", respelled.Log.Error);
        Assert.Contains($"set destination.bucket to {link}, the spelling the manifest records", respelled.Log.Error);
        Assert.Equal(landed, DataFiles(lake));
        Assert.DoesNotContain(lake.Keys(), k => k.Contains("/journal/", StringComparison.Ordinal));
        // The lake's own spelling goes on as before.
        await RunAsync(lake, link, 4);
        Assert.Equal(3, ManifestEntry(lake).RowCount);
        Assert.Equal(DataFiles(lake), await LiveFilesAsync(link));
    }

    [Fact]
    public async Task A_commit_journaled_under_the_link_target_spelling_is_completed_by_a_run_spelling_the_lake_by_its_link()
    {
        using var lake = new TempLake();
        var (link, target) = Spellings(lake);
        await RunAsync(lake, link, 1, 2);
        // What an older build's run spelled by the link target left (it landed its files, then its Iceberg commit refused the
        // table's URIs as outside its location): the journal past its deletions, its locations in the target's spelling.
        var stores = new ObjectStoreFactory();
        stores.Register("file", (uri, _) => new FaultingStore(new LocalObjectStore(uri), failPut: key => key.StartsWith(Prefix + "metadata/", StringComparison.Ordinal)));
        var stopped = await TempLake.RunAsync(Pipeline(lake, link, 3), runner: new PipelineRunner(stores));
        Assert.False(stopped.Succeeded);
        var journal = Path.Combine(lake.Root, "real", "sub", LakeCommitter.JournalKey("spelled"));
        var plan = LakeJson.Deserialize<CommitPlan>(File.ReadAllBytes(journal), "journal");
        Assert.Equal(CommitPlan.PhaseDeleted, plan.Phase);
        File.WriteAllText(journal, File.ReadAllText(journal).Replace(link + "/", target + "/", StringComparison.Ordinal));
        Assert.Contains(target + "/" + Prefix.TrimEnd('/'), File.ReadAllText(journal));

        await RunAsync(lake, link, 4);

        Assert.False(File.Exists(journal));
        var entry = ManifestEntry(lake);
        Assert.Equal((4L, $"{link}/{Prefix.TrimEnd('/')}"), (entry.RowCount, entry.Location));
        Assert.Equal(DataFiles(lake), await LiveFilesAsync(link));
    }

    /// <summary><c>data/lake</c>, a link to <c>real/sub</c>, both in the temp lake: the two spellings as bucket URIs.</summary>
    private static (string Link, string Target) Spellings(TempLake lake)
    {
        var target = Directory.CreateDirectory(Path.Combine(lake.Root, "real", "sub")).FullName;
        var link = Path.Combine(Directory.CreateDirectory(Path.Combine(lake.Root, "data")).FullName, "lake");
        File.CreateSymbolicLink(link, target);
        return ("file://" + link, "file://" + target);
    }

    private static PipelineDefinition Pipeline(TempLake lake, string bucket, params int[] ids) =>
        lake.Pipeline("spelled", lake.WriteSinger($"rows-{ids[0]}.singer", [BadInputCorpusTests.Schema, .. ids.Select(BadInputCorpusTests.Record)]),
            p => p with { Destination = p.Destination with { Bucket = bucket, TableFormat = TableFormats.Iceberg } });

    private static async Task RunAsync(TempLake lake, string bucket, params int[] ids)
    {
        var run = await TempLake.RunAsync(Pipeline(lake, bucket, ids));
        Assert.True(run.Succeeded, run.Log.Error);
    }

    /// <summary>The table's data files, by key (each once: the listing finds them under the link and under its target).</summary>
    private static List<string> DataFiles(TempLake lake) =>
        [.. lake.ParquetKeys().Where(k => k.StartsWith("real/sub/", StringComparison.Ordinal)).Select(k => k["real/sub/".Length..]).Order(StringComparer.Ordinal)];

    private static ManifestTable ManifestEntry(TempLake lake) =>
        LakeJson.Deserialize<Manifest>(File.ReadAllBytes(Path.Combine(lake.Root, "real", "sub", LakePaths.ManifestKey)), "manifest").Tables[Table];

    /// <summary>The data files of the table's current Iceberg snapshot.</summary>
    private static async Task<List<string>> LiveFilesAsync(string bucket)
    {
        await using var store = new LocalObjectStore(BucketUri.Parse(bucket));
        var live = await new TableFormatCommitter(store, TimeProvider.System).LiveDataFileKeysAsync(
            new TableMetadataCommit { Prefix = Prefix, Location = $"{bucket}/{Prefix.TrimEnd('/')}", Formats = [TableFormatCommitter.Iceberg] }, CancellationToken.None);
        return [.. live.Order(StringComparer.Ordinal)];
    }
}
