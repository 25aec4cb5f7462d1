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
        var home = Pipelines.Home();
        var pipeline = Pipelines.Load(home, settings.Name);
        var (catalog, fresh) = await new TapCatalogs(Stores.Create()).GetAsync(pipeline, settings.Refresh, cancellationToken);
        var selection = pipeline.Source.Streams;
        if (selection is not null) catalog = StreamCatalog.Select(catalog, selection, pipeline.FilePath);
        var entries = StreamCatalog.List(catalog);
        bool Selected(StreamCatalog.Entry e) => selection is null || e.Selected;

        if (settings.Json)
        {
            JsonOutput.Write(new JsonObject
            {
                ["pipeline"] = pipeline.Name,
                ["catalog"] = TapCatalogs.CachePath(pipeline),
                ["discovered"] = fresh,
                ["selection"] = selection is null ? "all" : "listed",
                ["streams"] = new JsonArray(entries.Select(e => (JsonNode)new JsonObject
                {
                    ["stream"] = e.Stream,
                    ["tap_stream_id"] = e.TapStreamId,
                    ["selected"] = Selected(e),
                    ["key_properties"] = new JsonArray(e.KeyProperties.Select(k => (JsonNode)JsonValue.Create(k)!).ToArray()),
                    ["replication_method"] = e.ReplicationMethod,
                    ["columns"] = e.PropertyCount,
                }).ToArray()),
            });
            return ExitCodes.Success;
        }
        var table = new Table().AddColumns("stream", "selected", "key", "replication", "columns");
        foreach (var e in entries)
            table.AddRow(Markup.Escape(e.Stream), Selected(e) ? "[green]yes[/]" : "no", Markup.Escape(string.Join(", ", e.KeyProperties)),
                Markup.Escape(e.ReplicationMethod ?? "-"), e.PropertyCount.ToString(System.Globalization.CultureInfo.InvariantCulture));
        AnsiConsole.Write(table);
        var note = selection is null ? " (no source.streams: every stream is extracted)" : "";
        AnsiConsole.MarkupLineInterpolated($"{(fresh ? "Discovered" : "Cached")} catalog: {TapCatalogs.CachePath(pipeline)}{note}");
        return ExitCodes.Success;
    }
}
