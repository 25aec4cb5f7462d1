using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Cli.Tests.Support;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

/// <summary>
/// Real signals to a running <c>dataspoc-pipe run</c> whose tap never ends: SIGINT (Ctrl-C) and SIGTERM (what
/// Kubernetes sends) stop it within seconds, with the tap stopped, nothing committed, a <c>cancelled</c> run log,
/// the lock released, the spool removed and exit code 130 / 143.
/// </summary>
public sealed class SignalTests : IDisposable
{
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    private string PidFile => Path.Combine(_home.Root, "tap.pid");

    private void WriteSlowPipeline(string name, double interval = 0.05, bool outliveRun = false, int? records = null) => _home.WritePipeline(name, $"""
        source:
          tap: python3 {CliProcess.Asset("slow_tap.py")}
          config:
            pid_file: {PidFile}
            interval: {interval.ToString(System.Globalization.CultureInfo.InvariantCulture)}
            outlive_run: {(outliveRun ? "true" : "false")}
            records: {records?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null"}
        destination:
          bucket: {_home.Bucket}
        incremental:
          enabled: true
        """);

    [Theory]
    [InlineData("INT", 130)]
    [InlineData("TERM", 143)]
    [InlineData("HUP", 129)] // the terminal or ssh session closed: it used to kill the process, orphaning the tap, with no run log
    public async Task A_signal_stops_the_run_gracefully_with_a_cancelled_log_no_lock_no_spool_and_nothing_committed(string signal, int exitCode)
    {
        WriteSlowPipeline("slow");
        using var cli = Start("run", "slow", "--output", "json");
        var tapPid = await WaitForTapAsync(cli.Process);
        await Task.Delay(1000); // records are flowing: the spool holds some by now

        var sent = Stopwatch.StartNew();
        Kill(signal, cli.Process.Id);
        Assert.True(cli.Process.WaitForExit(TimeSpan.FromSeconds(10)), "the run did not stop within 10 s of SIG" + signal);
        var stopped = sent.Elapsed;
        var (stdout, stderr) = cli.Output();

        Assert.True(cli.Process.ExitCode == exitCode, $"exit {cli.Process.ExitCode}\n{stdout}\n{stderr}");
        // A few seconds: the tap is killed at once; the rest is writing the run log and releasing the lock (slower
        // only on a machine loaded by parallel builds).
        Assert.True(stopped < TimeSpan.FromSeconds(10), $"took {stopped.TotalSeconds:0.0} s");
        Console.WriteLine($"SIG{signal}: stopped {stopped.TotalSeconds:0.00} s after the signal");
        var log = JsonNode.Parse(stdout)!;
        Assert.Equal("cancelled", log.Str("status"));
        Assert.Contains("the run was stopped during extract", log.Str("error"));
        Assert.False(log.Bool("state_committed"));
        Assert.Contains($"SIG{signal} received: stopping the run", stderr);
        Assert.Contains("error: slow was cancelled", stderr);

        await WaitGoneAsync(tapPid);
        var lake = _home.Lake;
        Assert.False(File.Exists(Path.Combine(lake, ".dataspoc", "locks", "slow.lock")), "the lock was not released");
        Assert.False(File.Exists(Path.Combine(lake, ".dataspoc", "state", "slow", "state.json")), "state was saved");
        Assert.False(File.Exists(Path.Combine(lake, ".dataspoc", "manifest.json")), "a manifest was written");
        Assert.Empty(Directory.EnumerateFiles(lake, "*.parquet*", SearchOption.AllDirectories));
        var spool = Path.Combine(lake, ".dataspoc", "tmp", "slow");
        Assert.True(!Directory.Exists(spool) || !Directory.EnumerateFileSystemEntries(spool).Any(), "the spool was left behind");
        var saved = JsonNode.Parse(File.ReadAllText(Assert.Single(Directory.GetFiles(Path.Combine(lake, ".dataspoc", "logs", "slow")))))!;
        Assert.Equal(("cancelled", log.Str("run_id")), (saved.Str("status"), saved.Str("run_id")));
        // The run table says what the run log says: `logs --list` used to call every run that did not succeed "failure".
        var table = CliProcess.Run(_home, "logs", "slow", "--list");
        var row = Assert.Single(table.Stdout.Split('\n'), l => l.Contains(log.Str("run_id")[..8]));
        Assert.Contains("cancelled", row);
        Assert.DoesNotContain("failure", row);

        // The next run is not blocked by anything the stopped one left.
        File.Delete(PidFile);
        using var next = Start("run", "slow", "--output", "json");
        await WaitForTapAsync(next.Process);
        Kill(signal, next.Process.Id);
        Assert.True(next.Process.WaitForExit(TimeSpan.FromSeconds(10)));
        Assert.Equal(exitCode, next.Process.ExitCode);
        Assert.DoesNotContain("lock", JsonNode.Parse(next.Output().Stdout)!["notices"]!.ToJsonString());
    }

