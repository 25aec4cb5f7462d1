using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tables;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Tables;

/// <summary>
/// Delta tables are checked against the protocol by reading the log here (actions, their required fields, the
/// replay of add/remove), and the files the log lists are read back by DuckDB (its delta extension cannot be
/// downloaded on this machine).
/// </summary>
public class DeltaTableTests
{
    private const string Schema =
        """{"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"name":{"type":["null","string"]},"day":{"type":["null","string"],"format":"date"}}}}""";

    private static string[] Orders(int from, int to) =>
    [
        Schema,
        .. Enumerable.Range(from, to - from + 1).Select(i =>
            "{\"type\":\"RECORD\",\"stream\":\"orders\",\"record\":{\"id\":" + i + ",\"name\":\"n" + i + "\",\"day\":\"2025-01-" + (10 + i % 3).ToString("D2") + "\"}}"),
    ];

    private static PipelineDefinition Delta(TempLake lake, string input, TableFormats formats = TableFormats.Delta, string partitionBy = PartitionBySettings.ExtractionDate) =>
        lake.Pipeline("orders", input, p => p with { Destination = p.Destination with { TableFormat = formats, PartitionBy = partitionBy } });

    private static string LogDir(TempLake lake) => Path.Combine(lake.Root, "raw", "test", "orders", "_delta_log");

    /// <summary>The log replayed as the protocol says: every version from 0 in order, adds minus removes; checks each action's required fields.</summary>
    private static (Dictionary<string, JsonObject> Live, JsonObject Meta, JsonObject Protocol, List<string> Operations) Replay(TempLake lake)
    {
        var versions = Directory.GetFiles(LogDir(lake), "*.json").Select(Path.GetFileName).Order().ToList();
        Assert.Equal(Enumerable.Range(0, versions.Count).Select(v => v.ToString("D20") + ".json"), versions);
        var live = new Dictionary<string, JsonObject>();
        JsonObject? meta = null, protocol = null;
        var operations = new List<string>();
        foreach (var version in versions)
        {
            var lines = File.ReadAllLines(Path.Combine(LogDir(lake), version!)).Where(l => l.Length > 0).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
            foreach (var action in lines)
            {
                Assert.Single(action); // one action per line
                var (kind, body) = action.First();
                switch (kind)
                {
                    case "protocol":
                        Assert.Equal((1, 2), (body!["minReaderVersion"]!.GetValue<int>(), body["minWriterVersion"]!.GetValue<int>()));
                        protocol = body.AsObject();
                        break;
                    case "metaData":
                        Assert.NotNull(body!["id"]);
                        Assert.Equal("parquet", body["format"]!["provider"]!.GetValue<string>());
                        Assert.Equal("struct", JsonNode.Parse(body["schemaString"]!.GetValue<string>())!["type"]!.GetValue<string>());
                        Assert.NotNull(body["partitionColumns"]!.AsArray());
                        if (meta is not null) Assert.Equal(meta["id"]!.GetValue<string>(), body["id"]!.GetValue<string>());
                        meta = body.AsObject();
                        break;
                    case "add":
                        foreach (var field in new[] { "path", "partitionValues", "size", "modificationTime", "dataChange" }) Assert.NotNull(body![field]);
                        Assert.DoesNotContain("://", body!["path"]!.GetValue<string>());
                        live[body["path"]!.GetValue<string>()] = body.AsObject();
                        break;
                    case "remove":
                        Assert.NotNull(body!["deletionTimestamp"]);
                        Assert.True(live.Remove(body["path"]!.GetValue<string>()), "a remove names a live file");
                        break;
                    case "commitInfo":
                        operations.Add(body!["operationParameters"]?["mode"]?.GetValue<string>() ?? body["operation"]!.GetValue<string>()); // a MERGE has no mode
                        break;
                    default:
                        Assert.Fail($"unexpected action {kind} in {version}");
                        break;
                }
            }
        }
        Assert.NotNull(protocol);
        Assert.NotNull(meta);
        return (live, meta!, protocol!, operations);
    }

    private static List<string> ReadLive(TempLake lake, Dictionary<string, JsonObject> live) =>
        lake.Query("select id, name, day::varchar from read_parquet([" +
                   string.Join(",", live.Keys.Select(p => $"'{{lake}}/raw/test/orders/{Uri.UnescapeDataString(p)}'")) + "]) order by id")
            .Select(r => string.Join("|", r)).ToList();

    private static List<string> Expected(int from, int to) =>
        Enumerable.Range(from, to - from + 1).Select(i => $"{i}|n{i}|2025-01-{10 + i % 3:D2}").ToList();

