using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Sources.BuiltIn;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tables;
using DataSpoc.Pipe.Tests.Support;
using Xunit;

namespace DataSpoc.Pipe.Tests.Sources.BuiltIn;

/// <summary>
/// The parquet tap pointed at a lake table written with <c>table_format</c> reads the rows the table holds now: not the
/// files earlier full refreshes or merges replaced (kept on storage for time travel until <c>maintain</c>), and never
/// a Delta checkpoint as a table of its own. Read back with DuckDB from the lake the tap landed in.
/// </summary>
public sealed class LakeTableFoldersTests : IDisposable
{
    private readonly TempLake _source = new();
    private readonly TempLake _target = new();

    public void Dispose()
    {
        _source.Dispose();
        _target.Dispose();
    }

    private const string Schema =
        """{"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"v":{"type":["null","string"]}}}}""";

    private static string[] Orders(string v, params int[] ids) =>
        [Schema, .. ids.Select(i => "{\"type\":\"RECORD\",\"stream\":\"orders\",\"record\":{\"id\":" + i + ",\"v\":\"" + v + "\"}}")];

    private string Table => Path.Combine(_source.Root, "raw/test/orders");

    /// <summary>Asserts what the tap landed, read with DuckDB: one stream folder, <c>orders</c>, holding exactly <paramref name="rows"/> (id=v).</summary>
    private void AssertLanded(params string[] rows)
    {
        Assert.Equal(["orders"], Directory.GetDirectories(Path.Combine(_target.Root, "raw/parquet")).Select(d => Path.GetFileName(d)));
        Assert.Equal(rows, _target.Query("SELECT id, v FROM read_parquet('{lake}/raw/parquet/orders/**/*.parquet') ORDER BY id").Select(r => $"{r[0]}={r[1]}"));
    }

    [Theory]
    [InlineData(TableFormats.Iceberg, 3)]
    [InlineData(TableFormats.Delta, 11)] // past Delta's checkpoint interval: _delta_log/…10.checkpoint.parquet is on storage
    [InlineData(TableFormats.Iceberg | TableFormats.Delta, 11)]
    public async Task A_table_folder_full_refreshed_again_and_again_reads_as_its_live_rows_only(TableFormats formats, int refreshes)
    {
        for (var run = 1; run <= refreshes; run++)
            Assert.True((await TempLake.RunAsync(_source.Pipeline("orders", _source.WriteSinger($"r{run}", Orders($"r{run}", 1, 2, run)),
                p => p with { Destination = p.Destination with { TableFormat = formats } }), full: true)).Succeeded);
        Assert.Equal(refreshes, Directory.EnumerateFiles(Table, "*.parquet", SearchOption.AllDirectories).Count(f => !f.Contains("_delta_log", StringComparison.Ordinal)));

        await TempLake.RunBuiltInAsync(_target.BuiltInPipeline("rt", "parquet", new JsonObject { ["path"] = Table }));

        var last = $"r{refreshes}";
        AssertLanded($"1={last}", $"2={last}", $"{refreshes}={last}");
    }

    [Fact]
    public async Task A_merged_table_read_through_a_glob_reads_the_merged_rows_not_the_files_the_merge_rewrote()
    {
        PipelineDefinition Merge(string input) => _source.Pipeline("orders", input, p => p with
        {
            Destination = p.Destination with { TableFormat = TableFormats.Iceberg | TableFormats.Delta, WriteMode = WriteMode.Merge, PartitionBy = PartitionBySettings.None },
        });
        Assert.True((await TempLake.RunAsync(Merge(_source.WriteSinger("a", Orders("old", 1, 2, 3))))).Succeeded);
        Assert.True((await TempLake.RunAsync(Merge(_source.WriteSinger("b", Orders("new", 2, 4))))).Succeeded);

        // A glob over the whole lake (every table folder below raw/): the merged table's folder holds the rewritten file too.
        await TempLake.RunBuiltInAsync(_target.BuiltInPipeline("rt", "parquet", new JsonObject { ["files"] = new JsonArray(_source.Root + "/raw/**/*.parquet") }));

        AssertLanded("1=old", "2=new", "3=old", "4=new");
    }

