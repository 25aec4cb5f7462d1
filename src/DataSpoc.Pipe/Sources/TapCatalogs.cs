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
    /// <summary>Where the catalog of a pipeline loaded from a file is cached; none for pipelines built in code.</summary>
    public static string? CachePath(PipelineDefinition pipeline) =>
        pipeline.FilePath is { } file ? Path.Combine(Path.GetDirectoryName(file)!, pipeline.Name + ".catalog.json") : null;

    /// <summary>
    /// The catalog a pipeline works from: with <c>source.discover: always</c> (the default) the tap's <c>--discover</c> on
    /// every call, so columns and tables added at the source are extracted (singer-io database taps build their SELECT
    /// from the catalog: a stale one leaves a new column out, and an incremental pipeline's bookmark then moves past
    /// rows whose values for it are never read); with <c>cached</c>, the cache beside the pipeline until
    /// <paramref name="refresh"/> or while there is none. A fresh discovery keeps what a user wrote by hand into the
    /// cache (<see cref="StreamCatalog.KeepUserMetadata"/>) and renews the cache as <paramref name="save"/> says (a run's
    /// is handed back in <see cref="DiscoveredCatalog.Unsaved"/>). A discovery that fails fails the call: a tap that
    /// cannot list its tables would not extract them either, and falling back to the cache would hide the failure behind
    /// a run that silently misses what changed.
    /// </summary>
    public async Task<DiscoveredCatalog> GetAsync(PipelineDefinition pipeline, bool refresh, CatalogSave save, CancellationToken cancellationToken)
    {
        var path = CachePath(pipeline);
        var cachedText = path is not null && File.Exists(path) ? await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false) : null;
        if (cachedText is not null && !refresh && pipeline.Source.Discover == DiscoverModes.Cached)
            return new DiscoveredCatalog(StreamCatalog.Parse(cachedText, path!), false, null, []);
        var notices = new List<string>();
        JsonObject? cached = null;
        if (cachedText is not null)
        {
            try { cached = StreamCatalog.Parse(cachedText, path!); }
            catch (ConfigException e) { notices.Add($"the cached catalog could not be read ({e.Message}): replaced by the tap's discovery"); }
        }
        var json = await DiscoverAsync(pipeline, notices, cancellationToken).ConfigureAwait(false);
        JsonObject catalog;
        try { catalog = StreamCatalog.Parse(json, $"output of '{pipeline.Source.Tap} --discover'"); }
        // The tap's discovery failed, not the user's configuration: a run failure (exit 1), not a usage error.
        catch (ConfigException e) { throw new TapFailedException(pipeline.Redaction.Redact(e.Message)); }
        if (cached is not null) StreamCatalog.KeepUserMetadata(catalog, cached);
        CatalogCacheWrite? unsaved = null;
        if (path is not null && (save != CatalogSave.IfNone || cachedText is null) && !(cached is not null && JsonNode.DeepEquals(cached, catalog)))
        {
            unsaved = new CatalogCacheWrite(path, catalog.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
            if (save != CatalogSave.AfterCommit)
            {
                if (await unsaved.SaveAsync(cancellationToken).ConfigureAwait(false) is { } notSaved) notices.Add(notSaved);
                unsaved = null;
            }
        }
        return new DiscoveredCatalog(catalog, true, cached, notices) { Unsaved = unsaved };
    }

    /// <summary>
    /// The discovered catalog with the pipeline's <c>source.streams</c> selected (every stream when the key is absent) and
    /// <c>source.replication</c> / <c>source.select</c> written in, and the notices of what changed against the cached
    /// catalog: what a run hands its tap and what <c>streams</c> and <c>validate</c> show (one path for all three). A
    /// selection naming a stream a cached catalog lacks asks the tap again once (it may have gained the stream since).
    /// </summary>
    public async Task<SelectedCatalog> CatalogAsync(PipelineDefinition pipeline, bool fullRefresh, bool refresh, CatalogSave save, CancellationToken cancellationToken)
    {
        var source = pipeline.Source;
        var got = await GetAsync(pipeline, refresh, save, cancellationToken).ConfigureAwait(false);
        JsonObject selected;
        try
        {
            selected = Configure(got.Catalog);
        }
        catch (ConfigException) when (!got.Fresh)
        {
            got = await GetAsync(pipeline, refresh: true, save == CatalogSave.AfterCommit ? save : CatalogSave.Now, cancellationToken).ConfigureAwait(false);
            selected = Configure(got.Catalog);
        }
        var notices = got.Notices.ToList();
        if (got.Previous is { } previous) notices.AddRange(StreamCatalog.Changes(previous, got.Catalog, selected, CachePath(pipeline)));
        return new SelectedCatalog(selected, got.Fresh, notices) { Unsaved = got.Unsaved };

        JsonObject Configure(JsonObject discovered)
        {
            var result = StreamCatalog.Select(discovered, source.Streams ?? ["*"], pipeline.FilePath);
            StreamCatalog.Configure(result, source, fullRefresh, pipeline.FilePath);
            return result;
        }
    }

    /// <summary>
    /// Replaces a cache file beside the pipeline (through a temp file of its own name: parts of a split run write at the
    /// same time, each without the pipeline's lock); returns why it could not be written (a read-only home), else null.
    /// </summary>
    internal static async Task<Exception?> WriteCacheAsync(string path, string text, CancellationToken cancellationToken)
    {
        var temp = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            await PipeHome.WriteFileAsync(temp, text, cancellationToken).ConfigureAwait(false);
            File.Move(temp, path, overwrite: true);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(temp); } catch (Exception again) when (again is IOException or UnauthorizedAccessException) { }
            return e;
        }
    }

    /// <summary>Where what the tap said of itself (<see cref="TapCapabilities"/>) is cached, beside the catalog.</summary>
    public static string? CapabilitiesCachePath(PipelineDefinition pipeline) =>
        pipeline.FilePath is { } file ? Path.Combine(Path.GetDirectoryName(file)!, pipeline.Name + ".tap.json") : null;

    /// <summary>
    /// Whether the pipeline's tap can discover and which flag(s) take its catalog: a built-in tap is known; a command is
    /// asked <c>--help</c>, then <c>--about --format=json</c>, once (cached beside the catalog until the command changes,
    /// and in this process while the tap's files are unchanged: <see cref="KnownTapCapabilities"/>).
    /// <c>source.catalog_flag</c>, when it names a flag, wins.
    /// </summary>
    public async Task<TapCapabilities> CapabilitiesAsync(PipelineDefinition pipeline, bool refresh, CancellationToken cancellationToken)
    {
        var tap = pipeline.Source.Tap.Trim();
        if (BuiltInTaps.Names.Contains(tap, StringComparer.Ordinal))
            return new TapCapabilities(tap, true, [CatalogFlags.Catalog], "built-in").WithOverride(pipeline.Source.CatalogFlag);
        var path = CapabilitiesCachePath(pipeline);
        if (!refresh && path is not null && File.Exists(path))
        {
            TapCapabilities? cached = null;
            try { cached = TapCapabilities.FromJson(System.Text.Json.Nodes.JsonNode.Parse(await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false))); }
            catch (System.Text.Json.JsonException) { /* a damaged cache is asked again */ }
            if (cached is not null && cached.Tap == tap) return cached.WithOverride(pipeline.Source.CatalogFlag);
        }
        var known = refresh ? null : KnownTapCapabilities.Find(tap);
        var answer = known ?? await AskCapabilitiesAsync(tap, TapCapabilities.AnswerTimeoutFor(pipeline.Source), path, cancellationToken).ConfigureAwait(false);
        if (known is null) KnownTapCapabilities.Remember(tap, answer with { Notice = null });
        if (path is not null && await WriteCacheAsync(path, answer.ToJson().ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }), cancellationToken).ConfigureAwait(false) is { } notWritten)
        {
            // A pod's home is a read-only ConfigMap (k8s render ships this file when it exists, so a pod rarely gets here):
            // the run goes on with the answer it got, and asks again next time.
            var notice = $"what the tap said of itself could not be cached in {path} ({notWritten.Message}): this run uses it, and the next run asks the tap again";
            answer = answer with { Notice = answer.Notice is { } unanswered ? unanswered + "; " + notice : notice };
        }
        return answer.WithOverride(pipeline.Source.CatalogFlag);
    }

    /// <summary>Asks <c>--help</c>, then <c>--about --format=json</c>, each for at most <paramref name="timeout"/>.</summary>
    /// <param name="tap">The tap command line.</param>
    /// <param name="timeout">The wait for each answer (<see cref="TapCapabilities.AnswerTimeoutFor"/>).</param>
    /// <param name="cachePath">Where the answer will be kept (named in the notice of a tap that did not answer); null: in this process only.</param>
    /// <param name="cancellationToken">Stops asking.</param>
    private static async Task<TapCapabilities> AskCapabilitiesAsync(string tap, TimeSpan timeout, string? cachePath, CancellationToken cancellationToken)
    {
        foreach (var (args, read) in new (string[] Args, Func<string, TapCapabilities?> Read)[]
                 {
                     (["--help"], text => TapCapabilities.FromHelp(tap, text)),
                     (["--about", "--format=json"], text => TapCapabilities.FromAbout(tap, text)),
                 })
        {
            TapAnswer answer;
            try { answer = await TapAnswer.AskAsync(tap, args, timeout, TapCapabilities.AnswerMaxChars, cancellationToken).ConfigureAwait(false); }
            catch (TapFailedException)
            {
                // Did not answer in time: it ignores its arguments, and would ignore --about as well (another wait).
                return TapCapabilities.Unknown(tap) with
                {
                    Notice = $"the tap did not answer {args[0]} within {Durations.Describe(timeout)}{(args[0] == "--help" ? " (nor was it asked --about)" : "")}: " +
                        "it is taken as a tap that cannot discover and runs without a catalog; " +
                        (cachePath is null ? "this answer holds until the tap changes" : $"this answer is kept in {cachePath} (delete it to ask again)"),
                };
            }
            // A tap that starts sending Singer messages ignores its arguments: asking again would only extract again.
            if (answer.Stdout.TrimStart().StartsWith('{') && TapCapabilities.FromAbout(tap, answer.Stdout) is null) break;
            // argparse prints usage to stdout on --help, and to stderr when it refuses a flag; either names the flags.
            if (read(answer.Stdout) is { } found) return found;
            if (answer.ExitCode != 0 && args[0] == "--help" && read(answer.StderrTail) is { } fromError) return fromError;
        }
        return TapCapabilities.Unknown(tap);
    }

    /// <summary>
    /// The catalog a run hands its tap, and the stream names its messages may use: <see cref="CatalogAsync"/>, refused when
    /// two selected streams send under one name. No catalog for a tap that cannot discover and selects nothing, nor for a
    /// built-in tap that selects nothing (it sends every stream, listing its source on each run).
    /// </summary>
    /// <param name="pipeline">The pipeline.</param>
    /// <param name="fullRefresh">Whether streams that name no replication method get <c>FULL_TABLE</c>.</param>
    /// <param name="save">When a fresh discovery renews the cache (a run: <see cref="CatalogSave.AfterCommit"/>; <c>validate</c>: <see cref="CatalogSave.IfNone"/>).</param>
    /// <param name="cancellationToken">Stops discovery.</param>
    public async Task<CatalogSelection> SelectAsync(PipelineDefinition pipeline, bool fullRefresh, CatalogSave save, CancellationToken cancellationToken)
    {
        var source = pipeline.Source;
        var capabilities = await CapabilitiesAsync(pipeline, refresh: false, cancellationToken).ConfigureAwait(false);
        var configures = source.Replication.Count > 0 || source.Select.Count > 0;
        var builtIn = capabilities.Origin == "built-in" || BuiltInTaps.Names.Contains(source.Tap.Trim(), StringComparer.Ordinal);
        if (source.Streams is null && !configures && (builtIn || !capabilities.CanDiscover))
            return new CatalogSelection(null, null, capabilities);
        if (CatalogKeyProblem(pipeline, capabilities) is { } problem) throw problem;
        var catalog = await CatalogAsync(pipeline, fullRefresh, refresh: false, save, cancellationToken).ConfigureAwait(false);
        StreamCatalog.CheckDistinctNames(catalog.Catalog, pipeline.FilePath);
        return new CatalogSelection(catalog.Catalog, StreamCatalog.SelectedMessageNames(catalog.Catalog), capabilities) { Notices = catalog.Notices, UnsavedCatalog = catalog.Unsaved };
    }

    /// <summary>
    /// Whether the pipeline's tap has a catalog to show or select from: a built-in tap always does, a command only when it
    /// lists <c>--discover</c>.
    /// </summary>
    public static bool HasCatalog(PipelineDefinition pipeline, TapCapabilities capabilities) =>
        capabilities.CanDiscover || capabilities.Origin == "built-in" || BuiltInTaps.Names.Contains(pipeline.Source.Tap.Trim(), StringComparer.Ordinal);

    /// <summary>
    /// The configuration error of a pipeline that selects or configures streams (<c>source.streams</c>, <c>replication</c>,
    /// <c>select</c>) with a tap that has no catalog, at the first such key's line; null when there is none.
    /// </summary>
    public static ConfigException? CatalogKeyProblem(PipelineDefinition pipeline, TapCapabilities capabilities)
    {
        var source = pipeline.Source;
        var key = source.Streams is not null ? "source.streams" : source.Replication.Count > 0 ? "source.replication" : source.Select.Count > 0 ? "source.select" : null;
        if (key is null || HasCatalog(pipeline, capabilities)) return null;
        return new ConfigException($"needs the tap's catalog, but '{source.Tap}' does not list --discover in its --help or --about, so it has none: " +
            "remove the key (the tap then sends what it sends)",
            pipeline.FilePath, source.KeyLines.TryGetValue(key, out var line) ? line : null, key);
    }

    /// <summary>Runs <c>&lt;tap&gt; --config &lt;file&gt; --discover</c> (a built-in tap in-process) and returns its catalog JSON.</summary>
    public Task<string> DiscoverAsync(PipelineDefinition pipeline, CancellationToken cancellationToken) => DiscoverAsync(pipeline, [], cancellationToken);

    /// <summary>
    /// As <see cref="DiscoverAsync(PipelineDefinition, CancellationToken)"/>, adding to <paramref name="notices"/> the
    /// processes the tap left holding its output that were stopped. <c>source.timeout</c> bounds the discovery as it
    /// bounds the extract, counted from the discovery's own start (none: no limit): a large database's discovery may
    /// take long, and the one setting that bounds a tap raises the limit for both.
    /// </summary>
    internal async Task<string> DiscoverAsync(PipelineDefinition pipeline, List<string> notices, CancellationToken cancellationToken)
    {
        await using var config = await TapConfigFile.CreateAsync(pipeline, cancellationToken).ConfigureAwait(false);
        var tap = pipeline.Source.Tap.Trim();
        TapAnswer answer;
        if (BuiltInTaps.TryGet(tap, stores, out var builtIn))
        {
            try
            {
                builtIn.CheckPipelineConfig((await BuiltInTapInputs.ReadObjectAsync(config.Path, "config", cancellationToken).ConfigureAwait(false))!);
            }
            catch (TapException e) when (e.IsConfiguration)
            {
                var message = pipeline.Redaction.Redact(e.Message);
                throw new TapFailedException(message) { ExitCode = 2, StderrTail = message, Configuration = true };
            }
            using var stdout = new MemoryStream();
            using var stderr = new StringWriter();
            var code = await BuiltInTapCommand.RunAsync(tap, config.Path, null, null, discover: true, stdout, stderr, cancellationToken, stores).ConfigureAwait(false);
            answer = new TapAnswer(code, Encoding.UTF8.GetString(stdout.ToArray()), stderr.ToString());
        }
        else
        {
            var command = $"'{pipeline.Source.Tap} --discover'";
            var origin = $"output of {command}";
            var timeout = pipeline.Source.Timeout;
            try
            {
                answer = await TapAnswer.AskAsync(pipeline.Source.Tap, ["--config", config.Path, "--discover"], timeout ?? Timeout.InfiniteTimeSpan,
                    (process, token) => CatalogOutput.ReadAsync(process.StandardOutput.BaseStream, origin, CatalogOutput.MaxBytes, () => TapAnswer.Stop(process), token),
                    cancellationToken, pipeline.Redaction.Redact($"{command} did not finish within source.timeout ({Durations.Describe(timeout ?? default)}) and was stopped")).ConfigureAwait(false);
            }
            // The tap printed something that cannot be a catalog and was stopped: its discovery failed (exit 1, as below).
            catch (ConfigException e) { throw new TapFailedException(pipeline.Redaction.Redact(e.Message)); }
        }
        if (answer.LeftoversStopped.Count > 0)
            notices.Add(pipeline.Redaction.Redact($"'{pipeline.Source.Tap} --discover': " + Runs.PipelineRunner.LeftoversStopped(answer.LeftoversStopped, "the tap exited")));
        if (answer.ExitCode != 0)
            throw new TapFailedException(pipeline.Redaction.Redact(
                $"the tap exited with code {answer.ExitCode} during '{pipeline.Source.Tap} --discover'{(answer.StderrTail.Length > 0 ? "; its last stderr line: " + TapAnswer.LastLine(answer.StderrTail) : "")}"))
            {
                ExitCode = answer.ExitCode,
                StderrTail = pipeline.Redaction.Redact(answer.StderrTail),
            };
        return answer.Stdout;
    }
}