    [Fact]
    public async Task The_log_replays_to_the_files_of_the_source_rows_after_appends_and_an_overwrite()
    {
        using var lake = new TempLake();
        Assert.True((await TempLake.RunAsync(Delta(lake, lake.WriteSinger("a", Orders(1, 3))))).Succeeded);
        var (live, meta, _, _) = Replay(lake);
        Assert.Equal(Expected(1, 3), ReadLive(lake, live));
        Assert.Equal(["_extraction_date"], meta["partitionColumns"]!.AsArray().Select(c => c!.GetValue<string>()));
        var add = live.Values.Single();
        Assert.Equal(DateTime.UtcNow.ToString("yyyy-MM-dd"), add["partitionValues"]!["_extraction_date"]!.GetValue<string>());
        var stats = JsonNode.Parse(add["stats"]!.GetValue<string>())!;
        Assert.Equal(3, stats["numRecords"]!.GetValue<int>());
        Assert.Equal((1, 3), (stats["minValues"]!["id"]!.GetValue<int>(), stats["maxValues"]!["id"]!.GetValue<int>()));
        Assert.Equal(("2025-01-10", "2025-01-12"), (stats["minValues"]!["day"]!.GetValue<string>(), stats["maxValues"]!["day"]!.GetValue<string>()));
        Assert.Equal(0, stats["nullCount"]!["name"]!.GetValue<int>());

        Assert.True((await TempLake.RunAsync(Delta(lake, lake.WriteSinger("b", Orders(4, 5))))).Succeeded);
        Assert.Equal(Expected(1, 5), ReadLive(lake, Replay(lake).Live));

        Assert.True((await TempLake.RunAsync(Delta(lake, lake.WriteSinger("c", Orders(7, 8))), full: true)).Succeeded);
        var (after, _, _, operations) = Replay(lake);
        Assert.Equal(Expected(7, 8), ReadLive(lake, after));
        Assert.Equal(["Append", "Append", "Overwrite"], operations);
        var entry = lake.Manifest().Tables["test/orders"];
        Assert.Equal(["delta"], entry.TableFormats);
        Assert.Equal($"{lake.Bucket}/raw/test/orders/_delta_log/00000000000000000002.json", entry.DeltaLog);
    }

    private static string SchemaWithV(string v) =>
        """{"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"v":""" + v + "}}}";

    private static string RecordWithV(int id, string v) => "{\"type\":\"RECORD\",\"stream\":\"orders\",\"record\":{\"id\":" + id + ",\"v\":" + v + "}}";

    private static string State(int n) => "{\"type\":\"STATE\",\"value\":{\"n\":" + n + "}}";

    /// <summary>What a refused run must leave as it was: the table's files and log, the manifest and the state.</summary>
    private static string Visible(TempLake lake) =>
        string.Join("\n", lake.Keys().Where(k => k.StartsWith("raw/", StringComparison.Ordinal)).Order(StringComparer.Ordinal)) +
        File.ReadAllText(Path.Combine(lake.Root, LakePaths.ManifestKey)) + lake.State("orders")?.ToJsonString();

    [Fact]
    public async Task Two_appends_of_another_column_type_to_one_delta_table_at_once_commit_one_and_refuse_the_other_before_it_lands()
    {
        using var lake = new TempLake();
        PipelineDefinition Pipeline(string name, params string[] lines) =>
            lake.Pipeline(name, lake.WriteSinger(name, lines), p => p with { Destination = p.Destination with { TableFormat = TableFormats.Delta, PartitionBy = PartitionBySettings.None } });
        var (dA, dB) = (Pipeline("dA", SchemaWithV("""{"type":["null","integer"]}"""), RecordWithV(1, "5"), State(1)),
            Pipeline("dB", SchemaWithV("""{"type":["null","string"]}"""), RecordWithV(2, "\"x\""), State(2)));

        // Both plan on the empty table (nothing to contradict), then meet at their commits: the second checks again.
        var meeting = new JournalMeeting(2);
        var runner = MeetingStore.Runner(meeting.ArriveAsync);
        var results = await Task.WhenAll(TempLake.RunAsync(dA, runner: runner), TempLake.RunAsync(dB, runner: runner));

        Assert.True(meeting.Met, "the two runs did not both reach their commit");
        var committed = Assert.Single(results, r => r.Succeeded);
        var refused = Assert.Single(results, r => !r.Succeeded);
        Assert.StartsWith($"stream 'orders': the Delta table {lake.Bucket}/raw/test/orders keeps 1 live file(s) that this run's commit would contradict: the run changes column(s) 'v' ",
            refused.Log.Error);
        Assert.False(refused.Log.StateCommitted);
        Assert.Null(lake.State(refused.Log.Pipeline));
        // The log's one version and its one file: the committed run's row, under the table schema's type.
        var (live, _, _, _) = Replay(lake);
        Assert.Single(live);
        Assert.Equal([[committed.Log.Pipeline == "dA" ? "1" : "2"]], lake.Query("SELECT id FROM read_parquet('{lake}/raw/test/orders/*.parquet')"));
    }

