using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using DataSpoc.Pipe.Parquet;

namespace DataSpoc.Pipe.Benchmarks;

/// <summary>
/// UTF-8 JSON value to typed column, one type at a time: 65,536 one-property records (<c>{"v":…}</c>) of a type, each
/// scanned by the canonical scan into a one-column batch (conversion plus column buffering, as a run does per value).
/// Values are varied the way the narrow bench input varies them.
/// </summary>
[MemoryDiagnoser]
public class ValueConversionBenchmarks
{
    private const int Records = 65_536;
    private byte[][] _records = [];
    private ColumnSchema _schema = null!;
    private ColumnBatch _batch = null!;
    private readonly RecordShredder _shredder = new();

    [Params("integer", "number", "boolean", "string", "date-time", "date")]
    public string Type { get; set; } = "integer";

    [GlobalSetup]
    public void Setup()
    {
        var property = Type switch
        {
            "date-time" => """{"type":["null","string"],"format":"date-time"}""",
            "date" => """{"type":["null","string"],"format":"date"}""",
            _ => $$"""{"type":["null","{{Type}}"]}""",
        };
        _schema = ColumnSchema.FromJsonSchema(JsonDocument.Parse("""{"type":"object","properties":{"v":""" + property + "}}").RootElement);
        _batch = new ColumnBatch(_schema);
        var random = new Random(42);
        _records = Enumerable.Range(0, Records).Select(i => Encoding.UTF8.GetBytes("{\"v\":" + Value(i, random) + "}")).ToArray();
        if (Convert() != Records) throw new InvalidOperationException($"the canonical scan refused a {Type} value");
    }

    private string Value(int i, Random random) => Type switch
    {
        "integer" => (i * 7919L % 1_000_000).ToString(System.Globalization.CultureInfo.InvariantCulture),
        "number" => (random.Next(1, 1_000_000) / 100.0).ToString("0.00", System.Globalization.CultureInfo.InvariantCulture),
        "boolean" => i % 3 == 0 ? "true" : "false",
        "string" => "\"" + string.Join(' ', Enumerable.Range(0, 1 + i % 6).Select(k => Words[(i + k * 7) % Words.Length])) + "\"",
        "date-time" => $"\"2024-{1 + i % 12:00}-{1 + i % 28:00}T{i % 24:00}:{i % 60:00}:{i * 7 % 60:00}.{i % 1000:000}{Offsets[i % Offsets.Length]}\"",
        "date" => $"\"2024-{1 + i % 12:00}-{1 + i % 28:00}\"",
        _ => throw new InvalidOperationException(Type),
    };

    private static readonly string[] Words = ["office", "back", "weekend", "thanks", "bell", "noon", "arrival", "door", "gift", "paper"];
    private static readonly string[] Offsets = ["Z", "-03:00", "+05:30", "+00:00"];

    [Benchmark(OperationsPerInvoke = Records)]
    public int Convert()
    {
        _batch.Clear();
        var converted = 0;
        foreach (var record in _records)
        {
            var position = 0;
            if (_shredder.TryShredCanonical(_batch, record, ref position)) converted++;
        }
        return converted;
    }
}
