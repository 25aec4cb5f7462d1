using BenchmarkDotNet.Attributes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Parquet;

namespace DataSpoc.Pipe.Benchmarks;

/// <summary>The engine's write side: one buffered column batch encoded to a Parquet file per codec (engine's zstd level, encodings chosen from the batch as the engine does).</summary>
[MemoryDiagnoser]
public class EngineEncodingBenchmarks
{
    private ColumnBatch _batch = null!;
    private string _directory = null!;

    [Params("narrow", "wide")]
    public string Shape { get; set; } = "narrow";

    [Params(Compression.Zstd, Compression.Snappy, Compression.None)]
    public Compression Codec { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _batch = new EngineInput(Shape).ShredAll();
        _directory = Directory.CreateTempSubdirectory("dataspoc-bench-").FullName;
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_directory, recursive: true);

    [Benchmark]
    public long Encode()
    {
        var path = Path.Combine(_directory, "batch.parquet");
        using (var file = new ParquetBatchFile(path, _batch.Schema, Codec, ParquetBatchFile.ChooseEncodings(_batch)))
        {
            file.WriteRowGroup(_batch);
            file.Close();
        }
        return new FileInfo(path).Length;
    }
}
