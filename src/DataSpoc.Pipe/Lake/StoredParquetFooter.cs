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
            return Parse(tail, read);
        }
        catch (ParquetException e)
        {
            throw NotParquet(store, file.Key, ParquetFailure.LibraryMessage(e), e);
        }
    }

    /// <summary>
    /// Parses the footer from the tail alone, handed to Arrow as a file of its own (an in-memory buffer it reads with no
    /// call back into .NET): opening a file reads only its end, and the metadata's offsets into the rest are not followed.
    /// </summary>
    private static unsafe T Parse<T>(byte[] tail, Func<FileMetaData, T> read)
    {
        fixed (byte* data = tail)
        {
            using var buffer = new ParquetSharp.IO.Buffer((IntPtr)data, tail.Length);
            using var input = new ParquetSharp.IO.BufferReader(buffer);
            using var properties = ReaderProperties.GetDefaultReaderProperties();
            properties.SetFooterReadSize(tail.Length);
            using var reader = new ParquetFileReader(input, properties);
            using var meta = reader.FileMetaData;
            return read(meta);
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
}
