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
}
