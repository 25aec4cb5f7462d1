using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Sources;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>Wires the engine's runner to the home folder: stream selection from the cached (or freshly discovered) tap catalog.</summary>
internal static class RunSetup
{
    public static PipelineRunner CreateRunner(PipeHome home)
    {
        PipelineRunner.CatalogProvider = async (pipeline, configPath, cancellationToken) =>
        {
            if (pipeline.Source.Streams is not { Count: > 0 } selection) return null;
            var (catalog, fresh) = await CatalogCache.GetAsync(home, pipeline, refresh: false, cancellationToken);
            try
            {
                return StreamCatalog.Select(catalog, selection, pipeline.FilePath);
            }
            catch (ConfigException) when (!fresh)
            {
                // The selection names a stream the cached catalog lacks: the tap may have gained it since; ask again once.
                (catalog, _) = await CatalogCache.GetAsync(home, pipeline, refresh: true, cancellationToken);
                return StreamCatalog.Select(catalog, selection, pipeline.FilePath);
            }
        };
        return new PipelineRunner(Stores.Create());
    }
}
