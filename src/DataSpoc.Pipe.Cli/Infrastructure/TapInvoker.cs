using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Sources;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>
/// Runs a pipeline's tap for the CLI's own questions (<c>--discover</c>, <c>--help</c>, <c>--about</c>), outside a run:
/// an external command through PATH, or a built-in tap in-process. Output is captured whole (catalogs are small).
/// </summary>
internal static class TapInvoker
{
    public sealed record Result(int ExitCode, string Stdout, string StderrTail);

    /// <summary>Whether <c>source.tap</c> names a built-in tap rather than a command.</summary>
    public static bool IsBuiltIn(string tap) => BuiltInTapNames.Contains(tap.Trim(), StringComparer.Ordinal);

    /// <summary>Built-in tap names (the taps shipped inside the binary).</summary>
    public static IReadOnlyCollection<string> BuiltInTapNames => BuiltIns.Names;

    /// <summary>Finds the tap's executable: a path as given, or a name on PATH; throws <see cref="TapNotFoundException"/>.</summary>
    public static string ResolveExecutable(string tap)
    {
        var words = CommandLine.Split(tap);
        if (words.Count == 0) throw new UsageException("source.tap is empty");
        return TapProcess.Resolve(PipeHome.ExpandHome(words[0]));
    }

    /// <summary>Runs <c>&lt;tap&gt; --config &lt;file&gt; --discover</c> and returns its catalog JSON.</summary>
    public static async Task<string> DiscoverAsync(PipelineDefinition pipeline, TimeSpan timeout, CancellationToken cancellationToken)
    {
        await using var config = await TapConfigFile.CreateAsync(pipeline, cancellationToken);
        Result result;
        if (IsBuiltIn(pipeline.Source.Tap))
            result = await BuiltIns.DiscoverAsync(pipeline.Source.Tap.Trim(), config.Path, cancellationToken);
        else
            result = await RunAsync(pipeline.Source.Tap, ["--config", config.Path, "--discover"], timeout, cancellationToken);
        if (result.ExitCode != 0)
            throw new FailedException(pipeline.Redaction.Redact(
                $"'{pipeline.Source.Tap} --discover' failed (exit {result.ExitCode}){(result.StderrTail.Length > 0 ? ": " + OneLine(result.StderrTail) : "")}"));
        return result.Stdout;
    }

    /// <summary>Runs the tap command with extra arguments, capturing stdout and the tail of stderr; kills it after <paramref name="timeout"/>.</summary>
    public static async Task<Result> RunAsync(string tap, IEnumerable<string> args, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var words = CommandLine.Split(tap);
        var psi = new ProcessStartInfo(ResolveExecutable(tap))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in words.Skip(1).Concat(args)) psi.ArgumentList.Add(a);
        using var process = new Process { StartInfo = psi };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new TapNotFoundException(words[0], $"tap '{words[0]}' could not be started: {e.Message} (is it executable?)");
        }
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timer.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(timer.Token);
        }
        catch (OperationCanceledException)
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            cancellationToken.ThrowIfCancellationRequested();
            throw new FailedException($"tap '{words[0]}' did not finish within {timeout.TotalSeconds:0}s");
        }
        var err = await stderr;
        return new Result(process.ExitCode, await stdout, err.Length > 2000 ? err[^2000..] : err);
    }

    public static string OneLine(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.Length == 0 ? "" : lines[^1];
    }
}

/// <summary>The tap config as a file for a subprocess: the pipeline's own file, or a private temp file (0600) deleted on dispose.</summary>
internal sealed class TapConfigFile : IAsyncDisposable
{
    private readonly bool _temporary;

    private TapConfigFile(string path, bool temporary)
    {
        Path = path;
        _temporary = temporary;
    }

    public string Path { get; }

    public static async Task<TapConfigFile> CreateAsync(PipelineDefinition pipeline, CancellationToken cancellationToken)
    {
        if (pipeline.Source.ConfigPath is { } path) return new TapConfigFile(path, false);
        var temp = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"dataspoc-pipe-config-{Guid.NewGuid():N}.json");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        await using (var stream = new FileStream(temp, options))
        {
            var json = (pipeline.Source.InlineConfig ?? new JsonObject()).ToJsonString();
            await stream.WriteAsync(Encoding.UTF8.GetBytes(json), cancellationToken);
        }
        return new TapConfigFile(temp, true);
    }

    public ValueTask DisposeAsync()
    {
        if (_temporary)
        {
            try { File.Delete(Path); } catch (IOException) { }
        }
        return ValueTask.CompletedTask;
    }
}
