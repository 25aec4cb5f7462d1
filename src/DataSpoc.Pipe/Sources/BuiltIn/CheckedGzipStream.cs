using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;
using ICSharpCode.SharpZipLib;
using ICSharpCode.SharpZipLib.GZip;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// A <c>.gz</c> file's bytes, decompressed by .NET's native inflater and checked at their end as that inflater does
/// not: a file cut short (still being written, a broken copy) decompresses there to whatever its first bytes hold, with
/// no error. The gzip trailer (the data's CRC-32 and length) must match what was read. A file of several gzip members
/// (concatenated <c>.gz</c> files, which .NET reads whole) ends with the last member's trailer only, so when the trailer
/// does not match, the file is read once more by SharpZipLib, which checks every member's trailer (managed, 2-3x slower:
/// bench/README.md, so not the usual path).
/// </summary>
internal sealed class CheckedGzipStream : OwningReadOnlyStream
{
    private readonly TailStream _raw;
    private readonly GZipStream _gzip;
    private readonly string _location;
    private readonly Func<Stream> _reopen;
    private readonly Crc32 _crc = new();
    private long _length;
    private bool _checked;

    /// <param name="raw">The compressed bytes.</param>
    /// <param name="location">The file, for errors.</param>
    /// <param name="reopen">Opens the compressed bytes again (only when the trailer does not match).</param>
    public CheckedGzipStream(Stream raw, string location, Func<Stream> reopen)
    {
        _raw = new TailStream(raw);
        _gzip = new GZipStream(_raw, CompressionMode.Decompress);
        _location = location;
        _reopen = reopen;
    }

    public override int Read(Span<byte> buffer)
    {
        int read;
        try { read = _gzip.Read(buffer); }
        catch (InvalidDataException e) { throw Damaged(e.Message, e); }
        return Counted(buffer[..read]);
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int read;
        try { read = await _gzip.ReadAsync(buffer, cancellationToken).ConfigureAwait(false); }
        catch (InvalidDataException e) { throw Damaged(e.Message, e); }
        return Counted(buffer.Span[..read]);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private int Counted(ReadOnlySpan<byte> read)
    {
        if (read.Length > 0)
        {
            _crc.Append(read);
            _length += read.Length;
        }
        else if (!_checked)
        {
            _checked = true;
            CheckWhole();
        }
        return read.Length;
    }

    /// <summary>At the end of the data: the trailer matches, or every member of the file checks out the slow way.</summary>
    private void CheckWhole()
    {
        var trailer = _raw.Last8;
        if (_raw.Total >= 18 && BinaryPrimitives.ReadUInt32LittleEndian(trailer) == _crc.GetCurrentHashAsUInt32()
            && BinaryPrimitives.ReadUInt32LittleEndian(trailer[4..]) == (uint)_length)
            return;
        long whole = 0;
        try
        {
            using var again = new GZipInputStream(_reopen());
            var buffer = new byte[1 << 16];
            int read;
            while ((read = again.Read(buffer)) > 0) whole += read;
        }
        catch (Exception e) when (e is SharpZipBaseException or EndOfStreamException or InvalidDataException)
        {
            throw Damaged(e.Message, e);
        }
        if (whole != _length) throw Damaged($"{whole} bytes when checked, {_length} when read", null);
    }

    private InvalidDataException Damaged(string reason, Exception? inner) =>
        new($"{_location}: the gzip data is cut short or damaged ({reason})", inner);

    protected override Stream Owned => _gzip;

    /// <summary>The compressed bytes as read, keeping their count and the last 8 (a gzip member's trailer).</summary>
    private sealed class TailStream(Stream inner) : OwningReadOnlyStream
    {
        private readonly byte[] _last = new byte[8];

        protected override Stream Owned => inner;

        public long Total { get; private set; }

        /// <summary>The last 8 bytes read, oldest first (zeros before the 8th byte).</summary>
        public ReadOnlySpan<byte> Last8
        {
            get
            {
                var ordered = new byte[8];
                for (var i = 0; i < 8; i++) ordered[i] = _last[(int)((Total + i) % 8)];
                return ordered;
            }
        }

        /// <summary>The byte at position k of the stream is kept at k % 8.</summary>
        private int Keep(ReadOnlySpan<byte> read)
        {
            var count = read.Length;
            if (count > 8)
            {
                Total += count - 8;
                read = read[^8..];
            }
            foreach (var b in read) _last[(int)(Total++ % 8)] = b;
            return count;
        }

        public override int Read(Span<byte> buffer) => Keep(buffer[..inner.Read(buffer)]);
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            return Keep(buffer.Span[..read]);
        }
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }
}