    [Fact]
    public async Task A_signal_during_run_all_reports_every_pipeline_with_the_signals_code_even_those_waiting_for_their_turn()
    {
        // --parallel 1: "first" runs (its tap never ends), "second" waits for the slot when SIGTERM comes.
        WriteSlowPipeline("first");
        WriteSlowPipeline("second");
        using var cli = Start("run", "--all", "--parallel", "1", "--output", "json");
        await WaitForTapAsync(cli.Process);

        Kill("TERM", cli.Process.Id);
        Assert.True(cli.Process.WaitForExit(TimeSpan.FromSeconds(15)), "the run did not stop within 15 s of SIGTERM");
        var (stdout, stderr) = cli.Output();

        Assert.True(cli.Process.ExitCode == 143, $"exit {cli.Process.ExitCode}\n{stdout}\n{stderr}");
        var logs = Assert.IsType<JsonArray>(JsonNode.Parse(stdout));
        Assert.Equal(["first", "second"], logs.Select(l => l!.Str("pipeline")));
        Assert.Equal("cancelled", logs[0]!.Str("status"));
        Assert.Equal("cancelled", logs[1]!.Str("status"));
        Assert.Equal("the run was cancelled before it started", logs[1]!.Str("error"));
        Assert.Contains("error: second was cancelled: the run was cancelled before it started", stderr);
        Assert.Single(Directory.GetFiles(Path.Combine(_home.Lake, ".dataspoc", "logs", "first")));
        Assert.False(Directory.Exists(Path.Combine(_home.Lake, ".dataspoc", "logs", "second")), "the pipeline that never started has a run log");
    }

    [Fact]
    public async Task A_second_signal_exits_at_once_while_the_graceful_stop_is_still_in_progress()
    {
        // A lineage collector that takes START but never answers the run's closing event: the graceful stop then waits
        // for the configured 60 s timeout before it can end, so only the second signal can explain an exit within seconds.
        using var collector = new StallingCollector();
        WriteSlowPipeline("twice");
        File.WriteAllText(Path.Combine(_home.Home, "config.yaml"),
            $"openlineage:\n  transport:\n    type: http\n    url: {collector.Url}\n    timeout: 60s\n");
        using var cli = Start("run", "twice");
        await WaitForTapAsync(cli.Process);

        Kill("INT", cli.Process.Id);
        var closing = await collector.ClosingEvent.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("ABORT", JsonNode.Parse(closing)!.Str("eventType")); // OpenLineage's word for a run stopped from outside
        Assert.False(cli.Process.HasExited, "the graceful stop ended although the collector never answered");

        var sent = Stopwatch.StartNew();
        Kill("INT", cli.Process.Id);
        Assert.True(cli.Process.WaitForExit(TimeSpan.FromSeconds(15)), "the second SIGINT did not end the run");
        Assert.True(sent.Elapsed < TimeSpan.FromSeconds(15), $"took {sent.Elapsed.TotalSeconds:0.0} s");
        Console.WriteLine($"second SIGINT: exited {sent.Elapsed.TotalSeconds:0.00} s after it (the graceful stop had up to 60 s left)");
        var (_, stderr) = cli.Output();
        Assert.Equal(130, cli.Process.ExitCode);
        Assert.Contains("SIGINT received: stopping the run", stderr);
        Assert.Contains("error: SIGINT again: exiting at once", stderr);
        var lake = _home.Lake;
        Assert.False(File.Exists(Path.Combine(lake, ".dataspoc", "manifest.json")), "a manifest was written");
        Assert.False(File.Exists(Path.Combine(lake, ".dataspoc", "state", "twice", "state.json")), "state was saved");
        Assert.Empty(Directory.EnumerateFiles(lake, "*.parquet*", SearchOption.AllDirectories));

        // What the abandoned run left (its lock, held by a process that no longer exists) does not block the next one.
        File.Delete(PidFile);
        File.Delete(Path.Combine(_home.Home, "config.yaml"));
        using var next = Start("run", "twice", "--output", "json");
        await WaitForTapAsync(next.Process);
        Kill("TERM", next.Process.Id);
        Assert.True(next.Process.WaitForExit(TimeSpan.FromSeconds(15)));
        Assert.Equal(143, next.Process.ExitCode);
        Assert.Equal("cancelled", JsonNode.Parse(next.Output().Stdout)!.Str("status"));
    }

