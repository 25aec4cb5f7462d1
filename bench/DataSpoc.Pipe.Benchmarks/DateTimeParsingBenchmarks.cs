using System.Buffers.Text;
using System.Globalization;
using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using DataSpoc.Pipe.BenchData;

namespace DataSpoc.Pipe.Benchmarks;

/// <summary>
/// 1M ISO-8601 date-times with offsets (the narrow shape's created_at, as UTF-8 bytes the way they sit in a JSON
/// line) to UTC epoch microseconds. Each method returns the sum, so all must agree (checked in setup).
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 2, iterationCount: 7)]
public class DateTimeParsingBenchmarks
{
    private const int Count = 1_000_000;
    private byte[] _utf8 = null!;      // "…""…"… each value with its JSON quotes, back to back
    private int[] _starts = null!;     // start of value i's opening quote; _starts[Count] is the end

    [GlobalSetup]
    public void Setup()
    {
        var rng = new SplitMix64(0x5EED_0001UL);
        _starts = new int[Count + 1];
        var bytes = new List<byte>(Count * 32);
        for (var i = 0; i < Count; i++)
        {
            _starts[i] = bytes.Count;
            bytes.AddRange(Encoding.UTF8.GetBytes("\"" + DateTimeText.Format(NarrowShape.NextRow(ref rng, i).CreatedAt) + "\""));
        }
        _starts[Count] = bytes.Count;
        _utf8 = bytes.ToArray();

        var expected = DateTimeOffsetTryParse();
        foreach (var (name, sum) in new[] { ("Utf8JsonReader", Utf8JsonReaderTryGetDateTimeOffset()), ("Utf8Parser", Utf8ParserThenFallback()),
                                            ("TryParseExact", DateTimeOffsetTryParseExact()), ("hand-rolled", HandRolledFixedFormat()), ("engine", EngineTemporalParser()) })
            if (sum != expected) throw new InvalidOperationException($"{name} disagrees: {sum} vs {expected}");
    }

    private ReadOnlySpan<byte> Quoted(int i) => _utf8.AsSpan(_starts[i], _starts[i + 1] - _starts[i]);
    private ReadOnlySpan<byte> Unquoted(int i) => _utf8.AsSpan(_starts[i] + 1, _starts[i + 1] - _starts[i] - 2);
    private static long Micros(DateTimeOffset v) => (v.UtcTicks - DateTime.UnixEpoch.Ticks) / 10;

    [Benchmark(Baseline = true)]
    public long DateTimeOffsetTryParse()
    {
        long sum = 0;
        Span<char> chars = stackalloc char[64];
        for (var i = 0; i < Count; i++)
        {
            var n = Encoding.UTF8.GetChars(Unquoted(i), chars);
            if (!DateTimeOffset.TryParse(chars[..n], CultureInfo.InvariantCulture, DateTimeStyles.None, out var v)) throw new FormatException();
            sum += Micros(v);
        }
        return sum;
    }

    [Benchmark]
    public long DateTimeOffsetTryParseExact()
    {
        long sum = 0;
        Span<char> chars = stackalloc char[64];
        for (var i = 0; i < Count; i++)
        {
            var n = Encoding.UTF8.GetChars(Unquoted(i), chars);
            if (!DateTimeOffset.TryParseExact(chars[..n], "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK", CultureInfo.InvariantCulture, DateTimeStyles.None, out var v))
                throw new FormatException();
            sum += Micros(v);
        }
        return sum;
    }

    /// <summary>Utf8Parser's 'O' format wants exactly 7 fraction digits, so taps' millisecond text falls back every time.</summary>
    [Benchmark]
    public long Utf8ParserThenFallback()
    {
        long sum = 0;
        Span<char> chars = stackalloc char[64];
        for (var i = 0; i < Count; i++)
        {
            var s = Unquoted(i);
            if (!Utf8Parser.TryParse(s, out DateTimeOffset v, out var used, 'O') || used != s.Length)
            {
                var n = Encoding.UTF8.GetChars(s, chars);
                if (!DateTimeOffset.TryParse(chars[..n], CultureInfo.InvariantCulture, DateTimeStyles.None, out v)) throw new FormatException();
            }
            sum += Micros(v);
        }
        return sum;
    }

    /// <summary>System.Text.Json's own ISO-8601 parser, as used when the token is at hand in a Utf8JsonReader.</summary>
    [Benchmark]
    public long Utf8JsonReaderTryGetDateTimeOffset()
    {
        long sum = 0;
        for (var i = 0; i < Count; i++)
        {
            var reader = new Utf8JsonReader(Quoted(i));
            reader.Read();
            if (!reader.TryGetDateTimeOffset(out var v)) throw new FormatException();
            sum += Micros(v);
        }
        return sum;
    }

    [Benchmark]
    public long HandRolledFixedFormat()
    {
        long sum = 0;
        for (var i = 0; i < Count; i++)
        {
            if (!Iso8601Utf8.TryParseUtcMicros(Unquoted(i), out var micros)) throw new FormatException();
            sum += micros;
        }
        return sum;
    }

    /// <summary>The engine's own parser (src/DataSpoc.Pipe/Parquet/TemporalParser.cs), for comparison.</summary>
    [Benchmark]
    public long EngineTemporalParser()
    {
        long sum = 0;
        for (var i = 0; i < Count; i++)
        {
            if (!DataSpoc.Pipe.Parquet.TemporalParser.TryParseTimestampMicros(Unquoted(i), out var micros)) throw new FormatException();
            sum += micros;
        }
        return sum;
    }
}
