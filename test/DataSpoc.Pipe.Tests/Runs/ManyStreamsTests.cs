using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Runs;

/// <summary>
/// Many streams and partitions under a small budget of buffered rows: batches are flushed early and quiet streams
/// retired, and the lake still holds every value, one file per stream or partition.
/// </summary>
public sealed class ManyStreamsTests : IDisposable
{
    private const int Streams = 40;
    private const int PerStream = 300;
    private readonly TempLake _lake = new();

    public void Dispose() => _lake.Dispose();

    /// <summary>A budget a few batches of these rows wide, so a run of 40 streams has to flush and retire.</summary>
    private static PipelineRunner SmallBudget() => new(new ObjectStoreFactory()) { Limits = new() { BatchRows = 1024, BufferBytes = 64 * 1024 } };

    private static string Schema(int s) =>
        """{"type":"SCHEMA","stream":"STREAM","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"name":{"type":["null","string"]},"at":{"type":["null","string"],"format":"date-time"}}}}""".Replace("STREAM", "s" + s);

    private static string Record(int s, int id) =>
        $$$"""{"type":"RECORD","stream":"s{{{s}}}","record":{"id":{{{id}}},"name":"customer {{{id}}}","at":"2025-03-{{{1 + id % 5:D2}}}T22:30:00-03:00"}}""";

    private static int IdOf(int s, int i) => s * PerStream + i;

    private void AssertEveryValue()
    {
        var rows = _lake.Query("select id, name, strftime(\"at\", '%Y-%m-%d %H:%M') from read_parquet('{lake}/raw/test/*/*/*.parquet') order by id");
        var expected = Enumerable.Range(0, Streams).SelectMany(s => Enumerable.Range(0, PerStream).Select(i => IdOf(s, i)))
            .Order().Select(id => new List<string?> { id.ToString(), $"customer {id}", $"2025-03-{2 + id % 5:D2} 01:30" }).ToList();
        Assert.Equal(expected, rows);
        // One file per stream: a retired stream never came back, and early flushes add row groups, not files.
        Assert.Equal(Streams, _lake.ParquetKeys().Count);
    }

    [Fact]
    public async Task Streams_one_after_another_keep_every_value_in_one_file_each()
    {
        var lines = new List<string>();
        for (var s = 0; s < Streams; s++)
        {
            lines.Add(Schema(s));
            for (var i = 0; i < PerStream; i++) lines.Add(Record(s, IdOf(s, i)));
        }
        var run = await TempLake.RunAsync(_lake.Pipeline("seq", _lake.WriteSinger("seq.singer", [.. lines])), runner: SmallBudget());
        Assert.True(run.Succeeded, run.Log.Error);
        AssertEveryValue();
    }

    [Fact]
    public async Task Streams_interleaved_record_by_record_keep_every_value_in_one_file_each()
    {
        var lines = Enumerable.Range(0, Streams).Select(Schema).ToList();
        for (var i = 0; i < PerStream; i++)
            for (var s = 0; s < Streams; s++) lines.Add(Record(s, IdOf(s, i)));
        var run = await TempLake.RunAsync(_lake.Pipeline("mixed", _lake.WriteSinger("mixed.singer", [.. lines])), runner: SmallBudget());
        Assert.True(run.Succeeded, run.Log.Error);
        AssertEveryValue();
    }

    [Fact]
    public async Task Two_streams_interleaved_record_by_record_count_every_record_of_each_whatever_the_envelope_spacing()
    {
        // Records switch stream at every line; some envelopes are spaced as Python's json.dumps writes them, and a
        // stream that has no SCHEMA yet's name is never seen: each record lands in its stream and is counted once.
        var lines = new List<string> { Schema(0), Schema(1) };
        var expected = new List<List<string?>>();
        for (var i = 0; i < 3000; i++)
        {
            var s = i % 2;
            var record = Record(s, i);
            if (i % 7 == 3) record = record.Replace("\"type\":\"RECORD\",\"stream\":", "\"type\": \"RECORD\", \"stream\": ");
            lines.Add(record);
            expected.Add([s.ToString(), i.ToString()]);
        }
        var run = await TempLake.RunAsync(_lake.Pipeline("two", _lake.WriteSinger("two.singer", [.. lines])), runner: SmallBudget());
        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Equal(1500, run.Log.Streams["s0"].Records);
        Assert.Equal(1500, run.Log.Streams["s1"].Records);
        var rows = _lake.Query("select case when filename like '%/s0/%' then '0' else '1' end, id from read_parquet('{lake}/raw/test/*/*/*.parquet', filename = true) order by id");
        Assert.Equal(expected, rows);
    }

    [Fact]
    public async Task Partition_by_a_column_reads_the_top_level_property_whatever_else_spells_its_name()
    {
        // The fast scan finds the partition by a quick look at the text: a string value spelling the name, and a
        // nested property of the same name before the real one, or a name ending in it ("birthday"), must not fool it.
        string[] lines =
        [
            """{"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"note":{"type":["null","string"]},"meta":{"type":["null","object"],"properties":{"day":{"type":["null","string"]}}},"birthday":{"type":["null","string"]},"day":{"type":["null","string"],"format":"date-time"}}}}""",
            """{"type":"RECORD","stream":"orders","record":{"id":1,"note":"day","meta":{"day":"2020-01-01T00:00:00Z"},"day":"2025-01-10T23:30:00-01:00"}}""",
            """{"type":"RECORD","stream":"orders","record":{"id":2,"note":"\"day\": \"2020-01-01\"","meta":null,"day":"2025-01-10T10:00:00Z"}}""",
            """{"type":"RECORD","stream":"orders","record":{"id":3,"note":null,"meta":{"day":"2025-01-10T10:00:00Z"}}}""",
            """{"type":"RECORD","stream":"orders","record":{"id":4,"day":null}}""",
            """{"type":"RECORD","stream":"orders", "record": {"id": 5, "day": "2025-01-12"}}""",
            """{"type":"RECORD","stream":"orders","record":{"id":6,"birthday":"2020-01-01T00:00:00Z","day":"2025-01-13T05:00:00.123456Z"}}""",
        ];
        var p = _lake.Pipeline("orders", _lake.WriteSinger("a.singer", lines), p => p with { Destination = p.Destination with { PartitionBy = "day" } });
        var run = await TempLake.RunAsync(p);
        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Equal([["1", "2025-01-11"], ["2", "2025-01-10"], ["3", "__HIVE_DEFAULT_PARTITION__"], ["4", "__HIVE_DEFAULT_PARTITION__"], ["5", "2025-01-12"], ["6", "2025-01-13"]],
            _lake.Query("select id, regexp_extract(filename, 'dt=([^/]+)', 1) from read_parquet('{lake}/raw/test/orders/*/*.parquet', filename=true) order by id"));
    }
}