    [Theory]
    [InlineData(TableFormats.Delta, WriteMode.Append, """{"type":["null","integer"]}""", "5", """{"type":["null","string"]}""", "\"x\"", "'v' long -> string")]
    [InlineData(TableFormats.Iceberg | TableFormats.Delta, WriteMode.Append, """{"type":["null","number"],"multipleOf":0.01}""", "1.25",
        """{"type":["null","number"],"multipleOf":0.001}""", "1.125", "'v' decimal(38,2) -> decimal(38,3)")]
    [InlineData(TableFormats.Delta, WriteMode.Merge, """{"type":["null","integer"]}""", "5", """{"type":["null","number"]}""", "2.5", "'v' long -> double")]
    [InlineData(TableFormats.Delta, WriteMode.Append, """{"type":["null","object"],"properties":{"x":{"type":["null","integer"]}}}""", """{"x":5}""",
        """{"type":["null","object"],"properties":{"x":{"type":["null","string"]}}}""", """{"x":"x"}""", "'v.x' long -> string")]
    public async Task A_column_type_change_on_a_delta_table_with_live_files_is_refused_before_anything_is_written_and_a_full_refresh_takes_it(
        TableFormats formats, WriteMode mode, string before, string beforeValue, string after, string afterValue, string change)
    {
        using var lake = new TempLake();
        PipelineDefinition Pipeline(string name, params string[] lines) =>
            lake.Pipeline("orders", lake.WriteSinger(name, lines), p => p with { Destination = p.Destination with { TableFormat = formats, WriteMode = mode, PartitionBy = PartitionBySettings.None } });
        Assert.True((await TempLake.RunAsync(Pipeline("a", SchemaWithV(before), RecordWithV(1, beforeValue), State(1)))).Succeeded);
        var visible = Visible(lake);

        // The protocol: every live file's column has the table schema's type. t_0000 holds v in the old one and stays live.
        var refused = await TempLake.RunAsync(Pipeline("b", SchemaWithV(after), RecordWithV(2, afterValue), State(2)));
        Assert.False(refused.Succeeded);
        Assert.StartsWith($"stream 'orders': the Delta table {lake.Bucket}/raw/test/orders keeps 1 live file(s) that this run's commit would contradict: the run changes column(s) {change}", refused.Log.Error);
        Assert.Contains("run --full, or write_mode: replace", refused.Log.Error);
        Assert.Equal(visible, Visible(lake));

        var full = await TempLake.RunAsync(Pipeline("c", SchemaWithV(after), RecordWithV(3, afterValue), State(3)), full: true);
        Assert.True(full.Succeeded, full.Log.Error);
        var (live, meta, _, _) = Replay(lake);
        var v = JsonNode.Parse(meta["schemaString"]!.GetValue<string>())!["fields"]!.AsArray().Single(f => (string)f!["name"]! == "v")!;
        Assert.Equal(change[(change.LastIndexOf("-> ", StringComparison.Ordinal) + 3)..], v["type"] is JsonValue t ? t.GetValue<string>() : v["type"]!["fields"]![0]!["type"]!.GetValue<string>());
        Assert.Equal([["3", JsonNode.Parse(afterValue) is JsonObject o ? o["x"]!.GetValue<string>() : JsonNode.Parse(afterValue)!.ToString()]],
            lake.Query($"SELECT id::VARCHAR, {(afterValue.StartsWith('{') ? "v.x" : "v")}::VARCHAR FROM read_parquet('{{lake}}/raw/test/orders/{Uri.UnescapeDataString(live.Keys.Single())}')"));
    }

    [Fact]
    public async Task A_struct_gaining_a_field_is_no_type_change_for_a_delta_table()
    {
        using var lake = new TempLake();
        PipelineDefinition Pipeline(string name, params string[] lines) =>
            lake.Pipeline("orders", lake.WriteSinger(name, lines), p => p with { Destination = p.Destination with { TableFormat = TableFormats.Delta, PartitionBy = PartitionBySettings.None } });
        Assert.True((await TempLake.RunAsync(Pipeline("a", SchemaWithV("""{"type":["null","object"],"properties":{"x":{"type":["null","integer"]}}}"""), RecordWithV(1, """{"x":1}""")))).Succeeded);
        var second = await TempLake.RunAsync(Pipeline("b", SchemaWithV("""{"type":["null","object"],"properties":{"x":{"type":["null","integer"]},"y":{"type":["null","string"]}}}"""),
            RecordWithV(2, """{"x":2,"y":"b"}""")));
        Assert.True(second.Succeeded, second.Log.Error);
        Assert.Equal(2, Replay(lake).Live.Count);
    }

