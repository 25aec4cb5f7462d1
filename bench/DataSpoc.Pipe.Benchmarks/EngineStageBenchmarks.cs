using BenchmarkDotNet.Attributes;
using DataSpoc.Pipe.Singer;

namespace DataSpoc.Pipe.Benchmarks;

/// <summary>
/// The engine's read side, stage by stage, on an in-memory Singer stream: line splitting, then Singer message
/// parsing (record bodies skipped), then parsing plus shredding into column buffers, by the tokenizer and by the
/// canonical scan a run uses. Differences between consecutive methods are each stage's cost.
/// </summary>
[MemoryDiagnoser]
public class EngineStageBenchmarks
{
    private EngineInput _input = null!;

    [Params("narrow", "wide")]
    public string Shape { get; set; } = "narrow";

    [GlobalSetup]
    public void Setup() => _input = new EngineInput(Shape);

    [Benchmark(Baseline = true)]
    public long LineSplitting()
    {
        using var lines = _input.Lines();
        long bytes = 0;
        while (lines.TryReadLine(out var line)) bytes += line.Length;
        return bytes;
    }

    [Benchmark]
    public long SingerMessageParsing()
    {
        var handler = new SkippingHandler();
        _input.ReadInto(handler);
        return handler.Records;
    }

    [Benchmark]
    public long TokenizerParsingAndColumnBuffering()
    {
        var handler = new ShreddingHandler(_input.Schema, 256 * 1024, canonical: false);
        _input.ReadInto(handler);
        return handler.Records;
    }

    /// <summary>What a run does: records of the usual shape are scanned directly (RecordShredder.TryShredCanonical).</summary>
    [Benchmark]
    public long CanonicalParsingAndColumnBuffering()
    {
        var handler = new ShreddingHandler(_input.Schema, 256 * 1024);
        _input.ReadInto(handler);
        return handler.Records;
    }
}
