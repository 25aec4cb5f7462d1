using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Lake;

/// <summary>
/// The versions of a pipeline's state and its owner file as the writer of a commit read them (or their absence): the commit
/// writes each only while it still has that version, as the manifest is written (<see cref="ManifestStore"/>). Only the
/// run holding the pipeline's lock writes them, so the one writer this refuses is a run that lost its lock while its write
/// was on its way (a store that stalled past the lease, then answered): landing after the run that took the lock over saved
/// a later state, it would move the bookmarks back, and the next run would extract those rows again.
/// </summary>
/// <param name="State">The condition of the write of <see cref="LakePaths.StateKey"/>.</param>
/// <param name="Owner">The condition of the write of <see cref="LakePaths.StateOwnerKey"/>.</param>
public sealed record StateFence(WriteCondition State, WriteCondition Owner)
{
    /// <summary>Unconditional writes: the fence of a plan nobody read the state for (one that saves none).</summary>
    public static StateFence None { get; } = new(WriteCondition.None, WriteCondition.None);

    /// <summary>
    /// Reads the pipeline's state (returned: a run hands it to its tap) and the version of its owner file. The state first,
    /// as a commit writes it first: a state and owner saved by another run between the two reads refuse this writer's state.
    /// </summary>
    public static async Task<(StateFence Fence, StoredObject? State)> ReadAsync(IObjectStore store, string pipeline, CancellationToken cancellationToken)
    {
        var state = await store.GetAsync(LakePaths.StateKey(pipeline), cancellationToken).ConfigureAwait(false);
        var owner = await store.GetAsync(LakePaths.StateOwnerKey(pipeline), cancellationToken).ConfigureAwait(false);
        return (new StateFence(AsRead(state), AsRead(owner)), state);
    }

    private static WriteCondition AsRead(StoredObject? read) => read is null ? WriteCondition.IfAbsent : WriteCondition.IfVersion(read.Version);
}
