using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Sources.BuiltIn;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Sources;

/// <summary>
/// A pipeline's tap catalog (<c>--discover</c> output), cached next to the pipeline file as
/// <c>&lt;name&gt;.catalog.json</c>, and the selection of <c>source.streams</c> applied to it.
/// </summary>
public sealed class TapCatalogs(ObjectStoreFactory stores)
{
    public static readonly TimeSpan DiscoverTimeout = TimeSpan.FromMinutes(10);

    /// <summary>Where the catalog of a pipeline loaded from a file is cached; none for pipelines built in code.</summary>
    public static string? CachePath(PipelineDefinition pipeline) =>
        pipeline.FilePath is { } file ? Path.Combine(Path.GetDirectoryName(file)!, pipeline.Name + ".catalog.json") : null;

    /// <summary>The cached catalog, or a fresh one from the tap when absent or <paramref name="refresh"/> is set.</summary>
    public async Task<(JsonObject Catalog, bool Fresh)> GetAsync(PipelineDefinition pipeline, bool refresh, CancellationToken cancellationToken)
    {
        var path = CachePath(pipeline);
        if (!refresh && path is not null && File.Exists(path))
            return (StreamCatalog.Parse(await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false), path), false);
        var json = await DiscoverAsync(pipeline, cancellationToken).ConfigureAwait(false);
        var catalog = StreamCatalog.Parse(json, $"output of '{pipeline.Source.Tap} --discover'");
        if (path is not null)
        {
            var temp = path + ".tmp";
            await File.WriteAllTextAsync(temp, catalog.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }), cancellationToken).ConfigureAwait(false);
            File.Move(temp, path, overwrite: true);
        }
        return (catalog, true);
    }

    /// <summary>
    /// The catalog with <c>source.streams</c> marked selected, or null when the pipeline selects no streams. A selection
    /// naming a stream the cached catalog lacks asks the tap again once (it may have gained the stream since).
    /// </summary>
    public async Task<JsonObject?> SelectedAsync(PipelineDefinition pipeline, CancellationToken cancellationToken)
    {
        if (pipeline.Source.Streams is not { Count: > 0 } selection) return null;
        var (catalog, fresh) = await GetAsync(pipeline, refresh: false, cancellationToken).ConfigureAwait(false);
        try
        {
            return StreamCatalog.Select(catalog, selection, pipeline.FilePath);
        }
        catch (ConfigException) when (!fresh)
        {
            (catalog, _) = await GetAsync(pipeline, refresh: true, cancellationToken).ConfigureAwait(false);
            return StreamCatalog.Select(catalog, selection, pipeline.FilePath);
        }
    }

    /// <summary>Runs <c>&lt;tap&gt; --config &lt;file&gt; --discover</c> (a built-in tap in-process) and returns its catalog JSON.</summary>
    public async Task<string> DiscoverAsync(PipelineDefinition pipeline, CancellationToken cancellationToken)
    {
        await using var config = await TapConfigFile.CreateAsync(pipeline, cancellationToken).ConfigureAwait(false);
        var tap = pipeline.Source.Tap.Trim();
        TapAnswer answer;
        if (BuiltInTaps.Names.Contains(tap, StringComparer.Ordinal))
        {
            using var stdout = new MemoryStream();
            using var stderr = new StringWriter();
            var code = await BuiltInTapCommand.RunAsync(tap, config.Path, null, null, discover: true, stdout, stderr, cancellationToken, stores).ConfigureAwait(false);
            answer = new TapAnswer(code, Encoding.UTF8.GetString(stdout.ToArray()), stderr.ToString());
        }
        else
        {
            answer = await TapAnswer.AskAsync(pipeline.Source.Tap, ["--config", config.Path, "--discover"], DiscoverTimeout, cancellationToken).ConfigureAwait(false);
        }
        if (answer.ExitCode != 0)
            throw new TapFailedException(pipeline.Redaction.Redact(
                $"'{pipeline.Source.Tap} --discover' failed (exit {answer.ExitCode}){(answer.StderrTail.Length > 0 ? ": " + TapAnswer.LastLine(answer.StderrTail) : "")}"));
        return answer.Stdout;
    }
}

/// <summary>What a tap printed when asked a question outside a run (<c>--discover</c>, <c>--help</c>, <c>--about</c>).</summary>
public sealed record TapAnswer(int ExitCode, string Stdout, string StderrTail)
{
    /// <summary>Runs the tap command with extra arguments, capturing stdout and the tail of stderr; kills it after <paramref name="timeout"/>.</summary>
    public static async Task<TapAnswer> AskAsync(string tap, IEnumerable<string> args, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var words = CommandLine.Split(tap);
        if (words.Count == 0) throw new ConfigException("source.tap is empty");
        var psi = new ProcessStartInfo(TapProcess.Resolve(PipeHome.ExpandHome(words[0])))
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
            await process.WaitForExitAsync(timer.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            cancellationToken.ThrowIfCancellationRequested();
            throw new TapFailedException($"tap '{words[0]}' did not finish within {timeout.TotalSeconds:0}s");
        }
        var err = await stderr.ConfigureAwait(false);
        return new TapAnswer(process.ExitCode, await stdout.ConfigureAwait(false), err.Length > 2000 ? err[^2000..] : err);
    }

    /// <summary>The last non-empty line of a tap's stderr: usually the error itself.</summary>
    public static string LastLine(string text)
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
            await stream.WriteAsync(Encoding.UTF8.GetBytes(json), cancellationToken).ConfigureAwait(false);
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
