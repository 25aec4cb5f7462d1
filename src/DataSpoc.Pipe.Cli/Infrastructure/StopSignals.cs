using System.Runtime.InteropServices;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>
/// SIGINT (Ctrl-C) and SIGTERM (what Kubernetes and systemd send) during a run: the first one cancels the run, which
/// stops the tap, commits nothing, writes a run log with status <c>cancelled</c>, releases the lock and removes the
/// spool; the process then exits 130 (SIGINT) or 143 (SIGTERM). A run whose commit had begun finishes it instead and
/// succeeds: it exits as any successful run does (the run command decides). A second signal exits at once with the same code.
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
        ];
    }

    /// <summary>Cancelled by the first signal (or by the outer token).</summary>
    public CancellationToken Token => _stop.Token;

    /// <summary>130 after SIGINT, 143 after SIGTERM (128 + the signal's number, as a shell reports it), else null.</summary>
    public int? ExitCode => Volatile.Read(ref _exitCode) is var c and not 0 ? c : null;

    /// <summary>The signal received, by name (SIGINT, SIGTERM), else null.</summary>
    public string? Name => ExitCode switch { 130 => "SIGINT", 143 => "SIGTERM", _ => null };

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true; // the default action would end the process before the run log is written
        var (code, name) = context.Signal == PosixSignal.SIGINT ? (130, "SIGINT") : (143, "SIGTERM");
        if (Interlocked.CompareExchange(ref _exitCode, code, 0) != 0)
        {
            Console.Error.WriteLine($"error: {name} again: exiting at once (the next run cleans up what this one leaves)");
            Environment.Exit(Volatile.Read(ref _exitCode));
        }
        // The run may be inside its commit, which runs to its end (milliseconds): then it succeeds, and says so at the end.
        Console.Error.WriteLine($"{name} received: stopping the run (the tap is stopped and nothing is committed, unless the commit has begun: " +
            "it then finishes); send it again to exit at once");
        _stop.Cancel();
    }

    public void Dispose()
    {
        foreach (var registration in _registrations) registration.Dispose();
        _stop.Dispose();
    }
}
