using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Sources;
using Spectre.Console;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>
/// The <c>add</c> wizard's stream step: runs the tap's discovery (through the engine's <see cref="TapCatalogs"/>, which
/// caches the catalog beside the new pipeline) and lets the user pick streams and, for an incremental pipeline, the
/// column each one replicates by.
/// </summary>
internal static class StreamPicker
{
    /// <summary>What was picked: null streams means every stream (nothing to write).</summary>
    public sealed record Choice(IReadOnlyList<string>? Streams, IReadOnlyDictionary<string, StreamReplication> Replication);

    /// <summary>
    /// Asks, when the tap can discover; null when it cannot, the user declines, or discovery fails (said on screen, with
    /// how to do it later: the pipeline is still written).
    /// </summary>
    public static async Task<Choice?> AskAsync(PipelineDefinition pipeline, CancellationToken cancellationToken)
    {
        var catalogs = new TapCatalogs(Stores.Create());
        TapCapabilities capabilities;
        try { capabilities = await catalogs.CapabilitiesAsync(pipeline, refresh: true, cancellationToken); }
        catch (Exception e) when (e is TapNotFoundException or TapFailedException) { return null; }
        if (!capabilities.CanDiscover) return null;
        if (!AnsiConsole.Prompt(new ConfirmationPrompt("Discover the tap's streams now to pick them (the tap config must work)?") { DefaultValue = true }))
            return null;
        IReadOnlyList<StreamCatalog.Entry> entries;
        try
        {
            entries = StreamCatalog.List((await catalogs.GetAsync(pipeline, refresh: true, CatalogSave.Now, cancellationToken)).Catalog);
        }
        catch (Exception e) when (e is ConfigException or TapFailedException or TapNotFoundException)
        {
            AnsiConsole.MarkupLineInterpolated($"[yellow]Discovery failed:[/] {Config.PipelineSecrets.Of(pipeline).Redact(e.Message)}");
            AnsiConsole.MarkupLineInterpolated($"Every stream is selected; fix the tap config, then pick with source.streams (dataspoc-pipe streams {pipeline.Name}).");
            return null;
        }
        if (entries.Count == 0) return null;

        var prompt = new MultiSelectionPrompt<StreamCatalog.Entry>()
            .Title("Streams to extract ([grey]space[/] toggles, [grey]enter[/] accepts)")
            .PageSize(15)
            .UseConverter(Describe)
            .AddChoices(entries);
        foreach (var entry in entries) prompt.Select(entry);
        var picked = AnsiConsole.Prompt(prompt);

        var replication = new Dictionary<string, StreamReplication>(StringComparer.Ordinal);
        if (!WriteModes.ReadsWholeSource(pipeline, fullRefreshRequested: false))
            foreach (var entry in picked.Where(e => e.ReplicationKeys is { Count: > 0 } && e.ReplicationMethod is null or "INCREMENTAL"))
            {
                var options = entry.ReplicationKeys!.Select(k => "INCREMENTAL by " + k).Append("FULL_TABLE").ToList();
                var answer = AnsiConsole.Prompt(new SelectionPrompt<string>().Title($"Replication of {Markup.Escape(entry.TapStreamId)}").AddChoices(options));
                replication[entry.TapStreamId] = answer == "FULL_TABLE"
                    ? new StreamReplication("FULL_TABLE", null)
                    : new StreamReplication("INCREMENTAL", answer["INCREMENTAL by ".Length..]);
            }
        var streams = picked.Count == entries.Count ? null : picked.Select(e => e.TapStreamId).ToList();
        return new Choice(streams, replication);
    }

    private static string Describe(StreamCatalog.Entry e)
    {
        var name = e.Stream == e.TapStreamId ? e.Stream : $"{e.TapStreamId} (stream {e.Stream})";
        var keys = e.KeyProperties.Count > 0 ? $" key: {string.Join(", ", e.KeyProperties)}" : "";
        var replication = e.ReplicationKeys is { Count: > 0 } r ? $"; replication keys: {string.Join(", ", r)}" : "";
        return Markup.Escape(name + keys + replication);
    }
}
