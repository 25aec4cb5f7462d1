using System.IO.Pipelines;
using System.Text.Json.Nodes;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// Runs a built-in tap in-process as a pipeline's source. A typed tap (<see cref="ITypedBuiltInTap"/>) given the
/// engine's sink (<see cref="SourceInvocation.Sink"/>) writes its rows to it as typed values; any other tap writes
/// Singer lines into a <see cref="System.IO.Pipelines.Pipe"/> (bounded, so a slow consumer holds the tap back) whose
/// reading end is <see cref="SourceRun.Output"/>. Exit code 0 on success, 1 on failure with the reason in <see cref="SourceRun.StderrTail"/>.
/// </summary>
public sealed class BuiltInSource(IBuiltInTap tap) : ISplitSource
{
    public string DefaultName => tap.Name;

    /// <summary>The file taps send no stream whose files are all unchanged (the others always send their SCHEMA).</summary>
    public bool SendsNothingWhenNothingIsNew => true;

    public async Task<SourceRun> StartAsync(SourceInvocation invocation, CancellationToken cancellationToken)
    {
        var (config, state, catalog) = await InputsAsync(invocation, cancellationToken).ConfigureAwait(false);
        var sink = tap is ITypedBuiltInTap ? invocation.Sink : null;
        return new Run(tap, config, state, catalog, sink, cancellationToken);
    }

    public async Task<System.Text.Json.Nodes.JsonObject> PlanSplitAsync(SourceInvocation invocation, CancellationToken cancellationToken)
    {
        var (config, state, catalog) = await InputsAsync(invocation, cancellationToken).ConfigureAwait(false);
        return await SplitTap().PlanSplitAsync(config, state, catalog, cancellationToken).ConfigureAwait(false);
    }

    private ISplitTap SplitTap() => tap as ISplitTap ?? throw new TapException($"source.split: the {tap.Name} tap cannot read a table in key ranges (the built-in postgres tap can)");

    private async Task<(JsonObject Config, JsonObject? State, JsonObject? Catalog)> InputsAsync(SourceInvocation invocation, CancellationToken cancellationToken)
    {
        var config = await BuiltInTapInputs.ReadObjectAsync(invocation.ConfigPath, "config", cancellationToken).ConfigureAwait(false)
                     ?? invocation.Definition?.InlineConfig?.DeepClone().AsObject()
                     ?? throw TapException.Configuration($"{tap.Name} tap: no config was given");
        tap.CheckPipelineConfig(config);
        if (invocation.Split is { } split)
        {
            SplitTap();
            config[PostgresTap.SplitKey] = split.DeepClone();
        }
        var state = await BuiltInTapInputs.ReadObjectAsync(invocation.StatePath, "state", cancellationToken).ConfigureAwait(false);
        var catalog = await BuiltInTapInputs.ReadObjectAsync(invocation.CatalogPath, "catalog", cancellationToken).ConfigureAwait(false);
        return (config, state, catalog);
    }

    private sealed class Run : SourceRun
    {
        private readonly System.IO.Pipelines.Pipe _pipe = new(new PipeOptions(pauseWriterThreshold: 4 << 20, resumeWriterThreshold: 2 << 20, useSynchronizationContext: false));
        private readonly CancellationTokenSource _cancel;
        private readonly Task<int> _exit;
        private readonly Stream _output;
        private readonly string _tapName;
        private readonly RecordSink? _sink;
        private volatile string _error = "";
        private volatile bool _stoppedOnConfiguration;

        public Run(IBuiltInTap tap, JsonObject config, JsonObject? state, JsonObject? catalog, RecordSink? sink, CancellationToken cancellationToken)
        {
            _tapName = tap.Name;
            _sink = sink;
            _cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            _output = sink is null ? _pipe.Reader.AsStream() : Stream.Null;
            _exit = Task.Run(() => RunAsync(tap, config, state, catalog), CancellationToken.None);
        }

        public override Stream Output => _output;

        internal override bool WritesToSink => _sink is not null;

        public override string StderrTail => _error;

        internal override bool StoppedOnConfiguration => _stoppedOnConfiguration;

        public override string CommandForLog => $"built-in tap {_tapName}";

        public override Task<int> WaitForExitAsync(CancellationToken cancellationToken) => _exit.WaitAsync(cancellationToken);

        public override void Kill() => _cancel.Cancel();

        public override async ValueTask DisposeAsync()
        {
            _cancel.Cancel();
            // Unblocks a tap waiting for the reader to drain the pipe.
            await _pipe.Reader.CompleteAsync().ConfigureAwait(false);
            try { await _exit.ConfigureAwait(false); } catch (OperationCanceledException) { }
            _cancel.Dispose();
        }

        private async Task<int> RunAsync(IBuiltInTap tap, JsonObject config, JsonObject? state, JsonObject? catalog)
        {
            var exitCode = 0;
            try
            {
                if (_sink is not null)
                {
                    await ((ITypedBuiltInTap)tap).SyncAsync(config, state, catalog, _sink, _cancel.Token).ConfigureAwait(false);
                    await _sink.FlushAsync(_cancel.Token).ConfigureAwait(false);
                }
                else
                {
                    await using var stream = _pipe.Writer.AsStream(leaveOpen: true);
                    if (tap is ITypedBuiltInTap typed) await typed.SyncAsJsonAsync(config, state, catalog, stream, _cancel.Token).ConfigureAwait(false);
                    else await tap.SyncAsync(config, state, catalog, stream, _cancel.Token).ConfigureAwait(false);
                    await stream.FlushAsync(_cancel.Token).ConfigureAwait(false);
                }
            }
            catch (Exception) when (_sink is { Failed: true })
            {
                // The engine's error stopped the tap (the runner reports it): to the tap, as when a reader stops it.
                _error = $"{tap.Name} tap: cancelled";
                exitCode = 1;
            }
            catch (OperationCanceledException) when (_cancel.IsCancellationRequested)
            {
                _error = $"{tap.Name} tap: cancelled";
                exitCode = 1;
            }
            catch (Exception e)
            {
                _error = BuiltInTapErrors.Describe(tap.Name, e);
                _stoppedOnConfiguration = BuiltInTapErrors.StoppedOnConfiguration(e);
                exitCode = 1;
            }
            // The reader sees end of output either way; the exit code and StderrTail say whether it was complete.
            await _pipe.Writer.CompleteAsync().ConfigureAwait(false);
            return exitCode;
        }
    }
}