    [Fact]
    public async Task A_column_type_changed_mid_run_is_refused_on_a_delta_table_before_anything_is_written()
    {
        using var lake = new TempLake();
        var run = await TempLake.RunAsync(Delta(lake, lake.WriteSinger("a", SchemaWithV("""{"type":["null","integer"]}"""), RecordWithV(1, "5"),
            SchemaWithV("""{"type":["null","string"]}"""), RecordWithV(2, "\"x\""), State(1)), partitionBy: PartitionBySettings.None));
        Assert.False(run.Succeeded);
        Assert.StartsWith("stream 'orders': a SCHEMA message changed column(s) 'v' long -> string after files of this run were written", run.Log.Error);
        Assert.DoesNotContain(lake.Keys(), k => k.StartsWith("raw/", StringComparison.Ordinal));
        Assert.Null(lake.State("orders"));
    }

    [Theory]
    [InlineData(PartitionBySettings.None, "day", "the table is unpartitioned and partition_by: day would make it partitioned by 'day'")]
    [InlineData(PartitionBySettings.ExtractionDate, PartitionBySettings.None, "the table is partitioned by '_extraction_date' and partition_by: none would make it unpartitioned")]
    public async Task A_partitioning_change_on_a_delta_table_with_live_files_is_refused_before_anything_is_written_and_a_full_refresh_takes_it(
        string before, string after, string change)
    {
        using var lake = new TempLake();
        Assert.True((await TempLake.RunAsync(Delta(lake, lake.WriteSinger("a", [.. Orders(1, 3), State(1)]), partitionBy: before))).Succeeded);
        var visible = Visible(lake);

        // The protocol: every file has a value for every partition column, and t_0000 was written with none for the new one.
        var refused = await TempLake.RunAsync(Delta(lake, lake.WriteSinger("b", [.. Orders(4, 5), State(2)]), partitionBy: after));
        Assert.False(refused.Succeeded);
        Assert.StartsWith($"stream 'orders': the Delta table {lake.Bucket}/raw/test/orders keeps 1 live file(s) that this run's commit would contradict: {change}", refused.Log.Error);
        Assert.Contains("run --full, or write_mode: replace", refused.Log.Error);
        Assert.Equal(visible, Visible(lake));

        var full = await TempLake.RunAsync(Delta(lake, lake.WriteSinger("c", [.. Orders(7, 8), State(3)]), partitionBy: after), full: true);
        Assert.True(full.Succeeded, full.Log.Error);
        var (live, meta, _, _) = Replay(lake);
        List<string> columns = after == PartitionBySettings.None ? [] : [after];
        Assert.Equal(columns, meta["partitionColumns"]!.AsArray().Select(c => c!.GetValue<string>()));
        Assert.All(live.Values, add => Assert.Equal(columns, add["partitionValues"]!.AsObject().Select(p => p.Key)));
        Assert.Equal(Expected(7, 8), ReadLive(lake, live));
    }

