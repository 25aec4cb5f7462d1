using System.Text.Json.Nodes;
using DataSpoc.Pipe.Sources;
using DataSpoc.Pipe.Sources.BuiltIn;

namespace DataSpoc.Pipe.Tests.Support;

/// <summary>A typed built-in tap whose sync is a script of <see cref="RecordSink"/> calls (run in-process through <see cref="BuiltInSource"/>).</summary>
internal sealed class ScriptedTypedTap(string name, Func<RecordSink, CancellationToken, Task> script) : ITypedBuiltInTap
{
    public string Name => name;

    public Task DiscoverAsync(JsonObject config, Stream output, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task SyncAsync(JsonObject config, JsonObject? state, JsonObject? catalog, Stream output, CancellationToken cancellationToken) =>
        this.SyncAsJsonAsync(config, state, catalog, output, cancellationToken);

    public Task SyncAsync(JsonObject config, JsonObject? state, JsonObject? catalog, RecordSink sink, CancellationToken cancellationToken) =>
        script(sink, cancellationToken);
}
