using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Sources;

namespace DataSpoc.Pipe.Runs;

/// <summary>How to run a pipeline.</summary>
public sealed record RunOptions
{
    /// <summary>Full refresh: ignore saved state and replace every table the run writes.</summary>
    public bool Full { get; init; }
    /// <summary>
    /// Receives per-stream progress every 200 ms while the run works, from the extract step on (called from a background
    /// thread of its own: a callback that blocks delays only its own reports, never the run nor its <c>source.timeout</c>
    /// and <c>idle_timeout</c>); stream names are masked as in the run log. A callback that throws gets no more reports:
    /// the run goes on, and its log has a notice naming the callback and its exception.
    /// </summary>
    public IProgress<RunProgress>? Progress { get; init; }
    /// <summary>Run this source instead of the pipeline's tap (a source written in code).</summary>
    public ISource? Source { get; init; }
    /// <summary>Transforms applied to each stream's records before they are written (the .NET API's code transforms).</summary>
    public IReadOnlyList<Transforms.IRecordTransform> CodeTransforms { get; init; } = [];
    /// <summary>Told when the run starts and ends (e.g. an OpenLineage emitter); what they throw becomes a run-log notice.</summary>
    public IReadOnlyList<IRunObserver> Observers { get; init; } = [];
    /// <summary>Notices the caller adds to the run log, masked like the rest of it (the CLI's: telemetry it could not set up).</summary>
    public IReadOnlyList<string> Notices { get; init; } = [];
    /// <summary>Read only this part of a split table and stage it (<c>run NAME --part I/N</c>); null reads the whole pipeline.</summary>
    public SplitPart? Part { get; init; }
    /// <summary>
    /// The pipelines of the home the run belongs to (<see cref="Api.PipeClient"/> fills it in). A run that would replace a
    /// table another of them wrote last, reading another source, fails instead, deleting nothing (a full reload beside an
    /// incremental pipeline of the same source goes ahead). Null (no home): the replace goes ahead; the run log notes it
    /// either way.
    /// </summary>
    public HomePipelines? HomePipelines { get; init; }
}

/// <summary>A snapshot of a run in progress.</summary>
/// <param name="Elapsed">Time since the run started.</param>
/// <param name="Streams">Each selected stream's counters so far.</param>
/// <param name="Phase">
/// The run's step: <c>extract</c> (reading the source), <c>write</c> (encoding and spooling the last files) or
/// <c>commit</c> (landing the files, the manifest and the state), the <c>failed_step</c> names of a run log.
/// </param>
public sealed record RunProgress(TimeSpan Elapsed, IReadOnlyList<StreamProgress> Streams, string Phase)
{
    /// <summary>The most streams a progress report names (<see cref="StreamsShown"/>).</summary>
    public const int MaxStreamsShown = 10;

    /// <summary>
    /// The streams a progress report names: all of them, or the <see cref="MaxStreamsShown"/> with the most records (the
    /// caller counts the rest, <see cref="StreamsNotShown"/>). Naming every stream of a 10,000-stream run on each tick
    /// printed 74,000 lines; one MCP message naming all of 300 streams was 16 KB.
    /// </summary>
    public IReadOnlyList<StreamProgress> StreamsShown =>
        Streams.Count <= MaxStreamsShown ? Streams : Streams.OrderByDescending(s => s.Records).Take(MaxStreamsShown).ToList();

    /// <summary>How many streams <see cref="StreamsShown"/> leaves out.</summary>
    public int StreamsNotShown => Math.Max(0, Streams.Count - MaxStreamsShown);

    /// <summary>What a report says of the streams it leaves out, or null when it names them all.</summary>
    public string? NotShownSummary =>
        StreamsNotShown == 0 ? null : $"and {StreamsNotShown} more streams; {Streams.Sum(s => s.Records)} records in all";
}

/// <summary>One stream's counters so far; <see cref="Stream"/> is the stream's name with the run's secrets masked (as the run log shows it).</summary>
public sealed record StreamProgress(string Stream, long Records, long Rejected, long Files, long Bytes);

/// <summary>What a run did. <see cref="Log"/> is exactly what was written to the run log.</summary>
public sealed record RunResult(RunLog Log)
{
    public bool Succeeded => Log.Status == "success";

    /// <summary>
    /// What a failure means for the caller: <see cref="PipeErrorKind.Usage"/> when the run stopped on its configuration
    /// (a key the tap cannot honour, a tap that is not there) before any data moved; null when it succeeded.
    /// </summary>
    public PipeErrorKind? ErrorKind { get; init; }
}

/// <summary>
/// A home's pipelines by name, and the source one of them reads, loaded only when asked (a run asks only about a table's
/// last writer, and only when it would replace that table).
/// </summary>
/// <param name="names">The pipelines of the home.</param>
/// <param name="sourceOf">Loads a pipeline's source; null when its file does not load.</param>
public sealed class HomePipelines(IReadOnlyCollection<string> names, Func<string, Config.SourceDefinition?> sourceOf)
{
    public bool Contains(string name) => names.Contains(name);

    /// <summary>The source <paramref name="name"/> reads; null when it is not in the home or its file does not load.</summary>
    public Config.SourceDefinition? SourceOf(string name) => Contains(name) ? sourceOf(name) : null;
}
