using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Sources;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Failures;

/// <summary>
/// A tap as a tree of processes: a wrapper script's worker, a background process holding its output, a daemon of its
/// own session, a wrapper signalling its process group. None may outlive the run, hold the run past its timeouts, or
/// signal the pipe.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class TapProcessGroupTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tapgroup-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A shell tap: sends one SCHEMA and RECORD, then runs <paramref name="then"/>.</summary>
    private string ShellTap(string name, string then)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, "#!/bin/sh\n" +
            "echo '{\"type\":\"SCHEMA\",\"stream\":\"items\",\"schema\":{\"properties\":{\"id\":{\"type\":\"integer\"}}},\"key_properties\":[\"id\"]}'\n" +
            "echo '{\"type\":\"RECORD\",\"stream\":\"items\",\"record\":{\"id\":1}}'\n" + then + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    private static bool Runs(int pid) =>
        File.Exists($"/proc/{pid}/stat") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal);

    private static int PidIn(string file)
    {
        for (var i = 0; i < 100 && !(File.Exists(file) && File.ReadAllText(file).Trim().Length > 0); i++) Thread.Sleep(100);
        return int.Parse(File.ReadAllText(file).Trim(), CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task A_tap_that_exits_leaving_a_process_holding_its_output_is_not_failed_by_a_short_idle_timeout()
    {
        using var lake = new TempLake();
        var p = ScriptedTap.Pipeline(lake, "tap-leftover-idle", new JsonObject { ["max_id"] = 50, ["leave_background_seconds"] = 600 },
            p => p with { Source = p.Source with { IdleTimeout = TimeSpan.FromSeconds(2) } });

        var run = await TempLake.RunAsync(p).WaitAsync(TimeSpan.FromSeconds(90));

        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Equal(50, lake.State("tap-leftover-idle")!["bookmark"]!.GetValue<int>());
        Assert.Single(run.Log.Notices, n => n.StartsWith("the tap exited, but sleep (pid ", StringComparison.Ordinal));
    }

    /// <summary>
    /// source.timeout bounds the run although what the tap left holds its output: a child in the tap's process group
    /// (handed to init once its parent subshell exited), and a daemon that made a session of its own.
    /// </summary>
    [Theory]
    [InlineData("(sleep 600 & echo $! > {pid}); sleep 600")]
    [InlineData("(setsid sleep 600 & echo $! > {pid}); sleep 600")]
    public async Task A_timeout_ends_the_run_within_seconds_stopping_what_the_tap_left_holding_its_output(string leave)
    {
        using var lake = new TempLake();
        var pidFile = Path.Combine(_dir, "left.pid");
        var tap = ShellTap("tap-leaves", leave.Replace("{pid}", pidFile, StringComparison.Ordinal));
        var p = ScriptedTap.Pipeline(lake, "tap-leaves", [], p => p with { Source = p.Source with { Tap = tap, Timeout = TimeSpan.FromSeconds(3) } });

        var clock = Stopwatch.StartNew();
        var run = await TempLake.RunAsync(p).WaitAsync(TimeSpan.FromSeconds(90));

        Assert.False(run.Succeeded);
        Assert.StartsWith("the tap ran longer than source.timeout (3s) and was stopped", run.Log.Error, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(45), $"took {clock.Elapsed}");
        var left = PidIn(pidFile);
        for (var i = 0; i < 50 && Runs(left); i++) Thread.Sleep(100);
        Assert.False(Runs(left), $"the process the tap left (pid {left}) still runs");
    }

    /// <summary>A wrapper whose exit trap does <c>kill 0</c> (or any signal to its process group) signals only its own processes.</summary>
    [Fact]
    public async Task A_signal_a_tap_sends_its_process_group_does_not_reach_the_pipe()
    {
        var received = 0;
        using var handler = PosixSignalRegistration.Create(PosixSignal.SIGWINCH, c => { Interlocked.Increment(ref received); c.Cancel = true; });
        using var lake = new TempLake();
        var tap = ShellTap("tap-kill0", "kill -WINCH 0; sleep 1");
        var p = ScriptedTap.Pipeline(lake, "tap-kill0", [], p => p with { Source = p.Source with { Tap = tap } });

        var run = await TempLake.RunAsync(p).WaitAsync(TimeSpan.FromSeconds(90));

        Assert.True(run.Succeeded, run.Log.Error);
        await Task.Delay(500);
        Assert.Equal(0, Volatile.Read(ref received));
    }

    /// <summary>
    /// A run killed with its tap (the kernel kills the tap process with it) leaves a wrapper script's worker running,
    /// orphaned: the next run's cleanup stops it and names it.
    /// </summary>
    [Fact]
    public async Task The_worker_of_a_killed_runs_wrapper_tap_is_stopped_by_the_cleanup_and_named()
    {
        var runFolder = Directory.CreateDirectory(Path.Combine(_dir, "run1")).FullName;
        var pidFile = Path.Combine(_dir, "worker.pid");
        var wrapper = ShellTap("wrapper", $"sleep 600 & echo $! > {pidFile}; wait");
        var source = new TapProcess([wrapper], new Redactor([]));
        var run = await source.StartAsync(new SourceInvocation { RunFolder = runFolder }, CancellationToken.None);
        var worker = PidIn(pidFile);
        try
        {
            var tapPid = int.Parse(File.ReadAllLines(Path.Combine(runFolder, TapRecord.FileName))[0], CultureInfo.InvariantCulture);
            // What pdeathsig does when the run is killed: the tap process dies, its worker does not.
            using (var tapProcess = Process.GetProcessById(tapPid)) tapProcess.Kill(entireProcessTree: false);
            for (var i = 0; i < 50 && Runs(tapPid); i++) Thread.Sleep(100);
            Assert.True(Runs(worker));

            var notice = TapRecord.StopLeftover(runFolder);

            Assert.Equal($"stopped the tap of a killed run (pid {tapPid}, run run1): sleep (pid {worker}) still running since that run ended", notice);
            for (var i = 0; i < 50 && Runs(worker); i++) Thread.Sleep(100);
            Assert.False(Runs(worker), $"the wrapper's worker (pid {worker}) still runs");
        }
        finally
        {
            if (Runs(worker)) Process.GetProcessById(worker).Kill();
            await run.DisposeAsync();
        }
    }

    /// <summary>A killed run's tap that is already dead (a zombie not yet reaped) is not reported as stopped.</summary>
    [Fact]
    public void A_dead_tap_of_a_killed_run_is_not_reported_as_stopped()
    {
        var runFolder = Directory.CreateDirectory(Path.Combine(_dir, "run2")).FullName;
        var pidFile = Path.Combine(_dir, "zombie.pid");
        // The exec'd sleep never reaps its child: once that child exits, it stays a zombie.
        using var parent = Process.Start(new ProcessStartInfo("sh", ["-c", $"sh -c 'echo $$ > {pidFile}' & exec sleep 600"]) { UseShellExecute = false })!;
        try
        {
            var zombie = PidIn(pidFile);
            for (var i = 0; i < 50 && Runs(zombie); i++) Thread.Sleep(100);
            var start = DataSpoc.Pipe.Lake.HostProcess.StartTime(zombie);
            Assert.NotNull(start); // still in /proc, as a zombie
            File.WriteAllText(Path.Combine(runFolder, TapRecord.FileName), $"{zombie}\n{start}\n{DataSpoc.Pipe.Lake.HostProcess.Space}\n");

            Assert.Null(TapRecord.StopLeftover(runFolder));
        }
        finally
        {
            parent.Kill();
        }
    }
}
