using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Failures;
using DataSpoc.Pipe.Tests.Support;
using Xunit.Abstractions;

namespace DataSpoc.Pipe.Tests.Merge;

/// <summary>
/// A merge run SIGKILLed inside its commit (landing a rewritten file, between files, deleting a superseded file, writing
/// the journal or the manifest): the commit's recovery leaves exactly the previous table or exactly the merged one,
/// never a mix, with a manifest row count to match; the next run then brings the lake level with the source.
/// </summary>
public sealed class MergeKillTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_merge_killed_in_its_commit_recovers_to_the_previous_or_the_merged_table_and_the_next_run_catches_up()
    {
        var seed = FuzzSeed.FromEnvironment();
        output.WriteLine($"seed {seed} (replay: DATASPOC_FUZZ_SEED={seed})");
        var random = new Random(seed);
        using var sequence = new MergeSequenceTests(output);
        var lake = sequence.Lake;
        var pipeline = sequence.Pipeline(seed, changes: 60);
        for (var warmUp = 0; warmUp < 3; warmUp++)
            Assert.True((await TempLake.RunAsync(pipeline)).Succeeded);

        string[] points = ["at putfile ", "done putfile ", "at delete ", "done delete ", "at put .dataspoc/manifest.json", "at put .dataspoc/journal/"];
        var outcomes = new Dictionary<string, int>();
        for (var i = 1; i <= 12; i++)
        {
            var previous = sequence.LakeRows();
            Assert.Equal(sequence.ExpectedRows().Count, previous.Count);
            var point = points[random.Next(points.Length)];
            var nth = random.Next(1, 3);
            var seen = 0;
            var run = new JsonObject
            {
                ["name"] = pipeline.Name,
                ["bucket"] = lake.Bucket,
                ["tap"] = pipeline.Source.Tap,
                ["source_name"] = "t",
                ["pipeline_file"] = lake.PipelineFile(pipeline.Name),
                ["config"] = pipeline.Source.InlineConfig!.DeepClone(),
                ["incremental"] = true,
                ["batch_rows"] = 20,
                ["max_file_rows"] = 25,
                ["partition_by"] = PartitionBySettings.None,
                ["write_mode"] = "merge",
            };
            var outcome = await HarnessProcess.RunAsync(run, new Dictionary<string, string> { ["DSP_HARNESS_ANNOUNCE"] = "1", ["DSP_HARNESS_PAUSE_MS"] = "30" },
                line => line.StartsWith(point, StringComparison.Ordinal) && ++seen == nth, killDelay: TimeSpan.FromMilliseconds(random.Next(0, 40)));
            var merged = sequence.ExpectedRows();

            await using var store = new LocalObjectStore(BucketUri.Parse(lake.Bucket));
            var recovered = (await new LakeCommitter(store, TimeProvider.System).RecoverAsync(pipeline.Name, CancellationToken.None))?.Notice;
            var rows = sequence.LakeRows();
            var which = Same(rows, previous) ? "previous" : Same(rows, merged) ? "merged" : "a mix";
            output.WriteLine($"kill {i}: {point.Trim()} #{nth} -> {(outcome.Killed ? "killed" : "exit " + outcome.ExitCode)}; recovery: {recovered ?? "nothing to do"}; table: {which}");
            Assert.True(which != "a mix", $"seed {seed} kill {i} at '{point.Trim()}' #{nth}: after recovery the table is neither the previous nor the merged one");
            Assert.Equal(rows.Count, lake.Manifest().Tables["t/items"].RowCount);
            outcomes[which] = outcomes.GetValueOrDefault(which) + 1;

            var next = await TempLake.RunAsync(pipeline);
            Assert.True(next.Succeeded, $"seed {seed} kill {i}: the next run failed: {next.Log.Error}");
            Assert.Equal(sequence.ExpectedRows(), sequence.LakeRows());
            Assert.Equal(sequence.LakeRows().Count, lake.Manifest().Tables["t/items"].RowCount);
        }
        output.WriteLine(string.Join(", ", outcomes.Select(o => $"{o.Value} {o.Key}")));
    }

    private static bool Same(List<List<string?>> a, List<List<string?>> b) => a.Count == b.Count && a.Zip(b).All(p => p.First.SequenceEqual(p.Second));
}
