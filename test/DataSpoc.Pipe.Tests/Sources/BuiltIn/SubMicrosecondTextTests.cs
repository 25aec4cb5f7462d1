using System.Text.Json.Nodes;
using DataSpoc.Pipe.Parquet;
using DataSpoc.Pipe.Tests.Support;
using Xunit;

namespace DataSpoc.Pipe.Tests.Sources.BuiltIn;

/// <summary>
/// Date-time and time text with more than 6 fractional digits lands cut to the microsecond, as DuckDB casts and reads
/// it (<c>'…00.123456789Z'::TIMESTAMPTZ</c> is <c>.123456</c>, not rounded), and the run log says how many values of
/// which column lost digits, as the parquet tap says it for nanosecond timestamps: never silently.
/// </summary>
public sealed class SubMicrosecondTextTests : IDisposable
{
    private readonly TempLake _lake = new();
    private readonly TapHarness _h = new();

    public void Dispose()
    {
        _lake.Dispose();
        _h.Dispose();
    }

    [Theory]
    [InlineData("2024-01-01T00:00:00.123456789Z", 1704067200123456L, true)]
    [InlineData("2024-01-01T00:00:00.9999999Z", 1704067200999999L, true)]
    [InlineData("2024-01-01T00:00:00.123456000Z", 1704067200123456L, false)]
    [InlineData("2024-01-01T00:00:00.123456Z", 1704067200123456L, false)]
    public void The_parser_cuts_past_the_microsecond_as_duckdb_does_and_says_when_a_digit_was_lost(string text, long micros, bool cut)
    {
        Assert.True(TemporalParser.TryParseTimestampMicros(System.Text.Encoding.ASCII.GetBytes(text), out var parsed, out var cutDigits));
        Assert.Equal((micros, cut), (parsed, cutDigits));
    }

    [Fact]
    public async Task Singer_records_land_cut_and_the_run_log_counts_them_per_stream_and_column()
    {
        var singer = _lake.WriteSinger("ns.singer",
            """{"type":"SCHEMA","stream":"things","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"ts":{"type":["null","string"],"format":"date-time"},"t":{"type":["null","string"],"format":"time"}}}}""",
            """{"type":"RECORD","stream":"things","record":{"id":1,"ts":"2024-01-01T00:00:00.123456789Z","t":"10:00:00.1234567"}}""",
            """{"type":"RECORD","stream":"things","record":{"id":2,"ts":"2024-01-01T00:00:00.9999999Z","t":"10:00:00.5"}}""",
            """{"type":"RECORD","stream":"things","record":{"id":3,"ts":"2024-01-01T00:00:00.123456000Z","t":null}}""");

        var run = await TempLake.RunAsync(_lake.Pipeline("ns", singer));

        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Equal(
            [
                "stream 'things' column 't': 1 value(s) with nanoseconds landed cut to the microsecond (the lake's timestamps and times hold microseconds)",
                "stream 'things' column 'ts': 2 value(s) with nanoseconds landed cut to the microsecond (the lake's timestamps and times hold microseconds)",
            ],
            run.Log.Notices.Where(n => n.Contains("cut to the microsecond", StringComparison.Ordinal)));
        Assert.Equal([["1", "1704067200123456", "36000123456"], ["2", "1704067200999999", "36000500000"], ["3", "1704067200123456", null]],
            _lake.Query("SELECT id::VARCHAR, epoch_us(ts)::VARCHAR, epoch_us(t)::VARCHAR FROM read_parquet('{lake}/raw/test/things/*/*.parquet') ORDER BY id"));
    }

    [Fact]
    public async Task A_csv_file_lands_what_duckdbs_read_csv_reads_and_the_run_log_names_the_file_and_column()
    {
        var file = _h.Write("in/events.csv", "id,ts,day_first\n1,2024-01-01T00:00:00.123456789Z,31/01/2024 10:00:00.9999999\n2,2024-01-01 00:00:00.5,01/02/2024 10:00:00.1234560\n");

        var run = await TempLake.RunBuiltInAsync(_lake.BuiltInPipeline("csvns", "csv", new JsonObject { ["path"] = _h.Path("in") }));

        Assert.Equal(
            [
                $"stream 'events': {file} column 'ts': 1 value(s) with nanoseconds landed cut to the microsecond (the lake's timestamps and times hold microseconds)",
                $"stream 'events': {file} column 'day_first': 1 value(s) with nanoseconds landed cut to the microsecond (the lake's timestamps and times hold microseconds)",
            ],
            run.Log.Notices.Where(n => n.Contains("cut to the microsecond", StringComparison.Ordinal)));
        Assert.Equal(_lake.Query($"SELECT id::VARCHAR, epoch_us(ts)::VARCHAR FROM read_csv('{file}') ORDER BY id"),
            _lake.Query("SELECT id::VARCHAR, epoch_us(ts)::VARCHAR FROM read_parquet('{lake}/raw/csv/events/*/*.parquet') ORDER BY id"));
        Assert.Equal([["1706695200999999"], ["1706781600123456"]],
            _lake.Query("SELECT epoch_us(day_first)::VARCHAR FROM read_parquet('{lake}/raw/csv/events/*/*.parquet') ORDER BY id"));
    }

