using System.Runtime.InteropServices;

namespace DataSpoc.Pipe.Storage;

/// <summary>
/// Flushes files and folders to the disk, and says when that failed. A failed fsync is the kernel saying that pages
/// written earlier may be lost, and Linux reports it to one sync only: a write that must be durable (a data file before
/// its rename, anything before the state that depends on it) fails then. .NET's <c>FileStream.Flush(flushToDisk: true)</c>
/// cannot be used for this on Unix: it does not report the fsync's failure (checked on .NET 10 with every fsync made to
/// fail with EIO: the flush returned as if it had succeeded).
/// </summary>
internal static partial class DiskSync
{
    private const int ReadOnlyCloseOnExec = 0x80000; // O_RDONLY | O_CLOEXEC (Linux)
    private static readonly bool Checked = OperatingSystem.IsLinux();

    /// <summary>Writes out what <paramref name="file"/> buffers, then flushes the file, data and metadata, to disk (fsync).</summary>
    /// <exception cref="IOException">The flush failed; its HResult is the errno (28: no space left on device).</exception>
    public static void File(FileStream file, string path) => Flush(file, path, fsync);

    /// <summary>
    /// Writes out what <paramref name="file"/> buffers, then flushes its data to disk and of its metadata what reading
    /// the data needs, such as its size (fdatasync): enough for a file just written whole, and it skips the timestamps.
    /// </summary>
    /// <exception cref="IOException">The flush failed; its HResult is the errno.</exception>
    public static void Contents(FileStream file, string path) => Flush(file, path, fdatasync);

    private static void Flush(FileStream file, string path, Func<int, int> sync)
    {
        if (!Checked)
        {
            // Elsewhere the runtime's own flush: Windows reports a failure, macOS needs F_FULLFSYNC, which it uses.
            file.Flush(flushToDisk: true);
            return;
        }
        file.Flush();
        var fd = file.SafeFileHandle.DangerousGetHandle().ToInt32();
        ThrowIfFailed(Failure(() => sync(fd)), path);
    }

    /// <summary>
    /// Flushes the folder's entries to disk: a file renamed into it survives a power loss only once its folder is synced.
    /// Linux only (elsewhere nothing is done).
    /// </summary>
    /// <exception cref="IOException">The folder could not be opened or flushed; its HResult is the errno.</exception>
    public static void Folder(string path)
    {
        if (!Checked) return;
        var fd = open(path, ReadOnlyCloseOnExec);
        if (fd < 0) ThrowIfFailed(Marshal.GetLastPInvokeError(), path);
        try { ThrowIfFailed(Failure(() => fsync(fd)), path); }
        finally { _ = close(fd); }
    }

    /// <summary>
    /// Flushes the data written to <paramref name="path"/> so far (fdatasync) through a descriptor of its own; null when
    /// the file cannot be opened (moved or deleted meanwhile), else 0 or the errno of the failed flush. Linux only.
    /// </summary>
    /// <remarks>A raw descriptor, not a .NET handle: .NET takes an advisory lock on open, which would make another
    /// writer's exclusive open of the file fail while this flush runs.</remarks>
    public static int? Data(string path)
    {
        var fd = open(path, ReadOnlyCloseOnExec);
        if (fd < 0) return null;
        try { return Failure(() => fdatasync(fd)); }
        finally { _ = close(fd); }
    }

    /// <summary>
    /// The errno of a failed call, 0 when it succeeded. Every error counts, EINVAL (a file that cannot be synced) too: the
    /// files flushed here are regular files on the bucket's file system, which the lake's durability relies on.
    /// </summary>
    private static int Failure(Func<int> sync) => sync() == 0 ? 0 : Marshal.GetLastPInvokeError();

    internal static void ThrowIfFailed(int errno, string path)
    {
        if (errno != 0)
            throw new IOException($"flushing '{path}' to disk failed: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fdatasync(int fd);

    [LibraryImport("libc")]
    private static partial int close(int fd);
}
