using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Cloud;

/// <summary>
/// Whether a refused conditional write was in fact our own. A PUT whose response is lost (connection reset, proxy or
/// load-balancer timeout) has often been applied by the server; every SDK then retries it by itself, and the retry is
/// refused (412/409) because the first attempt succeeded. Taken at face value that reads as "another writer won", and
/// callers clean up after a lost race (Iceberg deletes its manifest list, a run reports its own lock as held by
/// someone else, the rollback deletes "another writer's" data file). So each store, when a conditional write is
/// refused, reads what is there: the exact bytes this write sent mean the write is ours and succeeded.
/// Byte equality is proof of authorship because everything the engine writes conditionally carries a unique element:
/// the run id (locks, claims, journals, Delta commit info), snapshot ids and timestamps (Iceberg metadata), the run's
/// times and counts (manifest, state); data files carry the run id in their name and random-seeded content. Two
/// writers never send the same bytes to one key, and a writer that sent the same bytes twice is the same write.
/// </summary>
internal static class OwnWrites
{
    /// <summary>
    /// Whether a write under <paramref name="condition"/> that was refused is ours: <paramref name="key"/> now holds
    /// exactly <paramref name="content"/> (a small object), and the condition allows the conclusion (an
    /// <see cref="WriteConditionKind.IfAbsent"/> create, or content the caller marks <see cref="WriteCondition.ContentIsUnique"/>).
    /// </summary>
    public static async Task<bool> HoldsAsync(IObjectStore store, string key, ReadOnlyMemory<byte> content, WriteCondition condition, CancellationToken cancellationToken)
    {
        if (condition.Kind != WriteConditionKind.IfAbsent && !condition.ContentIsUnique) return false;
        var current = await store.GetAsync(key, cancellationToken).ConfigureAwait(false);
        return current is not null && current.Content.Span.SequenceEqual(content.Span);
    }

    /// <summary>Whether <paramref name="key"/> now holds exactly the local file (compared streaming, nothing held in memory).</summary>
    public static async Task<bool> HoldsFileAsync(IObjectStore store, string key, string localPath, CancellationToken cancellationToken)
    {
        Stream remote;
        try
        {
            remote = await store.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
        }
        catch (FileNotFoundException)
        {
            return false;
        }
        await using (remote.ConfigureAwait(false))
        {
            await using var local = new FileStream(localPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
            var a = new byte[1 << 16];
            var b = new byte[1 << 16];
            while (true)
            {
                var read = await local.ReadAtLeastAsync(a, a.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                var other = await remote.ReadAtLeastAsync(b, read == 0 ? 1 : read, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                if (read != other || !a.AsSpan(0, read).SequenceEqual(b.AsSpan(0, other))) return false;
                if (read == 0) return true;
            }
        }
    }
}
