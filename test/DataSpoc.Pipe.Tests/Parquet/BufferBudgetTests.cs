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

    private static void Add(TableWriter writer, long id) => Add(writer, id, Day);

    private static void Add(TableWriter writer, long id, Partition day)
    {
        var batch = writer.BatchFor(0, day);
        batch.Mark();
        var json = Encoding.UTF8.GetBytes($$"""{"id":{{id}},"name":"row {{id}} of its stream"}""");
        var position = 0;
        Assert.True(writer.Shredders[0].TryShredCanonical(batch, json, ref position));
        writer.RowAdded(0, day, batch);
    }

    private static Partition DayOf(int i) => new(new DateOnly(2026, 11, 1).AddDays(i));

    /// <summary>A writer of <see cref="Schema"/> spooling zstd files named <paramref name="stem"/> into the lake's spool folder.</summary>
    private TableWriter Writer(WriteLimits limits, BufferBudget budget, string stem = "days") =>
        new(Schema(), Config.Compression.Zstd, limits, Path.Combine(_lake.Root, "spool"), stem, flushAsWritten: false, budget);

    /// <summary>
    /// Runs <paramref name="attempt"/> (given its number, for its file names) until its writer had two row groups
    /// encoding at once, at most three times; every attempt checks its rows in full. Whether a second encoder thread
    /// starts before the first has drained the queue is up to the scheduler: on a loaded 2-core machine one attempt in
    /// a few hundred saw the first thread take every row group before the second woke. A writer that never encodes two
    /// at once fails all three.
    /// </summary>
    private static async Task AssertEncodedAtOnceAsync(Func<int, Task<int>> attempt)
    {
        var expected = Math.Min(EncoderThreads.Shared.MaximumConcurrencyLevel, 2);
        var seen = new List<int>();
        for (var number = 1; number <= 3; number++)
        {
            seen.Add(await attempt(number));
            if (Math.Min(seen[^1], 2) == expected) return;
        }
        Assert.Fail($"at most {string.Join(", ", seen)} row groups encoding at once in {seen.Count} attempts, expected {expected}");
    }

    [Fact]
    public async Task A_stream_of_a_few_records_holds_a_few_KB_of_buffers_while_it_waits_to_be_written()
    {
        // A tap syncing thousands of small tables one after another: each one's batch stays open until the budget
        // retires it or the run ends, so what a batch of 5 rows holds is paid per stream (it was ~24 KB for these two
        // columns, ~50 KB a stream in all: 2,000 such streams peaked at ~200 MB).
        var limits = new WriteLimits { ParseLanes = 1 };
        await using var writer = Writer(limits, new BufferBudget(limits), "small");
        for (var id = 1; id <= 5; id++) Add(writer, id);

        Assert.InRange(writer.RetainedBytes, 1, 4 * 1024);

        // It still grows as far as a stream needs: every value lands.
        for (var id = 6; id <= 5000; id++) Add(writer, id);
        Assert.Equal(5000, (await writer.CompleteAsync()).Sum(f => f.Rows));
        Assert.Equal([["5000", "5000", "12502500"]], _lake.Query("select count(*), count(distinct name), sum(id) from read_parquet('{lake}/spool/small-*.parquet.part')"));
    }

    [Fact]
    public async Task A_streams_partitions_reach_the_encoder_while_the_input_goes_on_within_the_budget_one_file_each()
    {
        // 8 partitions filled side by side, never full (batches of 100,000 rows) but over the budget together: their
        // rows must be written as row groups of each partition's one file while they fill, not when the input ends.
        var limits = new WriteLimits { BatchRows = 100_000, BufferBytes = 64 * 1024, ParseLanes = 1 };
        var budget = new BufferBudget(limits);
        var spool = Path.Combine(_lake.Root, "spool");
        await using var writer = Writer(limits, budget);
        const int Rows = 20_000;
        long most = 0, mostHandedOver = 0;
        for (var id = 0; id < Rows; id++)
        {
            Add(writer, id, DayOf(id % 8));
            most = Math.Max(most, budget.BufferedBytes);
            mostHandedOver = Math.Max(mostHandedOver, budget.HandedOverBytes);
        }

        // Before the end of the input, every partition has a file with row groups in it.
        Assert.True(SpinWait.SpinUntil(() => budget.HandedOverBytes == 0, TimeSpan.FromSeconds(30)), "the encoder did not take the batches");
        var written = Directory.GetFiles(spool, "days-*.parquet.part");
        Assert.Equal(8, written.Length);
        Assert.All(written, f => Assert.True(new FileInfo(f).Length > 0, f));
        // The budget is never passed by more than a row check's rows.
        Assert.True(most <= limits.BufferBytes + BufferBudget.CheckRows * 64L, $"{most} bytes buffered at most, for a budget of {limits.BufferBytes}");
        Assert.True(mostHandedOver <= limits.BufferBytes / 4 + limits.BufferBytes, $"{mostHandedOver} bytes waited for the encoder at most");

        var files = await writer.CompleteAsync();
        Assert.Equal(8, files.Count);
        Assert.Equal(8, files.Select(f => f.Partition).Distinct().Count());
        Assert.Equal(Rows, files.Sum(f => f.Rows));
        Assert.Equal([[$"{Rows}", $"{Rows}", "8"]], _lake.Query("select count(*), count(distinct id), count(distinct id % 8) from read_parquet('{lake}/spool/days-*.parquet.part')"));
        Assert.All(_lake.Query("select count(distinct id % 8) from read_parquet('{lake}/spool/days-*.parquet.part', filename = true) group by filename"), r => Assert.Equal("1", r[0]));
        Assert.Equal(0, budget.HandedOverBytes);
    }

    [Fact]
    public async Task Partitions_filling_side_by_side_grow_to_their_share_in_one_step_and_stay_within_the_budget()
    {
        // 28 daily partitions, one row each in turn (as a date-time folded into 28 days): never full, over the budget
        // together. Each batch is sized for its share of the budget once it holds 1000 rows (doubling would be at 2048
        // rows then), the buffers held stay within twice the budget (arrays are powers of two), and every row lands
        // once in its day's one file.
        var limits = new WriteLimits { BatchRows = 100_000, BufferBytes = 8 * 1024 * 1024, ParseLanes = 1 };
        var budget = new BufferBudget(limits);
        var spool = Path.Combine(_lake.Root, "spool");
        await using var writer = Writer(limits, budget);
        const int Rows = 400_000, Days = 28;
        for (var id = 0; id < Days * 1100; id++) Add(writer, id, DayOf(id % Days));
        for (var day = 0; day < Days; day++)
        {
            var batch = writer.BatchFor(0, DayOf(day));
            Assert.Equal(1100, batch.Rows);
            // 8 MiB / 28 x 1.25 at about 50 bytes a row: some 7,500 rows.
            Assert.All(batch.Columns, c => Assert.True(c.Def.Length >= 4096, $"day {day}: {c.Def.Length} levels of room"));
        }
        long mostHeld = 0;
        for (var id = Days * 1100; id < Rows; id++)
        {
            Add(writer, id, DayOf(id % Days));
            if ((id & 1023) == 0) mostHeld = Math.Max(mostHeld, writer.RetainedBytes);
        }

        Assert.True(mostHeld <= 2 * limits.BufferBytes, $"{mostHeld} bytes of buffers held at most, for a budget of {limits.BufferBytes}");
        var files = await writer.CompleteAsync();
        Assert.Equal(Days, files.Count);
        Assert.Equal(Days, files.Select(f => f.Partition).Distinct().Count());
        Assert.Equal([[$"{Rows}", $"{Rows}", $"{Days}"]], _lake.Query($"select count(*), count(distinct id), count(distinct id % {Days}) from read_parquet('{{lake}}/spool/days-*.parquet.part')"));
        Assert.All(_lake.Query($"select count(distinct id % {Days}) from read_parquet('{{lake}}/spool/days-*.parquet.part', filename = true) group by filename"), r => Assert.Equal("1", r[0]));
        Assert.Equal(0, writer.RetainedBytes);
    }

    [Fact]
    public async Task Partitions_filling_side_by_side_are_cut_into_row_groups_while_the_input_goes_on_and_encoded_at_once()
    {
        // 28 daily partitions, one row each in turn, never full (batches of 100,000 rows). Each batch is cut at the
        // largest power of two of rows (less one) within its share of the budget, and handed over as a row group of
        // its partition's one file while the rows still come; different partitions' row groups are encoded on several
        // encoder threads at once, each file's in the order sent; a cut batch's buffers serve a later batch.
        await AssertEncodedAtOnceAsync(async number =>
        {
            var limits = new WriteLimits { BatchRows = 100_000, BufferBytes = 8 * 1024 * 1024, ParseLanes = 1 };
            var budget = new BufferBudget(limits);
            var spool = Path.Combine(_lake.Root, "spool");
            var stem = $"days{number}";
            await using var writer = Writer(limits, budget, stem);
            const int Rows = 400_000, Days = 28;
            long mostHeld = 0;
            for (var id = 0; id < Rows; id++)
            {
                Add(writer, id, DayOf(id % Days));
                if ((id & 1023) == 0) mostHeld = Math.Max(mostHeld, writer.RetainedBytes + budget.HandedOverBytes);
            }

            // Before the end of the input: every partition's file holds row groups of 2^k - 1 rows.
            Assert.True(SpinWait.SpinUntil(() => budget.HandedOverBytes == 0, TimeSpan.FromSeconds(30)), "the encoder did not take the batches");
            var written = Directory.GetFiles(spool, $"{stem}-*.parquet.part");
            Assert.Equal(Days, written.Length);
            // The arrays held (open batches, spares, batches not encoded yet) stay about the budget: each batch's pooled
            // arrays are sized for the rows it is cut at.
            Assert.True(mostHeld <= limits.BufferBytes * 3 / 2, $"{mostHeld} bytes of buffers held at most, for a budget of {limits.BufferBytes}");

            var files = await writer.CompleteAsync();
            Assert.Equal(Days, files.Count);
            Assert.Equal(Days, files.Select(f => f.Partition).Distinct().Count());
            var parts = $"{{lake}}/spool/{stem}-*.parquet.part";
            var cuts = _lake.Query("select num_rows, count(*) from (select distinct file_name, row_group_id, row_group_num_rows as num_rows " +
                $"from parquet_metadata('{parts}')) group by num_rows order by count(*) desc");
            var cut = int.Parse(cuts[0][0]!);
            Assert.True(cut >= 4095 && ((cut + 1) & cut) == 0, $"row groups of {cut} rows");
            Assert.True(int.Parse(cuts[0][1]!) >= Days * 2, $"{cuts[0][1]} row groups of {cut} rows");
            // Every row once, each file one day's rows in the order they came (its row groups written in the order sent).
            Assert.Equal([[$"{Rows}", $"{Rows}"]], _lake.Query($"select count(*), count(distinct id) from read_parquet('{parts}')"));
            Assert.All(_lake.Query($"select count(distinct id % {Days}), bool_and(ordered) from (select id, filename, id > coalesce(lag(id) over " +
                $"(partition by filename order by file_row_number), -1) as ordered from read_parquet('{parts}', filename = true, " +
                "file_row_number = true)) group by filename"), r => Assert.Equal(["1", "true"], r));
            // A cut batch's arrays go to a partition's next batch: arrays of that size are made for the partitions and the
            // batches the encoders hold at once, not for every row group. How many they hold at once grows as the encoder
            // threads fall behind, with the machine's load: 41 for 121 row groups once in a full test run (the bound was
            // Days + 12 then).
            var rowGroups = cuts.Sum(c => int.Parse(c[1]!));
            Assert.True(writer.CutsWithNewArrays <= Days + 20, $"{writer.CutsWithNewArrays} batches sized with new arrays for {rowGroups} row groups");
            return writer.MostEncodingAtOnce;
        });
    }

    [Fact]
    public async Task Partitions_filling_at_the_same_pace_have_their_first_cuts_spread_so_their_row_groups_do_not_come_all_at_once()
    {
        // 28 daily partitions, one row each in turn: without a stagger every partition reaches its cut on the same row
        // and all 28 row groups are handed over together, again and again (the lane then waits for the encoders). Each
        // partition's first row group is cut at its own size between the sizing and a full cut; the later ones at the cut.
        var limits = new WriteLimits { BatchRows = 100_000, BufferBytes = 8 * 1024 * 1024, ParseLanes = 1 };
        var budget = new BufferBudget(limits);
        await using var writer = Writer(limits, budget);
        const int Rows = 400_000, Days = 28;
        for (var id = 0; id < Rows; id++) Add(writer, id, DayOf(id % Days));
        var files = await writer.CompleteAsync();
        Assert.Equal(Days, files.Count);
        var groups = _lake.Query("select file_name, row_group_id, row_group_num_rows from (select distinct file_name, row_group_id, row_group_num_rows " +
                "from parquet_metadata('{lake}/spool/days-*.parquet.part')) order by file_name, row_group_id")
            .GroupBy(r => r[0]).Select(g => g.Select(r => int.Parse(r[2]!)).ToList()).ToList();
        Assert.Equal(Days, groups.Count);
        var cut = groups.SelectMany(g => g.Skip(1).SkipLast(1)).Distinct().Single();
        Assert.True(((cut + 1) & cut) == 0, $"row groups of {cut} rows after the first");
        var first = groups.Select(g => g[0]).Order().ToList();
        Assert.True(first.Distinct().Count() >= Days - 1, $"first row groups of {string.Join(", ", first)} rows");
        // Spread over the rows between the sizing (at 1,000 rows) and the cut.
        var span = cut - 1000;
        Assert.True(first[0] <= 1000 + span / 8 && first[^1] >= cut - span / 8, $"first row groups of {string.Join(", ", first)} rows, not spread up to the cut of {cut}");
        Assert.Equal([[$"{Rows}", $"{Rows}"]], _lake.Query("select count(*), count(distinct id) from read_parquet('{lake}/spool/days-*.parquet.part')"));
    }

    [Fact]
    public async Task Two_lanes_cutting_the_same_partitions_write_each_partition_to_one_file_with_every_row_once()
    {
        // Two parsing lanes fill batches of the same 28 partitions at once: their cut batches share the writer's queue,
        // spares and files, and each partition's row groups from both lanes go to its one file.
        var limits = new WriteLimits { BatchRows = 100_000, BufferBytes = 16 * 1024 * 1024, ParseLanes = 2 };
        var budget = new BufferBudget(limits);
        var spool = Path.Combine(_lake.Root, "spool");
        await using var writer = Writer(limits, budget);
        const int RowsPerLane = 200_000, Days = 28;
        void Fill(int lane)
        {
            for (var i = 0; i < RowsPerLane; i++)
            {
                var id = lane * RowsPerLane + i;
                var day = DayOf(id % Days);
                var batch = writer.BatchFor(lane, day);
                batch.Mark();
                var json = Encoding.UTF8.GetBytes($$"""{"id":{{id}},"name":"row {{id}} of its stream"}""");
                var position = 0;
                Assert.True(writer.Shredders[lane].TryShredCanonical(batch, json, ref position));
                writer.RowAdded(lane, day, batch);
            }
        }
        await Task.WhenAll(Task.Run(() => Fill(0)), Task.Run(() => Fill(1)));

        var files = await writer.CompleteAsync();
        Assert.Equal(Days, files.Count);
        Assert.Equal(2 * RowsPerLane, files.Sum(f => f.Rows));
        Assert.Equal([[$"{2 * RowsPerLane}", $"{2 * RowsPerLane}"]], _lake.Query("select count(*), count(distinct id) from read_parquet('{lake}/spool/days-*.parquet.part')"));
        Assert.All(_lake.Query($"select count(distinct id % {Days}) from read_parquet('{{lake}}/spool/days-*.parquet.part', filename = true) group by filename"),
            r => Assert.Equal("1", r[0]));
        Assert.Equal(0, writer.RetainedBytes);
        Assert.Equal(0, budget.HandedOverBytes);
    }

    [Fact]
    public async Task The_last_row_groups_of_many_files_are_encoded_at_once_when_the_input_ends()
    {
        // 12 partitions, 10,000 rows each, all still buffered when the input ends: their row groups are handed over
        // together, and several encoder threads take them at once (on one core, one after another). Row groups of a few
        // milliseconds each, so that a second thread starts while the first is still busy on a loaded machine: with 3,000
        // rows each, one thread once encoded them all before the other woke (a full test run, 2 cores).
        await AssertEncodedAtOnceAsync(async number =>
        {
            var limits = new WriteLimits { BatchRows = 100_000, BufferBytes = 64 * 1024 * 1024, ParseLanes = 1 };
            var budget = new BufferBudget(limits);
            var spool = Path.Combine(_lake.Root, "spool");
            var stem = $"days{number}";
            await using var writer = Writer(limits, budget, stem);
            const int Rows = 120_000, Days = 12;
            for (var id = 0; id < Rows; id++) Add(writer, id, DayOf(id % Days));
            Assert.Empty(Directory.Exists(spool) ? Directory.GetFiles(spool, $"{stem}-*") : []);

            var files = await writer.CompleteAsync();
            Assert.Equal(Days, files.Count);
            Assert.Equal(Enumerable.Range(0, Days).Select(DayOf), files.Select(f => f.Partition));
            Assert.All(files, f => Assert.Equal(Rows / Days, f.Rows));
            Assert.Equal([[$"{Rows}", $"{Rows}"]], _lake.Query($"select count(*), count(distinct id) from read_parquet('{{lake}}/spool/{stem}-*.parquet.part')"));
            return writer.MostEncodingAtOnce;
        });
    }

    [Fact]
    public async Task With_fewer_open_files_than_encoder_threads_partitions_rotate_and_every_row_lands_once()
    {
        // One open file at a time: the encoders must not close a file another thread is writing; every partition
        // switch finishes the file before (as many files as switches), and no row is lost or doubled.
        var limits = new WriteLimits { BatchRows = 1000, BufferBytes = 64 * 1024 * 1024, ParseLanes = 1, MaxOpenFiles = 1 };
        var budget = new BufferBudget(limits);
        var spool = Path.Combine(_lake.Root, "spool");
        await using var writer = Writer(limits, budget);
        const int Rows = 20_000;
        // Runs of 2000 rows per day, days taking turns: each run is two full batches.
        for (var id = 0; id < Rows; id++) Add(writer, id, DayOf(id / 2000 % 3));

        var files = await writer.CompleteAsync();
        Assert.Equal(Rows, files.Sum(f => f.Rows));
        Assert.Equal(1, writer.MostEncodingAtOnce);
        Assert.Equal([[$"{Rows}", $"{Rows}"]], _lake.Query("select count(*), count(distinct id) from read_parquet('{lake}/spool/days-*.parquet.part')"));
        Assert.All(_lake.Query("select count(distinct id // 2000 % 3) from read_parquet('{lake}/spool/days-*.parquet.part', filename = true) group by filename"),
            r => Assert.Equal("1", r[0]));
    }

    [Fact]
    public async Task Streams_that_went_quiet_are_written_once_they_hold_a_quarter_of_the_budget_though_the_rest_is_under_it()
    {
        // Streams one after another, each a few KB: together far under the budget, so only the quiet streams' own part
        // of it can retire them. The streams before the last few end with no buffers and a finished file.
        var limits = new WriteLimits { BatchRows = 1000, BufferBytes = 1024 * 1024, ParseLanes = 1 };
        var budget = new BufferBudget(limits);
        var spool = Path.Combine(_lake.Root, "spool");
        var writers = new List<TableWriter>();
        try
        {
            for (var s = 0; s < 60; s++)
            {
                var writer = Writer(limits, budget, $"s{s:D2}");
                writers.Add(writer);
                // 1500 rows: a full batch of 1000 goes to the encoder, 500 stay open until the stream is retired.
                for (var id = 0; id < 1500; id++) Add(writer, s * 10_000 + id);
                Assert.True(budget.BufferedBytes <= limits.BufferBytes / 2, $"{budget.BufferedBytes} bytes buffered after stream {s}");
            }
            var quietOnes = writers.Take(40).ToList();
            Assert.True(SpinWait.SpinUntil(() => quietOnes.All(w => w.FilesWritten == 1), TimeSpan.FromSeconds(30)), "quiet streams were not retired");
            Assert.All(quietOnes, w => Assert.Equal(0, w.RetainedBytes));
            foreach (var writer in writers) Assert.Equal(1500, (await writer.CompleteAsync()).Sum(f => f.Rows));
            Assert.Equal([["90000", "90000"]], _lake.Query("select count(*), count(distinct id) from read_parquet('{lake}/spool/s*.parquet.part')"));
        }
        finally
        {
            foreach (var writer in writers) await writer.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_stream_that_went_quiet_is_written_to_a_finished_file_and_its_buffers_are_released()
    {
        // Batches of 1000 rows; a budget of about two thirds of one: the quiet stream's 500 rows and the busy one's
        // growing batch pass it soon after the quiet stream stops.
        var limits = new WriteLimits { BatchRows = 1000, BufferBytes = 32 * 1024, ParseLanes = 1 };
        var budget = new BufferBudget(limits);
        var spool = Path.Combine(_lake.Root, "spool");
        await using var quiet = Writer(limits, budget, "quiet");
        await using var busy = Writer(limits, budget, "busy");

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

    [Fact]
    public async Task A_streams_later_files_take_the_encodings_its_first_full_batch_chose()
    {
        // The first partition's first batch has distinct ids: written without a dictionary, as DELTA_BINARY_PACKED. The
        // second partition's ids all repeat, which sampled on their own would keep the dictionary: its file follows the
        // first one's choice instead of sampling again.
        var limits = new WriteLimits { BatchRows = 4096, BufferBytes = 64 * 1024 * 1024, ParseLanes = 1 };
        var budget = new BufferBudget(limits);
        var spool = Path.Combine(_lake.Root, "spool");
        await using var writer = Writer(limits, budget);
        for (var id = 0; id < 4096; id++) Add(writer, id, DayOf(0));
        Assert.True(SpinWait.SpinUntil(() => Directory.Exists(spool) && Directory.GetFiles(spool).Length > 0, TimeSpan.FromSeconds(60)),
            "the first partition's file was not created");
        for (var i = 0; i < 4096; i++) Add(writer, 7, DayOf(1));

        var files = await writer.CompleteAsync();

        Assert.Equal(2, files.Count);
        var encodings = _lake.Query(
            "select file_name, string_agg(distinct encodings, ',') from parquet_metadata('{lake}/spool/days-*.parquet.part') where path_in_schema = 'id' group by file_name");
        Assert.Equal(2, encodings.Count);
        Assert.All(encodings, e => Assert.Contains("DELTA_BINARY_PACKED", e[1]));
        Assert.All(encodings, e => Assert.DoesNotContain("DICTIONARY", e[1]));
        Assert.Equal([["8192", "4096"]], _lake.Query("select count(*), count(distinct id) from read_parquet('{lake}/spool/days-*.parquet.part')"));
    }
}
