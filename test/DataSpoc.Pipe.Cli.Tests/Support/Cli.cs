using System.Diagnostics;
using System.Text;

namespace DataSpoc.Pipe.Cli.Tests.Support;

/// <summary>
/// Starts the real <c>dataspoc-pipe</c> process and captures what it prints: the native binary that
/// <c>$DATASPOC_PIPE_BIN</c> names (<c>./test.sh</c> builds it with the launcher and sets it, so the tests exercise
/// what users run), else <c>dotnet dataspoc-pipe.dll</c> from the CLI project's build output (quick local iteration).
/// </summary>
public static class CliProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
    }

    /// <summary>The words that start the CLI: the native binary, or <c>dotnet</c> and the dll.</summary>
    public static IReadOnlyList<string> Command { get; } = FindCommand();

    /// <summary>True when the tests run the native (AOT) binary.</summary>
    public static bool IsNative => Command.Count == 1;

    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Asset(string name) => Path.Combine(AppContext.BaseDirectory, "Assets", name);

    /// <summary>A tap command line running the test tap with python3.</summary>
    public static string ShopTap => "python3 " + Asset("shop_tap.py");

    public static Result Run(TempHome home, params string[] args) => RunWithInput(home, null, args);

    /// <summary>Runs under the file mode creation mask <paramref name="umask"/> (octal, e.g. <c>000</c>), set by a shell that then execs the CLI.</summary>
    public static Result RunWithUmask(TempHome home, string umask, params string[] args) =>
        Start(["sh", "-c", "umask \"$0\" && exec \"$@\"", umask, .. Command], home, null, args);

    /// <summary>Runs after the shell command <paramref name="setup"/> (a <c>ulimit</c>), in the shell that then execs the CLI.</summary>
    public static Result RunAfter(TempHome home, string setup, params string[] args) =>
        Start(["sh", "-c", setup + " && exec \"$@\"", "sh", .. Command], home, null, args);

    /// <summary>Runs with <paramref name="stdin"/> piped in (so stdin is not a terminal).</summary>
    public static Result RunWithInput(TempHome home, string? stdin, params string[] args) => Start(Command, home, stdin, args);

    /// <summary>Runs another copy of the CLI, started by <paramref name="command"/> (as <see cref="Command"/> starts this one).</summary>
    public static Result RunCopy(IReadOnlyList<string> command, TempHome home, params string[] args) => Start(command, home, null, args);

    /// <summary>Runs with a working directory that no longer exists (a shell left in a removed release or temp folder).</summary>
    public static Result RunFromRemovedDirectory(TempHome home, params string[] args)
    {
        var gone = Path.Combine(home.Root, "removed-cwd");
        Directory.CreateDirectory(gone);
        return Start(["sh", "-c", "cd \"$0\" && rmdir \"$0\" && exec \"$@\"", gone, .. Command], home, null, args);
    }

    private static Result Start(IReadOnlyList<string> command, TempHome home, string? stdin, string[] args)
    {
        var psi = new ProcessStartInfo(command[0])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var a in command.Skip(1).Concat(args)) psi.ArgumentList.Add(a);
        home.Apply(psi.Environment);
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null) process.StandardInput.Write(stdin);
        process.StandardInput.Close();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("dataspoc-pipe " + string.Join(' ', args) + " did not finish in 3 minutes");
        }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "DataSpoc.Pipe.slnx"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root not found above " + AppContext.BaseDirectory);
    }

    private static IReadOnlyList<string> FindCommand()
    {
        if (Environment.GetEnvironmentVariable("DATASPOC_PIPE_BIN") is { Length: > 0 } binary)
            return File.Exists(binary) ? [binary] : throw new FileNotFoundException("DATASPOC_PIPE_BIN names no file", binary);
        // .../test/DataSpoc.Pipe.Cli.Tests/bin/<Configuration>/net10.0/ -> .../src/DataSpoc.Pipe.Cli/bin/<Configuration>/net10.0/
        var tfm = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
        var configuration = tfm.Parent!.Name;
        var dll = Path.Combine(FindRepoRoot(), "src", "DataSpoc.Pipe.Cli", "bin", configuration, tfm.Name, "dataspoc-pipe.dll");
        return File.Exists(dll) ? ["dotnet", dll] : throw new FileNotFoundException("build the CLI first", dll);
    }
}
