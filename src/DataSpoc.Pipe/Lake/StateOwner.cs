using System.Text.Json.Serialization;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Lake;

/// <summary>
/// What wrote a pipeline's state (<c>.dataspoc/state/&lt;pipeline&gt;/owner.json</c>, saved with every state): the tables
/// its bookmarks are for, i.e. the source folder and <c>destination.path</c> they land under. State, lock and run logs are
/// keyed by pipeline name alone, so two homes with a pipeline of one name on one bucket (or a pipeline whose source
/// changed) would hand one source's bookmarks to the other's tap, which then skips rows it never landed. The identity is
/// the source folder, not the home: every copy of one pipeline (a split run's workers, the pods `k8s render` makes, each
/// with its own home) has the same one. <see cref="Path"/> and <see cref="PipelineFile"/> only name the writer in messages.
/// </summary>
public sealed record StateOwner(
    [property: JsonPropertyName("source")] string Source,
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("pipeline_file")][property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? PipelineFile)
{
    /// <summary>The owner a run of <paramref name="pipeline"/> landing under source folder <paramref name="sourceName"/> writes.</summary>
    public static StateOwner Of(PipelineDefinition pipeline, string sourceName) =>
        new(sourceName, LakePaths.BasePath(pipeline.Destination.Path), pipeline.FilePath);

    private string Tables => $"{Path}/{Source}/";

    /// <summary>
    /// Why the pipeline's state in the bucket is not this pipeline's to use (it was written for other tables), or null when
    /// it is: no state, a state without an owner (written by a build before owners; the next commit writes one), or one
    /// written for the same tables.
    /// </summary>
    public static async Task<string?> ConflictAsync(IObjectStore store, PipelineDefinition pipeline, string sourceName, CancellationToken cancellationToken)
    {
        if (await store.GetAsync(LakePaths.StateOwnerKey(pipeline.Name), cancellationToken).ConfigureAwait(false) is not { } stored) return null;
        StateOwner? owner;
        try { owner = LakeJson.Deserialize<StateOwner>(stored.Content, "state owner"); }
        catch (System.Text.Json.JsonException) { owner = null; }
        var mine = Of(pipeline, sourceName);
        // The bookmarks are the source's: a pipeline whose destination.path changed keeps them (its tables move with --full,
        // which TableOwnership asks for), so the path only names the writer's tables in the message.
        if (owner is not null && owner.Source == mine.Source) return null;
        if (!await store.ExistsAsync(LakePaths.StateKey(pipeline.Name), cancellationToken).ConfigureAwait(false)) return null;
        var bucket = pipeline.Destination.Bucket.TrimEnd('/');
        var writer = owner is null ? "an unreadable owner file" : $"a pipeline '{pipeline.Name}' landing {owner.Tables}" + (owner.PipelineFile is { } f ? $" ({f})" : "");
        return $"the state of pipeline '{pipeline.Name}' in this bucket ({bucket}/{LakePaths.StateKey(pipeline.Name)}) was written by {writer}, " +
            $"and this pipeline ({pipeline.FilePath}) lands {mine.Tables}: a pipeline's state, lock and run logs are keyed by its name alone, so its " +
            "bookmarks are another source's (another home's pipeline of the same name, or this pipeline before its source.name changed)";
    }

    /// <summary>What to do about <see cref="ConflictAsync"/>'s problem.</summary>
    public static string WaysOut(PipelineDefinition pipeline) =>
        $"Give this pipeline a name no other pipeline on the bucket has (a pipeline name is unique per bucket, across homes); or, if this pipeline's " +
        $"source.name changed and the state is its own, delete {pipeline.Destination.Bucket.TrimEnd('/')}/{LakePaths.StateOwnerKey(pipeline.Name)} " +
        "(the state is then taken as this pipeline's) or the state folder; or run it with --full, which reads no state and replaces its tables and the state";

    /// <summary>
    /// Refuses a run that would hand its tap another pipeline's state (before the tap starts: nothing is read or written); a
    /// full run reads no state and only says whose state its commit replaces.
    /// </summary>
    /// <exception cref="StateOwnerException">An incremental run, and the state was written for other tables.</exception>
    public static async Task CheckAsync(IObjectStore store, PipelineDefinition pipeline, string sourceName, bool full, ICollection<string> notices,
        CancellationToken cancellationToken)
    {
        if (await ConflictAsync(store, pipeline, sourceName, cancellationToken).ConfigureAwait(false) is not { } problem) return;
        if (full) notices.Add(problem + ": this full run reads no state, and its commit replaces it with this pipeline's");
        else throw new StateOwnerException(problem + ". " + WaysOut(pipeline));
    }
}

/// <summary>An incremental run found its pipeline's state written for other tables (<see cref="StateOwner"/>): it did not start its tap.</summary>
public sealed class StateOwnerException(string message) : PipeException(message);
