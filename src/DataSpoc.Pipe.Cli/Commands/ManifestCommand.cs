using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Nodes;
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
        var manifest = await ReadAsync(settings.Bucket, cancellationToken);
        if (manifest is null)
            throw new FailedException($"no manifest in {settings.Bucket} (.dataspoc/manifest.json does not exist: no pipeline has written there yet)");
        if (settings.Json)
        {
            JsonOutput.Write(JsonNode.Parse(LakeJson.Serialize(manifest)));
            return ExitCodes.Success;
        }
        Write(manifest);
        AnsiConsole.MarkupLineInterpolated($"manifest version {manifest.Version}, updated {Units.Time(manifest.UpdatedAt)}");
        return ExitCodes.Success;
    }

    public static async Task<Manifest?> ReadAsync(string bucket, CancellationToken cancellationToken)
    {
        await using var store = Stores.Open(bucket);
        var stored = await store.GetAsync(LakePaths.ManifestKey, cancellationToken);
        if (stored is null) return null;
        try
        {
            return LakeJson.Deserialize<Manifest>(stored.Content, $"{bucket}/{LakePaths.ManifestKey}");
        }
        catch (JsonException e)
        {
            throw new FailedException($"{bucket}/{LakePaths.ManifestKey} is not a valid manifest: {e.Message}");
        }
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
