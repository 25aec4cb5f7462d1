using System.Text.Json.Nodes;
using DataSpoc.Pipe.Api;
using DataSpoc.Pipe.Cli.Infrastructure;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Runs;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DataSpoc.Pipe.Cli.Commands;

/// <summary>
/// <c>demo</c>: writes sample CSVs into the home folder, creates the pipeline <c>demo</c> (built-in csv tap ->
/// <c>file://&lt;home&gt;/demo-lake</c>), runs it as a full refresh and shows the resulting tables from the manifest.
/// </summary>
internal sealed class DemoCommand : AsyncCommand<DemoCommand.Settings>
{
    public const string PipelineName = "demo";

    public sealed class Settings : OutputSettings;

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var home = Pipelines.Home();
        Pipelines.InitHome(home, home.Root, home.PipelinesDirectory);
        var data = Path.Combine(home.Root, "demo-data");
        DemoData.Write(data);
        var lake = Path.Combine(home.Root, "demo-lake");
        var bucket = "file://" + lake;
        var yaml =
            $"""
            # Created by 'dataspoc-pipe demo': the built-in csv tap over sample files, into a local lake.
            source:
              tap: csv
              config:
                path: {PipelineYaml.Scalar(data)}
            destination:
              bucket: {PipelineYaml.Scalar(bucket)}
              path: raw
              compression: zstd
            incremental:
              enabled: false

            """;
        await PipeHome.WriteFileAsync(home.PipelinePath(PipelineName), yaml, cancellationToken);
        var client = new PipeClient(home.Root, Stores.Create());
        var pipeline = client.Load(PipelineName);

        if (!settings.Json)
        {
            AnsiConsole.MarkupLineInterpolated($"Sample data: {data} ({DemoData.Customers} customers, {DemoData.Orders} orders)");
            AnsiConsole.MarkupLineInterpolated($"Pipeline:    {home.PipelinePath(PipelineName)}");
            AnsiConsole.MarkupLineInterpolated($"Lake:        {bucket}");
        }
        var display = new RunDisplay(RunDisplay.Choose(settings.Json));
        var result = await display.ShowWhileAsync(() =>
            client.RunPipelineAsync(pipeline, new RunOptions { Full = true, Progress = display.For(PipelineName) }, cancellationToken));
        if (!result.Succeeded)
            throw new FailedException($"the demo run failed: {result.Log.Error}");

        var manifest = await client.ManifestAsync(bucket, cancellationToken: cancellationToken);
        if (!PipeClient.IsWritten(manifest)) throw new FailedException($"the demo run wrote no manifest in {bucket}");
        var ours = new Manifest
        {
            Tables = new SortedDictionary<string, ManifestTable>(manifest.Tables.Where(t => t.Value.Pipeline == PipelineName).ToDictionary(), StringComparer.Ordinal),
            UpdatedAt = manifest.UpdatedAt,
        };
        if (settings.Json)
        {
            JsonOutput.Write(new JsonObject
            {
                ["pipeline"] = PipelineName,
                ["bucket"] = bucket,
                ["run_id"] = result.Log.RunId,
                ["total_records"] = result.Log.TotalRecords,
                ["tables"] = JsonNode.Parse(LakeJson.Serialize(ours))!["tables"]!.DeepClone(),
            });
            return ExitCodes.Success;
        }
        ManifestCommand.Write(ours);
        AnsiConsole.MarkupLineInterpolated($"Files are under {lake}/raw/. Query them, e.g. with DuckDB:");
        AnsiConsole.MarkupLineInterpolated($"  SELECT * FROM read_parquet('{lake}/raw/csv/orders/*/*.parquet') LIMIT 5;");
        AnsiConsole.MarkupLine("Next: [green]dataspoc-pipe status[/], [green]dataspoc-pipe logs demo[/], [green]dataspoc-pipe add <name>[/]");
        return ExitCodes.Success;
    }
}
