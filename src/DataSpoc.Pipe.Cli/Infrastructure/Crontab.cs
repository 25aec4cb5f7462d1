using System.Diagnostics;
using DataSpoc.Pipe.Sources;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>
/// The user's crontab, read with <c>crontab -l</c> and written with <c>crontab -</c>. <c>$DATASPOC_PIPE_CRONTAB</c>
/// replaces the <c>crontab</c> command (tests point it at a script that keeps the table in a file).
/// </summary>
internal sealed class Crontab
{
    public const string EnvironmentVariable = "DATASPOC_PIPE_CRONTAB";
    private readonly List<string> _command;

    public Crontab()
    {
        var configured = Environment.GetEnvironmentVariable(EnvironmentVariable);
        _command = CommandLine.Split(string.IsNullOrWhiteSpace(configured) ? "crontab" : configured);
    }

    public string Read()
    {
        var (code, stdout, stderr) = Invoke(["-l"], null);
        if (code == 0) return stdout;
        // crontab -l fails with "no crontab for <user>" when the user has none yet.
        if (stderr.Contains("no crontab", StringComparison.OrdinalIgnoreCase)) return "";
        throw new FailedException($"'{string.Join(' ', _command)} -l' failed (exit {code}): {stderr.Trim()}");
    }

    public void Write(string content)
    {
        var (code, _, stderr) = Invoke(["-"], content);
        if (code != 0) throw new FailedException($"'{string.Join(' ', _command)} -' failed (exit {code}): {stderr.Trim()}");
    }

    private (int Code, string Stdout, string Stderr) Invoke(string[] args, string? stdin)
    {
        var psi = new ProcessStartInfo(_command[0])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in _command.Skip(1).Concat(args)) psi.ArgumentList.Add(a);
        Process process;
        try
        {
            process = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new FailedException($"cannot run '{_command[0]}': {e.Message} (is cron installed? set ${EnvironmentVariable} to another crontab command)");
        }
        using (process)
        {
            var stdoutTask = process.StandardOutput.ReadToEndAsync();
            var stderrTask = process.StandardError.ReadToEndAsync();
            if (stdin is not null) process.StandardInput.Write(stdin);
            process.StandardInput.Close();
            process.WaitForExit();
            return (process.ExitCode, stdoutTask.Result, stderrTask.Result);
        }
    }
}