/// <summary>What a run hands its tap: the catalog (null: none), the stream names its messages may use (null: any), and how to pass it.</summary>
public sealed record CatalogSelection(JsonObject? Catalog, IReadOnlySet<string>? MessageNames, TapCapabilities Capabilities)
{
    /// <summary>For the run log: what changed against the cached catalog, and a cache that could not be read or written.</summary>
    public IReadOnlyList<string> Notices { get; init; } = [];
    /// <summary>The discovered catalog the run saves as the cache once its commit landed; null when the cache is current.</summary>
    public CatalogCacheWrite? UnsavedCatalog { get; init; }
}

/// <summary>When a fresh discovery renews a pipeline's cached catalog, the baseline of the next run's change notices.</summary>
public enum CatalogSave
{
    /// <summary>
    /// Only while there is none: a look (<c>streams</c> without <c>--refresh</c>, <c>validate</c>) leaves the baseline
    /// alone, so the run that first extracts a change still says so.
    /// </summary>
    IfNone,
    /// <summary>At once: <c>streams --refresh</c>, the stream picker.</summary>
    Now,
    /// <summary>
    /// By a run, once its commit landed (<see cref="DiscoveredCatalog.Unsaved"/>): a run that fails leaves the baseline as
    /// it was, so the run that lands the change names it.
    /// </summary>
    AfterCommit,
}