    [Theory]
    [InlineData(TableFormats.Parquet)]
    [InlineData(TableFormats.Iceberg | TableFormats.Delta)]
    public async Task A_merge_after_partition_by_changed_lands_the_rows_it_rewrites_in_their_partition_by_the_new_column(TableFormats formats)
    {
        using var lake = new TempLake();
        const string schema =
            """{"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"ts":{"type":["null","string"],"format":"date-time"},"d":{"type":["null","string"],"format":"date"}}}}""";
        static string Row(int id, string ts, string d) => $$$"""{"type":"RECORD","stream":"orders","record":{"id":{{{id}}},"ts":"{{{ts}}}","d":{{{d}}}}}""";
        PipelineDefinition Merge(string input, string partitionBy) =>
            lake.Pipeline("orders", input, p => p with { Destination = p.Destination with { TableFormat = formats, PartitionBy = partitionBy, WriteMode = WriteMode.Merge } });

        // All three rows share ts's date, so one file in dt=2024-01-02.
        var first = await TempLake.RunAsync(Merge(lake.WriteSinger("a", [schema, Row(1, "2024-01-02T10:00:00Z", "\"2024-02-01\""),
            Row(2, "2024-01-02T11:00:00Z", "\"2024-02-02\""), Row(3, "2024-01-02T12:00:00Z", "null")]), "ts"));
        Assert.True(first.Succeeded, first.Log.Error);
        // Now by d: updating key 1 rewrites that file, whose rows 2 and 3 belong in d's folders.
        var second = await TempLake.RunAsync(Merge(lake.WriteSinger("b", [schema, Row(1, "2030-01-01T00:00:00Z", "\"2031-01-01\"")]), "d"));
        Assert.True(second.Succeeded, second.Log.Error);

        List<string> live = formats == TableFormats.Parquet
            ? [.. lake.ParquetKeys().Select(k => k["raw/test/orders/".Length..])]
            : [.. Replay(lake).Live.Keys.Select(Uri.UnescapeDataString)];
        // Each live row's folder is its d.
        Assert.Equal([["1", "2031-01-01", "dt=2031-01-01"], ["2", "2024-02-02", "dt=2024-02-02"], ["3", null, "dt=__HIVE_DEFAULT_PARTITION__"]],
            lake.Query("select id, d::varchar, regexp_extract(filename, '/(dt=[^/]+)/', 1) from read_parquet([" +
                string.Join(",", live.Select(k => $"'{{lake}}/raw/test/orders/{k}'")) + "], filename=true) order by id"));
        if (formats == TableFormats.Parquet) return;

        // Delta's partitionValues and Iceberg's identity(d) tuple are each file's d too.
        static string? Folder(string path) => path.Split('/')[0]["dt=".Length..] is var v && v != LakePaths.HiveNullPartition ? v : null;
        var (adds, meta, _, _) = Replay(lake);
        Assert.Equal(["d"], meta["partitionColumns"]!.AsArray().Select(c => c!.GetValue<string>()));
        Assert.All(adds, add => Assert.Equal(Folder(Uri.UnescapeDataString(add.Key)), add.Value["partitionValues"]!["d"]?.GetValue<string>()));
        var entries = TableReaders.AvroCheck(Directory.GetFiles(Path.Combine(lake.Root, "raw", "test", "orders", "metadata"), "*.avro"))
            .Where(c => c!["kind"]!.GetValue<string>() == "manifest_entry").SelectMany(c => c!["entries"]!.AsArray())
            .Where(e => e!["status"]!.GetValue<int>() != 2).ToDictionary(e => e!["path"]!.GetValue<string>(), e => e!["partition"]!);
        Assert.All(live, file =>
        {
            var tuple = entries.Single(e => e.Key.EndsWith("/raw/test/orders/" + file, StringComparison.Ordinal)).Value["d"];
            Assert.Equal(Folder(file), tuple is null ? null : DateOnly.FromDayNumber(DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber + tuple.GetValue<int>()).ToString("yyyy-MM-dd"));
        });
    }

    [Fact]
    public async Task Iceberg_and_Delta_together_describe_the_same_files()
    {
        using var lake = new TempLake();
        var both = TableFormats.Iceberg | TableFormats.Delta;
        Assert.True((await TempLake.RunAsync(Delta(lake, lake.WriteSinger("a", Orders(1, 4)), both, partitionBy: "day"))).Succeeded);
        var (live, meta, _, _) = Replay(lake);
        Assert.Equal(["day"], meta["partitionColumns"]!.AsArray().Select(c => c!.GetValue<string>()));
        Assert.Equal(Expected(1, 4), ReadLive(lake, live));
        var iceberg = TableReaders.Icebird($"file://{lake.Root}/raw/test/orders");
        Assert.Equal([1L, 2, 3, 4], iceberg["rows"]!.AsArray().Select(r => long.Parse(r!["id"]!.ToString())).Order());
        Assert.Equal(lake.ParquetKeys().Select(k => k["raw/test/orders/".Length..]).Order(), live.Keys.Select(Uri.UnescapeDataString).Order());
    }

    [Theory]
    [InlineData("interval 30 days", 30 * 24 * 60)]
    [InlineData("30 days", 30 * 24 * 60)]
    [InlineData("INTERVAL 1 Week", 7 * 24 * 60)]
    [InlineData("interval 1 day 12 hours", 36 * 60)]
    [InlineData("  interval   90 minutes ", 90)]
    [InlineData("interval 600000 seconds", 10000)]
    [InlineData("interval 1 month", null)]
    [InlineData("interval 1 year", null)]
    [InlineData("interval -1 days", null)]
    [InlineData("interval 30", null)]
    [InlineData("30d", null)]
    [InlineData("", null)]
    public void The_log_retention_property_reads_as_Delta_reads_its_intervals(string text, int? minutes)
    {
        Assert.Equal(minutes is { } m ? TimeSpan.FromMinutes(m) : null, DeltaTable.ParseInterval(text));
        Assert.Equal(TimeSpan.MaxValue, DeltaTable.ParseInterval("interval 9223372036854775807 weeks"));
    }

