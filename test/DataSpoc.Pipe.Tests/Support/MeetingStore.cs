using System.Runtime.CompilerServices;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Tests.Support;

/// <summary>The first <c>parties</c> journal writes wait until all of them arrived (at most 30 s); later ones pass.</summary>
public sealed class JournalMeeting(int parties)
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

/// <summary>
/// A store whose journal writes (a commit's start) first call <c>beforeJournalWrite</c>: concurrent runs are made to meet
/// there (each waits for the other, or for a step of the test), so a race between their commits that they would
/// otherwise win only sometimes happens every time. The other constructor calls <c>beforeWrite</c> before every write,
/// with its key (a commit's claims, say), and <c>beforeOpenRead</c>, when given, before every streaming read (a compaction
/// downloading a data file).
/// </summary>
public sealed class MeetingStore(IObjectStore inner, Func<string, Task> beforeWrite, Func<string, Task>? beforeOpenRead = null) : IObjectStore
{
    public MeetingStore(IObjectStore inner, Func<Task> beforeJournalWrite)
        : this(inner, key => key.StartsWith(".dataspoc/journal/", StringComparison.Ordinal) ? beforeJournalWrite() : Task.CompletedTask)
    {
    }

    /// <summary>A runner whose commits call <paramref name="beforeJournalWrite"/> before each journal write (the commit's start).</summary>
    public static PipelineRunner Runner(Func<Task> beforeJournalWrite) =>
        new(new ObjectStoreFactory().Register("file", (uri, _) => new MeetingStore(new LocalObjectStore(uri), beforeJournalWrite)));

    /// <summary>A runner whose store calls <paramref name="beforeWrite"/> with the key before each write.</summary>
    public static PipelineRunner Runner(Func<string, Task> beforeWrite) =>
        new(new ObjectStoreFactory().Register("file", (uri, _) => new MeetingStore(new LocalObjectStore(uri), beforeWrite)));

    /// <summary>
    /// A runner of a file:// lake at <paramref name="lakeRoot"/> that completes <paramref name="found"/> when its commit asks
    /// for the claim <paramref name="claimKey"/> while another commit holds it (and so waits for it); <paramref name="beforeWrite"/>
    /// is called before every write too.
    /// </summary>
    public static PipelineRunner FindingClaimHeld(string lakeRoot, string claimKey, TaskCompletionSource found, Func<string, Task>? beforeWrite = null) =>
        Runner(async key =>
        {
            if (key == claimKey && File.Exists(Path.Combine(lakeRoot, claimKey))) found.TrySetResult();
            if (beforeWrite is not null) await beforeWrite(key).ConfigureAwait(false);
        });

    public BucketUri Bucket => inner.Bucket;

    public string? LocalRoot => inner.LocalRoot;

    public Task PutFileAsync(string key, string localPath, CancellationToken cancellationToken) => inner.PutFileAsync(key, localPath, cancellationToken);

    public async Task<bool> PutAsync(string key, ReadOnlyMemory<byte> content, WriteCondition condition, CancellationToken cancellationToken)
    {
        await beforeWrite(key).ConfigureAwait(false);
        return await inner.PutAsync(key, content, condition, cancellationToken).ConfigureAwait(false);
    }

    public Task<StoredObject?> GetAsync(string key, CancellationToken cancellationToken) => inner.GetAsync(key, cancellationToken);

    public async Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken)
    {
        if (beforeOpenRead is not null) await beforeOpenRead(key).ConfigureAwait(false);
        return await inner.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
    }

    public async IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var o in inner.ListAsync(prefix, cancellationToken).ConfigureAwait(false)) yield return o;
    }

    public Task DeleteAsync(string key, CancellationToken cancellationToken) => inner.DeleteAsync(key, cancellationToken);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