/// <summary>A discovered catalog not yet written to the pipeline's catalog cache at <paramref name="Path"/>.</summary>
public sealed record CatalogCacheWrite(string Path, string Text)
{
    /// <summary>Writes it; returns the notice of a cache that could not be written, else null.</summary>
    public async Task<string?> SaveAsync(CancellationToken cancellationToken) =>
        // A pod's home is a read-only ConfigMap: the run goes on with the catalog it discovered.
        await TapCatalogs.WriteCacheAsync(Path, Text, cancellationToken).ConfigureAwait(false) is { } e
            ? $"the discovered catalog could not be cached in {Path} ({e.Message}): this run uses it, and the next run compares with the older cache again"
            : null;
}

/// <summary>
/// A pipeline's catalog as the tap listed it (<paramref name="Fresh"/>: discovered by this call, else read from the cache),
/// the cached catalog it replaced (null: none, or not discovered), and notices about the cache.
/// </summary>
public sealed record DiscoveredCatalog(JsonObject Catalog, bool Fresh, JsonObject? Previous, IReadOnlyList<string> Notices)
{
    /// <summary>With <see cref="CatalogSave.AfterCommit"/>: the cache a run writes once it committed; null when there is nothing to write.</summary>
    public CatalogCacheWrite? Unsaved { get; init; }
}

