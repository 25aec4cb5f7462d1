using System.Buffers;

namespace DataSpoc.Pipe.Singer;

/// <summary>
/// Splits a stream of UTF-8 bytes into lines without copying them into strings: each line is handed out as a span
/// of one pooled buffer, valid until the next call. Lines may be of any length up to <see cref="MaxLineBytes"/>.
/// </summary>
internal sealed class SingerLineReader : IDisposable
{
    /// <summary>A single message larger than this is refused (a runaway or binary stream), not buffered forever.</summary>
    public const int DefaultMaxLineBytes = 512 * 1024 * 1024;

    private readonly Stream _input;
    private byte[] _buffer;
    private int _start;
    private int _end;
    private bool _eof;

    private readonly string? _limitKey;

    /// <param name="input">The bytes.</param>
    /// <param name="initialBuffer">The buffer's first size; it grows to hold a longer line.</param>
    /// <param name="maxLineBytes">A longer line is refused.</param>
    /// <param name="limitKey">The setting that gives <paramref name="maxLineBytes"/>, named in the error that refuses a line.</param>
    public SingerLineReader(Stream input, int initialBuffer = 1 << 20, int maxLineBytes = DefaultMaxLineBytes, string? limitKey = null)
    {
        _input = input;
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Min(initialBuffer, maxLineBytes + 2));
        MaxLineBytes = maxLineBytes;
        _limitKey = limitKey;
    }

    public int MaxLineBytes { get; }

    /// <summary>1-based number of the line last returned.</summary>
    public long LineNumber { get; private set; }

    /// <summary>Whether the last line returned had no terminating newline (the input ended mid-line).</summary>
    public bool LastLineUnterminated { get; private set; }

    /// <summary>Total bytes consumed so far.</summary>
    public long BytesRead { get; private set; }

    /// <summary>The buffer the last line returned lies in, and where in it the line starts.</summary>
    internal byte[] Buffer => _buffer;
    internal int LineOffset { get; private set; }

    /// <summary>
    /// For a consumer that keeps lines past the next call (parsing them on other threads): when the buffer is full and
    /// its unread bytes need room, it is handed over, with every line returned from it still in place, and reading
    /// goes on in the buffer this returns (of at least the size asked; its owner returns it to
    /// <see cref="ArrayPool{T}.Shared"/>). Unset, the unread bytes move to the front of the same buffer.
    /// </summary>
    internal Func<byte[], int, byte[]>? ExchangeFullBuffer { get; set; }

    /// <summary>
    /// Called before each read of the input, when every buffered line has been returned: the read may block until the
    /// source writes more, so a consumer that holds lines back (in chunks) can hand them on first.
    /// </summary>
    internal Action? BeforeRead { get; set; }

    /// <summary>
    /// Waits up to the milliseconds given for input the next read takes without blocking: false when none came. Unset
    /// (an input that cannot be watched), input always counts as about to come.
    /// </summary>
    internal Func<int, bool>? InputArrivesWithin { get; set; }

    /// <summary>Reads the next line (without its '\n' or "\r\n"); false at the end of the input.</summary>
    public bool TryReadLine(out ReadOnlySpan<byte> line)
    {
        var scanFrom = _start;
        while (true)
        {
            var newline = _buffer.AsSpan(scanFrom, _end - scanFrom).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                var end = scanFrom + newline;
                LineOffset = _start;
                line = Trim(_buffer.AsSpan(_start, end - _start));
                if (line.Length > MaxLineBytes) throw LineTooLong(line);
                if (LineNumber == 0) SkipByteOrderMark(ref line);
                _start = end + 1;
                LineNumber++;
                LastLineUnterminated = false;
                return true;
            }
            if (_eof)
            {
                if (_start < _end)
                {
                    LineOffset = _start;
                    line = Trim(_buffer.AsSpan(_start, _end - _start));
                    if (line.Length > MaxLineBytes) throw LineTooLong(line);
                    if (LineNumber == 0) SkipByteOrderMark(ref line);
                    _start = _end;
                    LineNumber++;
                    LastLineUnterminated = true;
                    return true;
                }
                line = default;
                return false;
            }
            scanFrom = _end;
            var shift = _start;
            Fill();
            scanFrom -= shift - _start;
        }
    }

    /// <summary>
    /// A UTF-8 byte order mark before the first line (what a Windows or PowerShell tap's stdout often starts with) is
    /// no part of the message: skipped, as the csv tap skips one.
    /// </summary>
    private void SkipByteOrderMark(ref ReadOnlySpan<byte> line)
    {
        if (!line.StartsWith("\uFEFF"u8)) return;
        line = line[3..];
        LineOffset += 3;
    }

    /// <summary>
    /// The error for the line that starts with <paramref name="start"/>: its number, and its type and stream when its
    /// first bytes say them (<c>line 3 (stream 'events'): the RECORD line is longer than source.max_line_mb (1 MB) ...</c>).
    /// </summary>
    private SingerProtocolException LineTooLong(ReadOnlySpan<byte> start)
    {
        var (type, stream) = SingerEnvelope.PeekTypeAndStream(start);
        var what = type is null ? "line" : $"{type} line";
        var limit = MaxLineBytes % (1024 * 1024) == 0 ? $"{MaxLineBytes / (1024 * 1024)} MB" : $"{MaxLineBytes} bytes";
        var reason = _limitKey is null
            ? $"the {what} is longer than {limit}; refusing to buffer it (binary or runaway output?)"
            : $"the {what} is longer than {_limitKey} ({limit}); refused before it is read whole, since landing a line takes " +
              $"several times its size in memory: raise {_limitKey} (at most {DefaultMaxLineBytes / (1024 * 1024)}) for a source whose messages are that large";
        return new SingerProtocolException(LineNumber + 1, reason, stream);
    }

    private static ReadOnlySpan<byte> Trim(ReadOnlySpan<byte> line) =>
        line.Length > 0 && line[^1] == '\r' ? line[..^1] : line;

    private void Fill()
    {
        // Room is made only when the buffer is full: the unread bytes (a partial line) move to the front of the same
        // buffer, or of a new one (the consumer's, or a bigger one when a single line fills it).
        if (_end == _buffer.Length)
        {
            var size = _buffer.Length;
            if (_start == 0)
            {
                // A full buffer is one unfinished line: past the limit even without a "\r" at its end, it is refused
                // here, before the buffer grows further; else the buffer grows to hold the longest line and its "\r\n".
                if (_buffer.Length - 1 > MaxLineBytes) throw LineTooLong(_buffer);
                size = (int)Math.Min((long)_buffer.Length * 2, MaxLineBytes + 2L);
            }
            var unread = _buffer.AsSpan(_start, _end - _start);
            if (ExchangeFullBuffer is { } exchange)
            {
                var fresh = exchange(_buffer, size);
                unread.CopyTo(fresh);
                _buffer = fresh;
            }
            else if (size == _buffer.Length)
            {
                unread.CopyTo(_buffer);
            }
            else
            {
                var bigger = ArrayPool<byte>.Shared.Rent(size);
                unread.CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = bigger;
            }
            _end -= _start;
            _start = 0;
        }
        BeforeRead?.Invoke();
        var n = _input.Read(_buffer, _end, _buffer.Length - _end);
        if (n == 0) _eof = true;
        if (StageTimeline.Enabled && (n == 0 || BytesRead == 0)) StageTimeline.Mark(n == 0 ? "input.end" : "input.first", BytesRead + n);
        _end += n;
        BytesRead += n;
    }

    public void Dispose()
    {
        if (_buffer.Length > 0) ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }
}

/// <summary>
/// A Singer message that breaks the protocol; names the line and what is wrong, or, for a source that has no lines (a
/// code source), the <paramref name="place"/> it names instead (<c>stream 'events'</c>).
/// </summary>
public sealed class SingerProtocolException(long line, string reason, string? stream = null, string? place = null)
    : PipeException(place is not null ? $"{place}: {reason}" : stream is null ? $"line {line}: {reason}" : $"line {line} (stream '{stream}'): {reason}")
{
    public long Line { get; } = line;
    public string Reason { get; } = reason;
    public string? Stream { get; } = stream;
}
