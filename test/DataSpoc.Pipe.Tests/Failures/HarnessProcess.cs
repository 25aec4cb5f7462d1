using System.Diagnostics;
using System.Text.Json.Nodes;

namespace DataSpoc.Pipe.Tests.Failures;

/// <summary>
/// Runs one pipeline in a child process (the DataSpoc.Pipe.KillHarness console) and, on request, SIGKILLs it:
/// after a delay, or when it announces a chosen write on stdout (DSP_HARNESS_ANNOUNCE=1).
/// </summary>
internal static class HarnessProcess
{
    public static string Dll => Path.Combine(AppContext.BaseDirectory, "DataSpoc.Pipe.KillHarness.dll");

    public sealed record Outcome(int ExitCode, bool Killed, IReadOnlyList<string> Stdout, string Stderr);

    /// <param name="killWhen">Kill once a stdout line satisfies this (after <paramref name="killDelay"/>).</param>
    /// <param name="killAfter">Kill after this long from the start, whatever it is doing.</param>
    /// <param name="killOnceTrue">Kill as soon as this turns true (polled every 20 ms), e.g. once a file exists.</param>
    /// <param name="wrapper">A command the harness runs under (e.g. <c>strace</c> with its options), passing its exit code on.</param>
    public static async Task<Outcome> RunAsync(JsonObject run, IReadOnlyDictionary<string, string>? env = null,
        Func<string, bool>? killWhen = null, TimeSpan? killDelay = null, TimeSpan? killAfter = null, TimeSpan? timeout = null,
        Func<bool>? killOnceTrue = null, IReadOnlyList<string>? wrapper = null)
    {
        var runFile = Path.Combine(Path.GetTempPath(), "dsp-harness-" + Guid.NewGuid().ToString("N")[..10] + ".json");
        await File.WriteAllTextAsync(runFile, run.ToJsonString());
        try
        {
            var psi = new ProcessStartInfo(wrapper?[0] ?? "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            if (wrapper is not null)
            {
                foreach (var a in wrapper.Skip(1)) psi.ArgumentList.Add(a);
                psi.ArgumentList.Add("dotnet");
            }
            psi.ArgumentList.Add(Dll);
            psi.ArgumentList.Add(runFile);
            foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
            using var process = Process.Start(psi)!;
            var lines = new List<string>();
            var killRequested = 0;
            void Kill()
            {
                if (Interlocked.Exchange(ref killRequested, 1) == 1) return;
                try { process.Kill(entireProcessTree: false); } catch (InvalidOperationException) { }
            }
            var stderr = process.StandardError.ReadToEndAsync();
            var stdout = Task.Run(async () =>
            {
                while (await process.StandardOutput.ReadLineAsync() is { } line)
                {
                    lock (lines) lines.Add(line);
                    if (killWhen is not null && Volatile.Read(ref killRequested) == 0 && killWhen(line))
                    {
                        if (killDelay is { } d && d > TimeSpan.Zero) Thread.Sleep(d);
                        Kill();
                    }
                }
            });
            var poll = killOnceTrue is null ? Task.CompletedTask : Task.Run(async () =>
            {
                while (!process.HasExited && Volatile.Read(ref killRequested) == 0)
                {
                    if (killOnceTrue()) { Kill(); return; }
                    await Task.Delay(20);
                }
            });
            using var killTimer = killAfter is { } after ? new Timer(_ => Kill(), null, after, Timeout.InfiniteTimeSpan) : null;
            using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(120));
            try { await process.WaitForExitAsync(cts.Token); }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"the harness did not finish in {timeout ?? TimeSpan.FromSeconds(120)}; stdout: {string.Join(" | ", lines.TakeLast(5))}");
            }
            await stdout;
            await poll;
            // SIGKILL shows as 128 + 9; any other exit code means the run ended on its own before the kill.
            return new Outcome(process.ExitCode, process.ExitCode == 137, lines, await stderr);
        }
        finally
        {
            File.Delete(runFile);
        }
    }
}