/// <summary>A catalog with the pipeline's selection applied, whether it was discovered by this call, and what changed against the cached one.</summary>
public sealed record SelectedCatalog(JsonObject Catalog, bool Fresh, IReadOnlyList<string> Notices)
{
    /// <summary>The discovered catalog's cache left for the caller to write (<see cref="CatalogSave.AfterCommit"/>).</summary>
    public CatalogCacheWrite? Unsaved { get; init; }
}

/// <summary>What a tap printed when asked a question outside a run (<c>--discover</c>, <c>--help</c>, <c>--about</c>).</summary>
public sealed record TapAnswer(int ExitCode, string Stdout, string StderrTail)
{
    /// <summary>The processes the tap left running that still held its output once it exited, and were stopped.</summary>
    public IReadOnlyList<string> LeftoversStopped { get; init; } = [];

    /// <summary>Runs the tap command with extra arguments, capturing stdout and the tail of stderr; kills it after <paramref name="timeout"/>.</summary>
    public static Task<TapAnswer> AskAsync(string tap, IEnumerable<string> args, TimeSpan timeout, CancellationToken cancellationToken) =>
        AskAsync(tap, args, timeout, int.MaxValue, cancellationToken);

    /// <summary>
    /// As <see cref="AskAsync(string, IEnumerable{string}, TimeSpan, CancellationToken)"/>, keeping at most
    /// <paramref name="maxStdoutChars"/> of stdout: a tap that goes on printing past that is killed and its answer is what
    /// it printed up to there (its exit code then says it was killed). A tap that ignores its arguments extracts instead
    /// of answering, and its whole output must not be held in memory to see that.
    /// </summary>
    public static Task<TapAnswer> AskAsync(string tap, IEnumerable<string> args, TimeSpan timeout, int maxStdoutChars, CancellationToken cancellationToken) =>
        AskAsync(tap, args, timeout, (process, token) => ReadAtMostAsync(process, maxStdoutChars, token), cancellationToken);

