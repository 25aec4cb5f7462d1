using System.IO.Pipes;
using System.Runtime.InteropServices;

namespace DataSpoc.Pipe.Sources;

/// <summary>
/// Enlarges the kernel buffer of a tap's stdout pipe (Linux: 64 KiB by default, 1 MiB allowed to anyone): the tap
/// blocks and both sides wake up 16 times less often while hundreds of megabytes stream through.
/// </summary>
internal static partial class PipeCapacity
{
    private const int SetPipeSize = 1031; // F_SETPIPE_SZ
    private const int GetPipeSize = 1032; // F_GETPIPE_SZ
    public const int Bytes = 1 << 20;

    /// <summary>Best effort: a stream that is not a pipe, another OS or a lower system limit leaves the pipe as it is.</summary>
    public static void TryEnlarge(Stream stream)
    {
        if (!OperatingSystem.IsLinux() || stream is not PipeStream pipe) return;
        try
        {
            _ = fcntl(pipe.SafePipeHandle.DangerousGetHandle().ToInt32(), SetPipeSize, Bytes);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or ObjectDisposedException)
        {
            // Not worth failing a run over: the pipe just stays at its default size.
        }
    }

    /// <summary>The pipe's buffer size in bytes; -1 when <paramref name="stream"/> is not a pipe on Linux.</summary>
    public static int Of(Stream stream) =>
        OperatingSystem.IsLinux() && stream is PipeStream pipe ? fcntl(pipe.SafePipeHandle.DangerousGetHandle().ToInt32(), GetPipeSize, 0) : -1;

    [LibraryImport("libc", EntryPoint = "fcntl")]
    private static partial int fcntl(int fd, int command, int argument);
}
