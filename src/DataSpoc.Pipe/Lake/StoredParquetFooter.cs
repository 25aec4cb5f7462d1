using System.Buffers.Binary;
using DataSpoc.Pipe.Parquet;
using DataSpoc.Pipe.Storage;
using ParquetSharp;

namespace DataSpoc.Pipe.Lake;

/// <summary>
/// The metadata of a Parquet file in a bucket, read from its tail alone (<see cref="IObjectStore.OpenReadRangeAsync"/>):
/// a file ends in its footer, the footer's length (4 bytes, little-endian) and <c>PAR1</c>. Reading the footer of a
/// 500 MB file on S3 then fetches kilobytes, not the file.
/// </summary>
internal static class StoredParquetFooter
{
    /// <summary>
    /// How much of the tail the first read fetches: Arrow's own first footer read (its default <c>FooterReadSize</c>), which
    /// holds the footers of most files, so a footer costs one request; a larger footer costs a second for the rest of it.
    /// </summary>
    private const int FirstRead = 64 << 10;

    /// <summary>The <c>PAR1</c> at the start, the footer length and the <c>PAR1</c> at the end: what the smallest Parquet file holds besides its footer.</summary>
    private const int Frame = 12;

    /// <summary>What <paramref name="read"/> takes from the footer of <paramref name="file"/> (its <see cref="ObjectInfo.Size"/> as listed).</summary>
    /// <exception cref="FileNotFoundException">The object is gone.</exception>
    /// <exception cref="StorageException">The object is not a Parquet file (or not the size it was listed with), or the store failed.</exception>
    public static async Task<T> ReadAsync<T>(IObjectStore store, ObjectInfo file, Func<FileMetaData, T> read, CancellationToken cancellationToken)
    {
        var size = file.Size;
        if (size < Frame) throw NotParquet(store, file.Key, $"it holds {size} byte(s), fewer than the {Frame} of the smallest Parquet file");
        var tailLength = (int)Math.Min(size, FirstRead);
        var tail = await ReadRangeAsync(store, file, size - tailLength, tailLength, cancellationToken).ConfigureAwait(false);
        var magic = tail.AsSpan(tail.Length - 4);
        if (!magic.SequenceEqual("PAR1"u8))
            throw NotParquet(store, file.Key, magic.SequenceEqual("PARE"u8) ? "its footer is encrypted" : "it does not end in PAR1");
        var footerLength = BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(tail.Length - 8));
        if (footerLength > size - Frame)
            throw NotParquet(store, file.Key, $"its footer length ({footerLength} bytes) is more than its {size} bytes hold");
        var held = (int)footerLength + 8;
        if (held > tail.Length)
        {
            var rest = await ReadRangeAsync(store, file, size - held, held - tail.Length, cancellationToken).ConfigureAwait(false);
            tail = [.. rest, .. tail];
        }
        try
        {
            using var properties = ReaderProperties.GetDefaultReaderProperties();
            // Arrow reads exactly the tail held, so it never asks for a byte the stream does not hold.
            properties.SetFooterReadSize(tail.Length);
            using var reader = new ParquetFileReader(new TailStream(tail, size), properties, leaveOpen: false);
            using var meta = reader.FileMetaData;
            return read(meta);
        }
        catch (ParquetException e)
        {
            throw NotParquet(store, file.Key, ParquetFailure.LibraryMessage(e), e);
        }
    }

    private static async Task<byte[]> ReadRangeAsync(IObjectStore store, ObjectInfo file, long offset, int length, CancellationToken cancellationToken)
    {
        var bytes = new byte[length];
        await using var range = await store.OpenReadRangeAsync(file.Key, offset, length, cancellationToken).ConfigureAwait(false);
        var read = await range.ReadAtLeastAsync(bytes, length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (read < length)
            throw new StorageException($"{store.Bucket}/{file.Key} ends before byte {offset + length:N0}: it is no longer the {file.Size:N0}-byte object it was listed as");
        return bytes;
    }

    private static StorageException NotParquet(IObjectStore store, string key, string reason, Exception? inner = null) =>
        new($"{store.Bucket}/{key} is not a readable Parquet file: {reason}", inner);

    /// <summary>
    /// The file as Arrow sees it: its whole length, of which only the tail is held; a read anywhere else fails (Arrow
    /// reads only the tail, <see cref="ReaderProperties.FooterReadSize"/> long, for the metadata).
    /// </summary>
    private sealed class TailStream(byte[] tail, long size) : Stream
    {
        private readonly long _start = size - tail.Length;
        private long _position;

        public override bool CanRead => true;
        public override bool CanSeek => true;
        public override bool CanWrite => false;
        public override long Length => size;
        public override long Position { get => _position; set => _position = value; }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_position >= size || buffer.IsEmpty) return 0;
            if (_position < _start)
                throw new IOException($"byte {_position} of a {size}-byte file was read where only its last {tail.Length} bytes (the footer) are held");
            var count = (int)Math.Min(buffer.Length, size - _position);
            tail.AsSpan((int)(_position - _start), count).CopyTo(buffer);
            _position += count;
            return count;
        }

        public override long Seek(long offset, SeekOrigin origin) => _position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            _ => size + offset,
        };

        public override void Flush() { }
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
