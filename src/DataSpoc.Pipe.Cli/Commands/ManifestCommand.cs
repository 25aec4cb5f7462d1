using System.ComponentModel;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Api;
using DataSpoc.Pipe.Cli.Infrastructure;
using DataSpoc.Pipe.Lake;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DataSpoc.Pipe.Cli.Commands;

/// <summary><c>manifest &lt;bucket_uri&gt;</c>: the bucket's table catalog.</summary>
internal sealed class ManifestCommand : AsyncCommand<ManifestCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandArgument(0, "<BUCKET_URI>")]
        [Description("The bucket: file:///abs/dir, s3://bucket[[/prefix]], gs://bucket, az://container")]
        public string Bucket { get; init; } = "";
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var manifest = await Pipelines.Client().ManifestAsync(settings.Bucket, cancellationToken: cancellationToken);
        if (!PipeClient.IsWritten(manifest)) throw new FailedException(PipeClient.NoManifest(settings.Bucket));
        if (settings.Json)
        {
            JsonOutput.Write(JsonNode.Parse(LakeJson.Serialize(manifest)));
            return ExitCodes.Success;
        }
        Write(manifest);
        AnsiConsole.MarkupLineInterpolated($"manifest version {manifest.Version}, updated {Units.Time(manifest.UpdatedAt)}");
        return ExitCodes.Success;
    }

    /// <summary>One row per table (rows, files, bytes, column count), then each table's columns on a line.</summary>
    public static void Write(Manifest manifest)
    {
        var table = new Table().AddColumns("table", "pipeline", "mode", "rows", "files", "bytes", "columns", "last extraction");
        foreach (var (key, t) in manifest.Tables)
            table.AddRow(
                Markup.Escape(key), Markup.Escape(t.Pipeline), t.WriteMode, Units.Count(t.RowCount), Units.Count(t.Stats.Files),
                Units.Bytes(t.Stats.Bytes), t.Columns.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), Units.Time(t.Stats.LastExtraction));
        AnsiConsole.Write(table);
        foreach (var (key, t) in manifest.Tables)
            AnsiConsole.MarkupLineInterpolated($"{key}: {string.Join(", ", t.Columns.Select(c => $"{c.Name} {c.Type}{(c.Nullable ? "" : " not null")}"))}");
    }
}
