using System.ComponentModel;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Cli.Infrastructure;
using DataSpoc.Pipe.Sources;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DataSpoc.Pipe.Cli.Commands;

/// <summary><c>streams &lt;name&gt;</c>: the tap's streams (from <c>--discover</c>, cached) and which ones the pipeline selects.</summary>
internal sealed class StreamsCommand : AsyncCommand<StreamsCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandArgument(0, "<NAME>")]
        [Description("The pipeline")]
        public string Name { get; init; } = "";

        [CommandOption("--refresh")]
        [Description("Run the tap's [green]--discover[/] again instead of using the cached catalog")]
        public bool Refresh { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var pipeline = Pipelines.Client().Load(settings.Name);
        var catalogs = new TapCatalogs(Stores.Create());
        var (catalog, fresh) = await catalogs.GetAsync(pipeline, settings.Refresh, cancellationToken);
        var capabilities = await catalogs.CapabilitiesAsync(pipeline, settings.Refresh, cancellationToken);
        var selection = pipeline.Source.Streams;
        catalog = StreamCatalog.Select(catalog, selection ?? ["*"], pipeline.FilePath);
        StreamCatalog.Configure(catalog, pipeline.Source, !pipeline.Incremental.Enabled, pipeline.FilePath);
        var entries = StreamCatalog.List(catalog);
        bool Selected(StreamCatalog.Entry e) => e.Selected;

        if (settings.Json)
        {
            JsonOutput.Write(new JsonObject
            {
                ["pipeline"] = pipeline.Name,
                ["catalog"] = TapCatalogs.CachePath(pipeline),
                ["discovered"] = fresh,
                ["selection"] = selection is null ? "all" : "listed",
                ["catalog_flags"] = new JsonArray(capabilities.CatalogFlags.Select(f => (JsonNode)JsonValue.Create(f)).ToArray()),
                ["catalog_flags_from"] = capabilities.Origin,
                ["streams"] = new JsonArray(entries.Select(e => (JsonNode)new JsonObject
                {
                    ["stream"] = e.Stream,
                    ["tap_stream_id"] = e.TapStreamId,
                    ["selected"] = Selected(e),
                    ["key_properties"] = new JsonArray(e.KeyProperties.Select(k => (JsonNode)JsonValue.Create(k)!).ToArray()),
                    ["replication_method"] = e.ReplicationMethod,
                    ["replication_key"] = e.ReplicationKey,
                    ["columns"] = e.PropertyCount,
                }).ToArray()),
            });
            return ExitCodes.Success;
        }
        var table = new Table().AddColumns("stream", "tap_stream_id", "selected", "key", "replication", "columns");
        foreach (var e in entries)
            table.AddRow(Markup.Escape(e.Stream), Markup.Escape(e.TapStreamId), Selected(e) ? "[green]yes[/]" : "no", Markup.Escape(string.Join(", ", e.KeyProperties)),
                Markup.Escape(e.ReplicationMethod is null ? "-" : e.ReplicationMethod + (e.ReplicationKey is { } k ? $" by {k}" : "")),
                e.PropertyCount.ToString(System.Globalization.CultureInfo.InvariantCulture));
        AnsiConsole.Write(table);
        var note = selection is null ? " (no source.streams: every stream is extracted)" : "";
        AnsiConsole.MarkupLineInterpolated($"{(fresh ? "Discovered" : "Cached")} catalog: {TapCatalogs.CachePath(pipeline)}{note}");
        AnsiConsole.MarkupLineInterpolated($"The catalog is passed with {capabilities.FlagsText} (from {capabilities.Origin}); the table folder is the stream name.");
        return ExitCodes.Success;
    }
}
