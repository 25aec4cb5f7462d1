using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Sources;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>A pipeline's tap catalog (<c>--discover</c> output), cached as <c>pipelines/&lt;name&gt;.catalog.json</c>.</summary>
internal static class CatalogCache
{
    public static readonly TimeSpan DiscoverTimeout = TimeSpan.FromMinutes(10);

    /// <summary>The cached catalog, or a fresh one from the tap when absent or <paramref name="refresh"/> is set.</summary>
    public static async Task<(JsonObject Catalog, bool Fresh)> GetAsync(PipeHome home, PipelineDefinition pipeline, bool refresh, CancellationToken cancellationToken)
    {
        var path = home.CatalogPath(pipeline.Name);
        if (!refresh && File.Exists(path))
            return (StreamCatalog.Parse(await File.ReadAllTextAsync(path, cancellationToken), path), false);
        var json = await TapInvoker.DiscoverAsync(pipeline, DiscoverTimeout, cancellationToken);
        var catalog = StreamCatalog.Parse(json, $"output of '{pipeline.Source.Tap} --discover'");
        Directory.CreateDirectory(home.PipelinesDirectory);
        var temp = path + ".tmp";
        await File.WriteAllTextAsync(temp, catalog.ToJsonString(JsonOutput.Options), cancellationToken);
        File.Move(temp, path, overwrite: true);
        return (catalog, true);
    }
}
