using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Failures;

/// <summary>
/// The repairs the kill harness found missing, each pinned by a deterministic test: the states a SIGKILL can leave
/// are built by hand, then the next run (or recovery) must repair them and say so.
/// </summary>
public class RecoveryTests
{
    [Fact]
    public async Task Recovering_a_commit_killed_after_its_manifest_write_counts_its_rows_once()
    {
        using var lake = new TempLake();
        var store = new LocalObjectStore(BucketUri.Parse(lake.Bucket));
        var committer = new LakeCommitter(store, TimeProvider.System);
        var plan = new CommitPlan
        {
            RunId = "r1",
            Pipeline = "p",
            StartedAt = DateTimeOffset.UtcNow,
            Tables = { new TableChange { Key = "test/items", Rows = 5, Files = 1, Bytes = 10, Entry = new ManifestTable { Source = "test", Table = "items", Pipeline = "p" } } },
        };
        await committer.CommitAsync(plan, CancellationToken.None);
        // The crash: manifest written, journal still saying "deleted" (the step before the manifest).
        plan.Phase = CommitPlan.PhaseDeleted;
        await store.PutAsync(LakeCommitter.JournalKey("p"), LakeJson.Serialize(plan), WriteCondition.None, CancellationToken.None);

        var notice = (await committer.RecoverAsync("p", CancellationToken.None))?.Notice;

        Assert.StartsWith("completed the interrupted commit of run r1", notice);
        var table = lake.Manifest().Tables["test/items"];
        Assert.Equal(5, table.RowCount);
        Assert.Equal(1, table.Stats.Extractions);
        Assert.Equal(1, table.Stats.Files);
        Assert.False(File.Exists(Path.Combine(lake.Root, LakeCommitter.JournalKey("p"))));
    }

    /// <summary>
    /// A run killed in its commit writes no log: the run that completes its commit counts what it landed in its own log
    /// (<c>recovered</c>), apart from its own streams, so logs summed over time count every row the manifest has.
    /// </summary>
    [Fact]
    public async Task A_run_that_completes_a_killed_runs_commit_counts_what_it_landed_in_its_log()
    {
        using var lake = new TempLake();
        var store = new LocalObjectStore(BucketUri.Parse(lake.Bucket));
        var plan = new CommitPlan
        {
            RunId = "r1",
            Pipeline = "p",
            StartedAt = DateTimeOffset.UtcNow,
            Tables = { new TableChange { Key = "test/items", Rows = 5, Files = 1, Bytes = 10, Entry = new ManifestTable { Source = "test", Table = "items", Pipeline = "p", Location = $"{lake.Bucket}/raw/test/items" } } },
        };
        await new LakeCommitter(store, TimeProvider.System).CommitAsync(plan, CancellationToken.None);
        plan.Phase = CommitPlan.PhaseDeleted; // killed before its manifest entry
        await store.PutAsync(LakeCommitter.JournalKey("p"), LakeJson.Serialize(plan), WriteCondition.None, CancellationToken.None);

        var run = await TempLake.RunAsync(lake.Pipeline("p", lake.WriteSinger("more.singer", BadInputCorpusTests.Schema, BadInputCorpusTests.Record(4))));

        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Contains(run.Log.Notices, n => n.StartsWith("completed the interrupted commit of run r1", StringComparison.Ordinal));
        var saved = lake.Logs("p").Single();
        Assert.NotNull(saved.Recovered);
        Assert.Equal(("r1", 5L, 1L), (saved.Recovered.RunId, saved.Recovered.Records, saved.Recovered.Files));
        Assert.Equal([("test/items", 5L, 1L)], saved.Recovered.Tables.Select(t => (t.Key, t.Value.Records, t.Value.Files)));
        Assert.Equal(1, saved.TotalRecords); // its own records, apart
    }

    [Fact]
    public async Task Rolling_back_a_commit_killed_while_a_file_landed_removes_its_temp_file_and_says_so()
    {
        using var lake = new TempLake();
        var store = new LocalObjectStore(BucketUri.Parse(lake.Bucket));
        const string key = "raw/test/items/dt=2025-01-20/items_0000.parquet";
        var plan = new CommitPlan { RunId = "r2", Pipeline = "p", Files = { new PlannedFile("/nowhere/spooled.parquet.part", key) } };
        await store.PutAsync(LakeCommitter.JournalKey("p"), LakeJson.Serialize(plan), WriteCondition.None, CancellationToken.None);
        // This build's hidden temp name, and the suffix form an earlier build left.
        string[] temps = [Path.Combine(lake.Root, HiddenTemp(key, "0123456789ab")), Path.Combine(lake.Root, key + ".tmp-0123456789ab")];
        Directory.CreateDirectory(Path.GetDirectoryName(temps[0])!);
        foreach (var temp in temps) File.WriteAllText(temp, "half a parquet file");

        var notice = (await new LakeCommitter(store, TimeProvider.System).RecoverAsync("p", CancellationToken.None))?.Notice;

        Assert.Equal("rolled back the interrupted commit of run r2 (1 files not all landed, 2 leftover temp file(s) removed; state untouched)", notice);
        Assert.All(temps, temp => Assert.False(File.Exists(temp), temp));
    }

