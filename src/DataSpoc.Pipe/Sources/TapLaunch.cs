using System.Collections.Concurrent;
using System.Diagnostics;

namespace DataSpoc.Pipe.Sources;

/// <summary>
/// How every tap process starts (a run's, discovery's, the capability probe's), so that it does not outlive the
/// process that started it. A tap killed with its run (<c>kill -9</c>, an out-of-memory kill, the second signal's exit
/// at once) is left running otherwise, and a tap waiting on a long source query writes nothing that would make it notice
/// the closed pipe: it goes on extracting beside the next run (a log-based postgres tap keeps its replication slot busy,
/// so the next run's tap fails). Three guards:
/// <list type="bullet">
/// <item>On Linux the tap starts through util-linux's <c>setpriv --pdeathsig KILL</c> (.NET's process start cannot set
/// <c>PR_SET_PDEATHSIG</c> in the child itself), so the kernel kills the tap when this process dies, however it dies. The
/// kernel sends that signal when the <em>thread</em> that started the child ends, not the process: taps are started from
/// one thread that lives as long as the process (a thread-pool thread retires after seconds of idleness, which would kill
/// a tap mid-run).</item>
/// <item>This process killing the taps it still runs when it exits (<see cref="KillRunning"/>, on process exit: the
/// second signal exits at once through it).</item>
/// <item>Where setpriv is missing (a minimal container image, macOS), the next run stops a tap its killed predecessor
/// left (<see cref="TapRecord"/>).</item>
/// </list>
/// </summary>
internal static class TapLaunch
{
    /// <summary>setpriv, where the system has it (fixed paths: PATH is the user's, and a tap must not start through another program).</summary>
    internal static readonly string? SetPriv = OperatingSystem.IsLinux()
        ? new[] { "/usr/bin/setpriv", "/bin/setpriv" }.FirstOrDefault(File.Exists)
        : null;

    private static readonly ConcurrentDictionary<Process, byte> Running = new();
    private static readonly BlockingCollection<Action> Starts = new();
    private static readonly Lazy<Thread> Starter = new(() =>
    {
        var thread = new Thread(() => { foreach (var start in Starts.GetConsumingEnumerable()) start(); })
        {
            IsBackground = true,
            Name = "tap start",
        };
        thread.Start();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => KillRunning();
        return thread;
    });

    /// <summary>
    /// Starts <paramref name="psi"/> (a tap command from <see cref="TapProcess.StartInfo"/>; its file name and arguments are
    /// changed to go through setpriv).
    /// </summary>
    /// <param name="psi">The tap's start (<see cref="TapProcess.StartInfo"/>).</param>
    /// <param name="tap">The tap as the pipeline names it, for the error.</param>
    /// <exception cref="TapNotFoundException">It could not be started.</exception>
    /// <exception cref="Runs.TapFailedException">A limit of the process or machine stopped its start (<see cref="ResourceLimits"/>).</exception>
    public static Process Start(ProcessStartInfo psi, string tap)
    {
        // A file that is not executable is started directly, so that it fails as before, naming the permission.
        if (SetPriv is not null && IsExecutable(psi.FileName))
        {
            string[] prefix = ["--pdeathsig", "KILL", "--", psi.FileName];
            for (var i = 0; i < prefix.Length; i++) psi.ArgumentList.Insert(i, prefix[i]);
            psi.FileName = SetPriv;
        }
        var process = new Process { StartInfo = psi };
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = Starter.Value;
        Starts.Add(() =>
        {
            try
            {
                process.Start();
                started.SetResult();
            }
            catch (Exception e)
            {
                started.SetException(e);
            }
        });
        try
        {
            started.Task.GetAwaiter().GetResult(); // a fork and exec: milliseconds
        }
        catch (System.ComponentModel.Win32Exception e) when (ResourceLimits.Describe(e) is { } limited)
        {
            // Not the tap's configuration: the same run may start once the machine has room (a failed run, not exit 2).
            process.Dispose();
            throw new Runs.TapFailedException($"tap '{tap}' could not be started: {limited}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            process.Dispose();
            throw new TapNotFoundException(tap, $"tap '{tap}' could not be started: {e.Message} (is it executable?)");
        }
        catch
        {
            process.Dispose();
            throw;
        }
        Running.TryAdd(process, 0);
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => Running.TryRemove(process, out _);
        return process;
    }

    /// <summary>Kills every tap this process started that still runs (with the processes it started).</summary>
    public static void KillRunning()
    {
        foreach (var process in Running.Keys)
        {
            try { if (!process.HasExited) process.Kill(entireProcessTree: true); }
            catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or ObjectDisposedException) { }
        }
    }

    private static bool IsExecutable(string path)
    {
        if (OperatingSystem.IsWindows()) return false;
        try
        {
            return (File.GetUnixFileMode(path) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
