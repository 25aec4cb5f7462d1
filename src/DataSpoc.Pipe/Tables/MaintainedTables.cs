using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Tables;

/// <summary>
/// The tables <c>maintain &lt;pipeline&gt;</c> compacts and expires: every table in the pipeline's source folder
/// (<c>&lt;destination.path&gt;/&lt;source&gt;/</c>), the tables it lands, whichever pipeline wrote one last (two
/// pipelines of one source landing one table each cover it, not only the one that happened to write it last), and
/// every table the manifest says it wrote last (one an earlier config of it landed elsewhere).
/// </summary>
internal sealed class MaintainedTables(string pipeline, string? sourceFolder)
{
    /// <summary>The tables of <paramref name="definition"/>'s source folder and those it wrote last.</summary>
    public static MaintainedTables Of(Config.PipelineDefinition definition)
    {
        var basePath = LakePaths.BasePath(definition.Destination.Path);
        var table = LakePaths.TablePrefix(basePath, LakePaths.SourceFolderOf(definition.Source), "t");
        return new(definition.Name, table[..^"t/".Length]);
    }

    /// <summary>Only the tables whose manifest entry names <paramref name="pipeline"/> as their last writer.</summary>
    public static MaintainedTables LastWrittenBy(string pipeline) => new(pipeline, null);

    public bool Covers(IObjectStore store, ManifestTable table) =>
        table.Pipeline == pipeline
        || sourceFolder is not null && store.Bucket.KeyPrefixOf(table.Location) is { } prefix && prefix.StartsWith(sourceFolder, StringComparison.Ordinal);
}
