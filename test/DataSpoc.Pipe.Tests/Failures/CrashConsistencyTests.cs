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
/// SIGKILLs a real run (a child process) at many points — while spooling Parquet, between data files, around the
/// journal, manifest, state and log writes — then checks the lake, lets the next run repair it and checks again.
/// </summary>
[Trait("Category", "Kill")]
public class CrashConsistencyTests(ITestOutputHelper output)
{
    // DSP_KILL_ITERATIONS overrides the count when iterating on this test locally.
    private static readonly int Iterations = int.TryParse(Environment.GetEnvironmentVariable("DSP_KILL_ITERATIONS"), out var n) ? n : 28;
    private const int RowsPerIteration = 20_000;

    private enum KillPoint { WhileExtracting, AtDataFileLanding, BetweenDataFiles, AroundJournal, AroundManifest, AroundState, AroundLog }

    [Fact]
    public async Task A_run_killed_at_any_point_leaves_no_partial_parquet_and_no_state_ahead_of_data_and_the_next_run_repairs_everything()
    {
        using var lake = new TempLake();
        const string pipeline = "kill-me";
        var random = new Random(20250120);
        var killed = 0;
        var violations = new List<string>();
        var noticesSeen = new HashSet<string>();
        for (var i = 1; i <= Iterations; i++)
        {
            var maxId = i * RowsPerIteration;
            var point = (KillPoint)(i % 7);
            var announce = point != KillPoint.WhileExtracting;
            var env = announce
                ? new Dictionary<string, string> { ["DSP_HARNESS_ANNOUNCE"] = "1", ["DSP_HARNESS_PAUSE_MS"] = "40" }
                : new Dictionary<string, string>();
            var nth = random.Next(1, 4);
            var seen = 0;
            bool Matches(string line, string prefix) => line.StartsWith(prefix, StringComparison.Ordinal) && ++seen == nth;
            Func<string, bool>? killWhen = point switch
            {
                KillPoint.AtDataFileLanding => l => Matches(l, "at putfile "),
                KillPoint.BetweenDataFiles => l => Matches(l, "done putfile "),
                KillPoint.AroundJournal => l => Matches(l, "at put .dataspoc/journal/"),
                KillPoint.AroundManifest => l => l.StartsWith("at put .dataspoc/manifest.json", StringComparison.Ordinal),
                KillPoint.AroundState => l => l.StartsWith("at put .dataspoc/state/", StringComparison.Ordinal),
                KillPoint.AroundLog => l => l.StartsWith("at put .dataspoc/logs/", StringComparison.Ordinal),
                _ => l => l == "running",
            };
            var run = Run(lake, pipeline, maxId);
            var outcome = await HarnessProcess.RunAsync(run, env, killWhen,
                killDelay: TimeSpan.FromMilliseconds(point == KillPoint.WhileExtracting ? random.Next(100, 900) : random.Next(0, 100)));
            if (outcome.Killed) killed++;
            output.WriteLine($"iteration {i}: {point} (n={nth}) -> {(outcome.Killed ? "killed" : "exit " + outcome.ExitCode)} after '{outcome.Stdout.LastOrDefault()}'");

            // The lake as the kill left it.
            var leftovers = Leftovers.Find(lake, pipeline);
            violations.AddRange(LakeChecks.AfterCrash(lake, pipeline).Select(v => $"iteration {i} after kill ({point}): {v}"));

            // The next run (not killed) repairs it and brings every source row exactly once.
            // (In this process, to save a start-up; the same store shape as the killed run, so it finds that run's spool folder.)
            var repair = await RepairAsync(lake, pipeline, maxId, wrapped: announce);
            Assert.True(repair.Succeeded, $"iteration {i}: the repair run failed: {repair.Log.Error}");
            var log = repair.Log;
            foreach (var n in log.Notices) noticesSeen.Add(n.Split(' ', 4)[..3].Aggregate((a, b) => a + " " + b));
            violations.AddRange(leftovers.UnreportedIn(log).Select(v => $"iteration {i} repair run: {v}"));
            violations.AddRange(LakeChecks.AfterCleanRun(lake, pipeline, maxId).Select(v => $"iteration {i} after repair: {v}"));
        }
        output.WriteLine($"runs killed: {killed} of {Iterations}; violations: {violations.Count}; notices seen: {string.Join("; ", noticesSeen)}");
        foreach (var v in violations) output.WriteLine("violation: " + v);
        Assert.Empty(violations);
        Assert.True(killed >= Math.Min(20, Iterations), $"only {killed} of {Iterations} runs were killed before they finished");
    }

