using System.Runtime.CompilerServices;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Tests.Support;

// Two runs made to meet at their commits (after planning, before anything lands), so a race between two commits of one
// table that the runs would otherwise win only sometimes happens every time.

/// <summary>The first <c>parties</c> journal writes wait until all of them arrived (at most 30 s); later ones pass.</summary>
internal sealed class JournalMeeting(int parties)
{
    private readonly TaskCompletionSource _all = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _arrived;

    public bool Met => _all.Task.IsCompletedSuccessfully;

    public Task ArriveAsync()
    {
        var arrived = Interlocked.Increment(ref _arrived);
        if (arrived > parties) return Task.CompletedTask;
        if (arrived == parties) _all.TrySetResult();
        return Task.WhenAny(_all.Task, Task.Delay(TimeSpan.FromSeconds(30)));
    }
}

internal sealed class MeetingStore(IObjectStore inner, Func<Task> beforeJournalWrite) : IObjectStore
{
    /// <summary>A runner whose commits call <paramref name="beforeJournalWrite"/> before each journal write (the commit's start).</summary>
    public static PipelineRunner Runner(Func<Task> beforeJournalWrite) =>
        new(new ObjectStoreFactory().Register("file", (uri, _) => new MeetingStore(new LocalObjectStore(uri), beforeJournalWrite)));

    public BucketUri Bucket => inner.Bucket;

    public string? LocalRoot => inner.LocalRoot;

    public Task PutFileAsync(string key, string localPath, CancellationToken cancellationToken) => inner.PutFileAsync(key, localPath, cancellationToken);

    public async Task<bool> PutAsync(string key, ReadOnlyMemory<byte> content, WriteCondition condition, CancellationToken cancellationToken)
    {
        if (key.StartsWith(".dataspoc/journal/", StringComparison.Ordinal)) await beforeJournalWrite().ConfigureAwait(false);
        return await inner.PutAsync(key, content, condition, cancellationToken).ConfigureAwait(false);
    }

    public Task<StoredObject?> GetAsync(string key, CancellationToken cancellationToken) => inner.GetAsync(key, cancellationToken);

    public Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken) => inner.OpenReadAsync(key, cancellationToken);

    public async IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var o in inner.ListAsync(prefix, cancellationToken).ConfigureAwait(false)) yield return o;
    }

    public Task DeleteAsync(string key, CancellationToken cancellationToken) => inner.DeleteAsync(key, cancellationToken);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
