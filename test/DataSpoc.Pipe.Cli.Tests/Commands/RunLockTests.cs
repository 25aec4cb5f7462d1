using System.Diagnostics;
using System.Text;
using DataSpoc.Pipe.Cli.Tests.Support;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

/// <summary>The pipeline lock across real CLI processes on one host.</summary>
public sealed class RunLockTests : IDisposable
{
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    [Fact]
    public void A_run_killed_with_sigkill_leaves_a_lock_that_the_next_run_on_this_host_takes_over_at_once()
    {
        // A tap that says nothing for a minute: the run holds its lock while it waits.
        var slowTap = Path.Combine(_home.Root, "slow_tap.py");
        File.WriteAllText(slowTap, "import time\ntime.sleep(60)\n");
        _home.WritePipeline("shop", $"source:\n  tap: python3 {slowTap}\n  name: shop\ndestination:\n  bucket: {_home.Bucket}\n");

        var psi = new ProcessStartInfo(CliProcess.Command[0]) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, StandardOutputEncoding = Encoding.UTF8 };
        foreach (var a in CliProcess.Command.Skip(1).Concat(["run", "shop"])) psi.ArgumentList.Add(a);
        _home.Apply(psi.Environment);
        int killedPid;
        using (var running = Process.Start(psi)!)
        {
            killedPid = running.Id;
            var lockFile = Path.Combine(_home.Lake, ".dataspoc", "locks", "shop.lock");
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!File.Exists(lockFile))
            {
                Assert.True(DateTime.UtcNow < deadline, "the run did not take its lock within 60 s");
                Assert.False(running.HasExited, "the run ended before it was killed");
                Thread.Sleep(50);
            }
            // kill -9 of the run (and its tap): nothing releases the lock.
            running.Kill(entireProcessTree: true);
            running.WaitForExit();
            Assert.Equal(killedPid, System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(lockFile))!["pid"]!.GetValue<int>());
        }

        _home.WriteShopPipeline("shop", extraSource: "  name: shop\n");
        var watch = Stopwatch.StartNew();
        var next = CliProcess.Run(_home, "run", "shop", "-o", "json");
        Assert.True(next.ExitCode == 0, next.ToString());
        var log = Json.Parse(next);
        Assert.Equal("success", log.Str("status"));
        Assert.Contains(log["notices"]!.AsArray(), n => n!.GetValue<string>().StartsWith("took over a stale lock of run ", StringComparison.Ordinal)
            && n.GetValue<string>().EndsWith($"(its process {killedPid} on this host is gone)", StringComparison.Ordinal));
        // At once: not after the 5-minute lease.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"the next run took {watch.Elapsed}");
    }

    /// <summary>
    /// <c>status</c> shows a run in progress as running (since when, its run id, pid and host: what its lock records),
    /// while the other fields stay the previous run's; once it ended, its result. A stale lock (its process gone, or its
    /// lease expired) is no run in progress; a live lock of another host is.
    /// </summary>
    [Fact]
    public async Task Status_shows_a_run_in_progress_from_its_lock_but_not_a_stale_lock()
    {
        var pidFile = Path.Combine(_home.Root, "tap.pid");
        void WriteSlow(int records, double interval) => _home.WritePipeline("slow", $"""
            source:
              tap: python3 {CliProcess.Asset("slow_tap.py")}
              config:
                pid_file: {pidFile}
                interval: {interval.ToString(System.Globalization.CultureInfo.InvariantCulture)}
                records: {records}
            destination:
              bucket: {_home.Bucket}
            """);
        WriteSlow(records: 1, interval: 0.05);
        var first = CliProcess.Run(_home, "run", "slow", "-o", "json");
        Assert.True(first.ExitCode == 0, first.ToString());
        var firstRun = Json.Parse(first).Str("run_id");
        System.Text.Json.Nodes.JsonNode Row() =>
            Assert.Single(Json.Parse(CliProcess.Run(_home, "status", "--output", "json")).AsArray(), r => r.Str("pipeline") == "slow")!;
        Assert.Null(Row()["running"]);

        // Two records ten seconds apart: status is asked while the run waits for the second.
        File.Delete(pidFile);
        WriteSlow(records: 2, interval: 10);
        var psi = new ProcessStartInfo(CliProcess.Command[0]) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, StandardOutputEncoding = Encoding.UTF8 };
        foreach (var a in CliProcess.Command.Skip(1).Concat(["run", "slow", "-o", "json"])) psi.ArgumentList.Add(a);
        _home.Apply(psi.Environment);
        using var slow = Process.Start(psi)!;
        var output = slow.StandardOutput.ReadToEndAsync();
        var errors = slow.StandardError.ReadToEndAsync();
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!File.Exists(pidFile))
            {
                Assert.True(DateTime.UtcNow < deadline, "the tap did not start within 60 s");
                Assert.False(slow.HasExited, "the run ended before its tap started");
                await Task.Delay(50);
            }
            var started = DateTimeOffset.UtcNow;
            var during = Row();
            _home.Set("COLUMNS", "250"); // the line under the table on one line
            var table = CliProcess.Run(_home, "status");
            Assert.False(slow.HasExited, "the run ended before status was asked: the test proves nothing");

            Assert.Equal(("success", firstRun), (during.Str("status"), during.Str("run_id")));
            var running = during["running"]!;
            Assert.Equal(("run", slow.Id, Environment.MachineName), (running.Str("kind"), running["pid"]!.GetValue<int>(), running.Str("host")));
            var runId = running.Str("run_id");
            Assert.NotEqual(firstRun, runId);
            Assert.InRange(running["since"]!.GetValue<DateTimeOffset>(), started.AddSeconds(-60), started);
            Assert.Matches(@"│ slow +│ running +│", table.Stdout);
            Assert.Contains($"slow: running since {running["since"]!.GetValue<DateTimeOffset>().UtcDateTime:yyyy-MM-dd HH:mm}Z (run {runId}, pid {slow.Id} on {Environment.MachineName}); the other columns show its previous run (success)", table.Stdout);

            Assert.True(slow.WaitForExit(TimeSpan.FromSeconds(90)), "the run did not end");
            Assert.True(slow.ExitCode == 0, await errors);
            Assert.Equal(runId, System.Text.Json.Nodes.JsonNode.Parse(await output).Str("run_id"));
            var after = Row();
            Assert.Equal(("success", runId), (after.Str("status"), after.Str("run_id")));
            Assert.Null(after["running"]);
            Assert.DoesNotContain("running", CliProcess.Run(_home, "status").Stdout);
        }
        finally
        {
            if (!slow.HasExited) slow.Kill(entireProcessTree: true);
        }

        // Locks left behind: by a killed run of this host, and by one of another host whose lease ran out.
        using var exited = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        exited.WaitForExit();
        var lockFile = Path.Combine(_home.Lake, ".dataspoc", "locks", "slow.lock");
        var now = DateTimeOffset.UtcNow;
        string Lock(string host, int pid, DateTimeOffset expires) => new System.Text.Json.Nodes.JsonObject
        {
            ["run_id"] = "left1234", ["host"] = host, ["pid"] = pid, ["acquired_at"] = now.AddMinutes(-10), ["expires_at"] = expires,
        }.ToJsonString();
        File.WriteAllText(lockFile, Lock(Environment.MachineName, exited.Id, now.AddMinutes(5)));
        Assert.Null(Row()["running"]);
        File.WriteAllText(lockFile, Lock("elsewhere", 4242, now.AddMinutes(-1)));
        Assert.Null(Row()["running"]);
        File.WriteAllText(lockFile, Lock("elsewhere", 4242, now.AddMinutes(5)));
        Assert.Equal(("left1234", 4242, "elsewhere"), (Row()["running"]!.Str("run_id"), Row()["running"]!["pid"]!.GetValue<int>(), Row()["running"]!.Str("host")));
    }

    /// <summary>
    /// A lock of a run in another PID namespace on this host (a container with the host's name): its pid is none of this
    /// namespace's (pid 1 is not this host's init), and <c>status</c> says so as a run refused for that lock does, with
    /// when its lease runs out.
    /// </summary>
    [Fact]
    public void Status_names_a_holder_in_another_pid_namespace_as_the_refusal_does()
    {
        _home.WriteShopPipeline("shop");
        var now = DateTimeOffset.UtcNow;
        var expires = now.AddMinutes(5);
        var lockFile = Path.Combine(_home.Lake, ".dataspoc", "locks", "shop.lock");
        Directory.CreateDirectory(Path.GetDirectoryName(lockFile)!);
        File.WriteAllText(lockFile, new System.Text.Json.Nodes.JsonObject
        {
            ["run_id"] = "nsrun001", ["host"] = Environment.MachineName, ["pid"] = 1, ["acquired_at"] = now.AddMinutes(-1), ["expires_at"] = expires,
            ["pid_space"] = "another-boot/4026500000",
        }.ToJsonString());
        var process = $"pid 1 in another PID namespace on {Environment.MachineName}, such as a container's";
        var @unchecked = $"cannot be checked from here: if it still runs, wait for it to finish; if it was killed, its lease runs out at {expires.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z (a live run renews it), then a run takes the lock over";

        var refused = CliProcess.Run(_home, "run", "shop");
        Assert.Contains($"({process}, since ", refused.Stderr);
        Assert.Contains($"), which {@unchecked}", refused.Stderr);

        var running = Json.Parse(CliProcess.Run(_home, "status", "--output", "json")).AsArray().Single()!["running"]!;
        Assert.Equal(("nsrun001", 1, process, @unchecked), (running.Str("run_id"), running["pid"]!.GetValue<int>(), running.Str("process"), running.Str("unchecked")));
        _home.Set("COLUMNS", "400"); // the line under the table on one line
        Assert.Contains($"(run nsrun001, {process}, which {@unchecked}); the other columns show its previous run", CliProcess.Run(_home, "status").Stdout);
    }
}