    private static Task<RunResult> RepairAsync(TempLake lake, string pipeline, int maxId, bool wrapped)
    {
        var stores = new ObjectStoreFactory();
        if (wrapped) stores.Register("file", (uri, _) => new AnnouncingStore(new LocalObjectStore(uri), TimeSpan.Zero, announce: false));
        var runner = new PipelineRunner(stores) { Limits = new WriteLimits { BatchRows = 2000, MaxFileRows = 5000 } };
        var definition = new PipelineDefinition
        {
            Name = pipeline,
            Source = new SourceDefinition
            {
                Tap = "python3 " + TempLake.Asset("scripted_tap.py"),
                InlineConfig = new JsonObject { ["max_id"] = maxId, ["state_every"] = 5000, ["payload"] = 40 },
                Name = "test",
            },
            Destination = new DestinationDefinition { Bucket = lake.Bucket },
            Incremental = new IncrementalSettings { Enabled = true },
        };
        return runner.RunAsync(definition, new RunOptions(), CancellationToken.None);
    }

    internal static JsonObject Run(TempLake lake, string pipeline, int maxId) => new()
    {
        ["name"] = pipeline,
        ["bucket"] = lake.Bucket,
        ["tap"] = "python3 " + TempLake.Asset("scripted_tap.py"),
        ["config"] = new JsonObject { ["max_id"] = maxId, ["state_every"] = 5000, ["payload"] = 40 },
        ["pipeline_file"] = lake.PipelineFile(pipeline),
        ["incremental"] = true,
        ["batch_rows"] = 2000,
        ["max_file_rows"] = 5000,
    };

    /// <summary>What a killed run left behind, so the repair run's notices can be checked against it.</summary>
    private sealed record Leftovers(bool Lock, string? JournalPhase, bool SpoolOrPrivateDirs, List<string> TempFiles)
    {
        public static Leftovers Find(TempLake lake, string pipeline)
        {
            var keys = lake.Keys();
            string? phase = null;
            var journal = Path.Combine(lake.Root, LakeCommitter.JournalKey(pipeline));
            if (File.Exists(journal)) phase = (string?)JsonNode.Parse(File.ReadAllText(journal))?["phase"];
            var dirs = new[]
            {
                Path.Combine(lake.Root, ".dataspoc", "tmp", pipeline),
                PipelineRunner.LocalTempFolder("spool", BucketUri.Parse(lake.Bucket), pipeline),
                PipelineRunner.LocalTempFolder("private", BucketUri.Parse(lake.Bucket), pipeline),
            };
            return new Leftovers(
                File.Exists(Path.Combine(lake.Root, LakePaths.LockKey(pipeline))),
                phase,
                dirs.Any(d => Directory.Exists(d) && Directory.EnumerateFileSystemEntries(d).Any()),
                keys.Where(k => LakePaths.IsTempName(k) && !LakePaths.IsTempOf(k, LakePaths.ManifestKey)).ToList());
        }

        public IEnumerable<string> UnreportedIn(RunLog log)
        {
            bool Said(string words) => log.Notices.Any(n => n.Contains(words, StringComparison.Ordinal));
            if (Lock && !Said("took over a stale lock")) yield return "a stale lock was taken over without a notice";
            if (JournalPhase is not null && !Said("interrupted commit")) yield return $"a '{JournalPhase}' journal was repaired without a notice";
            if (SpoolOrPrivateDirs && !Said("removed leftover temp files")) yield return "leftover spool/private folders were removed without a notice";
            if (TempFiles.Count > 0 && !Said("leftover temp file")) yield return $"temp files {string.Join(", ", TempFiles)} were not reported";
        }
    }
}