    /// <summary>
    /// As <see cref="AskAsync(string, IEnumerable{string}, TimeSpan, CancellationToken)"/>, with stdout read by
    /// <paramref name="readStdout"/>, which may stop the tap (<see cref="Stop"/>) once it has read enough; an exception it
    /// throws is the answer's. <paramref name="timedOut"/>: the error of a tap stopped after <paramref name="timeout"/>
    /// (<see cref="Timeout.InfiniteTimeSpan"/>: none), when the caller can name the question and its limit.
    /// </summary>
    internal static async Task<TapAnswer> AskAsync(string tap, IEnumerable<string> args, TimeSpan timeout, Func<Process, CancellationToken, Task<string>> readStdout,
        CancellationToken cancellationToken, string? timedOut = null)
    {
        var words = CommandLine.Split(tap);
        var psi = TapProcess.StartInfo(words, args);
        using var process = TapLaunch.Start(psi, words[0]);
        process.StandardInput.Close();
        var stdout = readStdout(process, cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timer.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(timer.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            TapLaunch.Kill(process);
            cancellationToken.ThrowIfCancellationRequested();
            throw new TapFailedException(timedOut ?? $"tap '{words[0]}' did not finish within {Durations.Describe(timeout)}");
        }
        var output = Task.WhenAll(stdout, stderr);
        IReadOnlyList<string> leftovers = [];
        try
        {
            await output.WaitAsync(Runs.PipelineRunner.LeftoverGrace, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The tap exited, but a process it left running may hold its stdout or stderr: the answer would never end.
            // With no such process, what is left is only being read (a large catalog): that ends by itself.
            leftovers = PipeHolders.Stop([process.StandardOutput.BaseStream, process.StandardError.BaseStream]);
            if (leftovers.Count == 0)
                await output.WaitAsync(cancellationToken).ConfigureAwait(false);
            else
            {
                try { await output.WaitAsync(TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false); }
                catch (TimeoutException) { throw new TapFailedException($"tap '{words[0]}' exited, but a process it left running kept its output open"); }
            }
        }
        var err = await stderr.ConfigureAwait(false);
        return new TapAnswer(process.ExitCode, await stdout.ConfigureAwait(false), err.Length > 2000 ? err[^2000..] : err) { LeftoversStopped = leftovers };
    }

    private static async Task<string> ReadAtMostAsync(Process process, int maxChars, CancellationToken cancellationToken)
    {
        var text = new StringBuilder();
        var buffer = new char[16 * 1024];
        int read;
        while ((read = await process.StandardOutput.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            text.Append(buffer, 0, Math.Min(read, maxChars - text.Length));
            if (text.Length < maxChars) continue;
            Stop(process);
            break;
        }
        return text.ToString();
    }

    /// <summary>Stops a tap whose answer was read far enough (with whatever it started).</summary>
    internal static void Stop(Process process)
    {
        TapLaunch.Kill(process);
    }

    /// <summary>The last non-empty line of a tap's stderr: usually the error itself.</summary>
    public static string LastLine(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.Length == 0 ? "" : lines[^1];
    }
}

/// <summary>The tap config as a file for a subprocess: the pipeline's own file, or a private scratch copy of the inline config.</summary>
internal static class TapConfigFile
{
    public static async Task<LocalFilePath> CreateAsync(PipelineDefinition pipeline, CancellationToken cancellationToken)
    {
        if (pipeline.Source.ConfigPath is { } path) return LocalFilePath.Existing(path);
        var json = Encoding.UTF8.GetBytes((pipeline.Source.InlineConfig ?? new JsonObject()).ToJsonString());
        return await LocalFilePath.ScratchAsync("pipe-config", ".json", stream => stream.WriteAsync(json, cancellationToken).AsTask()).ConfigureAwait(false);
    }
}