    /// <summary>The temp name this build gives <paramref name="key"/> (<see cref="LakePaths.TempNameOf"/>), with a chosen id.</summary>
    private static string HiddenTemp(string key, string id) =>
        key[..(key.LastIndexOf('/') + 1)] + "." + key[(key.LastIndexOf('/') + 1)..] + ".tmp-" + id;

    [Fact]
    public async Task A_run_removes_temp_files_its_pipeline_left_in_journal_state_lock_and_log_folders_and_says_so()
    {
        using var lake = new TempLake();
        const string pipeline = "meta-temps";
        await BadInputCorpusTests.LandGoodRunAsync(lake, pipeline);
        string[] temps =
        [
            LakeCommitter.JournalKey(pipeline) + ".tmp-aaaaaaaaaaaa",
            LakePaths.StateKey(pipeline) + ".tmp-bbbbbbbbbbbb",
            LakePaths.LockKey(pipeline) + ".tmp-cccccccccccc",
            LakePaths.LogsPrefix(pipeline) + "2025-01-20T10-00-00Z_deadbeef.json.tmp-dddddddddddd",
            HiddenTemp(LakeCommitter.JournalKey(pipeline), "aaaaaaaaaaa1"),
            HiddenTemp(LakePaths.StateKey(pipeline), "bbbbbbbbbbb1"),
            HiddenTemp(LakePaths.LockKey(pipeline), "ccccccccccc1"),
            HiddenTemp(LakePaths.LogsPrefix(pipeline) + "2025-01-20T10-00-00Z_deadbeef.json", "ddddddddddd1"),
            LakeCommitter.JournalKey("another-pipeline") + ".tmp-eeeeeeeeeeee",
            HiddenTemp(LakeCommitter.JournalKey("another-pipeline"), "eeeeeeeeeee1"),
        ];
        foreach (var t in temps)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(lake.Root, t))!);
            File.WriteAllText(Path.Combine(lake.Root, t), "{\"half\":");
        }

        var run = await TempLake.RunAsync(lake.Pipeline(pipeline, lake.WriteSinger("more.singer", BadInputCorpusTests.Schema, BadInputCorpusTests.Record(4))));

        Assert.True(run.Succeeded, run.Log.Error);
        // This build's hidden temp names and the suffix form of earlier builds alike.
        foreach (var t in temps[..8])
        {
            Assert.False(File.Exists(Path.Combine(lake.Root, t)), t);
            Assert.Contains("removed a leftover temp file " + t, run.Log.Notices);
        }
        // Another pipeline's temp files are not ours to remove (they may be mid-write).
        Assert.All(temps[8..], t => Assert.True(File.Exists(Path.Combine(lake.Root, t)), t));
    }

    [Fact]
    public async Task A_run_leaves_the_local_temp_folders_of_the_same_pipeline_name_in_another_bucket_alone()
    {
        using var lake = new TempLake();
        using var other = new TempLake();
        const string pipeline = "same-name";
        // A live run of "same-name" into another bucket (its own lock) owns this folder; ours must not clean it.
        var otherRun = Path.Combine(PipelineRunner.LocalTempFolder("private", BucketUri.Parse(other.Bucket), pipeline), "0aa11111");
        Directory.CreateDirectory(otherRun);
        File.WriteAllText(Path.Combine(otherRun, "config.json"), "{}");
        try
        {
            var run = await TempLake.RunAsync(lake.Pipeline(pipeline, lake.WriteSinger("a.singer", BadInputCorpusTests.Schema, BadInputCorpusTests.Record(1))));

            Assert.True(run.Succeeded, run.Log.Error);
            Assert.True(File.Exists(Path.Combine(otherRun, "config.json")));
            Assert.DoesNotContain(run.Log.Notices, n => n.Contains("leftover", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(otherRun)!, recursive: true);
        }
    }
    [Fact]
    public async Task Rolling_back_a_merge_commit_releases_its_own_claims_and_leaves_another_runs()
    {
        using var lake = new TempLake();
        var store = new LocalObjectStore(BucketUri.Parse(lake.Bucket));
        const string ours = "raw/test/items/items_0000_aaaaaaaa.parquet", theirs = "raw/test/items/items_0001_bbbbbbbb.parquet";
        var plan = new CommitPlan { RunId = "r3", Pipeline = "p", Superseded = { ours, theirs } };
        await store.PutAsync(LakeCommitter.JournalKey("p"), LakeJson.Serialize(plan), WriteCondition.None, CancellationToken.None);
        await store.PutAsync(LakePaths.SupersededClaimKey(ours), LakeJson.Serialize(new SupersededClaim("p", "r3")), WriteCondition.IfAbsent, CancellationToken.None);
        await store.PutAsync(LakePaths.SupersededClaimKey(theirs), LakeJson.Serialize(new SupersededClaim("q", "r9")), WriteCondition.IfAbsent, CancellationToken.None);

        var notice = (await new LakeCommitter(store, TimeProvider.System).RecoverAsync("p", CancellationToken.None))?.Notice;

        Assert.StartsWith("rolled back the interrupted commit of run r3", notice);
        Assert.False(await store.ExistsAsync(LakePaths.SupersededClaimKey(ours), CancellationToken.None));
        Assert.True(await store.ExistsAsync(LakePaths.SupersededClaimKey(theirs), CancellationToken.None));
    }
}
