using System.Text.Json;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Sources;

namespace DataSpoc.Pipe.Api;

/// <summary>
/// A source written in code: streams of records from <see cref="IAsyncEnumerable{T}"/>s, run in-process. Each stream
/// is sent as Singer messages (its SCHEMA, then its RECORDs); a pipeline run takes the records' values typed, straight
/// into its column buffers, with types, validation and the lake layout exactly those of the same records read as a
/// tap's Singer JSON. Streams are sent one after another, in the order they were added.
/// </summary>
/// <example>
/// <code>
/// var source = new CodeSource("shop")
///     .AddStream("orders", schema, LoadOrdersAsync(), keyProperties: ["id"]);
/// await client.RunAsync(pipeline, source);
/// </code>
/// </example>
public sealed class CodeSource : ISource
{
    private readonly List<(string Stream, JsonObject Schema, IReadOnlyList<string> Keys, IAsyncEnumerable<JsonObject> Records)> _streams = [];
    private JsonNode? _state;

    /// <summary>A source whose tables land under <c>&lt;path&gt;/&lt;name&gt;/</c> (unless the pipeline sets <c>source.name</c>).</summary>
    /// <param name="name">The lake's <c>&lt;source&gt;</c> folder name.</param>
    public CodeSource(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        DefaultName = name;
    }

    /// <inheritdoc />
    public string DefaultName { get; }

    /// <summary>Adds a stream.</summary>
    /// <param name="stream">The Singer stream name (the table's name in the lake).</param>
    /// <param name="schema">The stream's JSON Schema (<c>{"type":"object","properties":{…}}</c>); it decides the Parquet types.</param>
    /// <param name="records">
    /// The records; enumerated once, while the run reads them. An exception fails the run (its error names the stream and
    /// the record). A <c>double.NaN</c> or infinity in a record lands as that double, as a Singer tap's <c>NaN</c> does.
    /// </param>
    /// <param name="keyProperties">The primary key columns, recorded in the manifest.</param>
    /// <returns>This source, to chain calls.</returns>
    public CodeSource AddStream(string stream, JsonObject schema, IAsyncEnumerable<JsonObject> records, IReadOnlyList<string>? keyProperties = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(stream);
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(records);
        _streams.Add((stream, schema, keyProperties ?? [], records));
        return this;
    }

    /// <summary>
    /// A bookmark to save after the records (the pipeline's <c>state.json</c>, for incremental pipelines), sent as a Singer
    /// STATE message; committed only when the run lands its data. The next run reads it back with
    /// <see cref="PipeClient.StateAsync(Config.PipelineDefinition, CancellationToken)"/> before it builds its source.
    /// </summary>
    /// <param name="state">Any JSON value.</param>
    /// <returns>This source, to chain calls.</returns>
    public CodeSource WithState(JsonNode state)
    {
        _state = state;
        return this;
    }

    /// <inheritdoc />
    public Task<SourceRun> StartAsync(SourceInvocation invocation, CancellationToken cancellationToken)
    {
        var run = new Run(invocation.Sink);
        run.Producer = Task.Run(() => ProduceAsync(run, run.Cancel.Token), CancellationToken.None);
        return Task.FromResult<SourceRun>(run);
    }

    private async Task ProduceAsync(Run run, CancellationToken cancellationToken)
    {
        // Into the engine's sink as typed values, or printed as Singer lines for whoever reads Output.
        await using var printed = run.Sink is null ? run.Pipe.Writer.AsStream(leaveOpen: true) : null;
        var sink = run.Sink ?? new Sources.BuiltIn.SingerJsonSink(printed!);
        sink.NumberRecordsPerStream();
        var values = new RecordValues();
        // Where the source is, for its own error: the stream, the record (1-based) and whether it was being fetched or written.
        string? stream = null;
        long record = 0;
        var fetching = false;
        try
        {
            foreach (var (name, schema, keys, records) in _streams)
            {
                (stream, record) = (name, 0);
                var rows = sink.WriteSchema(name, schema, keys);
                var properties = RecordValues.PropertiesOf(schema);
                fetching = true;
                await foreach (var item in records.WithCancellation(cancellationToken).ConfigureAwait(false))
                {
                    fetching = false;
                    record++;
                    values.Write(rows, properties, item);
                    await sink.FlushIfFullAsync(cancellationToken).ConfigureAwait(false);
                    fetching = true;
                }
                fetching = false;
            }
            stream = null;
            if (_state is not null) sink.WriteState(_state);
            await sink.FlushAsync(cancellationToken).ConfigureAwait(false);
            run.ExitCode = 0;
        }
        catch (Exception e)
        {
            run.ExitCode = 1;
            // The engine's own error (it threw into the source to stop it) is the run's; a stop is a stop.
            run.Failure = e is OperationCanceledException || sink.Failed ? "the source was stopped" : Failure(e, stream, record, fetching, values.Field);
        }
        await run.Pipe.Writer.CompleteAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// The run's error for an exception of the source's: its records' enumerator threw, or a record holds a value that
    /// cannot be read (a <see cref="JsonValue"/> of a type that fails to serialize). Named by stream, record and field.
    /// </summary>
    private static string Failure(Exception e, string? stream, long record, bool fetching, string? field)
    {
        var what = $"{e.GetType().Name}: {e.Message}";
        if (stream is null) return $"code source: {what}";
        if (fetching)
            return $"stream '{stream}': its records threw {(record == 0 ? "before the first record" : $"after record {record}")}: {what}";
        if (record == 0) return $"stream '{stream}': {what}";
        return $"stream '{stream}', record {record}: {(field is null ? "" : $"field '{field}': ")}{what}";
    }

    private sealed class Run : SourceRun
    {
        private readonly Stream _output;

        public Run(RecordSink? sink)
        {
            Sink = sink;
            _output = sink is null ? Pipe.Reader.AsStream() : Stream.Null;
        }

        public RecordSink? Sink { get; }
        public System.IO.Pipelines.Pipe Pipe { get; } = new();
        public CancellationTokenSource Cancel { get; } = new();
        public Task Producer { get; set; } = Task.CompletedTask;
        public int ExitCode { get; set; }
        public string? Failure { get; set; }

        public override Stream Output => _output;
        internal override bool WritesToSink => Sink is not null;
        // In-process: there is no stderr, and the run's error is the source's own account (SourceRun.Failure).
        internal override string? FailureReason => Failure;
        public override string CommandForLog => "(in-process source)";

        public override async Task<int> WaitForExitAsync(CancellationToken cancellationToken)
        {
            await Producer.WaitAsync(cancellationToken).ConfigureAwait(false);
            return ExitCode;
        }

        public override void Kill()
        {
            Cancel.Cancel();
            Pipe.Reader.CancelPendingRead();
        }

        public override async ValueTask DisposeAsync()
        {
            Cancel.Cancel();
            // Unblocks a producer waiting for the reader to drain the pipe.
            await Pipe.Reader.CompleteAsync().ConfigureAwait(false);
            try { await Producer.ConfigureAwait(false); }
            catch (OperationCanceledException) { }
            await _output.DisposeAsync().ConfigureAwait(false);
            Cancel.Dispose();
        }
    }
}