    [Fact]
    public async Task Every_tenth_commit_writes_a_parquet_checkpoint_that_DuckDB_reads_as_the_table_state()
    {
        using var lake = new TempLake();
        for (var run = 0; run < 11; run++)
        {
            var result = await TempLake.RunAsync(Delta(lake, lake.WriteSinger($"r{run}", Orders(run + 1, run + 1))));
            Assert.True(result.Succeeded, result.Log.Error);
        }
        var last = JsonNode.Parse(File.ReadAllText(Path.Combine(LogDir(lake), "_last_checkpoint")))!;
        Assert.Equal(10, last["version"]!.GetValue<int>());
        var checkpoint = Path.Combine(LogDir(lake), "00000000000000000010.checkpoint.parquet");
        var adds = lake.Query($"select add.path, add.size from read_parquet('{checkpoint}') where add is not null order by add.path");
        Assert.Equal(11, adds.Count);
        Assert.Equal(Replay(lake).Live.Keys.Order().Take(11), adds.Select(a => a[0]!).Order());
        Assert.Equal([["1", "2"]], lake.Query($"select min(protocol.minReaderVersion), min(protocol.minWriterVersion) from read_parquet('{checkpoint}') where protocol is not null"));
        Assert.Equal(last["size"]!.GetValue<int>(), int.Parse(lake.Query($"select count(*) from read_parquet('{checkpoint}')")[0][0]!));
        Assert.Single(lake.Query($"select metaData.id from read_parquet('{checkpoint}') where metaData is not null"));
    }
    [Fact]
    public async Task A_checkpoint_drops_the_tombstones_past_the_retention_whose_files_maintain_deleted_and_keeps_the_others()
    {
        using var lake = new TempLake();
        var now = DateTimeOffset.UtcNow;
        async Task FullRefreshAsync(int run, TimeProvider time)
        {
            var result = await TempLake.RunAsync(Delta(lake, lake.WriteSinger($"r{run}", Orders(run * 10, run * 10 + 2)), partitionBy: PartitionBySettings.None),
                full: true, runner: new PipelineRunner(new ObjectStoreFactory(), time));
            Assert.True(result.Succeeded, result.Log.Error);
        }
        // v0..v4 20 days ago, v5..v7 9 days ago: each full refresh after the first leaves the previous file as a tombstone.
        for (var run = 0; run < 5; run++) await FullRefreshAsync(run, new ShiftedTime(now.AddDays(-20)));
        for (var run = 5; run < 8; run++) await FullRefreshAsync(run, new ShiftedTime(now.AddDays(-9)));
        await using (var store = new LocalObjectStore(BucketUri.Parse(lake.Bucket)))
            Assert.Equal(4, Assert.Single(await new TableMaintenance(store, TimeProvider.System).RunAsync("orders", TimeSpan.FromDays(15), CancellationToken.None)).DeletedFiles.Count);
        for (var run = 8; run < 11; run++) await FullRefreshAsync(run, TimeProvider.System); // v10 writes a checkpoint

        var checkpoint = Path.Combine(LogDir(lake), "00000000000000000010.checkpoint.parquet");
        var tombstones = lake.Query($"select remove.path from read_parquet('{checkpoint}') where remove is not null").Select(r => r[0]!).ToList();
        // The 4 tombstones 20 days old (past the default week) whose files maintain deleted are gone; the 3 of 9 days
        // (past the week, files still on storage) and the 3 of today (within the week) stay.
        Assert.Equal(6, tombstones.Count);
        Assert.All(tombstones, t => Assert.True(File.Exists(Path.Combine(lake.Root, "raw", "test", "orders", Uri.UnescapeDataString(t))), t));
        // The table reads the same from the checkpoint as from its whole log.
        var (live, _, _, _) = Replay(lake);
        await using (var store = new LocalObjectStore(BucketUri.Parse(lake.Bucket)))
        {
            var snapshot = await new DeltaTable(store, TimeProvider.System).SnapshotAsync("raw/test/orders/", 10, CancellationToken.None);
            Assert.Equal(live.Keys.Order(), snapshot.Adds.Keys.Order());
            Assert.Equal(6, snapshot.Removes.Count);
        }
        Assert.Equal([["100"], ["101"], ["102"]], lake.Query($"select id from read_parquet('{{lake}}/raw/test/orders/{Uri.UnescapeDataString(live.Keys.Single())}') order by id"));
    }

