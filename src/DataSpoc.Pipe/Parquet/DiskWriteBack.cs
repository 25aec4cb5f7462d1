using System.Collections.Concurrent;

namespace DataSpoc.Pipe.Parquet;

/// <summary>
/// Flushes growing files to disk on a background thread (<c>fdatasync</c>) while they are still being written. The
/// commit fsyncs each Parquet file before renaming it into a file:// lake; flushed as row groups land, that fsync
/// finds the data already on disk instead of stalling the end of the run (bench/README.md, "Measurements behind the
/// code"). The thread only waits on the disk. Linux only, best effort: a file already moved or deleted
/// is skipped. A failed flush is kept and reported by <see cref="Settle"/>: Linux reports a write-back error to one
/// sync only, so the commit's own fsync would no longer see it.
/// </summary>
internal static class DiskWriteBack
{
    private static readonly bool Supported = OperatingSystem.IsLinux();
    private static readonly BlockingCollection<string> Requests = [];
    private static readonly object Gate = new();
    /// <summary>Per file, flushes asked for and not done yet.</summary>
    private static readonly Dictionary<string, int> Pending = new(StringComparer.Ordinal);
    /// <summary>Per file, the error of a flush that failed (errno).</summary>
    private static readonly Dictionary<string, int> Failed = new(StringComparer.Ordinal);
    private static int _started;
    private static long _flushes;

    /// <summary>Flushes done so far (for tests).</summary>
    internal static long Flushes => Interlocked.Read(ref _flushes);

    /// <summary>Asks for what was written to <paramref name="path"/> so far to be flushed; returns at once.</summary>
    public static void Start(string path)
    {
        if (!Supported) return;
        if (Interlocked.Exchange(ref _started, 1) == 0)
            new Thread(Flush) { IsBackground = true, Name = "disk-flush" }.Start();
        lock (Gate) Pending[path] = Pending.GetValueOrDefault(path) + 1;
        Requests.Add(path);
    }

    /// <summary>
    /// Waits until the flushes asked for <paramref name="path"/> are done; throws if one failed. Called when the file is
    /// finished, so that later errors reach the commit's fsync and earlier ones are not lost.
    /// </summary>
    public static void Settle(string path)
    {
        if (!Supported) return;
        lock (Gate)
        {
            while (Pending.ContainsKey(path)) Monitor.Wait(Gate);
            if (Failed.Remove(path, out var errno)) Storage.DiskSync.ThrowIfFailed(errno, path);
        }
    }

    private static void Flush()
    {
        foreach (var path in Requests.GetConsumingEnumerable())
        {
            var errno = Sync(path);
            lock (Gate)
            {
                if (errno != 0) Failed[path] = errno;
                if (--Pending[path] > 0) continue;
                Pending.Remove(path);
                Monitor.PulseAll(Gate);
            }
        }
    }

    /// <summary>Flushes the file; returns the errno of a failed flush, 0 otherwise (also when the file is gone).</summary>
    private static int Sync(string path)
    {
        try
        {
            var errno = Storage.DiskSync.Data(path);
            if (errno == 0) Interlocked.Increment(ref _flushes);
            return errno ?? 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return 0; // not glibc-compatible: the commit's fsync covers it
        }
    }
}
