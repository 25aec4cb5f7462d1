using ParquetSharp;
using ParquetSharp.IO;

namespace DataSpoc.Pipe.Parquet;

/// <summary>
/// Loads ParquetSharp's native library (a 27 MB shared object: mapping, relocations and static initialisers take a
/// short run ~100 ms) on an encoder thread as a run starts, so that cost overlaps with the tap's start instead of
/// delaying the first batch. Writes one tiny zstd file in memory, which also readies the codec.
/// </summary>
internal static class ParquetWarmUp
{
    private static int _started;

    /// <summary>Starts the warm-up once per process; returns at once.</summary>
    public static void Start()
    {
        if (Interlocked.Exchange(ref _started, 1) != 0) return;
        _ = EncoderThreads.Shared.Run(WriteTinyFile);
    }

    private static void WriteTinyFile()
    {
        try
        {
            using var output = new BufferOutputStream();
            using var builder = new WriterPropertiesBuilder();
            using var properties = builder.Compression(ParquetSharp.Compression.Zstd).CompressionLevel(ParquetBatchFile.ZstdLevel)
                .MemoryPool(MemoryPool.SystemMemoryPool()).Build();
            using var writer = new ParquetFileWriter(output, [new Column<long>("v")], properties);
            using (var rowGroup = writer.AppendRowGroup())
            using (var column = (ColumnWriter<long>)rowGroup.NextColumn())
                column.WriteBatch([1L]);
            writer.Close();
        }
        catch (Exception)
        {
            // Only a head start: a real problem with the library surfaces, with its context, on the first real write.
        }
    }
}
