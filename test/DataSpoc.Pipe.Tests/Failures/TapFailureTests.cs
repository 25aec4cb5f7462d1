using System.Diagnostics;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Failures;

/// <summary>A tap that is missing, crashes, is killed, hangs, floods stderr or fails after a STATE: the run fails clearly and commits nothing.</summary>
public class TapFailureTests
{
    [Fact]
    public async Task A_tap_that_is_not_on_PATH_fails_the_run_naming_PATH_and_how_to_install_it()
    {
        using var lake = new TempLake();
        var p = ScriptedTap.Pipeline(lake, "tap-missing", [], p => p with { Source = p.Source with { Tap = "tap-nowhere-to-be-found" } });

        var run = await TempLake.RunAsync(p);

        Assert.False(run.Succeeded);
        Assert.Contains("tap 'tap-nowhere-to-be-found' was not found on PATH", run.Log.Error);
        Assert.Contains(Environment.GetEnvironmentVariable("PATH")!, run.Log.Error);
        Assert.Contains("pip install tap-nowhere-to-be-found", run.Log.Error);
        Assert.Contains("source.tap", run.Log.Error);
        Assert.Empty(lake.ParquetKeys());
        Assert.Null(lake.State("tap-missing"));
    }

    [Fact]
    public async Task A_tap_whose_interpreter_is_not_on_PATH_fails_the_run_naming_the_interpreter_not_a_package()
    {
        using var lake = new TempLake();
        var script = Path.Combine(lake.Root, "tap_shop.py");
        File.WriteAllText(script, "");
        var p = ScriptedTap.Pipeline(lake, "tap-interpreter", [], p => p with { Source = p.Source with { Tap = $"python3.99 {script}" } });

        var run = await TempLake.RunAsync(p);

        Assert.False(run.Succeeded);
        Assert.Contains($"the tap's interpreter 'python3.99' was not found on PATH ({Environment.GetEnvironmentVariable("PATH")}); " +
                          "install python3.99, or write its full path as the first word of source.tap", run.Log.Error);
        Assert.DoesNotContain("pip install", run.Log.Error);
        Assert.Empty(lake.ParquetKeys());
    }

    [Fact]
    public async Task A_thread_the_run_cannot_create_fails_it_naming_the_limit_rather_than_the_task_scheduler()
    {
        using var lake = new TempLake();
        var p = ScriptedTap.Pipeline(lake, "tap-threads", new JsonObject { ["max_id"] = 5 });

        // What .NET throws for a LongRunning task when the thread limit (ulimit -u) stops pthread_create.
        var run = await new global::DataSpoc.Pipe.Runs.PipelineRunner(new global::DataSpoc.Pipe.Storage.ObjectStoreFactory()).RunAsync(p,
            new global::DataSpoc.Pipe.Runs.RunOptions { Source = new FailingSource(new TaskSchedulerException(new OutOfMemoryException())) }, CancellationToken.None);

        // It said "extract failed: An exception was thrown by a TaskScheduler.", naming no limit.
        Assert.False(run.Succeeded);
        Assert.Equal("extract failed: a thread could not be started: the limit on processes and threads (ulimit -u) or on memory (ulimit -v) is reached", run.Log.Error);
    }

    private sealed class FailingSource(Exception failure) : global::DataSpoc.Pipe.Sources.ISource
    {
        public string DefaultName => "test";
        public Task<global::DataSpoc.Pipe.Sources.SourceRun> StartAsync(global::DataSpoc.Pipe.Sources.SourceInvocation invocation, CancellationToken cancellationToken) => throw failure;
    }

    [Fact]
    public async Task A_tap_exiting_non_zero_fails_the_run_with_its_code_and_last_stderr_line_and_commits_nothing()
    {
        using var lake = new TempLake();
        await BadInputCorpusTests.LandGoodRunAsync(lake, "tap-exit");
        var p = ScriptedTap.Pipeline(lake, "tap-exit", new JsonObject { ["max_id"] = 50, ["exit_code"] = 3, ["stderr_mb"] = 0.001 });

        var run = await TempLake.RunAsync(p);

        Assert.False(run.Succeeded);
        Assert.StartsWith("the tap exited with code 3; its last stderr line: stderr done", run.Log.Error);
        Assert.Equal(3, run.Log.Tap.ExitCode);
        Assert.EndsWith("stderr done", run.Log.Tap.StderrTail);
        BadInputCorpusTests.AssertGoodRunUntouched(lake, "tap-exit");
    }