    /// <summary>
    /// A tap that writes nothing for minutes (one waiting on a long source query) never meets the closed pipe that would
    /// end it: killed with its run (kill -9) or left by the second signal's exit at once, it went on running beside the
    /// next run (a log-based postgres tap holding its replication slot). It dies with the run now.
    /// </summary>
    [Theory]
    [InlineData("KILL")]
    [InlineData("INT twice")]
    public async Task A_quiet_tap_does_not_outlive_its_run_killed_with_sigkill_or_a_second_signal(string how)
    {
        WriteSlowPipeline("quiet", interval: 120);
        using var cli = Start("run", "quiet", "--output", "json");
        var tapPid = await WaitForTapAsync(cli.Process);
        await Task.Delay(500);

        if (how == "KILL") Kill("KILL", cli.Process.Id);
        // Both signals from one shell, back to back: the first alone stops a run within ~40 ms, and a second sent after
        // that would find no process (the run must still be there for the second signal's exit at once).
        else Kill("INT", cli.Process.Id, times: 2);
        Assert.True(cli.Process.WaitForExit(TimeSpan.FromSeconds(15)), "the run did not end");

        await WaitGoneAsync(tapPid);
        // The next run goes ahead (taking over the lock a killed run left) and is not blocked by anything.
        File.Delete(PidFile);
        WriteSlowPipeline("quiet");
        using var next = Start("run", "quiet", "--output", "json");
        await WaitForTapAsync(next.Process);
        Kill("TERM", next.Process.Id);
        Assert.True(next.Process.WaitForExit(TimeSpan.FromSeconds(15)));
        Assert.Equal(143, next.Process.ExitCode);
        Assert.Equal("cancelled", JsonNode.Parse(next.Output().Stdout)!.Str("status"));
    }

