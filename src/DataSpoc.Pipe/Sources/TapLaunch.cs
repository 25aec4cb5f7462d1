using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace DataSpoc.Pipe.Sources;

/// <summary>
/// How every tap process starts (a run's, discovery's, the capability probe's), so that it does not outlive the
/// process that started it. A tap killed with its run (<c>kill -9</c>, an out-of-memory kill, the second signal's exit
/// at once) is left running otherwise, and a tap waiting on a long source query writes nothing that would make it notice
/// the closed pipe: it goes on extracting beside the next run (a log-based postgres tap keeps its replication slot busy,
/// so the next run's tap fails). The guards:
/// <list type="bullet">
/// <item>On Linux the tap starts through util-linux's <c>setsid</c>, in a session and process group of its own (.NET's
/// process start cannot make one): a tap's <c>kill 0</c> (a wrapper script's exit trap) then signals only the tap's own
/// processes, not this one and its caller; and killing the tap kills its group (<see cref="Kill"/>), reaching a wrapper
/// script's worker, or a background process the tap left, which <c>Kill(entireProcessTree)</c> misses once the tap
/// has exited and they were handed to init.</item>
/// <item>On Linux the tap starts through util-linux's <c>setpriv --pdeathsig KILL</c> (.NET's process start cannot set
/// <c>PR_SET_PDEATHSIG</c> in the child itself), so the kernel kills the tap when this process dies, however it dies. The
/// kernel sends that signal when the <em>thread</em> that started the child ends, not the process: taps are started from
/// one thread that lives as long as the process (a thread-pool thread retires after seconds of idleness, which would kill
/// a tap mid-run). It reaches the tap process only: what the tap started is stopped by the next run (below).</item>
/// <item>This process killing the taps it still runs when it exits (<see cref="KillRunning"/>, on process exit: the
/// second signal exits at once through it).</item>
/// <item>The next run stops what the tap of a killed run left running (<see cref="TapRecord"/>): its group, or without
/// setsid the tap itself (which also covers a tap started without setpriv).</item>
/// </list>
/// Where either program is missing (the container image holds only the binary; macOS), the tap starts without it.
/// </summary>
internal static partial class TapLaunch
{
    /// <summary>setpriv, where the system has it (fixed paths: PATH is the user's, and a tap must not start through another program).</summary>
    internal static readonly string? SetPriv = OperatingSystem.IsLinux()
        ? new[] { "/usr/bin/setpriv", "/bin/setpriv" }.FirstOrDefault(File.Exists)
        : null;

    /// <summary>setsid, where the system has it (fixed paths, as <see cref="SetPriv"/>).</summary>
    internal static readonly string? SetSid = OperatingSystem.IsLinux()
        ? new[] { "/usr/bin/setsid", "/bin/setsid" }.FirstOrDefault(File.Exists)
        : null;

    /// <summary>The taps started in a process group of their own, which has the tap's pid as its id.</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Process, object> GroupLeaders = new();

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
        var ownGroup = false;
        if (IsExecutable(psi.FileName))
        {
            // setpriv --pdeathsig KILL -- setsid -- <tap> ...: each execs the next, so the tap keeps the pid started here.
            // setsid does not fork: a child of this process is no group leader, which is when it would.
            List<string> prefix = [];
            if (SetPriv is not null) prefix.AddRange([SetPriv, "--pdeathsig", "KILL", "--"]);
            if (SetSid is not null) prefix.AddRange([SetSid, "--"]);
            ownGroup = SetSid is not null;
            if (prefix.Count > 0)
            {
                prefix.Add(psi.FileName);
                for (var i = 1; i < prefix.Count; i++) psi.ArgumentList.Insert(i - 1, prefix[i]);
                psi.FileName = prefix[0];
            }
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
        if (ownGroup) GroupLeaders.Add(process, new object());
        Running.TryAdd(process, 0);
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => Running.TryRemove(process, out _);
        return process;
    }

    /// <summary>Kills every tap this process started that still runs (with the processes it started).</summary>
    public static void KillRunning()
    {
        foreach (var process in Running.Keys) Kill(process);
    }

    /// <summary>
    /// Kills a tap this process started, with the processes it started: its process group where it has one (also once
    /// the tap itself has exited: what it left running is still in the group), and its process tree.
    /// </summary>
    public static void Kill(Process process)
    {
        try
        {
            // The group's id stays the tap's while any member lives; once none does, the kill finds no group (ESRCH).
            if (LeadsOwnGroup(process)) KillGroup(process.Id);
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or ObjectDisposedException) { }
    }

    /// <summary>Whether <paramref name="process"/> was started in a process group of its own, with its pid as the group's id.</summary>
    public static bool LeadsOwnGroup(Process process) => GroupLeaders.TryGetValue(process, out _);

    /// <summary>Sends SIGKILL to every process of process group <paramref name="group"/> (none: nothing happens).</summary>
    public static void KillGroup(int group)
    {
        if (group > 1) _ = kill(-group, SigKill);
    }

    private const int SigKill = 9;

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int kill(int pid, int signal);

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
