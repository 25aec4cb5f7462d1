using System.Text.Json;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Lake;

/// <summary>
/// Reads and updates <c>.dataspoc/manifest.json</c>. Updates are read-modify-write with optimistic concurrency
/// (the store's conditional put) and retried on conflict, so pipelines sharing a bucket never lose each other's entries.
/// </summary>
public sealed class ManifestStore(IObjectStore store, TimeProvider time)
{
    private const int MaxAttempts = 64;

    /// <summary>The manifest, or an empty one when the bucket has none yet.</summary>
    public async Task<Manifest> ReadAsync(CancellationToken cancellationToken)
    {
        var current = await store.GetAsync(LakePaths.ManifestKey, cancellationToken).ConfigureAwait(false);
        return current is null ? new Manifest() : Parse(current);
    }

    /// <summary>Applies <paramref name="change"/> to the latest manifest and writes it, retrying when another writer got there first.</summary>
    public async Task<Manifest> UpdateAsync(Action<Manifest> change, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var current = await store.GetAsync(LakePaths.ManifestKey, cancellationToken).ConfigureAwait(false);
            var manifest = current is null ? new Manifest() : Parse(current);
            change(manifest);
            manifest.UpdatedAt = time.GetUtcNow();
            var condition = current is null ? WriteCondition.IfAbsent : WriteCondition.IfVersion(current.Version);
            if (await store.PutAsync(LakePaths.ManifestKey, LakeJson.Serialize(manifest), condition, cancellationToken).ConfigureAwait(false))
                return manifest;
            if (attempt >= MaxAttempts)
                throw new StorageException($"manifest {store.Bucket}/{LakePaths.ManifestKey} kept changing under us; gave up after {MaxAttempts} attempts");
            await Task.Delay(Random.Shared.Next(5, 20 * Math.Min(attempt, 10)), cancellationToken).ConfigureAwait(false);
        }
    }

    private Manifest Parse(StoredObject current)
    {
        try
        {
            return LakeJson.Deserialize<Manifest>(current.Content, "manifest");
        }
        catch (JsonException e)
        {
            throw new StorageException($"{store.Bucket}/{LakePaths.ManifestKey} is not a valid manifest: {e.Message}", e);
        }
    }
}