    private string DeltaLog => Path.Combine(Table, "_delta_log");

    private static string V(long version) => version.ToString("D20");

    /// <summary>Reads <see cref="Table"/> with the parquet tap through a real run, which may fail.</summary>
    private async Task<RunResult> ReadTableAsync()
    {
        Assert.True(BuiltInTaps.TryGet("parquet", out var tap));
        return await new PipelineRunner(new ObjectStoreFactory()).RunAsync(_target.BuiltInPipeline("rt", "parquet", new JsonObject { ["path"] = Table }),
            new RunOptions { Source = new BuiltInSource(tap) }, CancellationToken.None);
    }

    /// <summary>
    /// A Delta table of 12 versions written by our writer (no partitions): runs 1-5 append ids 1-5, run 6 a full refresh
    /// (id 6: the files of 1-5 removed), runs 7-11 append 7-11 (version 10, their last, writes
    /// <c>00000000000000000010.checkpoint.parquet</c>), run 12 a merge of ids 7 and 12 (version 11, after the checkpoint,
    /// removes the checkpoint's file of id 7). Returns the rows the table holds (id=v).
    /// </summary>
    private async Task<string[]> CheckpointedDeltaTableAsync()
    {
        for (var run = 1; run <= 12; run++)
        {
            var input = _source.WriteSinger($"r{run}", run == 12 ? Orders("r12", 7, 12) : Orders($"r{run}", run));
            var result = await TempLake.RunAsync(_source.Pipeline("orders", input, p => p with
            {
                Destination = p.Destination with { TableFormat = TableFormats.Delta, PartitionBy = PartitionBySettings.None, WriteMode = run == 12 ? WriteMode.Merge : WriteMode.Append },
            }), full: run == 6);
            Assert.True(result.Succeeded, result.Log.Error);
        }
        Assert.True(File.Exists(Path.Combine(DeltaLog, V(10) + ".checkpoint.parquet")));
        return ["6=r6", "7=r12", "8=r8", "9=r9", "10=r10", "11=r11", "12=r12"];
    }

    /// <summary>Deletes the log entries and checkpoints before version <paramref name="cutoff"/>, as Delta's metadata cleanup does.</summary>
    private void CleanUpLogBefore(long cutoff)
    {
        foreach (var file in Directory.GetFiles(DeltaLog))
            if (long.TryParse(Path.GetFileName(file).AsSpan(0, Math.Min(20, Path.GetFileName(file).Length)), out var version) && version < cutoff)
                File.Delete(file);
    }

