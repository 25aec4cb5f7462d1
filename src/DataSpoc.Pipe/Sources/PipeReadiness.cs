using System.IO.Pipes;
using System.Runtime.InteropServices;

namespace DataSpoc.Pipe.Sources;

/// <summary>Whether a tap's stdout pipe has something to read (data or its end) without blocking, waiting a bounded time.</summary>
internal static partial class PipeReadiness
{
    private const short PollIn = 1; // POLLIN
    private const int EINTR = 4;

    /// <summary>
    /// True once <paramref name="stream"/> can be read without blocking, false when <paramref name="milliseconds"/> passed
    /// without. A stream that is not a pipe on Linux cannot be watched: true, as if input were always about to come.
    /// </summary>
    public static bool WaitReadable(Stream stream, int milliseconds)
    {
        if (!OperatingSystem.IsLinux() || stream is not PipeStream pipe) return true;
        try
        {
            var watched = new PollDescriptor { Fd = pipe.SafePipeHandle.DangerousGetHandle().ToInt32(), Events = PollIn };
            while (true)
            {
                var ready = poll(ref watched, 1, Math.Max(0, milliseconds));
                if (ready >= 0) return ready > 0;
                if (Marshal.GetLastPInvokeError() != EINTR) return true;
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or ObjectDisposedException)
        {
            return true;
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollDescriptor
    {
        public int Fd;
        public short Events;
        public short ReturnedEvents;
    }

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int poll(ref PollDescriptor descriptors, ulong count, int timeoutMilliseconds);
}
