using System.Text.Json.Nodes;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// A Singer tap written in C# and shipped inside the binary. The same code serves a pipeline (run in-process)
/// and <c>dataspoc-pipe tap &lt;name&gt;</c> (a standalone Singer tap on stdout).
/// </summary>
public interface IBuiltInTap
{
    /// <summary>The name used as <c>source.tap</c> (e.g. <c>csv</c>, <c>postgres</c>).</summary>
    string Name { get; }

    /// <summary>Writes the Singer catalog (<c>{"streams":[...]}</c>) for <c>--discover</c>.</summary>
    Task DiscoverAsync(JsonObject config, Stream output, CancellationToken cancellationToken);

    /// <summary>Writes SCHEMA / RECORD / STATE lines (UTF-8, one message a line) to <paramref name="output"/>.</summary>
    Task SyncAsync(JsonObject config, JsonObject? state, JsonObject? catalog, Stream output, CancellationToken cancellationToken);
}
