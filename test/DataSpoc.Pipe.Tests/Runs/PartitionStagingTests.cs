using System.Globalization;
using System.Text;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Parquet;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Runs;

/// <summary>
/// Records of a stream partitioned by a column are scanned into one batch per lane and moved to their partitions in
/// bulk (<c>PartitionStaging</c>). The lake must be the one the record-by-record path writes: the same rows in each
/// partition, in the same order, with the same values, on seeded random records that exercise what the move must keep:
/// nulls and absent partition values (the Hive default partition), dates before 1970 and offsets crossing midnight, a
/// date column (stored as days) and a date-time one (as microseconds), invalid records and records the scan leaves to the
/// general path in the middle of a chunk, STATE barriers, a schema change, a stream with a list (not staged), and small
/// limits so that batches are sized, cut, flushed by the budget and files rotate mid-move.
/// </summary>
public class PartitionStagingTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Theory]
    [InlineData("at", 1)]
    [InlineData("d", 1)]
    [InlineData("at", 2)]
    public async Task Rows_moved_in_bulk_land_as_the_record_by_record_path_writes_them(string partitionBy, int lanes)
    {
        var seed = FuzzSeed.FromEnvironment();
        output.WriteLine($"seed {seed} (replay with DATASPOC_FUZZ_SEED={seed})");
        var lines = Records(new Random(seed), 40_000);

        var staged = await RunAsync(lines, partitionBy, lanes, stage: true);
        var direct = await RunAsync(lines, partitionBy, lanes, stage: false);

        Assert.Equal(direct.Totals, staged.Totals);
        Assert.Equal(direct.Partitions, staged.Partitions);
        Assert.True(staged.Partitions.Count > 90, $"seed {seed}: only {staged.Partitions.Count} partitions");
        Assert.Contains("__HIVE_DEFAULT_PARTITION__", staged.Partitions);
        foreach (var stream in new[] { "orders", "tagged" })
        {
            var (a, b) = (staged.Rows[stream], direct.Rows[stream]);
            Assert.True(a.Count == b.Count, $"seed {seed}: {stream}: {a.Count} rows staged, {b.Count} direct");
            for (var i = 0; i < a.Count; i++)
                Assert.True(a[i].SequenceEqual(b[i]), $"seed {seed}: {stream} row {i}: staged [{string.Join(", ", a[i])}], direct [{string.Join(", ", b[i])}]");
        }
    }

    private sealed record Outcome(string Totals, List<string> Partitions, Dictionary<string, List<List<string?>>> Rows);

    private static async Task<Outcome> RunAsync(string[] lines, string partitionBy, int lanes, bool stage)
    {
        using var lake = new TempLake();
        var p = lake.Pipeline("orders", lake.WriteSinger("a.singer", lines), p => p with
        {
            OnInvalidRecord = InvalidRecordPolicy.Skip,
            Destination = p.Destination with { PartitionBy = partitionBy, MaxFileRows = 700 },
        });
        var runner = new PipelineRunner(new ObjectStoreFactory())
        {
            Limits = new WriteLimits { BatchRows = 2048, BufferBytes = 256 * 1024, ParseLanes = lanes, StagePartitionedRows = stage },
        };
        var result = await TempLake.RunAsync(p, runner: runner);
        Assert.True(result.Succeeded, result.Log.Error);
        var totals = string.Join("; ", result.Log.Streams.Select(s => $"{s.Key}: {s.Value.Records} records, {s.Value.Rejected} rejected"));
        var partitions = lake.ParquetKeys().Select(k => k.Split('/').First(part => part.StartsWith("dt=", StringComparison.Ordinal))[3..]).Distinct().Order().ToList();
        // One lane keeps each partition's rows in input order; two lanes interleave their chunks, so rows are compared by id.
        var order = lanes == 1 ? "dt, filename, file_row_number" : "dt, id";
        var rows = new Dictionary<string, List<List<string?>>>
        {
            ["orders"] = lake.Query($"select dt::varchar, id, \"at\"::varchar, d::varchar, amount, flag, name, info::varchar, extra from read_parquet('{{lake}}/raw/test/orders/*/*.parquet', hive_partitioning=true, filename=true, file_row_number=true, union_by_name=true) order by {order}"),
            ["tagged"] = lake.Query($"select dt::varchar, id, \"at\"::varchar, d::varchar, tags::varchar from read_parquet('{{lake}}/raw/test/tagged/*/*.parquet', hive_partitioning=true, filename=true, file_row_number=true) order by {order}"),
        };
        return new Outcome(totals, partitions, rows);
    }

    private const string OrdersProperties = """
        "id":{"type":"integer"},"at":{"type":["null","string"],"format":"date-time"},"d":{"type":["null","string"],"format":"date"},"amount":{"type":["null","number"]},"flag":{"type":["null","boolean"]},"name":{"type":["null","string"]},"info":{"type":["null","object"],"properties":{"code":{"type":["null","string"]},"n":{"type":["null","integer"]}}}
        """;

    private static string[] Records(Random random, int count)
    {
        var lines = new List<string>
        {
            """{"type":"SCHEMA","stream":"orders","schema":{"type":"object","properties":{""" + OrdersProperties + """}},"key_properties":["id"]}""",
            """{"type":"SCHEMA","stream":"tagged","schema":{"type":"object","properties":{"id":{"type":"integer"},"at":{"type":["null","string"],"format":"date-time"},"d":{"type":["null","string"],"format":"date"},"tags":{"type":["null","array"],"items":{"type":"string"}}}},"key_properties":["id"]}""",
        };
        var extra = false;
        for (var id = 1; id <= count; id++)
        {
            if (id % 4999 == 0) lines.Add("""{"type":"STATE","value":{"at":""" + id + "}}");
            if (id == count / 2)
            {
                // A schema change: the old writer is finished, with its staged rows.
                lines.Add("""{"type":"SCHEMA","stream":"orders","schema":{"type":"object","properties":{""" + OrdersProperties
                    + ""","extra":{"type":["null","string"]}}},"key_properties":["id"]}""");
                extra = true;
            }
            var at = random.Next(20) switch
            {
                0 => "null",
                1 => null, // absent
                _ => Quoted(DateTime(random)),
            };
            var d = random.Next(20) == 0 ? "null" : Quoted(Day(random).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
            if (random.Next(10) == 0)
            {
                var tags = random.Next(3) == 0 ? "null" : "[" + string.Join(",", Enumerable.Range(0, random.Next(4)).Select(i => Quoted("t" + random.Next(50)))) + "]";
                lines.Add("""{"type":"RECORD","stream":"tagged","record":{"id":""" + id + (at is null ? "" : ",\"at\":" + at) + ",\"d\":" + d + ",\"tags\":" + tags + "}}");
                continue;
            }
            var amount = random.Next(15) switch
            {
                0 => "null",
                1 => "\"not a number\"", // rejected: the general path, mid-chunk
                _ => (random.NextDouble() * 20_000 - 10_000).ToString("R", CultureInfo.InvariantCulture),
            };
            var flag = random.Next(3) switch { 0 => "null", 1 => "true", _ => "false" };
            var name = random.Next(8) switch
            {
                0 => "null",
                1 => "\"caf\\u00e9 \\\"quoted\\\"\"",
                2 => "\"\"",
                _ => Quoted(new string('x', random.Next(1, 40)) + random.Next(1000)),
            };
            var info = random.Next(4) == 0 ? "null" : $$"""{"code":{{(random.Next(5) == 0 ? "null" : Quoted("c" + random.Next(9)))}},"n":{{random.Next(100)}}}""";
            var properties = new List<string> { $"\"id\":{id}" };
            if (at is not null) properties.Add($"\"at\":{at}");
            // A property name spelled with an escape: the scan leaves the record to the general path, which takes it.
            var nameKey = random.Next(50) == 0 ? "n\\u0061me" : "name";
            properties.AddRange([$"\"d\":{d}", $"\"amount\":{amount}", $"\"flag\":{flag}", $"\"{nameKey}\":{name}", $"\"info\":{info}"]);
            if (extra) properties.Add(random.Next(2) == 0 ? "\"extra\":null" : $"\"extra\":\"e{random.Next(100)}\"");
            // Now and then another property order or spacing, which the scan may leave to the general path.
            if (random.Next(40) == 0) properties.Reverse();
            var separator = random.Next(60) == 0 ? ", " : ",";
            lines.Add("""{"type":"RECORD","stream":"orders","record":{""" + string.Join(separator, properties) + "}}");
        }
        return [.. lines];
    }

    private static string Quoted(string text) => "\"" + text + "\"";

    /// <summary>
    /// A day of the 100 around 1 January 1970 (a date-time before it is a negative count of microseconds), or now and
    /// then one of a few decades away (past the staging's slots by day, found through its dictionary).
    /// </summary>
    private static DateOnly Day(Random random) => random.Next(100) == 0
        ? new DateOnly(1900 + random.Next(3) * 60, 6, 1)
        : new DateOnly(1969, 11, 20).AddDays(random.Next(100));

    /// <summary>A date-time on one of <see cref="Day"/>'s days, in UTC or at an offset that may move its UTC date a day.</summary>
    private static string DateTime(Random random)
    {
        var local = Day(random).ToDateTime(TimeOnly.MinValue).AddSeconds(random.Next(24 * 3600));
        var fraction = random.Next(3) switch { 0 => "", 1 => $".{random.Next(1000):D3}", _ => $".{random.Next(1_000_000):D6}" };
        var zone = random.Next(3) == 0 ? "Z" : $"{(random.Next(2) == 0 ? '+' : '-')}{random.Next(14):D2}:{random.Next(2) * 30:D2}";
        return local.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture) + fraction + zone;
    }
}