    [Theory]
    [InlineData("classic")]
    [InlineData("multi-part")] // and a newer multi-part checkpoint with a part missing, which must be passed over
    [InlineData("uuid-named with a sidecar")]
    [InlineData("stale _last_checkpoint")] // it names a checkpoint the cleanup deleted; the newest one is later
    public async Task A_delta_table_whose_log_was_cleaned_up_to_its_checkpoint_reads_its_live_rows_from_the_checkpoint(string layout)
    {
        var rows = await CheckpointedDeltaTableAsync();
        var classic = Path.Combine(DeltaLog, V(10) + ".checkpoint.parquet");
        var cutoff = 10L;
        switch (layout)
        {
            case "multi-part":
                // Written by DuckDB from ours: a checkpoint's rows in two part files, and the classic one gone.
                _source.Query($"COPY (SELECT * FROM read_parquet('{classic}') WHERE add IS NULL) TO '{DeltaLog}/{V(10)}.checkpoint.0000000001.0000000002.parquet' (FORMAT parquet)");
                _source.Query($"COPY (SELECT * FROM read_parquet('{classic}') WHERE add IS NOT NULL) TO '{DeltaLog}/{V(10)}.checkpoint.0000000002.0000000002.parquet' (FORMAT parquet)");
                File.Delete(classic);
                File.Copy($"{DeltaLog}/{V(10)}.checkpoint.0000000001.0000000002.parquet", $"{DeltaLog}/{V(11)}.checkpoint.0000000001.0000000002.parquet");
                File.WriteAllText(Path.Combine(DeltaLog, "_last_checkpoint"), """{"version":10,"size":8,"parts":2}""");
                break;
            case "uuid-named with a sidecar":
                // V2 spec: the non-file actions in a JSON checkpoint, the add and remove actions in a sidecar it names.
                var sidecar = Guid.NewGuid() + ".parquet";
                Directory.CreateDirectory(Path.Combine(DeltaLog, "_sidecars"));
                _source.Query($"COPY (SELECT add, remove FROM read_parquet('{classic}') WHERE add IS NOT NULL OR remove IS NOT NULL) TO '{DeltaLog}/_sidecars/{sidecar}' (FORMAT parquet)");
                var metaData = File.ReadLines(Path.Combine(DeltaLog, V(10) + ".json")).Single(l => l.StartsWith("{\"metaData\"", StringComparison.Ordinal));
                File.WriteAllLines(Path.Combine(DeltaLog, $"{V(10)}.checkpoint.{Guid.NewGuid()}.json"),
                [
                    """{"checkpointMetadata":{"version":10,"tags":{}}}""",
                    """{"protocol":{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["v2Checkpoint"],"writerFeatures":["v2Checkpoint"]}}""",
                    metaData,
                    $$"""{"sidecar":{"path":"{{sidecar}}","sizeInBytes":{{new FileInfo($"{DeltaLog}/_sidecars/{sidecar}").Length}},"modificationTime":0""" + ""","tags":{}}}""",
                ]);
                File.Delete(classic);
                break;
            case "stale _last_checkpoint":
                // A checkpoint at version 11 (our writer's, from the one at 10 and entry 11); then the cleanup up to it
                // deleted the checkpoint at 10, which _last_checkpoint still names.
                var store = new LocalObjectStore(BucketUri.Parse(_source.Bucket));
                await new DeltaCheckpoint(store).WriteAsync(new DeltaTable(store, TimeProvider.System), "raw/test/orders/", 11, DateTimeOffset.UtcNow, CancellationToken.None);
                File.WriteAllText(Path.Combine(DeltaLog, "_last_checkpoint"), """{"version":10,"size":8}""");
                cutoff = 11;
                break;
        }
        CleanUpLogBefore(cutoff);
        Assert.False(File.Exists(Path.Combine(DeltaLog, V(0) + ".json")));

        var result = await ReadTableAsync();

        Assert.True(result.Succeeded, result.Log.Error);
        AssertLanded(rows);
    }

    /// <summary>A one-file Delta table written by hand: <paramref name="protocol"/>, a metaData with <paramref name="configuration"/>, and <paramref name="add"/>'s extra fields.</summary>
    private void HandWrittenDeltaTable(string protocol, string configuration, string addFields)
    {
        Directory.CreateDirectory(DeltaLog);
        _source.Query($"COPY (SELECT 1::BIGINT AS id, 'a' AS v) TO '{Table}/part-00000.parquet' (FORMAT parquet)");
        var schema = """{"type":"struct","fields":[{"name":"id","type":"long","nullable":true,"metadata":{}},{"name":"v","type":"string","nullable":true,"metadata":{}}]}""";
        File.WriteAllLines(Path.Combine(DeltaLog, V(0) + ".json"),
        [
            """{"protocol":""" + protocol + "}",
            """{"metaData":{"id":"00000000-0000-0000-0000-000000000001","format":{"provider":"parquet","options":{}},"schemaString":""" +
                JsonValue.Create(schema).ToJsonString() + ""","partitionColumns":[],"configuration":""" + configuration + ""","createdTime":0}}""",
            """{"add":{"path":"part-00000.parquet","partitionValues":{},"size":""" + new FileInfo($"{Table}/part-00000.parquet").Length +
                ""","modificationTime":0,"dataChange":true""" + addFields + "}}",
        ]);
    }

