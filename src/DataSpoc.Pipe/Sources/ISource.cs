using DataSpoc.Pipe.Config;

namespace DataSpoc.Pipe.Sources;

/// <summary>
/// Where Singer messages come from: a tap subprocess, a built-in tap run in-process, or a source written in code.
/// A source hands the engine a stream of Singer JSON lines, so one reader parses them all; a source written in C#
/// may instead write typed rows to the engine's sink (<see cref="SourceInvocation.Sink"/>), with the same result.
/// </summary>
public interface ISource
{
    /// <summary>The tap's short name for the lake's <c>&lt;source&gt;</c> folder (e.g. <c>postgres</c> for <c>tap-postgres</c>).</summary>
    string DefaultName { get; }

    /// <summary>Starts extracting. The returned run's <see cref="SourceRun.Output"/> yields Singer lines.</summary>
    Task<SourceRun> StartAsync(SourceInvocation invocation, CancellationToken cancellationToken);

    /// <summary>
    /// Whether a sync that sends nothing at all can only mean that nothing is new. A Singer tap command that sends
    /// nothing has almost always not read its catalog, so that run fails saying so (the default); a built-in file tap
    /// sends nothing when no file changed since its bookmarks, and that run succeeds with nothing to land.
    /// </summary>
    bool SendsNothingWhenNothingIsNew => false;
}

/// <summary>A source that reads one table as key ranges (<c>source.split</c>) and plans them for the workers of a split run.</summary>
public interface ISplitSource : ISource
{
    /// <summary>The key ranges of <see cref="SourceInvocation.Split"/>'s table, as JSON the workers share (through the bucket).</summary>
    Task<System.Text.Json.Nodes.JsonObject> PlanSplitAsync(SourceInvocation invocation, CancellationToken cancellationToken);
}

/// <summary>What a source is started with. Paths are files the runner prepared (private, deleted after the run).</summary>
public sealed record SourceInvocation
{
    /// <summary>The tap config file (JSON).</summary>
    public string? ConfigPath { get; init; }
    /// <summary>The saved STATE to resume from, when the run is incremental and state exists.</summary>
    public string? StatePath { get; init; }
    /// <summary>A Singer catalog with selection metadata, when streams are selected.</summary>
    public string? CatalogPath { get; init; }
    /// <summary>
    /// The flags that pass the catalog, each followed by <see cref="CatalogPath"/>: <c>--catalog</c>, <c>--properties</c>,
    /// or both for singer-python taps (which accept both and read one); see <see cref="TapCapabilities"/>.
    /// </summary>
    public IReadOnlyList<string> CatalogFlags { get; init; } = [Config.CatalogFlags.Catalog];
    public SourceDefinition? Definition { get; init; }
    /// <summary>
    /// <c>source.split</c> for a source that reads key ranges (the built-in postgres tap): <c>column</c>, <c>parts</c>,
    /// <c>parallel</c>, and for one worker of a split run its <c>part</c> and the shared <c>plan</c> (ranges).
    /// </summary>
    public System.Text.Json.Nodes.JsonObject? Split { get; init; }
    /// <summary>
    /// The engine's sink, when the runner takes typed rows: a source written in C# (a typed built-in tap, a code
    /// source) writes to it instead of printing Singer lines, and says so with <see cref="SourceRun.WritesToSink"/>.
    /// </summary>
    internal RecordSink? Sink { get; init; }
    /// <summary>
    /// The run's private folder: a tap subprocess records itself there (<see cref="TapRecord"/>), so that the run that
    /// finds the folder of a killed run stops a tap it left running.
    /// </summary>
    internal string? RunFolder { get; init; }
}

/// <summary>A running extraction.</summary>
public abstract class SourceRun : IAsyncDisposable
{
    /// <summary>Singer messages, one JSON object per line, UTF-8 (empty when the run <see cref="WritesToSink"/>).</summary>
    public abstract Stream Output { get; }

    /// <summary>
    /// The source writes its messages to <see cref="SourceInvocation.Sink"/> as typed values, not to <see cref="Output"/>:
    /// the run is over when <see cref="WaitForExitAsync"/> completes.
    /// </summary>
    internal virtual bool WritesToSink => false;

    /// <summary>Completes when the source has finished; the exit code (0 = success).</summary>
    public abstract Task<int> WaitForExitAsync(CancellationToken cancellationToken);

    /// <summary>The last part of what the source wrote to stderr (for the run log), secrets redacted.</summary>
    public virtual string StderrTail => "";

    /// <summary>The command line that was run, secrets redacted (for the run log).</summary>
    public virtual string CommandForLog => "";

    /// <summary>
    /// Why a source that is no process (a code source, run in-process) failed, in its own words: the run's error is this,
    /// not an exit code and a last stderr line it does not have. Null for a tap.
    /// </summary>
    internal virtual string? FailureReason => null;

    /// <summary>Whether it failed on its configuration (a built-in tap's <see cref="BuiltIn.TapException.Configuration(string)"/>), before reading any data.</summary>
    internal virtual bool StoppedOnConfiguration => false;

    /// <summary>Stops the source now (the run failed or was cancelled).</summary>
    public abstract void Kill();

    /// <summary>The source's own process has ended (its output may still be held open by processes it left running).</summary>
    internal virtual bool HasExited => false;

    /// <summary>
    /// Stops the processes other than the source's own that still hold its output open after it exited (a tap's
    /// background process that inherited its stdout or stderr): the end of the output, which ends the run, would
    /// otherwise never come. Returns what was stopped (<c>name (pid N)</c>), empty when nothing held it.
    /// </summary>
    internal virtual IReadOnlyList<string> StopProcessesHoldingOutput() => [];

    public abstract ValueTask DisposeAsync();
}
