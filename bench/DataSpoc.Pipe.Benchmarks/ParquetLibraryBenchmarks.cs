using BenchmarkDotNet.Attributes;

namespace DataSpoc.Pipe.Benchmarks;

/// <summary>ParquetSharp vs Parquet.Net: 1M narrow rows from pre-built typed columns into one in-memory Parquet file.</summary>
[MemoryDiagnoser]
public class ParquetLibraryBenchmarks
{
    private NarrowColumns _data = null!;
    private MemoryStream _output = null!;

    [Params(ParquetCodec.Zstd1, ParquetCodec.Zstd3, ParquetCodec.Snappy)]
    public ParquetCodec Codec { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = new NarrowColumns(1_000_000);
        _output = new MemoryStream(64 << 20);
    }

    [Benchmark(Baseline = true)]
    public long ParquetSharp()
    {
        _output.SetLength(0);
        ParquetWriters.WriteWithParquetSharp(_data, Codec, _output);
        return _output.Length;
    }

    [Benchmark]
    public long ParquetSharpSmallDictionaryPages()
    {
        _output.SetLength(0);
        ParquetWriters.WriteWithParquetSharp(_data, Codec, _output, DictionaryPolicy.SmallPageLimit);
        return _output.Length;
    }

    [Benchmark]
    public async Task<long> ParquetNet()
    {
        _output.SetLength(0);
        await ParquetWriters.WriteWithParquetNetAsync(_data, Codec, _output);
        return _output.Length;
    }
}
