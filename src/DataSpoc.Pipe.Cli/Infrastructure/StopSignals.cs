using System.Runtime.InteropServices;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>
/// SIGINT (Ctrl-C), SIGTERM (what Kubernetes and systemd send) and SIGHUP (the terminal or ssh session that started
/// the run closed) during a run: the first one cancels the run, which stops the tap, commits nothing, writes a run log
/// with status <c>cancelled</c>, releases the lock and removes the spool; the process then exits 130 (SIGINT), 143
/// (SIGTERM) or 129 (SIGHUP). SIGHUP's default action would end the process at once, leaving the tap running (orphaned),
/// no run log and the run's private files (its tap config, with secrets) on disk. A run whose commit had begun finishes it instead and
/// succeeds: it exits as any successful run does (the run command decides). A second signal exits at once with the same code;
/// the taps still running are killed on the way out (the engine's process-exit hook, <c>TapLaunch.KillRunning</c>), and
/// on Linux the kernel kills them anyway once this process is gone.
/// </summary>
internal sealed class StopSignals : IDisposable
{
    private readonly CancellationTokenSource _stop;
    private readonly PosixSignalRegistration[] _registrations;
    private int _exitCode;

    public StopSignals(CancellationToken outer)
    {
        _stop = CancellationTokenSource.CreateLinkedTokenSource(outer);
        _registrations =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal),
            PosixSignalRegistration.Create(PosixSignal.SIGHUP, OnSignal),
        ];
    }

    /// <summary>Cancelled by the first signal (or by the outer token).</summary>
    public CancellationToken Token => _stop.Token;

    /// <summary>130 after SIGINT, 143 after SIGTERM, 129 after SIGHUP (128 + the signal's number, as a shell reports it), else null.</summary>
    public int? ExitCode => Volatile.Read(ref _exitCode) is var c and not 0 ? c : null;

    /// <summary>The signal received, by name (SIGINT, SIGTERM, SIGHUP), else null.</summary>
    public string? Name => ExitCode is { } code ? NameOf(code) : null;

    private static string NameOf(int exitCode) => exitCode switch { 130 => "SIGINT", 129 => "SIGHUP", _ => "SIGTERM" };

    /// <summary>
    /// For the servers (<c>ui</c>, <c>mcp</c>), whose host already stops cleanly on SIGINT and SIGTERM: SIGHUP (their
    /// terminal closed) calls <paramref name="stop"/> too, instead of killing the process mid-request.
    /// </summary>
    public static IDisposable HangUpStops(Action stop) => PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
    {
        context.Cancel = true;
        stop();
    });

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true; // the default action would end the process before the run log is written
        var code = context.Signal == PosixSignal.SIGINT ? 130 : context.Signal == PosixSignal.SIGHUP ? 129 : 143;
        var name = NameOf(code);
        if (Interlocked.CompareExchange(ref _exitCode, code, 0) != 0)
        {
            Say($"error: {name} again: exiting at once (the next run cleans up what this one leaves)");
            Environment.Exit(Volatile.Read(ref _exitCode));
        }
        // The run may be inside its commit, which runs to its end (milliseconds): then it succeeds, and says so at the end.
        Say($"{name} received: stopping the run (the tap is stopped and nothing is committed, unless the commit has begun: " +
            "it then finishes); send it again to exit at once");
        _stop.Cancel();
    }

    private static void Say(string line)
    {
        // After SIGHUP the terminal stderr went to may be gone (EIO): the run must still be stopped cleanly.
        try { Console.Error.WriteLine(line); }
        catch (IOException) { }
    }

    public void Dispose()
    {
        foreach (var registration in _registrations) registration.Dispose();
        _stop.Dispose();
    }
}
