using System.Diagnostics;
using System.Text;
using DataSpoc.Pipe.Sources;

namespace DataSpoc.Pipe.Scheduling;

/// <summary>
/// The user's crontab, read with <c>crontab -l</c> and written with <c>crontab -</c>. <c>$DATASPOC_PIPE_CRONTAB</c>
/// replaces the <c>crontab</c> command (tests point it at a script that keeps the table in a file).
/// </summary>
public sealed class Crontab
{
    /// <summary>The variable naming another command to use instead of <c>crontab</c>.</summary>
    public const string EnvironmentVariable = "DATASPOC_PIPE_CRONTAB";
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);
    private readonly List<string> _command;

    /// <summary>How long the crontab command gets to answer: <c>crontab -l</c> and <c>crontab -</c> take milliseconds.</summary>
    public static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(5);

    /// <summary>The crontab of the user running this process.</summary>
    /// <param name="command">The command to call with <c>-l</c> and <c>-</c>; null uses <c>$DATASPOC_PIPE_CRONTAB</c>, else <c>crontab</c>.</param>
    public Crontab(string? command = null)
    {
        var configured = command ?? Environment.GetEnvironmentVariable(EnvironmentVariable);
        _command = CommandLine.Split(string.IsNullOrWhiteSpace(configured) ? "crontab" : configured);
    }

    /// <summary>The crontab's text ("" when the user has none).</summary>
    /// <exception cref="CrontabException">The command could not be run or failed.</exception>
    public string Read()
    {
        var (code, stdout, stderr) = Invoke(["-l"], null);
        if (code == 0) return stdout;
        // crontab -l fails with "no crontab for <user>" when the user has none yet.
        if (stderr.Contains("no crontab", StringComparison.OrdinalIgnoreCase)) return "";
        throw new CrontabException($"'{string.Join(' ', _command)} -l' failed (exit {code}): {stderr.Trim()}");
    }

    /// <summary>Replaces the crontab with <paramref name="content"/>.</summary>
    /// <exception cref="CrontabException">The command could not be run or failed.</exception>
    public void Write(string content)
    {
        var (code, _, stderr) = Invoke(["-"], content);
        if (code != 0) throw new CrontabException($"'{string.Join(' ', _command)} -' failed (exit {code}): {stderr.Trim()}");
    }

    private (int Code, string Stdout, string Stderr) Invoke(string[] args, string? stdin)
    {
        // UTF-8 both ways and no byte-order mark: the text written back is the text read, other users' lines included.
        var psi = new ProcessStartInfo(Executable(_command[0]))
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardInputEncoding = Utf8,
            StandardOutputEncoding = Utf8,
        };
        foreach (var a in _command.Skip(1).Concat(args)) psi.ArgumentList.Add(a);
        Process process;
        try
        {
            process = Process.Start(psi)!;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            throw new CrontabException($"cannot run '{_command[0]}': {e.Message} (is cron installed? set ${EnvironmentVariable} to another crontab command)");
        }
        using (process)
        {
            var stdoutTask = process.StandardOutput.ReadToEndAsync();
            var stderrTask = process.StandardError.ReadToEndAsync();
            try
            {
                if (stdin is not null) process.StandardInput.Write(stdin);
                process.StandardInput.Close();
            }
            catch (IOException e)
            {
                // The command ended without reading its input (a broken pipe): its exit code and stderr say why.
                process.WaitForExit();
                throw new CrontabException($"'{string.Join(' ', _command)}' did not read the new crontab (exit {process.ExitCode}): {stderrTask.Result.Trim()} {e.Message}".TrimEnd());
            }
            if (!process.WaitForExit(AnswerTimeout))
            {
                // A crontab command that never returns (a hung NSS or LDAP lookup, a wedged cron daemon) would hold
                // `status` and the MCP server with it; the process tree goes, so no child keeps its pipes open.
                try { process.Kill(entireProcessTree: true); }
                catch (InvalidOperationException) { } // it ended meanwhile
                throw new CrontabException($"'{string.Join(' ', _command.Concat(args))}' did not answer within {AnswerTimeout.TotalSeconds:0} s");
            }
            process.WaitForExit();
            return (process.ExitCode, stdoutTask.Result, stderrTask.Result);
        }
    }

    /// <summary>
    /// A bare command name found on <c>$PATH</c>, as the shell finds it. .NET's own search also looks in the current
    /// directory, and so fails with a bare "Unable to find the specified file" when that directory has been deleted
    /// (a shell left in a removed release folder): a path never needs the current directory.
    /// </summary>
    /// <exception cref="CrontabException">No folder of <c>$PATH</c> holds such a command.</exception>
    private static string Executable(string command)
    {
        if (command.Contains('/') || OperatingSystem.IsWindows()) return command;
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            // A relative PATH entry is relative to the current directory: only absolute ones can be used without it.
            if (!Path.IsPathRooted(dir)) continue;
            var candidate = Path.Combine(dir, command);
            try
            {
                if (File.Exists(candidate) && (File.GetUnixFileMode(candidate) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0)
                    return candidate;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
        throw new CrontabException($"cannot run '{command}': no such command on PATH (is cron installed? set ${EnvironmentVariable} to another crontab command)");
    }
}

/// <summary>The crontab command could not be run or failed (its message names the command, exit code and stderr).</summary>
public sealed class CrontabException(string message) : PipeException(message);
