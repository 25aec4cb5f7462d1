using System.Text;
using System.Text.Json;
using DataSpoc.Pipe.Parquet;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Parquet;

/// <summary>The run's budget of buffered rows: streams that went quiet give their buffers back, and the others keep going.</summary>
public sealed class BufferBudgetTests : IDisposable
{
    private static readonly Partition Day = new(new DateOnly(2026, 12, 3));
    private readonly TempLake _lake = new();

    public void Dispose() => _lake.Dispose();

    private static ColumnSchema Schema() => ColumnSchema.FromJsonSchema(JsonElement.Parse(
        """{"type":"object","properties":{"id":{"type":"integer"},"name":{"type":["null","string"]}}}"""));

    private static void Add(TableWriter writer, long id)
    {
        var batch = writer.BatchFor(0, Day);
        batch.Mark();
        var json = Encoding.UTF8.GetBytes($$"""{"id":{{id}},"name":"row {{id}} of its stream"}""");
        var position = 0;
        Assert.True(writer.Shredders[0].TryShredCanonical(batch, json, ref position));
        writer.RowAdded(0, Day, batch);
    }

    [Fact]
    public async Task A_stream_that_went_quiet_is_written_to_a_finished_file_and_its_buffers_are_released()
    {
        // Batches of 1000 rows; a budget of about two thirds of one: the quiet stream's 500 rows and the busy one's
        // growing batch pass it soon after the quiet stream stops.
        var limits = new WriteLimits { BatchRows = 1000, BufferBytes = 32 * 1024, ParseLanes = 1 };
        var budget = new BufferBudget(limits);
        var spool = Path.Combine(_lake.Root, "spool");
        await using var quiet = new TableWriter(Schema(), Config.Compression.Zstd, limits, spool, "quiet", flushAsWritten: false, budget);
        await using var busy = new TableWriter(Schema(), Config.Compression.Zstd, limits, spool, "busy", flushAsWritten: false, budget);

        for (var id = 1; id <= 500; id++) Add(quiet, id);
        var held = quiet.RetainedBytes;
        Assert.True(held > 0);
        Assert.True(budget.BufferedBytes > 0);
        Assert.Equal(0, quiet.FilesWritten);

        // The busy stream goes on until the budget has retired the quiet one (a few thousand rows; at most 50,000).
        var most = 0L;
        var busyRows = 0;
        while (quiet.RetainedBytes > 0 && busyRows < 50_000)
        {
            Add(busy, ++busyRows);
            most = Math.Max(most, budget.BufferedBytes);
        }
        for (var i = 0; i < 1000; i++) Add(busy, ++busyRows);

        // Its batch went to the encoder, which finishes its file: the engine's accounting holds nothing of it any more.
        Assert.True(SpinWait.SpinUntil(() => quiet.FilesWritten == 1, TimeSpan.FromSeconds(30)), "the quiet stream's file was not finished");
        Assert.Equal(0, quiet.RetainedBytes);
        Assert.Equal(1, budget.OpenBatches);
        // The budget holds back batches not full yet; a batch may always fill up (here 1000 rows, about 46 KB).
        Assert.True(most <= limits.BufferBytes + 50 * 1024, $"{most} bytes buffered at most, for a budget of {limits.BufferBytes}");

        // A stream that comes back after all starts a new file; nothing is lost.
        for (var id = 501; id <= 510; id++) Add(quiet, id);
        var quietFiles = await quiet.CompleteAsync();
        var busyFiles = await busy.CompleteAsync();
        Assert.Equal(2, quietFiles.Count);
        Assert.Equal(510, quietFiles.Sum(f => f.Rows));
        Assert.True(busyRows < 50_000, "the quiet stream was never retired");
        Assert.Equal(busyRows, busyFiles.Sum(f => f.Rows));
        Assert.Equal([["510", "510", "130305"]], _lake.Query("select count(*), count(distinct id), sum(id) from read_parquet('{lake}/spool/quiet-*.parquet.part')"));
        Assert.Equal([[$"{busyRows}", $"{busyRows}"]], _lake.Query("select count(*), count(distinct id) from read_parquet('{lake}/spool/busy-*.parquet.part')"));
        Assert.Equal(0, quiet.RetainedBytes);
        Assert.Equal(0, busy.RetainedBytes);
    }
}
