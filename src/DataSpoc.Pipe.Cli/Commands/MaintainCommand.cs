using System.ComponentModel;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Api;
using DataSpoc.Pipe.Cli.Infrastructure;
using DataSpoc.Pipe.Config;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DataSpoc.Pipe.Cli.Commands;

/// <summary><c>maintain &lt;name&gt; [--expire-older-than 7d]</c>: expire a pipeline's Iceberg/Delta snapshots and delete the files only they read.</summary>
internal sealed class MaintainCommand : AsyncCommand<MaintainCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandArgument(0, "<NAME>")]
        [Description("The pipeline whose tables (table_format iceberg and/or delta) to maintain")]
        public string Name { get; init; } = "";

        [CommandOption("--expire-older-than <DURATION>")]
        [Description("Expire snapshots (Iceberg) and removed files (Delta) older than this: [green]7d[/], [green]12h[/], [green]30m[/]. The current snapshot is always kept")]
        [DefaultValue("7d")]
        public string ExpireOlderThan { get; init; } = "7d";

        public override ValidationResult Validate()
        {
            var output = base.Validate();
            if (!output.Successful) return output;
            return Durations.TryParse(ExpireOlderThan, out _) ? ValidationResult.Success() : ValidationResult.Error($"--expire-older-than: '{ExpireOlderThan}' is not a duration (e.g. 7d, 12h, 30m)");
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        Durations.TryParse(settings.ExpireOlderThan, out var olderThan);
        var client = Pipelines.Client();
        var results = await client.MaintainAsync(settings.Name, olderThan, cancellationToken);
        if (settings.Json)
        {
            JsonOutput.Write(new JsonArray([.. results.Select(r => (JsonNode)new JsonObject
            {
                ["table"] = r.Table,
                ["expired_snapshots"] = r.ExpiredSnapshots,
                ["kept_snapshots"] = r.KeptSnapshots,
                ["deleted_files"] = new JsonArray([.. r.DeletedFiles.Select(f => (JsonNode)JsonValue.Create(f))]),
            })]));
            return ExitCodes.Success;
        }
        if (results.Count == 0)
        {
            AnsiConsole.MarkupLineInterpolated($"pipeline {settings.Name} has no tables with table_format iceberg or delta: nothing to maintain");
            return ExitCodes.Success;
        }
        var table = new Table().AddColumns("table", "expired snapshots", "kept snapshots", "deleted files");
        foreach (var r in results)
            table.AddRow(Markup.Escape(r.Table), r.ExpiredSnapshots.ToString(System.Globalization.CultureInfo.InvariantCulture),
                r.KeptSnapshots.ToString(System.Globalization.CultureInfo.InvariantCulture), r.DeletedFiles.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        AnsiConsole.Write(table);
        return ExitCodes.Success;
    }
}
