using System.ComponentModel;
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
        [Description("Run the tap's [green]--discover[/] and renew the cached catalog; without it a [green]source.discover: cached[/] pipeline shows its cache, and an [green]always[/] one is discovered without renewing the cache")]
        public bool Refresh { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var streams = await Pipelines.Client().StreamsAsync(settings.Name, settings.Refresh, cancellationToken);
        var (entries, capabilities, fresh) = (streams.Streams, streams.Capabilities, streams.Discovered);

        if (settings.Json)
        {
            JsonOutput.Write(streams.ToJson());
            return ExitCodes.Success;
        }
        if (streams.Note is { } note)
        {
            // Origin "none" is no answer to name: the tap's --help and --about named no Singer flag (or it did not answer).
            var learnt = capabilities.Origin switch
            {
                "--help" or "--about" => $" (learnt from its {capabilities.Origin})",
                "none" => " (neither its --help nor its --about names --discover)",
                _ => "",
            };
            AnsiConsole.MarkupLineInterpolated($"No streams to list: {note}{learnt}.");
            return ExitCodes.Success;
        }
        var table = new Table().AddColumns("stream", "tap_stream_id", "selected", "key", "replication", "columns");
        foreach (var e in entries)
            table.AddRow(Markup.Escape(e.Stream), Markup.Escape(e.TapStreamId), e.Selected ? "[green]yes[/]" : "no", Markup.Escape(string.Join(", ", e.KeyProperties)),
                Markup.Escape(e.ReplicationMethod is null ? "-" : e.ReplicationMethod + (e.ReplicationKey is { } k ? $" by {k}" : "")),
                e.PropertyCount.ToString(System.Globalization.CultureInfo.InvariantCulture));
        AnsiConsole.Write(table);
        var selection = streams.AllStreams ? " (no source.streams: every stream is extracted)" : "";
        AnsiConsole.MarkupLineInterpolated($"{(fresh ? "Discovered" : "Cached")} catalog: {streams.CatalogFile}{selection}");
        AnsiConsole.MarkupLineInterpolated($"The catalog is passed with {capabilities.FlagsText} (from {capabilities.Origin}); the table folder is the stream name.");
        foreach (var change in streams.Changes) AnsiConsole.MarkupLineInterpolated($"[yellow]Changed:[/] {change}");
        return ExitCodes.Success;
    }
}