    [Fact]
    public async Task A_tap_killed_by_a_signal_fails_the_run_naming_the_signal()
    {
        using var lake = new TempLake();
        await BadInputCorpusTests.LandGoodRunAsync(lake, "tap-signal");
        var p = ScriptedTap.Pipeline(lake, "tap-signal", new JsonObject { ["max_id"] = 50, ["kill_signal"] = 9 });

        var run = await TempLake.RunAsync(p);

        Assert.False(run.Succeeded);
        Assert.Contains("killed by signal 9", run.Log.Error);
        BadInputCorpusTests.AssertGoodRunUntouched(lake, "tap-signal");
    }

    [Theory]
    [InlineData(9, 137, "the tap exited with code 137 (killed by signal 9; its last line 49 was cut off)")]
    [InlineData(0, 3, "the tap exited with code 3 (its last line 49 was cut off)")]
    public async Task A_tap_that_dies_while_writing_a_line_fails_the_run_with_its_exit_status_not_a_json_error(int signal, int exitCode, string error)
    {
        using var lake = new TempLake();
        await BadInputCorpusTests.LandGoodRunAsync(lake, "tap-cut");
        var config = new JsonObject { ["max_id"] = 50, ["cut_last_line"] = true };
        if (signal > 0) config["kill_signal"] = signal;
        else config["exit_code"] = exitCode;

        var run = await TempLake.RunAsync(ScriptedTap.Pipeline(lake, "tap-cut", config));

        Assert.False(run.Succeeded);
        Assert.Equal(error, run.Log.Error);
        Assert.Equal(exitCode, run.Log.Tap.ExitCode);
        BadInputCorpusTests.AssertGoodRunUntouched(lake, "tap-cut");
    }

    [Fact]
    public async Task A_tap_that_exits_0_after_a_cut_off_line_fails_the_run_on_that_line()
    {
        using var lake = new TempLake();
        var run = await TempLake.RunAsync(ScriptedTap.Pipeline(lake, "tap-cut-ok", new JsonObject { ["max_id"] = 50, ["cut_last_line"] = true }));

        Assert.False(run.Succeeded);
        Assert.StartsWith("line 52: the last line is truncated (no newline) and is not valid JSON", run.Log.Error);
    }

