using System.IO.Pipelines;
using System.Text.Json;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Sources;

namespace DataSpoc.Pipe.Api;

/// <summary>
/// A source written in code: streams of records from <see cref="IAsyncEnumerable{T}"/>s, run in-process. Each stream
/// is sent as Singer messages (its SCHEMA, then its RECORDs) into the same reader a tap's output goes through, so
/// types, validation and the lake layout are exactly those of a tap run. Streams are sent one after another, in the
/// order they were added.
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
    /// <param name="records">The records; enumerated once, while the run reads them. An exception fails the run.</param>
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

    /// <summary>A bookmark to save after the records (the pipeline's <c>state.json</c>, for incremental pipelines), sent as a Singer STATE message.</summary>
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
        var pipe = new System.IO.Pipelines.Pipe();
        var run = new Run(pipe);
        run.Producer = Task.Run(() => ProduceAsync(pipe.Writer, run, run.Cancel.Token), CancellationToken.None);
        return Task.FromResult<SourceRun>(run);
    }

    private async Task ProduceAsync(PipeWriter output, Run run, CancellationToken cancellationToken)
    {
        try
        {
            using var json = new Utf8JsonWriter(output);
            foreach (var (stream, schema, keys, records) in _streams)
            {
                json.Reset(output);
                json.WriteStartObject();
                json.WriteString("type", "SCHEMA");
                json.WriteString("stream", stream);
                json.WritePropertyName("schema");
                schema.WriteTo(json);
                json.WriteStartArray("key_properties");
                foreach (var k in keys) json.WriteStringValue(k);
                json.WriteEndArray();
                json.WriteEndObject();
                await EndLineAsync(json, output, cancellationToken).ConfigureAwait(false);
                await foreach (var record in records.WithCancellation(cancellationToken).ConfigureAwait(false))
                {
                    json.Reset(output);
                    json.WriteStartObject();
                    json.WriteString("type", "RECORD");
                    json.WriteString("stream", stream);
                    json.WritePropertyName("record");
                    record.WriteTo(json);
                    json.WriteEndObject();
                    await EndLineAsync(json, output, cancellationToken).ConfigureAwait(false);
                }
            }
            if (_state is not null)
            {
                json.Reset(output);
                json.WriteStartObject();
                json.WriteString("type", "STATE");
                json.WritePropertyName("value");
                _state.WriteTo(json);
                json.WriteEndObject();
                await EndLineAsync(json, output, cancellationToken).ConfigureAwait(false);
            }
            run.ExitCode = 0;
            await output.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            run.ExitCode = 1;
            run.Error = e is OperationCanceledException ? "the source was stopped" : $"{e.GetType().Name}: {e.Message}";
            await output.CompleteAsync().ConfigureAwait(false);
        }
    }

    private static async ValueTask EndLineAsync(Utf8JsonWriter json, PipeWriter output, CancellationToken cancellationToken)
    {
        json.Flush();
        output.GetSpan(1)[0] = (byte)'\n';
        output.Advance(1);
        var flushed = await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (flushed.IsCompleted) throw new OperationCanceledException("the reader stopped");
    }

    private sealed class Run(System.IO.Pipelines.Pipe pipe) : SourceRun
    {
        private readonly Stream _output = pipe.Reader.AsStream();
        public CancellationTokenSource Cancel { get; } = new();
        public Task Producer { get; set; } = Task.CompletedTask;
        public int ExitCode { get; set; }
        public string Error { get; set; } = "";

        public override Stream Output => _output;
        public override string StderrTail => Error;
        public override string CommandForLog => "(in-process source)";

        public override async Task<int> WaitForExitAsync(CancellationToken cancellationToken)
        {
            await Producer.WaitAsync(cancellationToken).ConfigureAwait(false);
            return ExitCode;
        }

        public override void Kill()
        {
            Cancel.Cancel();
            pipe.Reader.CancelPendingRead();
        }

        public override async ValueTask DisposeAsync()
        {
            Cancel.Cancel();
            try { await Producer.ConfigureAwait(false); }
            catch (OperationCanceledException) { }
            await _output.DisposeAsync().ConfigureAwait(false);
            Cancel.Dispose();
        }
    }
}
