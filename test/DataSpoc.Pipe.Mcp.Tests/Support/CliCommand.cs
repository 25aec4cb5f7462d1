using System.Diagnostics;
using System.Reflection;
using System.Text;

namespace DataSpoc.Pipe.Mcp.Tests.Support;

/// <summary>Starts <c>dataspoc-pipe</c>: the native binary <c>$DATASPOC_PIPE_BIN</c> names (as <c>./test.sh</c> sets it), else <c>dotnet</c> and the dll built beside this project.</summary>
public static class CliCommand
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
    }

    /// <summary>The words that start the CLI.</summary>
    public static string[] Words { get; } = Find();

    /// <summary>Runs the CLI with <paramref name="environment"/> added to this process's, and waits for it (3 minutes at most).</summary>
    public static Result Run(IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        var psi = new ProcessStartInfo(Words[0])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var a in Words.Skip(1).Concat(args)) psi.ArgumentList.Add(a);
        foreach (var (k, v) in environment) psi.Environment[k] = v;
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.StandardInput.Close();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("dataspoc-pipe " + string.Join(' ', args) + " did not finish in 3 minutes");
        }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    private static string[] Find()
    {
        if (Environment.GetEnvironmentVariable("DATASPOC_PIPE_BIN") is { Length: > 0 } binary)
        {
            Assert.True(File.Exists(binary), $"DATASPOC_PIPE_BIN names no file: {binary}");
            return [binary];
        }
        var configuration = typeof(CliCommand).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "DataSpoc.Pipe.slnx"))) dir = dir.Parent;
        Assert.NotNull(dir);
        var dll = Path.Combine(dir.FullName, "src", "DataSpoc.Pipe.Cli", "bin", configuration, "net10.0", "dataspoc-pipe.dll");
        Assert.True(File.Exists(dll), $"build the CLI first: {dll} is missing");
        return ["dotnet", dll];
    }
}