    [Theory]
    [InlineData("""{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["variantType"],"writerFeatures":["variantType"]}""", "{}", "",
        "00000000000000000000.json: the Delta table (version 0) requires the reader feature(s) variantType, which this reader does not implement")]
    [InlineData("""{"minReaderVersion":4,"minWriterVersion":7}""", "{}", "", "00000000000000000000.json: the Delta table (version 0) requires reader version 4")]
    [InlineData("""{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["deletionVectors"],"writerFeatures":["deletionVectors"]}""", "{}",
        ""","deletionVector":{"storageType":"i","pathOrInlineDv":"wi5b=000010000siXQKl0rr91000f55c8Xg0@@D72lkbi5=-{L","sizeInBytes":40,"cardinality":1}""",
        "00000000000000000000.json: the Delta table's live file part-00000.parquet (version 0) has a deletion vector")]
    [InlineData("""{"minReaderVersion":2,"minWriterVersion":5}""", """{"delta.columnMapping.mode":"name"}""", "",
        "requires column mapping, and the table's _delta_log/00000000000000000000.json maps its columns (delta.columnMapping.mode = name)")]
    [InlineData("""{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["deletionVectors","timestampNtz","columnMapping"],"writerFeatures":["deletionVectors"]}""",
        """{"delta.columnMapping.mode":"none"}""", "", null)] // features it reads right while unused
    public async Task A_delta_table_needing_what_the_reader_lacks_fails_the_run_naming_the_log_file_and_the_feature(string protocol, string configuration, string addFields, string? error)
    {
        HandWrittenDeltaTable(protocol, configuration, addFields);

        var result = await ReadTableAsync();

        if (error is null)
        {
            Assert.True(result.Succeeded, result.Log.Error);
            AssertLanded("1=a");
            return;
        }
        Assert.False(result.Succeeded);
        Assert.Contains($"{Table} is an Iceberg or Delta table this tap cannot read", result.Log.Error);
        Assert.Contains(error, result.Log.Error);
    }

    /// <summary>
    /// A partitioned Delta table as Spark or delta-rs writes it, by hand: the data files hold <c>id</c> and <c>amount</c>
    /// only; <c>region</c> (string), <c>day</c> (date) and <c>n</c> (integer) are partition columns whose values are only
    /// in the log's <c>add.partitionValues</c>. Each file is (folder, ids, partitionValues JSON).
    /// </summary>
    private void PartitionedDeltaTable(params (string Folder, int[] Ids, string PartitionValues)[] files)
    {
        Directory.CreateDirectory(DeltaLog);
        var schema = """{"type":"struct","fields":[""" + string.Join(",", new[] { ("id", "long"), ("region", "string"), ("day", "date"), ("amount", "double"), ("n", "integer") }
            .Select(f => $$$"""{"name":"{{{f.Item1}}}","type":"{{{f.Item2}}}","nullable":true,"metadata":{}}""")) + "]}";
        var log = new List<string>
        {
            """{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}""",
            """{"metaData":{"id":"00000000-0000-0000-0000-000000000002","format":{"provider":"parquet","options":{}},"schemaString":""" +
                JsonValue.Create(schema).ToJsonString() + ""","partitionColumns":["region","day","n"],"configuration":{},"createdTime":0}}""",
        };
        foreach (var (folder, ids, partitionValues) in files)
        {
            Directory.CreateDirectory(Path.Combine(Table, folder));
            var file = Path.Combine(Table, folder, "part-00000.parquet");
            _source.Query($"COPY (SELECT id::BIGINT AS id, (id * 1.5)::DOUBLE AS amount FROM (VALUES {string.Join(",", ids.Select(i => $"({i})"))}) t(id)) TO '{file}' (FORMAT parquet)");
            var path = string.Join('/', (folder + "/part-00000.parquet").Split('/').Select(Uri.EscapeDataString));
            log.Add($$$"""{"add":{"path":"{{{path}}}","partitionValues":{{{partitionValues}}},"size":{{{new FileInfo(file).Length}}},"modificationTime":0,"dataChange":true}}""");
        }
        File.WriteAllLines(Path.Combine(DeltaLog, V(0) + ".json"), log);
    }