    [Fact]
    public async Task A_jsonl_file_lands_cut_and_the_run_log_names_the_file_and_column_as_the_csv_tap_does()
    {
        var first = _h.Write("in/events/a.jsonl", "{\"id\": 1, \"ts\": \"2024-01-01T00:00:00.123456789Z\"}\n{\"id\": 2, \"ts\": \"2024-01-01T00:00:00.5Z\"}\n");
        var second = _h.Write("in/events/b.jsonl", "{\"id\": 3, \"ts\": \"2024-01-01T00:00:00.1234567Z\"}\n{\"id\": 4, \"ts\": \"2024-01-01T00:00:00.0000001Z\"}\n");
        var config = new JsonObject
        {
            ["path"] = _h.Path("in/events"),
            ["streams"] = new JsonArray(new JsonObject { ["name"] = "events", ["pattern"] = "*.jsonl" }),
        };

        // Without a map the records go straight to the shredder; with one (a filter on the JSON path), through the map first.
        var run = await TempLake.RunBuiltInAsync(_lake.BuiltInPipeline("jsonlns", "jsonl", config));
        using var mappedLake = new TempLake();
        var mapped = await TempLake.RunBuiltInAsync(mappedLake.BuiltInPipeline("jsonlmap", "jsonl", config) with
        {
            Transforms = new Dictionary<string, JsonNode?> { ["events"] = JsonNode.Parse("""{"filter": "id != 2"}""") },
        });

        foreach (var result in new[] { run, mapped })
            Assert.Equal(
                [
                    $"stream 'events': {first} column 'ts': 1 value(s) with nanoseconds landed cut to the microsecond (the lake's timestamps and times hold microseconds)",
                    $"stream 'events': {second} column 'ts': 2 value(s) with nanoseconds landed cut to the microsecond (the lake's timestamps and times hold microseconds)",
                ],
                result.Log.Notices.Where(n => n.Contains("cut to the microsecond", StringComparison.Ordinal)));
        Assert.Equal([["1", "1704067200123456"], ["2", "1704067200500000"], ["3", "1704067200123456"], ["4", "1704067200000000"]],
            _lake.Query("SELECT id::VARCHAR, epoch_us(ts)::VARCHAR FROM read_parquet('{lake}/raw/jsonl/events/*/*.parquet') ORDER BY id"));
    }

    [Fact]
    public async Task Text_cast_to_a_date_time_lands_cut_and_the_run_log_counts_it()
    {
        var singer = _lake.WriteSinger("cast.singer",
            """{"type":"SCHEMA","stream":"things","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"ts":{"type":["null","string"]}}}}""",
            """{"type":"RECORD","stream":"things","record":{"id":1,"ts":"2024-01-01T00:00:00.123456789Z"}}""",
            """{"type":"RECORD","stream":"things","record":{"id":2,"ts":"2024-01-01T00:00:00.5Z"}}""",
            """{"type":"RECORD","stream":"things","record":{"id":3,"ts":"2024-01-01 00:00:00.9999999+01:00"}}""");

        var run = await TempLake.RunAsync(_lake.Pipeline("cast", singer, p => p with
        {
            Transforms = new Dictionary<string, JsonNode?> { ["things"] = JsonNode.Parse("""{"cast": {"ts": "date-time"}}""") },
        }));

        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Equal(["stream 'things' column 'ts': 2 value(s) with nanoseconds landed cut to the microsecond (the lake's timestamps and times hold microseconds)"],
            run.Log.Notices.Where(n => n.Contains("cut to the microsecond", StringComparison.Ordinal)));
        Assert.Equal([["1", "1704067200123456"], ["2", "1704067200500000"], ["3", "1704063600999999"]],
            _lake.Query("SELECT id::VARCHAR, epoch_us(ts)::VARCHAR FROM read_parquet('{lake}/raw/test/things/*/*.parquet') ORDER BY id"));
    }
    [Fact]
    public async Task A_code_sources_date_times_finer_than_a_microsecond_land_cut_and_the_run_log_counts_them()
    {
        var schema = JsonNode.Parse("""{"type":"object","properties":{"id":{"type":"integer"},"ts":{"type":["null","string"],"format":"date-time"}}}""")!.AsObject();
        static async IAsyncEnumerable<JsonObject> Records()
        {
            var instant = new DateTime(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc);
            yield return new JsonObject { ["id"] = 1, ["ts"] = instant.AddTicks(1_234_567) };
            yield return new JsonObject { ["id"] = 2, ["ts"] = new DateTimeOffset(instant.AddTicks(9_999_999)).ToOffset(TimeSpan.FromHours(2)) };
            yield return new JsonObject { ["id"] = 3, ["ts"] = instant.AddTicks(5_000_000) };
            await Task.CompletedTask;
        }

        var run = await new Pipe.Runs.PipelineRunner(new Pipe.Storage.ObjectStoreFactory()).RunAsync(_lake.Pipeline("codens", "unused"),
            new Pipe.Runs.RunOptions { Source = new Pipe.Api.CodeSource("code").AddStream("things", schema, Records(), ["id"]) }, CancellationToken.None);

        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Equal(["stream 'things' column 'ts': 2 value(s) with nanoseconds landed cut to the microsecond (the lake's timestamps and times hold microseconds)"],
            run.Log.Notices.Where(n => n.Contains("cut to the microsecond", StringComparison.Ordinal)));
        Assert.Equal([["1", "1704067200123456"], ["2", "1704067200999999"], ["3", "1704067200500000"]],
            _lake.Query("SELECT id::VARCHAR, epoch_us(ts)::VARCHAR FROM read_parquet('{lake}/raw/test/things/*/*.parquet') ORDER BY id"));
    }
}
