using System.Runtime.InteropServices;
using System.Text;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>
/// The process's stdin, stdout and stderr as the CLI finds them (closed, a pipe, a full disk, a terminal) made safe
/// before anything is written, and the width output is laid out for.
/// </summary>
internal static partial class StandardStreams
{
    /// <summary>
    /// Opens <c>/dev/null</c> on each of fds 0, 1 and 2 that is closed (<c>2&gt;&amp;-</c>, a daemon's supervisor), as
    /// daemons do. Otherwise the next file opened takes the closed number: with stderr closed, .NET's stdout set-up dups
    /// stdout onto fd 2 and every <c>error:</c> line lands inside <c>--output json</c>; with stdout closed it aborts
    /// with a stack trace; with stdin closed the MCP server fails instead of seeing end of input.
    /// </summary>
    public static void EnsureOpen()
    {
        if (!OperatingSystem.IsLinux()) return;
        for (var fd = 0; fd <= 2; fd++)
        {
            var flags = fcntl(fd, GetDescriptorFlags, 0);
            if (flags == -1)
            {
                // The lowest free number is this one, as the ones below it are open; dup2 only if something raced.
                var opened = open("/dev/null", ReadWrite);
                if (opened < 0 || opened == fd) continue;
                dup2(opened, fd);
                close(opened);
            }
            else if ((flags & CloseOnExec) != 0 && fd > 0)
            {
                // Close-on-exec: opened by this process, not inherited (exec closes such descriptors), so the stream was
                // closed and the runtime took its number before Main (the `dotnet` host does; the native binary does
                // not). That file is not ours to replace: output meant for the closed stream goes to /dev/null instead.
                Targets[fd] = open("/dev/null", WriteOnly | OpenCloseOnExec);
            }
        }
    }

    /// <summary>The descriptor each standard stream is written to (see <see cref="EnsureOpen"/>).</summary>
    private static readonly int[] Targets = [0, 1, 2];

    /// <summary>
    /// A writer straight to fd 1 or 2. Not .NET's console stream: its first write sends the terminal's keypad-transmit
    /// code (<c>ESC[?1h ESC=</c>) to stdout when stdout is a terminal, which put bytes before every <c>--output json</c>
    /// document read through a pty (<c>docker run -t</c>, <c>ssh -t</c>). Like the console stream, it drops what a closed
    /// pipe (<c>| head</c>) no longer reads; other write errors (a full disk) are <see cref="IOException"/>s.
    /// </summary>
    public static TextWriter Writer(int fd)
    {
        if (!OperatingSystem.IsLinux()) return fd == 1 ? Console.Out : Console.Error; // errno numbers below are Linux's
        var encoding = Console.OutputEncoding;
        if (encoding.Preamble.Length > 0 && encoding.CodePage == Encoding.UTF8.CodePage) encoding = new UTF8Encoding(false);
        return TextWriter.Synchronized(new StreamWriter(new DescriptorStream(Targets[fd]), encoding, bufferSize: 4096, leaveOpen: true) { AutoFlush = true });
    }

    /// <summary>
    /// fd 1 as the stream a Singer tap writes its messages to. Unlike <see cref="Writer"/>, a reader that is gone is an
    /// error (<see cref="IOException"/>, as a Python tap's BrokenPipeError): a tap whose target died stops instead of
    /// reading its whole source to nowhere, and exits non-zero so <c>tap | target</c> scripts see the failure.
    /// </summary>
    public static Stream SingerOutput() =>
        OperatingSystem.IsLinux() ? new DescriptorStream(Targets[1], brokenPipeIsError: true) : Console.OpenStandardOutput();

    /// <summary>
    /// Columns and rows output is laid out for: <c>$COLUMNS</c> when set, else the terminal's size; not on a terminal,
    /// a width no line reaches, so tables and hints are never wrapped for a pipe or a file (where the 80 columns .NET
    /// assumes cut a cron job's <c>status | grep</c> lines in two). Null: leave Spectre's own default.
    /// </summary>
    public static (int? Columns, int? Rows) Size()
    {
        int? columns = int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), System.Globalization.NumberStyles.None,
            System.Globalization.CultureInfo.InvariantCulture, out var c) && c > 0 ? c : null;
        if (Terminal.StdoutIsTerminal)
        {
            // The size asked of the terminal itself: Console.WindowWidth would initialise the console (see Writer).
            var size = new WindowSize();
            if (!OperatingSystem.IsLinux()) return (columns, null);
            // A terminal that reports no size (a pty nobody sized, as `script` makes) gets Spectre's default width.
            var known = ioctl(1, GetWindowSize, ref size) == 0;
            return (columns ?? (known && size.Columns > 0 ? size.Columns : 80), known && size.Rows > 0 ? size.Rows : 24);
        }
        return (columns ?? Unwrapped, null);
    }

    /// <summary>The width of output that is not on a terminal: wider than any line the CLI writes.</summary>
    private const int Unwrapped = 10_000;

    /// <summary>fd 1 or 2 as a write-only stream (no buffering: the writer above flushes each write).</summary>
    private sealed class DescriptorStream(int fd, bool brokenPipeIsError = false) : WriteOnlyStream
    {
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            while (!buffer.IsEmpty)
            {
                var written = write(fd, ref MemoryMarshal.GetReference(buffer), buffer.Length);
                if (written >= 0)
                {
                    buffer = buffer[(int)written..];
                    continue;
                }
                var errno = Marshal.GetLastPInvokeError();
                if (errno == EINTR) continue;
                if (errno == EPIPE && !brokenPipeIsError) return; // the reader is gone (| head): what it does not read is not an error
                if (errno == EAGAIN)
                {
                    // A non-blocking stdout (shared with another process that set O_NONBLOCK): wait until it takes more.
                    Thread.Sleep(1);
                    continue;
                }
                throw new IOException(Marshal.GetPInvokeErrorMessage(errno), errno);
            }
        }

        public override void Flush() { }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct WindowSize
    {
        public ushort Rows;
        public ushort Columns;
        public ushort XPixels;
        public ushort YPixels;
    }

    private const int GetDescriptorFlags = 1; // F_GETFD
    private const int CloseOnExec = 1; // FD_CLOEXEC
    private const int WriteOnly = 1, ReadWrite = 2, OpenCloseOnExec = 0x80000; // O_WRONLY, O_RDWR, O_CLOEXEC
    private const uint GetWindowSize = 0x5413; // TIOCGWINSZ (Linux)
    private const int EINTR = 4, EAGAIN = 11, EPIPE = 32;

    [LibraryImport("libc", EntryPoint = "fcntl")]
    private static partial int fcntl(int fd, int command, int argument);

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "dup2")]
    private static partial int dup2(int from, int to);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int close(int fd);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint write(int fd, ref byte buffer, nint count);

    [LibraryImport("libc", EntryPoint = "ioctl")]
    private static partial int ioctl(int fd, nuint request, ref WindowSize size);
}
