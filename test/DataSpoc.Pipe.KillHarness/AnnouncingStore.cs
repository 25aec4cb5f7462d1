using System.Runtime.CompilerServices;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.KillHarness;

/// <summary>
/// Wraps a store and announces each write on stdout before and after it, pausing on both sides of it: the kill tests read the
/// announcements to SIGKILL the process inside a chosen step (between data files, around the manifest, state or journal).
/// </summary>
public sealed class AnnouncingStore(IObjectStore inner, TimeSpan pauseAfterWrite, bool announce = true) : IObjectStore
{
    public BucketUri Bucket => inner.Bucket;

    public async Task PutFileAsync(string key, string localPath, CancellationToken cancellationToken)
    {
        Announce("at putfile " + key);
        Pause();
        await inner.PutFileAsync(key, localPath, cancellationToken).ConfigureAwait(false);
        Announce("done putfile " + key);
        Pause();
    }

    public async Task<bool> PutAsync(string key, ReadOnlyMemory<byte> content, WriteCondition condition, CancellationToken cancellationToken)
    {
        Announce("at put " + key);
        Pause();
        var written = await inner.PutAsync(key, content, condition, cancellationToken).ConfigureAwait(false);
        Announce("done put " + key);
        Pause();
        return written;
    }

    public Task<StoredObject?> GetAsync(string key, CancellationToken cancellationToken) => inner.GetAsync(key, cancellationToken);

    public Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken) => inner.OpenReadAsync(key, cancellationToken);

    public async IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var o in inner.ListAsync(prefix, cancellationToken).ConfigureAwait(false)) yield return o;
    }

    public async Task DeleteAsync(string key, CancellationToken cancellationToken)
    {
        Announce("at delete " + key);
        await inner.DeleteAsync(key, cancellationToken).ConfigureAwait(false);
        Announce("done delete " + key);
    }

    public ValueTask DisposeAsync() => inner.DisposeAsync();

    private void Announce(string line)
    {
        if (!announce) return;
        lock (Console.Out)
        {
            Console.Out.WriteLine(line);
            Console.Out.Flush();
        }
    }

    private void Pause()
    {
        if (pauseAfterWrite > TimeSpan.Zero) Thread.Sleep(pauseAfterWrite);
    }
}