    /// <summary>
    /// Where a tap cannot die with its run (no setpriv: the tap here clears the signal itself), a run killed with
    /// kill -9 leaves it running; the next run of any pipeline stops it, since every run looks for killed runs of every
    /// pipeline. The notice goes to the log of the killed run's own pipeline, and only there, also when another
    /// pipeline's run stopped the tap (side by side under --parallel, or before it).
    /// </summary>
    [Theory]
    [InlineData("run --all --parallel 3")]
    [InlineData("run big, then run flaky")]
    public async Task A_tap_left_by_a_killed_run_is_stopped_and_reported_in_its_own_pipelines_log(string next)
    {
        _home.WriteShopPipeline("big");
        WriteSlowPipeline("flaky", interval: 120, outliveRun: true);
        var tapPid = 0;
        try
        {
            using var killed = Start("run", "--all", "--parallel", "3", "--output", "json");
            tapPid = await WaitForTapAsync(killed.Process);
            await Task.Delay(500);
            Kill("KILL", killed.Process.Id);
            Assert.True(killed.Process.WaitForExit(TimeSpan.FromSeconds(15)), "the run did not end");
            await Task.Delay(500);
            Assert.True(IsRunning(tapPid), "the tap did not outlive its killed run: the test proves nothing");
            File.Delete(PidFile);
            WriteSlowPipeline("flaky", records: 2);

            var notices = new Dictionary<string, List<string>>();
            void Ran(params string[] args)
            {
                var result = CliProcess.Run(_home, [.. args, "--output", "json"]);
                Assert.True(result.ExitCode == 0, result.Stderr);
                var root = Json.Parse(result);
                foreach (var log in root is JsonArray all ? all.Select(l => l!) : [root])
                    notices[log.Str("pipeline")] = log["notices"]!.AsArray().Select(n => n!.GetValue<string>()).ToList();
            }
            if (next == "run --all --parallel 3") Ran("run", "--all", "--parallel", "3");
            else
            {
                Ran("run", "big");
                await WaitGoneAsync(tapPid); // stopped by big's run, which says nothing of it
                Assert.DoesNotContain(notices["big"], n => n.Contains("stopped the tap", StringComparison.Ordinal));
                Ran("run", "flaky");
            }

            await WaitGoneAsync(tapPid);
            Assert.Single(notices["flaky"], n => n.StartsWith($"stopped the tap of a killed run (pid {tapPid}, run ", StringComparison.Ordinal));
            Assert.DoesNotContain(notices["big"], n => n.Contains("stopped the tap", StringComparison.Ordinal));
        }
        finally
        {
            if (tapPid != 0 && IsRunning(tapPid)) Kill("KILL", tapPid);
        }
    }

