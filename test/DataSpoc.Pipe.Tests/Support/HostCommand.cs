using System.Diagnostics;

namespace DataSpoc.Pipe.Tests.Support;

/// <summary>
/// Runs a command of the host (<c>mount</c>, <c>umount</c>, <c>chattr</c>) that sets up a failing file system for a test,
/// and fails the test, with the command's stderr, when it fails. Linked into the CLI tests too.
/// </summary>
public static class HostCommand
{
    public static void Run(string command, params string[] args)
    {
        var (exitCode, error) = TryRun(command, args);
        Assert.True(exitCode == 0, $"{command} {string.Join(' ', args)} failed ({exitCode}): {error} (these tests need root, and tmpfs or chattr support)");
    }

    /// <summary>Runs the command; its exit code and stderr.</summary>
    public static (int ExitCode, string Error) TryRun(string command, params string[] args)
    {
        var psi = new ProcessStartInfo(command) { RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, err);
    }
}