    [Fact]
    public async Task A_foreign_partitioned_delta_table_lands_its_partition_columns_typed_from_the_log_in_the_table_column_order()
    {
        PartitionedDeltaTable(
            ("region=eu/day=2024-01-02/n=7", [1, 2], """{"region":"eu","day":"2024-01-02","n":"7"}"""),
            ("region=north america/day=2024-02-29/n=-3", [3], """{"region":"north america","day":"2024-02-29","n":"-3"}"""),
            // Null partition values: an empty string, a JSON null, an absent key.
            ("region=__HIVE_DEFAULT_PARTITION__/day=__HIVE_DEFAULT_PARTITION__/n=__HIVE_DEFAULT_PARTITION__", [4], """{"region":"","day":null}"""));

        var result = await ReadTableAsync();

        Assert.True(result.Succeeded, result.Log.Error);
        var landed = $"read_parquet('{_target.Root}/raw/parquet/orders/**/*.parquet', hive_partitioning = false)";
        Assert.Equal([["id", "BIGINT"], ["region", "VARCHAR"], ["day", "DATE"], ["amount", "DOUBLE"], ["n", "BIGINT"]],
            _target.Query($"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {landed})"));
        Assert.Equal(
        [
            ["1", "eu", "2024-01-02", "1.5", "7"], ["2", "eu", "2024-01-02", "3", "7"], ["3", "north america", "2024-02-29", "4.5", "-3"], ["4", null, null, "6", null],
        ], _target.Query($"SELECT id, region, strftime(day, '%Y-%m-%d'), amount, n FROM {landed} ORDER BY id"));
    }

    [Fact]
    public async Task A_delta_partition_value_that_is_not_of_its_column_type_fails_the_run_naming_the_file_column_and_value()
    {
        PartitionedDeltaTable(("region=eu/day=2024-13-02/n=7", [1], """{"region":"eu","day":"2024-13-02","n":"7"}"""));

        var result = await ReadTableAsync();

        Assert.False(result.Succeeded);
        Assert.Contains($"{Table}/region=eu/day=2024-13-02/n=7/part-00000.parquet: Delta partition column 'day' (date) has the value '2024-13-02' in the table's log, which is not a date",
            result.Log.Error);
    }

    [Theory]
    [InlineData("day")] // a date column: Delta's partition column, kept in our files too
    [InlineData(PartitionBySettings.ExtractionDate)] // _extraction_date: the dt= folder, not a column of the rows
    public async Task Our_own_partitioned_delta_table_lands_its_columns_as_they_are(string partitionBy)
    {
        const string dated = """{"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"day":{"type":["null","string"],"format":"date"}}}}""";
        var input = _source.WriteSinger("a", dated, """{"type":"RECORD","stream":"orders","record":{"id":1,"day":"2024-05-06"}}""",
            """{"type":"RECORD","stream":"orders","record":{"id":2,"day":null}}""");
        var written = await TempLake.RunAsync(_source.Pipeline("orders", input, p => p with { Destination = p.Destination with { TableFormat = TableFormats.Delta, PartitionBy = partitionBy } }));
        Assert.True(written.Succeeded, written.Log.Error);

        var result = await ReadTableAsync();

        Assert.True(result.Succeeded, result.Log.Error);
        var landed = $"read_parquet('{_target.Root}/raw/parquet/orders/**/*.parquet', hive_partitioning = false)";
        Assert.Equal([["id"], ["day"]], _target.Query($"SELECT column_name FROM (DESCRIBE SELECT * FROM {landed})"));
        Assert.Equal([["1", "2024-05-06"], ["2", null]], _target.Query($"SELECT id, strftime(day, '%Y-%m-%d') FROM {landed} ORDER BY id"));
    }

    [Fact]
    public async Task A_live_file_missing_from_storage_fails_the_run_naming_it_rather_than_landing_part_of_the_table()
    {
        foreach (var run in new[] { "a", "b" }) // two appends: two live files
            Assert.True((await TempLake.RunAsync(_source.Pipeline("orders", _source.WriteSinger(run, Orders(run, 1, 2)),
                p => p with { Destination = p.Destination with { TableFormat = TableFormats.Delta } }))).Succeeded);
        var live = Directory.EnumerateFiles(Table, "*.parquet", SearchOption.AllDirectories).Order(StringComparer.Ordinal).First();
        File.Delete(live);

        var result = await ReadTableAsync();
        Assert.False(result.Succeeded);
        Assert.Contains($"is a Delta table whose live files include {live}, which is not on storage", result.Log.Error);
    }
}