    /// <summary>
    /// A run killed with kill -9 during its tap's discovery leaves the tap config it expanded for it (secrets included) in
    /// its process's scratch folder; the next start of any run removes it, and never a live run's.
    /// </summary>
    [Fact]
    public async Task A_killed_runs_discovery_config_with_its_secret_is_removed_from_scratch_by_the_next_start_and_a_live_ones_stays()
    {
        const string secret = "s3cr3t-scratch-pw";
        _home.Set("SCRATCH_PW", secret);
        var tap = DiscoveringTap("slow_discover_tap.py", discoverSeconds: 60);
        _home.WritePipeline("secret", $"""
            source:
              tap: python3 {tap}
              config:
                password: "${"{"}SCRATCH_PW{"}"}"
            destination:
              bucket: {_home.Bucket}
            """);
        _home.WriteShopPipeline("other");
        var scratch = Path.Combine(_home.PrivateTemp, "scratch");
        string[] Holding() => Directory.Exists(scratch)
            ? Directory.EnumerateFiles(scratch, "*", SearchOption.AllDirectories).Where(f => File.ReadAllText(f).Contains(secret, StringComparison.Ordinal)).ToArray()
            : [];

        using var killed = Start("run", "secret");
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (Holding().Length == 0 && waited.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(50);
        var config = Assert.Single(Holding());
        var live = CliProcess.Run(_home, "run", "other");
        Assert.True(live.ExitCode == 0, live.ToString());
        Assert.True(File.Exists(config), "a live run's discovery config was removed by another run's start");

        Kill("KILL", killed.Process.Id);
        Assert.True(killed.Process.WaitForExit(TimeSpan.FromSeconds(15)), "the run did not end");
        Assert.True(File.Exists(config), "the test proves nothing: the killed run's config is already gone");
        var next = CliProcess.Run(_home, "run", "other", "--output", "json");

        Assert.True(next.ExitCode == 0, next.ToString());
        Assert.Empty(Holding());
        Assert.DoesNotContain(Directory.EnumerateFiles(Path.GetDirectoryName(scratch)!, "*", SearchOption.AllDirectories),
            f => File.ReadAllText(f).Contains(secret, StringComparison.Ordinal));
        Assert.Contains(Json.Parse(next)["notices"]!.AsArray(), n => n!.GetValue<string>().StartsWith("removed the scratch folder of a killed process (scratch/", StringComparison.Ordinal));
    }

    /// <summary>
    /// A run removes its own scratch folder (its discovery's tap config went there) when it ends, also when stopped by a
    /// signal it handles: only a killed process's folder is left for the next start's sweep.
    /// </summary>
    [Theory]
    [InlineData(null)]
    [InlineData("TERM")]
    [InlineData("INT")]
    public async Task A_run_that_ends_leaves_no_scratch_folder_behind(string? signal)
    {
        var tap = DiscoveringTap("discover_tap.py", discoverSeconds: signal is null ? 0 : 60);
        _home.WritePipeline("discovered", $"""
            source:
              tap: python3 {tap}
              config:
                user: x
            destination:
              bucket: {_home.Bucket}
            """);
        var scratch = Path.Combine(_home.PrivateTemp, "scratch");
        string[] Folders() => Directory.Exists(scratch) ? Directory.GetDirectories(scratch) : [];

        if (signal is null)
        {
            var run = CliProcess.Run(_home, "run", "discovered");
            Assert.True(run.ExitCode == 0, run.ToString());
        }
        else
        {
            using var stopped = Start("run", "discovered");
            var waited = System.Diagnostics.Stopwatch.StartNew();
            while (Folders().Length == 0 && waited.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(50);
            Assert.NotEmpty(Folders()); // the discovery's config is in its scratch folder
            await Task.Delay(500); // past the signal handlers' registration
            Kill(signal, stopped.Process.Id);
            Assert.True(stopped.Process.WaitForExit(TimeSpan.FromSeconds(30)), "the run did not end");
            Assert.Equal(signal == "TERM" ? 143 : 130, stopped.Process.ExitCode);
        }

        Assert.Empty(Folders());
    }

    private static bool IsRunning(int pid)
    {
        var stat = Path.Combine("/proc", pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "stat");
        return File.Exists(stat) && File.ReadAllText(stat).Split(' ')[2] != "Z";
    }

    [Theory]
    [InlineData("run", "late")]
    [InlineData("run", "--all")]
    public async Task A_signal_that_comes_once_the_commit_has_begun_lets_the_run_succeed_and_exit_0(params string[] command)
    {
        // The run's closing lineage event is sent after its commit, before its log: a collector that holds it unanswered
        // keeps the run between the two, where the signal comes (any point from the journal to the log behaves alike).
        using var collector = new StallingCollector();
        _home.WriteShopPipeline("late");
        File.WriteAllText(Path.Combine(_home.Home, "config.yaml"),
            $"openlineage:\n  transport:\n    type: http\n    url: {collector.Url}\n    timeout: 3s\n");
        using var cli = Start([.. command, "--output", "json"]);

        var closing = await collector.ClosingEvent.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal("COMPLETE", JsonNode.Parse(closing)!.Str("eventType"));
        Kill("TERM", cli.Process.Id);
        Assert.True(cli.Process.WaitForExit(TimeSpan.FromSeconds(30)), "the run did not end");
        var (stdout, stderr) = cli.Output();

        Assert.True(cli.Process.ExitCode == 0, $"exit {cli.Process.ExitCode}\n{stdout}\n{stderr}");
        var log = JsonNode.Parse(stdout)! is JsonArray all ? Assert.Single(all)! : JsonNode.Parse(stdout)!;
        Assert.Equal("success", log.Str("status"));
        Assert.True(log.Bool("state_committed"));
        Assert.DoesNotContain("nothing is committed;", stderr);
        Assert.Contains("SIGTERM received: stopping the run (the tap is stopped and nothing is committed, unless the commit has begun: it then finishes)", stderr);
        Assert.Contains("SIGTERM came after", stderr);
        Assert.DoesNotContain("error:", stderr);
        var saved = JsonNode.Parse(File.ReadAllText(Assert.Single(Directory.GetFiles(Path.Combine(_home.Lake, ".dataspoc", "logs", "late")))))!;
        Assert.Equal("success", saved.Str("status"));
    }

    /// <summary>A tap script that takes <paramref name="discoverSeconds"/> to answer <c>--discover</c> (one stream, <c>items</c>), then writes one record.</summary>
    private string DiscoveringTap(string fileName, int discoverSeconds)
    {
        var tap = Path.Combine(_home.Root, fileName);
        File.WriteAllText(tap, $$$$"""
            import json, sys, time
            args = sys.argv[1:]
            if "--help" in args: print("usage: tap --config CONFIG [--discover] [--catalog CATALOG]"); sys.exit(0)
            schema = {"type": "object", "properties": {"id": {"type": "integer"}}}
            if "--discover" in args:
                time.sleep({{{{discoverSeconds}}}})
                print(json.dumps({"streams": [{"tap_stream_id": "items", "stream": "items", "schema": schema, "metadata": []}]})); sys.exit(0)
            print(json.dumps({"type": "SCHEMA", "stream": "items", "schema": schema, "key_properties": ["id"]}))
            print(json.dumps({"type": "RECORD", "stream": "items", "record": {"id": 1}}))
            """);
        return tap;
    }

    /// <summary>An HTTP server on 127.0.0.1 that answers the first request (the run's START event) and holds every later one unanswered.</summary>
    private sealed class StallingCollector : IDisposable
    {
        private readonly System.Net.HttpListener _listener;
        private readonly TaskCompletionSource<string> _closing = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly List<System.Net.HttpListenerContext> _held = [];

        public StallingCollector()
        {
            (_listener, var port) = DataSpoc.Pipe.Tests.Support.LoopbackHttp.StartOnFreePort();
            Url = $"http://127.0.0.1:{port}";
            _ = Task.Run(LoopAsync);
        }

        public string Url { get; }

        /// <summary>The body of the first request after START: the run's closing event.</summary>
        public Task<string> ClosingEvent => _closing.Task;

        private async Task LoopAsync()
        {
            for (var answered = 0; _listener.IsListening; answered++)
            {
                System.Net.HttpListenerContext context;
                try { context = await _listener.GetContextAsync().ConfigureAwait(false); }
                catch (Exception e) when (e is System.Net.HttpListenerException or ObjectDisposedException) { return; }
                using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
                var body = await reader.ReadToEndAsync().ConfigureAwait(false);
                if (answered == 0)
                {
                    context.Response.StatusCode = 200;
                    context.Response.Close();
                    continue;
                }
                lock (_held) _held.Add(context);
                _closing.TrySetResult(body);
            }
        }

        public void Dispose() => _listener.Close();
    }

    private sealed class Running(Process process, Task<string> stdout, Task<string> stderr) : IDisposable
    {
        public Process Process { get; } = process;
        public (string Stdout, string Stderr) Output() => (stdout.Result, stderr.Result);

        public void Dispose()
        {
            if (!Process.HasExited) Process.Kill(entireProcessTree: true);
            Process.Dispose();
        }
    }

    private Running Start(params string[] args)
    {
        var psi = new ProcessStartInfo(CliProcess.Command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var a in CliProcess.Command.Skip(1).Concat(args)) psi.ArgumentList.Add(a);
        _home.Apply(psi.Environment);
        var process = Process.Start(psi)!;
        process.StandardInput.Close();
        return new Running(process, process.StandardOutput.ReadToEndAsync(), process.StandardError.ReadToEndAsync());
    }

    private async Task<int> WaitForTapAsync(Process cli)
    {
        for (var i = 0; i < 600; i++)
        {
            if (File.Exists(PidFile) && File.ReadAllText(PidFile) is { Length: > 0 } pid) return int.Parse(pid, System.Globalization.CultureInfo.InvariantCulture);
            Assert.False(cli.HasExited, "the run ended before its tap started");
            await Task.Delay(50);
        }
        throw new TimeoutException("the tap did not start within 30 s");
    }

    private static async Task WaitGoneAsync(int pid)
    {
        for (var i = 0; i < 100; i++)
        {
            var stat = Path.Combine("/proc", pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "stat");
            if (!File.Exists(stat) || File.ReadAllText(stat).Split(' ')[2] == "Z") return; // gone, or dead and not yet reaped
            await Task.Delay(50);
        }
        Assert.Fail($"the tap (pid {pid}) is still running");
    }

    private static void Kill(string signal, int pid, int times = 1)
    {
        // The shell's builtin kill: no dependence on a procps package being installed.
        var once = $"kill -{signal} {pid.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
        using var kill = Process.Start("sh", ["-c", string.Join(" && ", Enumerable.Repeat(once, times))]);
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }
}
