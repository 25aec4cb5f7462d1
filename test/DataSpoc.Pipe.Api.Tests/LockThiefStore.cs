using System.Runtime.CompilerServices;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Api.Tests;

/// <summary>
/// A store that, when a data file is first read (<see cref="Moment.Read"/>) or a commit journal first written
/// (<see cref="Moment.JournalWrite"/>), overwrites the pipeline's lock as a run on another host taking it over would.
/// At the journal write it then holds that write until its caller's token is cancelled (the holder saw the loss), at
/// most <see cref="Hold"/>, and lets it through after that.
/// </summary>
public sealed class LockThiefStore(IObjectStore inner, string pipeline, LockThiefStore.Moment moment) : IObjectStore
{
    public enum Moment { Read, JournalWrite }

    public static readonly TimeSpan Hold = TimeSpan.FromSeconds(30);
    private int _stolen;

    public BucketUri Bucket => inner.Bucket;
    public string? LocalRoot => inner.LocalRoot;

    public Task PutFileAsync(string key, string localPath, CancellationToken cancellationToken) => inner.PutFileAsync(key, localPath, cancellationToken);

    public async Task<bool> PutAsync(string key, ReadOnlyMemory<byte> content, WriteCondition condition, CancellationToken cancellationToken)
    {
        // Throws once the holder cancels its work.
        if (moment == Moment.JournalWrite && key == LakeCommitter.JournalKey(pipeline) && await StealAsync(cancellationToken).ConfigureAwait(false))
            await Task.Delay(Hold, cancellationToken).ConfigureAwait(false);
        return await inner.PutAsync(key, content, condition, cancellationToken).ConfigureAwait(false);
    }

    public async Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken)
    {
        if (moment == Moment.Read && key.EndsWith(".parquet", StringComparison.Ordinal)) await StealAsync(cancellationToken).ConfigureAwait(false);
        return await inner.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
    }

    public Task<StoredObject?> GetAsync(string key, CancellationToken cancellationToken) => inner.GetAsync(key, cancellationToken);
    public Task DeleteAsync(string key, CancellationToken cancellationToken) => inner.DeleteAsync(key, cancellationToken);
    public ValueTask DisposeAsync() => inner.DisposeAsync();

    public async IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var o in inner.ListAsync(prefix, cancellationToken).ConfigureAwait(false)) yield return o;
    }

    /// <summary>Overwrites the lock the first time only; returns whether it did now.</summary>
    private async Task<bool> StealAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stolen, 1) == 1) return false;
        var now = DateTimeOffset.UtcNow;
        var thief = new RunLock.LockInfo("thief123", "elsewhere", 4242, now, now.AddMinutes(5));
        await inner.PutAsync(LakePaths.LockKey(pipeline), LakeJson.Serialize(thief), WriteCondition.None, cancellationToken).ConfigureAwait(false);
        return true;
    }
}
