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

    /// <summary>
    /// Applies <paramref name="change"/> to the latest manifest and writes it, retrying when another writer got there first.
    /// <paramref name="beforeRetry"/>, when given, is awaited before each retry after another writer changed the manifest
    /// (a change to be made once checks that it is still the caller's to make, and throws if not).
    /// </summary>
    public async Task<Manifest> UpdateAsync(Action<Manifest> change, CancellationToken cancellationToken, Func<CancellationToken, Task>? beforeRetry = null)
    {
        var (changedByOthers, refusedUnchanged) = (0, 0);
        for (var attempt = 1; ; attempt++)
        {
            var current = await store.GetAsync(LakePaths.ManifestKey, cancellationToken).ConfigureAwait(false);
            var manifest = current is null ? new Manifest() : Parse(current);
            change(manifest);
            manifest.UpdatedAt = time.GetUtcNow();
            var condition = current is null ? WriteCondition.IfAbsent : WriteCondition.IfVersion(current.Version);
            if (await store.PutAsync(LakePaths.ManifestKey, LakeJson.Serialize(manifest), condition, cancellationToken).ConfigureAwait(false))
                return manifest;
            // Tell a real conflict (another writer got there first) from a store that refuses our condition for another reason.
            var now = await store.GetAsync(LakePaths.ManifestKey, cancellationToken).ConfigureAwait(false);
            if (now?.Version == current?.Version) refusedUnchanged++;
            else
            {
                changedByOthers++;
                if (beforeRetry is not null) await beforeRetry(cancellationToken).ConfigureAwait(false);
            }
            if (attempt >= MaxAttempts)
                throw new StorageException(refusedUnchanged == 0
                    ? $"manifest {store.Bucket}/{LakePaths.ManifestKey} kept changing under us: other writers changed it before each of our {MaxAttempts} conditional writes; gave up"
                    : $"manifest {store.Bucket}/{LakePaths.ManifestKey}: the store refused {MaxAttempts} conditional writes; {refusedUnchanged} of them although the manifest had not changed " +
                      $"(version {current?.Version ?? "absent"}), {changedByOthers} because another writer changed it. The store does not honour its own version tag in " +
                      "If-Match / If-None-Match; use a store that does, or report it with the store's name");
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
