using System.Collections.Concurrent;
using System.Diagnostics;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Failures;

/// <summary>What a run keeps of a real subprocess tap's output: its stderr tail, its progress, its discovery's limits and leftovers.</summary>
public class TapOutputTests
{
    private const string Schema = """{"type":"SCHEMA","stream":"a","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"}}}}""";

    /// <summary>A Python tap whose run (not --help, --discover) is <paramref name="body"/>, with <c>out(line)</c> writing a stdout line.</summary>
    private static PipelineDefinition Pipeline(TempLake lake, string name, string body, string discover = "", Func<PipelineDefinition, PipelineDefinition>? change = null)
    {
        var script = Path.Combine(lake.Root, name + ".py");
        File.WriteAllText(script, $$"""
            import json, os, subprocess, sys, time
            def out(line):
                sys.stdout.write(line + "\n"); sys.stdout.flush()
            if "--help" in sys.argv:
                print("usage: tap --config C [--catalog K]" + (" [--discover]" if {{(discover.Length > 0 ? "True" : "False")}} else ""))
                sys.exit(0)
            if "--discover" in sys.argv:
            {{(discover.Length > 0 ? discover : "    sys.exit(9)")}}
                sys.exit(0)
            {{body}}
            """);
        var p = new PipelineDefinition
        {
            Name = name,
            Source = new SourceDefinition { Tap = "python3 " + script, Name = "test" },
            Destination = new DestinationDefinition { Bucket = lake.Bucket },
        };
        return change is null ? p : change(p);
    }

    [Fact]
    public async Task A_progress_bar_without_a_newline_past_the_stderr_ring_leaves_its_last_state_in_the_tail()
    {
        using var lake = new TempLake();
        // ~40 KB of `\r` updates after the real error: the last 16 KB hold no newline.
        var p = Pipeline(lake, "cr", """
            sys.stderr.write("ERROR: real cause\n")
            for i in range(3000): sys.stderr.write("\rprogress %d%%" % i)
            sys.exit(4)
            """);

        var run = await TempLake.RunAsync(p).WaitAsync(TimeSpan.FromMinutes(2));

        Assert.False(run.Succeeded);
        Assert.Equal("progress 2999%", run.Log.Tap.StderrTail);
        Assert.Equal("the tap exited with code 4; its last stderr line: progress 2999%", run.Log.Error);
    }

    [Fact]
    public async Task A_last_stderr_line_over_the_ring_keeps_its_end_cut_to_4_KB()
    {
        using var lake = new TempLake();
        var p = Pipeline(lake, "longerr", """
            sys.stderr.write("first line\n" + "E" * 100000 + "END\n")
            sys.exit(5)
            """);

        var run = await TempLake.RunAsync(p).WaitAsync(TimeSpan.FromMinutes(2));

        Assert.False(run.Succeeded);
        Assert.StartsWith("...EEE", run.Log.Tap.StderrTail, StringComparison.Ordinal);
        Assert.EndsWith("EEEEND", run.Log.Tap.StderrTail, StringComparison.Ordinal);
        Assert.Equal(3 + 4096, run.Log.Tap.StderrTail.Length);
    }

    [Fact]
    public async Task A_long_progress_line_keeps_its_last_state_and_the_whole_lines_before_it()
    {
        using var lake = new TempLake();
        // 8 KB of `\r` updates, within the ring: the error line before them must not be crowded out.
        var p = Pipeline(lake, "crsmall", """
            sys.stderr.write("ERROR: real cause\n")
            for i in range(600): sys.stderr.write("\rprogress %d%%" % i)
            sys.stderr.write("\n")
            sys.exit(4)
            """);

        var run = await TempLake.RunAsync(p).WaitAsync(TimeSpan.FromMinutes(2));

        Assert.False(run.Succeeded);
        Assert.Equal("ERROR: real cause\nprogress 599%", run.Log.Tap.StderrTail);
    }

    [Fact]
    public async Task Records_a_tap_sent_before_going_quiet_are_counted_while_it_is_quiet()
    {
        using var lake = new TempLake();
        var p = Pipeline(lake, "quiet", $$$"""
            out('{{{Schema}}}')
            for i in range(5): out(json.dumps({"type": "RECORD", "stream": "a", "record": {"id": i}}))
            time.sleep(4)
            """);
        var clock = Stopwatch.StartNew();
        var seen = new ConcurrentQueue<(TimeSpan At, long Records)>();
        var progress = new SynchronousProgress(r => seen.Enqueue((clock.Elapsed, r.Streams.Sum(s => s.Records))));

        var result = await new PipelineRunner(new ObjectStoreFactory()).RunAsync(p, new RunOptions { Progress = progress }, CancellationToken.None)
            .WaitAsync(TimeSpan.FromMinutes(2));

        Assert.True(result.Succeeded, result.Log.Error);
        Assert.Equal(5, result.Log.TotalRecords);
        // The 5 records show while the tap sleeps (4 s), not only once it ends.
        var ended = clock.Elapsed;
        Assert.Contains(seen, s => s.Records == 5 && s.At < ended - TimeSpan.FromSeconds(2));
    }

    [Fact]
    public async Task A_discovery_is_bounded_by_source_timeout_and_the_error_names_it()
    {
        using var lake = new TempLake();
        var p = Pipeline(lake, "slowdisc", "out('" + Schema + "')", discover: "    time.sleep(60)",
            change: p => p with { Source = p.Source with { Streams = ["a"], Timeout = TimeSpan.FromSeconds(2) } });

        var clock = Stopwatch.StartNew();
        var run = await TempLake.RunAsync(p).WaitAsync(TimeSpan.FromMinutes(2));

        Assert.False(run.Succeeded);
        Assert.Equal($"'{p.Source.Tap} --discover' did not finish within source.timeout (2s) and was stopped", run.Log.Error);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(40), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task A_discovery_leaving_a_process_holding_its_output_gets_the_notice_naming_it()
    {
        using var lake = new TempLake();
        var catalog = """{"streams":[{"tap_stream_id":"a","stream":"a","schema":{"type":"object","properties":{"id":{"type":"integer"}}},"metadata":[{"breadcrumb":[],"metadata":{"selected":true}}]}]}""";
        var p = Pipeline(lake, "forkdisc", $$$"""
            out('{{{Schema}}}')
            out(json.dumps({"type": "RECORD", "stream": "a", "record": {"id": 1}}))
            """,
            discover: $$$"""
                out('{{{catalog}}}')
                subprocess.Popen(["sleep", "60"], start_new_session=True)
            """,
            change: p => p with { Source = p.Source with { Streams = ["a"] } });

        var run = await TempLake.RunAsync(p).WaitAsync(TimeSpan.FromMinutes(2));

        Assert.True(run.Succeeded, run.Log.Error);
        var notice = Assert.Single(run.Log.Notices, n => n.StartsWith($"'{p.Source.Tap} --discover': the tap exited, but sleep (pid ", StringComparison.Ordinal));
        Assert.Contains("still held its output open; stopped 5 s after the tap exited", notice, StringComparison.Ordinal);
    }

    /// <summary>Calls back on the reporting thread (Progress&lt;T&gt; would post to a sync context, and could reorder).</summary>
    private sealed class SynchronousProgress(Action<RunProgress> report) : IProgress<RunProgress>
    {
        public void Report(RunProgress value) => report(value);
    }
}
