using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Sources;
using DataSpoc.Pipe.Sources.BuiltIn;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace DataSpoc.Pipe.Tests.Runs;

/// <summary>
/// Not a test: the figure in bench/README.md ("Typed sources"). A typed source of 1M x 8 flat rows (the narrow shape's
/// columns) into a file:// lake through the engine's sink, and the same calls printed as Singer JSON and read back,
/// alternating, medians of wall and process CPU. Runs only with DATASPOC_PIPE_MEASURE=1:
/// <c>DATASPOC_PIPE_MEASURE=1 dotnet test test/DataSpoc.Pipe.Tests -c Release --no-build --filter EngineSinkMeasurement --logger "console;verbosity=detailed"</c>
/// </summary>
public sealed class EngineSinkMeasurement(ITestOutputHelper output)
{
    private const int Rows = 1_000_000;
    private static readonly string[] Countries = ["BR", "US", "DE", "JP", "IN", "FR", "GB", "MX"];

    private static readonly JsonObject Schema = JsonNode.Parse("""
        {"type": "object", "properties": {
          "id": {"type": "integer"}, "user_id": {"type": "integer"}, "name": {"type": "string"}, "email": {"type": "string"},
          "amount": {"type": "number"}, "active": {"type": "boolean"}, "country": {"type": "string"},
          "created_at": {"type": "string", "format": "date-time"}}}
        """)!.AsObject();

    private static async Task NarrowRowsAsync(RecordSink sink, CancellationToken cancellationToken)
    {
        var rows = sink.WriteSchema("events", Schema, ["id"]);
        var start = new DateTime(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var name = new char[16];
        var email = new char[32];
        for (var i = 0; i < Rows; i++)
        {
            rows.BeginRow();
            rows.Long(0, i);
            rows.Long(1, i % 50_000);
            i.TryFormat(name.AsSpan(5), out var n, provider: CultureInfo.InvariantCulture);
            "user ".CopyTo(name);
            rows.String(2, name.AsSpan(0, 5 + n));
            "u".CopyTo(email);
            i.TryFormat(email.AsSpan(1), out n, provider: CultureInfo.InvariantCulture);
            "@example.com".CopyTo(email.AsSpan(1 + n));
            rows.String(3, email.AsSpan(0, 13 + n));
            rows.Double(4, (i % 100_000) / 100.0);
            rows.Bool(5, (i & 1) == 0);
            rows.String(6, Countries[i & 7]);
            rows.Timestamp(7, start.AddTicks(i * 24_000_000L));
            rows.EndRow();
            await sink.FlushIfFullAsync(cancellationToken);
        }
        await sink.FlushAsync(cancellationToken);
    }

    [Fact]
    public async Task Typed_source_1M_narrow_rows_through_the_engine_sink_and_through_Singer_JSON()
    {
        if (Environment.GetEnvironmentVariable("DATASPOC_PIPE_MEASURE") != "1") return;
        var times = new Dictionary<bool, List<(double Wall, double Cpu)>> { [true] = [], [false] = [] };
        for (var round = 0; round < 5; round++)
            foreach (var typed in new[] { true, false })
            {
                using var lake = new TempLake();
                var pipeline = new PipelineDefinition
                {
                    Name = "measure",
                    Source = new SourceDefinition { Tap = "narrow", InlineConfig = new JsonObject() },
                    Destination = new DestinationDefinition { Bucket = lake.Bucket },
                };
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                var clock = Stopwatch.StartNew();
                var result = await new PipelineRunner(new ObjectStoreFactory()) { TypedSources = typed }.RunAsync(pipeline,
                    new RunOptions { Source = new BuiltInSource(new ScriptedTypedTap("narrow", NarrowRowsAsync)) }, CancellationToken.None);
                clock.Stop();
                Assert.True(result.Succeeded, result.Log.Error);
                Assert.Equal(Rows, result.Log.TotalRecords);
                if (round > 0) times[typed].Add((clock.Elapsed.TotalSeconds, (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds));
            }
        foreach (var (typed, runs) in times)
            output.WriteLine($"{(typed ? "engine sink" : "Singer JSON")}: wall median {Median(runs.Select(r => r.Wall)):F2} s, CPU median {Median(runs.Select(r => r.Cpu)):F2} s " +
                             $"(runs: {string.Join(", ", runs.Select(r => r.Wall.ToString("F2", CultureInfo.InvariantCulture)))})");
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }
}
