using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.KillHarness;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Parquet;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;
using Xunit.Abstractions;

namespace DataSpoc.Pipe.Tests.Failures;

/// <summary>
/// SIGKILLs runs of an Iceberg + Delta pipeline, and compactions of it, before and after every write of their table
/// commits (manifests, manifest list, metadata file, version hint, Delta log entry and checkpoint; the lake commit's
/// other steps are the run harness's <see cref="CrashConsistencyTests"/>). After each kill the table, read by icebird
/// and through the Delta log (its files read by DuckDB), holds exactly the rows before or exactly the rows after; the
/// next run repairs and continues.
/// </summary>
[Trait("Category", "Kill")]
public class TableCommitCrashTests(ITestOutputHelper output)
{
    private const string Pipeline = "kill-tables";
    private const int RowsPerRun = 1000;
    private static readonly Dictionary<string, string> Announce = new() { ["DSP_HARNESS_ANNOUNCE"] = "1", ["DSP_HARNESS_PAUSE_MS"] = "10" };

    private static JsonObject Run(TempLake lake, int maxId, string mode = "run") => new()
    {
        ["name"] = Pipeline,
        ["bucket"] = lake.Bucket,
        ["tap"] = "python3 " + TempLake.Asset("scripted_tap.py"),
        ["config"] = new JsonObject { ["max_id"] = maxId, ["state_every"] = 500, ["payload"] = 20 },
        ["pipeline_file"] = lake.PipelineFile(Pipeline),
        ["incremental"] = true,
        ["batch_rows"] = 2000,
        ["max_file_rows"] = 5000,
        ["table_format"] = new JsonArray("iceberg", "delta"),
        ["mode"] = mode,
    };

    private int _killed;

    /// <summary>An announced write (before or after it) of a table commit: under the table's <c>metadata/</c> or <c>_delta_log/</c>.</summary>
    private static bool IsWrite(string line) =>
        (line.StartsWith("at put ", StringComparison.Ordinal) || line.StartsWith("done put ", StringComparison.Ordinal))
        && (line.Contains("/metadata/", StringComparison.Ordinal) || line.Contains("/_delta_log/", StringComparison.Ordinal));

    [Fact]
    public async Task A_table_commit_or_compaction_killed_at_any_write_leaves_the_previous_or_the_new_rows_and_the_next_run_continues()
    {
        using var lake = new TempLake();
        var maxId = RowsPerRun;
        Assert.True((await CleanRunAsync(lake, maxId)).Succeeded);
        var violations = new List<string>();

        // Calibration: how many writes a run announces.
        maxId += RowsPerRun;
        var calibration = await HarnessProcess.RunAsync(Run(lake, maxId), Announce);
        Assert.Equal(0, calibration.ExitCode);
        var runWrites = calibration.Stdout.Count(IsWrite);
        output.WriteLine($"a run's table commit announces {runWrites} write steps");
        for (var k = 1; k <= runWrites; k++)
        {
            var before = maxId;
            maxId += RowsPerRun;
            violations.AddRange(await KillAsync(lake, k, "run", before, maxId));
        }

        // The first compaction rewrites every run's manifest; from then on each one rewrites two (the last compacted
        // file and one run's), so it is calibrated on the second.
        Assert.Equal(0, (await HarnessProcess.RunAsync(Run(lake, maxId, "compact"))).ExitCode);
        maxId += RowsPerRun;
        Assert.True((await CleanRunAsync(lake, maxId)).Succeeded);
        var compaction = await HarnessProcess.RunAsync(Run(lake, maxId, "compact"), Announce);
        Assert.Equal(0, compaction.ExitCode);
        var compactionWrites = compaction.Stdout.Count(IsWrite);
        output.WriteLine($"a compaction's table commit announces {compactionWrites} write steps");
        // A killed compaction leaves its local copies of the table's files (the table's rows) in the private temp
        // folder; the next one, holding the pipeline's lock as every compaction does, removes them.
        var work = LakePaths.LocalTempFolder(PrivateTempRoot.ForCurrentUser(), "compact", BucketUri.Parse(lake.Bucket).Canonical, Pipeline);
        var leftovers = 0;
        for (var k = 1; k <= compactionWrites; k++)
        {
            maxId += RowsPerRun;
            Assert.True((await CleanRunAsync(lake, maxId)).Succeeded); // one more small file to compact
            violations.AddRange(await KillAsync(lake, k, "compact", maxId, maxId));
            if (Directory.Exists(work)) leftovers = Math.Max(leftovers, Directory.GetDirectories(work).Length);
        }
        foreach (var v in violations) output.WriteLine("violation: " + v);
        Assert.Empty(violations);

        // Each killed compaction's folder was there until the next compaction started (at most one at a time).
        Assert.Equal(1, leftovers);
        Assert.Equal(0, (await HarnessProcess.RunAsync(Run(lake, maxId, "compact"))).ExitCode);
        Assert.Empty(Directory.GetFileSystemEntries(work));
        // A Delta checkpoint (every 10th version) adds writes to some commits only: the calibrated count may be off by those.
        Assert.True(_killed >= runWrites + compactionWrites - 4, $"only {_killed} of {runWrites + compactionWrites} runs and compactions were killed at their step");
    }