    [Fact]
    public async Task A_tap_that_goes_silent_is_stopped_by_the_idle_timeout_and_the_run_fails()
    {
        using var lake = new TempLake();
        await BadInputCorpusTests.LandGoodRunAsync(lake, "tap-idle");
        var p = ScriptedTap.Pipeline(lake, "tap-idle", new JsonObject { ["max_id"] = 50, ["hang_seconds"] = 120 },
            p => p with { Source = p.Source with { IdleTimeout = TimeSpan.FromSeconds(2) } });

        var clock = Stopwatch.StartNew();
        var run = await TempLake.RunAsync(p);

        Assert.False(run.Succeeded);
        Assert.Contains("the tap wrote nothing to stdout for source.idle_timeout (2s) and was stopped (stderr does not count)", run.Log.Error);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"took {clock.Elapsed}");
        BadInputCorpusTests.AssertGoodRunUntouched(lake, "tap-idle");
    }

    [Fact]
    public async Task A_tap_that_exits_leaving_a_process_that_holds_its_output_lands_its_records_and_the_process_is_stopped()
    {
        using var lake = new TempLake();
        var p = ScriptedTap.Pipeline(lake, "tap-leftover", new JsonObject { ["max_id"] = 50, ["leave_background_seconds"] = 600 });

        var clock = Stopwatch.StartNew();
        var run = await TempLake.RunAsync(p).WaitAsync(TimeSpan.FromMinutes(2));

        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Equal([["50", "50"]], lake.Query("select count(*), count(distinct id) from read_parquet('{lake}/raw/test/items/*/*.parquet')"));
        Assert.Equal(50, lake.State("tap-leftover")!["bookmark"]!.GetValue<int>());
        var notice = Assert.Single(run.Log.Notices, n => n.StartsWith("the tap exited, but sleep (pid ", StringComparison.Ordinal));
        Assert.Contains("still held its output open; stopped 5 s after the tap exited", notice);
        var pid = int.Parse(notice.Split("(pid ")[1].Split(')')[0], System.Globalization.CultureInfo.InvariantCulture);
        Assert.False(Directory.Exists($"/proc/{pid}") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal),
            $"the leftover sleep (pid {pid}) still runs");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"took {clock.Elapsed}");
    }

    [Theory]
    [InlineData("timeout", "the tap ran longer than source.timeout (20ms) and was stopped")]
    [InlineData("idle_timeout", "the tap wrote nothing to stdout for source.idle_timeout (40ms) and was stopped")]
    public async Task A_timeout_under_a_second_is_named_as_configured_when_it_stops_the_tap(string limit, string error)
    {
        using var lake = new TempLake();
        var p = ScriptedTap.Pipeline(lake, "tap-short", new JsonObject { ["max_id"] = 5, ["hang_seconds"] = 120 },
            p => p with { Source = limit == "timeout" ? p.Source with { Timeout = TimeSpan.FromMilliseconds(20) } : p.Source with { IdleTimeout = TimeSpan.FromMilliseconds(40) } });

        var run = await TempLake.RunAsync(p).WaitAsync(TimeSpan.FromMinutes(2));

        Assert.False(run.Succeeded);
        // Not "(0s)": the run stopped the tap after a limit it was given.
        Assert.Contains(error, run.Log.Error, StringComparison.Ordinal);
        // The --help question waits no longer than the limit: if it went unanswered, its notice names that wait too.
        Assert.All(run.Log.Notices.Where(n => n.Contains("did not answer --help", StringComparison.Ordinal)),
            n => Assert.Contains($"did not answer --help within {(limit == "timeout" ? "20ms" : "40ms")} (", n, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_tap_that_keeps_talking_past_source_timeout_is_stopped_and_the_run_fails()
    {
        using var lake = new TempLake();
        await BadInputCorpusTests.LandGoodRunAsync(lake, "tap-timeout");
        var p = ScriptedTap.Pipeline(lake, "tap-timeout", new JsonObject { ["max_id"] = 50, ["trickle_seconds"] = 120 },
            p => p with { Source = p.Source with { Timeout = TimeSpan.FromSeconds(3), IdleTimeout = TimeSpan.FromSeconds(2) } });

        var clock = Stopwatch.StartNew();
        var run = await TempLake.RunAsync(p);

        Assert.False(run.Succeeded);
        Assert.Contains("ran longer than source.timeout (3s) and was stopped", run.Log.Error);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"took {clock.Elapsed}");
        BadInputCorpusTests.AssertGoodRunUntouched(lake, "tap-timeout");
    }

    [Fact]
    public async Task A_tap_writing_megabytes_to_stderr_does_not_deadlock_and_the_log_keeps_its_tail()
    {
        using var lake = new TempLake();
        var p = ScriptedTap.Pipeline(lake, "tap-chatty", new JsonObject { ["max_id"] = 20_000, ["stderr_mb"] = 8 });

        var run = await TempLake.RunAsync(p).WaitAsync(TimeSpan.FromMinutes(2));

        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Equal([["20000", "20000"]], lake.Query("select count(*), count(distinct id) from read_parquet('{lake}/raw/test/items/*/*.parquet')"));
        Assert.EndsWith("stderr done", run.Log.Tap.StderrTail);
        Assert.InRange(run.Log.Tap.StderrTail.Length, 100, 16 * 1024);
        Assert.StartsWith("stderr line ", run.Log.Tap.StderrTail);
    }

    [Fact]
    public async Task A_STATE_emitted_before_the_tap_fails_is_not_committed()
    {
        using var lake = new TempLake();
        await BadInputCorpusTests.LandGoodRunAsync(lake, "tap-state-then-fail");
        var p = ScriptedTap.Pipeline(lake, "tap-state-then-fail", new JsonObject { ["max_id"] = 50, ["state_every"] = 10, ["exit_code"] = 1 });

        var run = await TempLake.RunAsync(p);

        Assert.False(run.Succeeded);
        Assert.False(run.Log.StateCommitted);
        BadInputCorpusTests.AssertGoodRunUntouched(lake, "tap-state-then-fail");
    }
}
