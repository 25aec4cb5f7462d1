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

    /// <summary>
    /// Refuses (<see cref="TapException.Configuration(string)"/>) what a pipeline's config must not hold although the standalone
    /// tap accepts it: a pipeline runs from any folder (cron starts it in the home folder), a standalone tap from the one it is given.
    /// </summary>
    void CheckPipelineConfig(JsonObject config) { }
}

/// <summary>
/// A built-in tap that hands its rows over as typed values (<see cref="RecordSink"/>) instead of Singer text: run
/// in-process it costs no JSON round trip; <c>dataspoc-pipe tap</c> prints the same rows as Singer JSON through
/// <see cref="SingerJsonSink"/>. Its <see cref="IBuiltInTap.SyncAsync"/> is <see cref="TypedTaps.SyncAsJsonAsync"/>.
/// </summary>
internal interface ITypedBuiltInTap : IBuiltInTap
{
    /// <summary>Writes SCHEMA / rows / STATE to <paramref name="sink"/>.</summary>
    Task SyncAsync(JsonObject config, JsonObject? state, JsonObject? catalog, RecordSink sink, CancellationToken cancellationToken);
}

internal static class TypedTaps
{
    /// <summary>A typed tap's sync printed as Singer JSON lines to <paramref name="output"/>, its notices to <paramref name="notices"/>.</summary>
    public static async Task SyncAsJsonAsync(this ITypedBuiltInTap tap, JsonObject config, JsonObject? state, JsonObject? catalog, Stream output, CancellationToken cancellationToken,
        TextWriter? notices = null)
    {
        var sink = new SingerJsonSink(output, notices);
        await tap.SyncAsync(config, state, catalog, sink, cancellationToken).ConfigureAwait(false);
        await sink.FlushAsync(cancellationToken).ConfigureAwait(false);
    }
}