    [Theory]
    [InlineData("interval 1 week", 7 * 24 * 60)]
    [InlineData("INTERVAL 2 days 12 hours", (2 * 24 + 12) * 60)]
    [InlineData("interval 30 minutes", 30)]
    [InlineData("interval 1 weeks", 7 * 24 * 60)]
    [InlineData("interval 1 month", null)]
    [InlineData("1 week", null)]
    [InlineData("interval week", null)]
    public void A_delta_retention_interval_reads_as_spark_writes_it(string text, int? minutes)
    {
        Assert.Equal(minutes is { } m ? TimeSpan.FromMinutes(m) : null, DeltaRetention.ParseInterval(text));
    }

    private const string LastHalfMillisecond = "9999-12-31T23:59:59.9995Z";

    [Fact]
    public async Task A_timestamp_in_the_last_half_millisecond_of_year_9999_lands_in_Iceberg_and_Delta()
    {
        using var lake = new TempLake();
        var input = lake.WriteSinger("edge",
            """{"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"ts":{"type":["null","string"],"format":"date-time"}}}}""",
            """{"type":"RECORD","stream":"orders","record":{"id":1,"ts":"9999-12-31T23:59:59.9995Z"}}""");
        var result = await TempLake.RunAsync(Delta(lake, input, TableFormats.Iceberg | TableFormats.Delta, PartitionBySettings.None));
        Assert.True(result.Succeeded, result.Log.Error);

        // icebird's JavaScript dates hold milliseconds; the value itself is exact in the file (DuckDB below).
        var iceberg = TableReaders.Icebird($"file://{lake.Root}/raw/test/orders")["rows"]!.AsArray().Single()!;
        Assert.StartsWith("9999-12-31T23:59:59.999", iceberg["ts"]!.ToString());
        var (live, _, _, _) = Replay(lake);
        var file = Uri.UnescapeDataString(live.Keys.Single());
        Assert.Equal([["1", "253402300799999500"]], lake.Query($"select id, epoch_us(ts) from read_parquet('{{lake}}/raw/test/orders/{file}')"));
        // Delta's millisecond bounds: the minimum rounds down; no millisecond of 9999 lies above the value, so the maximum is left out.
        var stats = JsonNode.Parse(live.Values.Single()["stats"]!.GetValue<string>())!;
        Assert.Equal("9999-12-31T23:59:59.999Z", stats["minValues"]!["ts"]!.GetValue<string>());
        Assert.Null(stats["maxValues"]!["ts"]);
        Assert.Equal(1, stats["maxValues"]!["id"]!.GetValue<int>());
        Assert.Equal(1, lake.Manifest().Tables["test/orders"].RowCount);
    }

    [Fact]
    public async Task A_double_column_holding_a_nan_has_no_delta_maximum_so_a_reader_ordering_nan_last_never_skips_its_file()
    {
        using var lake = new TempLake();
        var input = lake.WriteSinger("nan",
            """{"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"x":{"type":["null","number"]},"y":{"type":"number"}}}}""",
            """{"type":"RECORD","stream":"orders","record":{"id":1,"x":1.5,"y":1}}""",
            """{"type":"RECORD","stream":"orders","record":{"id":2,"x":NaN,"y":2}}""",
            """{"type":"RECORD","stream":"orders","record":{"id":3,"x":null,"y":3}}""");
        var result = await TempLake.RunAsync(Delta(lake, input, partitionBy: PartitionBySettings.None));
        Assert.True(result.Succeeded, result.Log.Error);

        var (live, _, _, _) = Replay(lake);
        var file = Uri.UnescapeDataString(live.Keys.Single());
        Assert.Equal([["1", "1.5"], ["2", "nan"], ["3", null]], lake.Query($"select id, x::varchar from read_parquet('{{lake}}/raw/test/orders/{file}') order by id"));
        var stats = JsonNode.Parse(live.Values.Single()["stats"]!.GetValue<string>())!;
        // Parquet's own max of x leaves the NaN out (1.5); Spark orders NaN above it, so that max would skip the file for x > 2.
        Assert.Equal(1.5, stats["minValues"]!["x"]!.GetValue<double>());
        Assert.Null(stats["maxValues"]!["x"]);
        Assert.Equal(3.0, stats["maxValues"]!["y"]!.GetValue<double>());
        Assert.Equal(1, stats["nullCount"]!["x"]!.GetValue<int>());
    }

