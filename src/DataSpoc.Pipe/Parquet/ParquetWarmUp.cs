using ParquetSharp;
using ParquetSharp.IO;

namespace DataSpoc.Pipe.Parquet;

/// <summary>
/// Loads ParquetSharp's native library (a 27 MB shared object: mapping, relocations and static initialisers are a
/// visible share of a short run) on an encoder thread as a run starts, so that cost overlaps with the tap's start instead of
/// delaying the first batch. Writes one tiny zstd file in memory, which also readies the codec.
/// </summary>
internal static class ParquetWarmUp
{
    private static readonly Lazy<Task> Load = new(() => EncoderThreads.Shared.Run(WriteTinyFile));

    /// <summary>
    /// Starts the warm-up once per process and returns at once. Dispose the result before the process may exit: exiting
    /// while the library's static initialisers still run on the encoder thread runs its static destructors alongside
    /// them, and the process aborts (SIGABRT; bench/README.md, "Measurements behind the code").
    /// </summary>
    public static IDisposable Start()
    {
        _ = Load.Value;
        return Settled.Instance;
    }

    /// <summary>Waits for the warm-up when disposed (it takes tens of milliseconds, and is long over after any real run).</summary>
    private sealed class Settled : IDisposable
    {
        public static readonly Settled Instance = new();

        public void Dispose() => Load.Value.Wait();
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
