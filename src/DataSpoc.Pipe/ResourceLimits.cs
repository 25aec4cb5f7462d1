namespace DataSpoc.Pipe;

/// <summary>
/// Failures that come from a limit of the process or the machine (open files, processes and threads, memory) rather
/// than from the configuration: a run that hits one failed (exit 1, which a scheduler retries), and says which limit.
/// </summary>
public static class ResourceLimits
{
    /// <summary>
    /// <paramref name="e"/>'s message with the limit that caused it, or null when no limit did. A process that cannot be
    /// started reports the errno of its <c>pipe</c> or <c>fork</c>; a file that cannot be opened, its <c>open</c>'s; a
    /// thread that cannot be created is an <see cref="OutOfMemoryException"/> in .NET, whichever limit stopped it.
    /// </summary>
    public static string? Describe(Exception e) => e switch
    {
        OutOfMemoryException or ThreadStartException =>
            "a thread could not be started: the limit on processes and threads (ulimit -u) or on memory (ulimit -v) is reached",
        System.ComponentModel.Win32Exception w when Limit(w.NativeErrorCode, forked: true) is { } limit => $"{e.Message}: {limit}",
        // An IOException's HResult is the errno on Unix; EAGAIN there is a non-blocking descriptor, no limit.
        IOException when Limit(e.HResult, forked: false) is { } limit => $"{e.Message}: {limit}",
        _ => null,
    };

    private static string? Limit(int errno, bool forked) => errno switch
    {
        24 => "this process's limit on open files (ulimit -n) is reached", // EMFILE
        23 => "the machine's limit on open files (fs.file-max) is reached", // ENFILE
        11 when forked => "the limit on processes and threads (ulimit -u) is reached", // EAGAIN from fork
        12 => "out of memory (or the limit ulimit -v is reached)", // ENOMEM
        _ => null,
    };
}