    /// <summary>A table commit whose Delta schema cannot be written (an Iceberg type Delta has no form for): a deterministic failure.</summary>
    private static CommitPlan UnwritableDeltaCommit(string pipeline, string runId) => new()
    {
        RunId = runId,
        Pipeline = pipeline,
        StartedAt = DateTimeOffset.UtcNow,
        Tables = { new TableChange { Key = "test/orders", Entry = new ManifestTable { Source = "test", Table = "orders", Pipeline = pipeline } } },
        TableMetadata =
        {
            new TableMetadataCommit
            {
                TableKey = "test/orders",
                Formats = [TableFormatCommitter.Iceberg, TableFormatCommitter.Delta],
                Prefix = "raw/test/orders/",
                Location = "",
                PartitionBy = PartitionBySettings.None,
                Schema = JsonNode.Parse("""{"type":"struct","fields":[{"id":1,"name":"id","required":false,"type":"long"},{"id":2,"name":"tags","required":false,"type":{"type":"map","key-id":3,"key":"string","value-id":4,"value":"string","value-required":false}}]}""")!.AsObject(),
            },
        },
    };

    [Fact]
    public async Task A_log_entry_of_a_run_writing_thousands_of_files_is_written_whole_and_replays_to_every_row()
    {
        using var lake = new TempLake();
        // One file per day: 1,500 add actions in one entry, each streamed to the entry's spool file as it is made.
        var rows = Enumerable.Range(0, 1500).Select(i =>
            "{\"type\":\"RECORD\",\"stream\":\"orders\",\"record\":{\"id\":" + i + ",\"name\":\"n" + i + "\",\"day\":\"" +
            new DateOnly(2020, 1, 1).AddDays(i).ToString("yyyy-MM-dd") + "\"}}");
        Assert.True((await TempLake.RunAsync(Delta(lake, lake.WriteSinger("a", [Schema, .. rows]), partitionBy: "day"))).Succeeded);

        var (live, _, _, _) = Replay(lake);
        Assert.Equal(1500, live.Count);
        Assert.Equal("1500", lake.Query("select count(*) from read_parquet([" +
            string.Join(",", live.Keys.Select(p => $"'{{lake}}/raw/test/orders/{Uri.UnescapeDataString(p)}'")) + "])").Single()[0]);
        Assert.Empty(Directory.GetFiles(LogDir(lake), "*tmp*"));
    }

    [Fact]
    public async Task A_table_commit_that_cannot_be_written_fails_before_anything_is_visible()
    {
        using var lake = new TempLake();
        var store = new LocalObjectStore(BucketUri.Parse(lake.Bucket));
        var plan = UnwritableDeltaCommit("orders", "r1");
        plan.TableMetadata[0].Location = lake.Bucket + "/raw/test/orders";

        await Assert.ThrowsAnyAsync<Exception>(() => new LakeCommitter(store, TimeProvider.System).CommitAsync(plan, CancellationToken.None));

        // Neither format shows the run (no Iceberg version published before Delta failed), and no journal is left to replay.
        Assert.DoesNotContain(lake.Keys(), k => k.StartsWith("raw/", StringComparison.Ordinal));
        Assert.False(File.Exists(Path.Combine(lake.Root, LakeCommitter.JournalKey("orders"))));
    }

    [Fact]
    public async Task A_journal_that_cannot_be_completed_fails_each_run_at_recover_naming_the_journal_and_the_way_out()
    {
        using var lake = new TempLake();
        var store = new LocalObjectStore(BucketUri.Parse(lake.Bucket));
        var plan = UnwritableDeltaCommit("orders", "r1");
        plan.TableMetadata[0].Location = lake.Bucket + "/raw/test/orders";
        plan.Phase = CommitPlan.PhaseDeleted; // a commit interrupted after its files landed (or journaled by an older version)
        await store.PutAsync(LakeCommitter.JournalKey("orders"), LakeJson.Serialize(plan), WriteCondition.None, CancellationToken.None);

        var pipeline = Delta(lake, lake.WriteSinger("a", Orders(1, 2)), TableFormats.Iceberg | TableFormats.Delta, PartitionBySettings.None);
        for (var run = 0; run < 2; run++)
        {
            var result = await TempLake.RunAsync(pipeline);
            Assert.False(result.Succeeded);
            Assert.Equal("recover", result.Log.FailedStep);
            Assert.Contains(LakeCommitter.JournalKey("orders"), result.Log.Error);
            Assert.Contains("run r1", result.Log.Error);
            Assert.Contains("delete", result.Log.Error); // the way out
        }
        Assert.True(File.Exists(Path.Combine(lake.Root, LakeCommitter.JournalKey("orders"))));
    }
}