    private async Task<List<string>> KillAsync(TempLake lake, int k, string mode, int before, int after)
    {
        var violations = new List<string>();
        var seen = 0;
        var outcome = await HarnessProcess.RunAsync(Run(lake, after, mode), Announce, l => IsWrite(l) && ++seen == k);
        var step = outcome.Stdout.LastOrDefault(IsWrite) ?? "(none)";
        if (outcome.Killed) _killed++;
        output.WriteLine($"{mode} killed at write {k}: {(outcome.Killed ? "killed" : "exit " + outcome.ExitCode)} after '{step}'");
        var expectedBefore = Enumerable.Range(1, before).Select(i => (long)i).ToList();
        var expectedAfter = Enumerable.Range(1, after).Select(i => (long)i).ToList();
        foreach (var (reader, ids) in new[] { ("icebird", IcebergIds(lake)), ("Delta log", DeltaIds(lake)) })
            if (!ids.SequenceEqual(expectedBefore) && !ids.SequenceEqual(expectedAfter))
                violations.Add($"{mode} killed at '{step}': {reader} reads {ids.Count} rows ({ids.Distinct().Count()} distinct, max {(ids.Count > 0 ? ids.Max() : 0)}), " +
                    $"neither the {before} rows before nor the {after} after");

        var repair = await CleanRunAsync(lake, after);
        if (!repair.Succeeded) violations.Add($"{mode} killed at '{step}': the next run failed: {repair.Log.Error}");
        foreach (var (reader, ids) in new[] { ("icebird", IcebergIds(lake)), ("Delta log", DeltaIds(lake)) })
            if (!ids.SequenceEqual(expectedAfter))
                violations.Add($"{mode} killed at '{step}': after the next run {reader} reads {ids.Count} rows ({ids.Distinct().Count()} distinct), not {after}");
        return violations;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_compaction_killed_holding_the_table_claim_does_not_hold_up_another_pipelines_commit_once_its_lock_is_stale(bool leaseExpired)
    {
        using var lake = new TempLake();
        var claim = await KillCompactionHoldingTheTableClaimAsync(lake);
        Assert.True(File.Exists(Path.Combine(lake.Root, claim)));
        // As it is left, the lock names the compaction and its process on this host, now gone. A holder on another host
        // is judged by its lease only: one that ran out says it died as surely.
        var lockFile = Path.Combine(lake.Root, LakePaths.LockKey(Pipeline));
        var left = LakeJson.Deserialize<RunLock.LockInfo>(File.ReadAllBytes(lockFile), "lock");
        if (leaseExpired)
            File.WriteAllBytes(lockFile, LakeJson.Serialize(left with { Host = "another-host", ExpiresAt = DateTimeOffset.UtcNow.AddSeconds(-1) }));

        // Another pipeline writing the table fails at once (the old code waited for the claim 2 minutes, 8 times): the
        // compaction's interrupted commit must be completed or rolled back, by its own pipeline, before the table moves on.
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var refused = await CleanRunAsync(lake, 5, "other-items", bound.Token);
        Assert.False(refused.Succeeded);
        var error = refused.Log.Error ?? "";
        Assert.True(error.Contains("_table-commit.claim is held by another commit of the table (run ", StringComparison.Ordinal) &&
            error.Contains($" of pipeline '{Pipeline}', which no longer runs: its pipeline's lock {lake.Bucket}/{LakePaths.LockKey(Pipeline)} is stale (" +
                (leaseExpired ? "its lease expired at " : $"its process {left.Pid} on this host is gone)"), StringComparison.Ordinal), error);

        var repaired = await CleanRunAsync(lake, 2 * RowsPerRun);
        Assert.True(repaired.Succeeded, repaired.Log.Error);
        Assert.Contains(repaired.Log.Notices, n => n.Contains("the interrupted commit of run c", StringComparison.Ordinal));
        var appended = await CleanRunAsync(lake, 5, "other-items");
        Assert.True(appended.Succeeded, appended.Log.Error);
        var expected = Enumerable.Range(1, 2 * RowsPerRun).Concat(Enumerable.Range(1, 5)).Select(i => (long)i).Order().ToList();
        Assert.Equal(expected, IcebergIds(lake));
        Assert.Equal(expected, DeltaIds(lake));
        Assert.False(File.Exists(Path.Combine(lake.Root, claim)));
    }

    /// <summary>
    /// A claim is not flushed to disk on <c>file://</c>, so a power loss can take it while the journal before it stays:
    /// another pipeline's commit of the table then finds no claim, but the dead run's journal claims the table, and it is
    /// refused as the claim would have refused it, until the dead run's pipeline completes or rolls back that commit.
    /// </summary>
    [Fact]
    public async Task A_claim_a_power_loss_took_from_a_dead_runs_commit_still_holds_up_another_pipelines_commit_through_its_journal()
    {
        using var lake = new TempLake();
        var claim = await KillCompactionHoldingTheTableClaimAsync(lake);
        File.Delete(Path.Combine(lake.Root, claim)); // the power loss: the claim's file never reached the disk
        Assert.True(File.Exists(Path.Combine(lake.Root, LakePaths.JournalKey(Pipeline))));

        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var refused = await CleanRunAsync(lake, 5, "other-items", bound.Token);
        Assert.False(refused.Succeeded);
        var error = refused.Log.Error ?? "";
        Assert.True(error.Contains($"{lake.Bucket}/{LakePaths.JournalKey(Pipeline)}, the journal of run c", StringComparison.Ordinal) &&
            error.Contains($"of pipeline '{Pipeline}', which no longer runs (its pipeline's lock", StringComparison.Ordinal) &&
            error.Contains($"claims {lake.Bucket}/{claim} too", StringComparison.Ordinal), error);
        Assert.False(File.Exists(Path.Combine(lake.Root, claim)), "the refused commit released the claim it took");

        var repaired = await CleanRunAsync(lake, 2 * RowsPerRun);
        Assert.True(repaired.Succeeded, repaired.Log.Error);
        var appended = await CleanRunAsync(lake, 5, "other-items");
        Assert.True(appended.Succeeded, appended.Log.Error);
        var expected = Enumerable.Range(1, 2 * RowsPerRun).Concat(Enumerable.Range(1, 5)).Select(i => (long)i).Order().ToList();
        Assert.Equal(expected, IcebergIds(lake));
        Assert.Equal(expected, DeltaIds(lake));
    }

    /// <summary>Two clean runs, then a compaction in a child process SIGKILLed once it wrote the table's commit claim; returns the claim's key.</summary>
    private static async Task<string> KillCompactionHoldingTheTableClaimAsync(TempLake lake)
    {
        Assert.True((await CleanRunAsync(lake, RowsPerRun)).Succeeded);
        Assert.True((await CleanRunAsync(lake, 2 * RowsPerRun)).Succeeded);
        var claim = LakePaths.TableCommitClaimKey("raw/test/items/");
        var killed = await HarnessProcess.RunAsync(Run(lake, 2 * RowsPerRun, "compact"),
            new Dictionary<string, string> { ["DSP_HARNESS_ANNOUNCE"] = "1", ["DSP_HARNESS_PAUSE_MS"] = "500" }, l => l == "done put " + claim);
        Assert.True(killed.Killed, string.Join(" | ", killed.Stdout.TakeLast(5)));
        return claim;
    }

    /// <summary>A run in this process (same store shape as the harness, so it finds a killed run's spool folder).</summary>
    private static Task<RunResult> CleanRunAsync(TempLake lake, int maxId, string name = Pipeline, CancellationToken cancellationToken = default)
    {
        var stores = new ObjectStoreFactory();
        stores.Register("file", (uri, _) => new AnnouncingStore(new LocalObjectStore(uri), TimeSpan.Zero, announce: false));
        var runner = new PipelineRunner(stores) { Limits = new WriteLimits { BatchRows = 2000, MaxFileRows = 5000 } };
        return runner.RunAsync(new PipelineDefinition
        {
            Name = name,
            Source = new SourceDefinition
            {
                Tap = "python3 " + TempLake.Asset("scripted_tap.py"),
                InlineConfig = new JsonObject { ["max_id"] = maxId, ["state_every"] = 500, ["payload"] = 20 },
                Name = "test",
            },
            Destination = new DestinationDefinition { Bucket = lake.Bucket, TableFormat = TableFormats.Iceberg | TableFormats.Delta },
            Incremental = new IncrementalSettings { Enabled = true },
        }, new RunOptions(), cancellationToken);
    }

    private static string Table(TempLake lake) => Path.Combine(lake.Root, "raw", "test", "items");

    private static List<long> IcebergIds(TempLake lake)
    {
        if (!File.Exists(Path.Combine(Table(lake), "metadata", "version-hint.text"))) return [];
        return TableReaders.Icebird($"file://{Table(lake)}")["rows"]!.AsArray().Select(r => long.Parse(r!["id"]!.ToString())).Order().ToList();
    }

    /// <summary>The Delta log replayed (adds minus removes, every version from 0) and the live files' ids read by DuckDB.</summary>
    private static List<long> DeltaIds(TempLake lake)
    {
        var log = Path.Combine(Table(lake), "_delta_log");
        if (!Directory.Exists(log)) return [];
        var live = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in Directory.GetFiles(log, "*.json").Order(StringComparer.Ordinal))
            foreach (var line in File.ReadAllLines(file).Where(l => l.Length > 0))
            {
                var action = JsonNode.Parse(line)!;
                if (action["add"] is { } add) live.Add(Path.Combine(Table(lake), Uri.UnescapeDataString(add["path"]!.GetValue<string>())));
                if (action["remove"] is { } remove) live.Remove(Path.Combine(Table(lake), Uri.UnescapeDataString(remove["path"]!.GetValue<string>())));
            }
        if (live.Count == 0) return [];
        return lake.Query($"select id from read_parquet([{string.Join(',', live.Select(p => $"'{p}'"))}]) order by id")
            .Select(r => long.Parse(r[0]!, System.Globalization.CultureInfo.InvariantCulture)).ToList();
    }
}
