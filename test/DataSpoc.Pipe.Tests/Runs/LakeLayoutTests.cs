using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Runs;

public class LakeLayoutTests
{
    private static string Today => DateTime.UtcNow.ToString("yyyy-MM-dd");

    /// <summary>Data file keys with the run id taken out of the names (<c>orders_0001_1a2b3c4d.parquet</c> -> <c>orders_0001.parquet</c>).</summary>
    private static List<string> WithoutRunIds(IEnumerable<string> keys) =>
        keys.Select(k => System.Text.RegularExpressions.Regex.Replace(k, @"_(\d{4,})_[0-9a-z]{8}\.parquet$", "_$1.parquet")).ToList();

    private static string[] Orders(int from, int to, string stream = "orders") =>
    [
        """{"type":"SCHEMA","stream":"STREAM","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"day":{"type":["null","string"],"format":"date-time"}}}}""".Replace("STREAM", stream),
        .. Enumerable.Range(from, to - from + 1).Select(i =>
            """{"type":"RECORD","stream":"STREAM","record":{"id":ID,"day":"2025-01-DDT23:30:00-01:00"}}""".Replace("STREAM", stream).Replace("ID", i.ToString()).Replace("DD", (10 + i % 3).ToString("D2"))),
    ];

    [Fact]
    public async Task Keys_are_exactly_the_contract_layout_under_the_default_path()
    {
        using var lake = new TempLake();
        var result = await TempLake.RunAsync(lake.Pipeline("orders", lake.WriteSinger("a.singer", Orders(1, 3))));
        Assert.True(result.Succeeded, result.Log.Error);
        var log = Assert.Single(lake.Logs("orders"));
        // The run id in the file name keeps two pipelines writing one table at once from ever picking the same key.
        Assert.Equal([$"raw/test/orders/dt={Today}/orders_0000_{log.RunId}.parquet"], lake.ParquetKeys());
        Assert.Equal(
            [$".dataspoc/logs/orders/{log.StartedAt.UtcDateTime:yyyy-MM-dd'T'HH-mm-ss'Z'}_{log.RunId}.json", ".dataspoc/manifest.json",
             $"raw/test/orders/dt={Today}/orders_0000_{log.RunId}.parquet"],
            lake.Keys().Where(k => !k.EndsWith(".lck", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_custom_path_and_a_source_derived_from_the_tap_name_shape_the_keys()
    {
        using var lake = new TempLake();
        var p = lake.Pipeline("orders", lake.WriteSinger("a.singer", Orders(1, 2)), p => p with
        {
            Source = p.Source with { Name = null },
            Destination = p.Destination with { Path = "/landing/zone/" },
        });
        Assert.True((await TempLake.RunAsync(p)).Succeeded);
        Assert.Equal([$"landing/zone/replay_tap/orders/dt={Today}/orders_0000.parquet"], WithoutRunIds(lake.ParquetKeys()));
        Assert.Equal($"{lake.Bucket}/landing/zone/replay_tap/orders", lake.Manifest().Tables["replay_tap/orders"].Location);
    }

    [Fact]
    public async Task A_second_incremental_run_the_same_day_adds_the_next_file_and_never_overwrites()
    {
        using var lake = new TempLake();
        Assert.True((await TempLake.RunAsync(lake.Pipeline("orders", lake.WriteSinger("a.singer", Orders(1, 3))))).Succeeded);
        var first = File.ReadAllBytes(Path.Combine(lake.Root, lake.ParquetKeys()[0]));
        Assert.True((await TempLake.RunAsync(lake.Pipeline("orders", lake.WriteSinger("b.singer", Orders(4, 5))))).Succeeded);
        Assert.Equal([$"raw/test/orders/dt={Today}/orders_0000.parquet", $"raw/test/orders/dt={Today}/orders_0001.parquet"], WithoutRunIds(lake.ParquetKeys()));
        Assert.Equal(first, File.ReadAllBytes(Path.Combine(lake.Root, lake.ParquetKeys()[0])));
        Assert.Equal([["5", "1", "5"]], lake.Query("select count(*), min(id), max(id) from read_parquet('{lake}/raw/test/orders/*/*.parquet')"));
        var table = lake.Manifest().Tables["test/orders"];
        Assert.Equal((5, 2, 2, 2, "append"), (table.RowCount, table.Stats.Extractions, table.Stats.Files, table.Stats.LastExtractionRows, table.WriteMode));
    }

    [Fact]
    public async Task A_full_refresh_replaces_the_table_and_leaves_no_stale_file()
    {
        using var lake = new TempLake();
        Assert.True((await TempLake.RunAsync(lake.Pipeline("orders", lake.WriteSinger("a.singer", Orders(1, 3))))).Succeeded);
        Assert.True((await TempLake.RunAsync(lake.Pipeline("orders", lake.WriteSinger("b.singer", Orders(1, 3))))).Succeeded);
        Assert.Equal(2, lake.ParquetKeys().Count);
        var result = await TempLake.RunAsync(lake.Pipeline("orders", lake.WriteSinger("c.singer", Orders(10, 11))), full: true);
        Assert.True(result.Succeeded, result.Log.Error);
        Assert.Equal([$"raw/test/orders/dt={Today}/orders_0002.parquet"], WithoutRunIds(lake.ParquetKeys()));
        Assert.Equal([["10"], ["11"]], lake.Query("select id from read_parquet('{lake}/raw/test/orders/*/*.parquet') order by id"));
        var table = lake.Manifest().Tables["test/orders"];
        Assert.Equal((2L, "replace", 1L), (table.RowCount, table.WriteMode, table.Stats.Files));
        Assert.Equal("full", result.Log.Mode);
    }

    [Fact]
    public async Task A_table_named_with_a_leading_underscore_gets_data_files_that_folder_readers_do_not_take_as_hidden()
    {
        // Airbyte's _airbyte_raw_users, Stitch's _sdc_rejected: files named after the table started with '_', which Spark,
        // Hive, Trino and pyarrow skip as hidden when they list a folder, so the table read empty there.
        using var lake = new TempLake();
        var first = await TempLake.RunAsync(lake.Pipeline("raw", lake.WriteSinger("a.singer", Orders(1, 3, "_airbyte_raw_users"))));
        Assert.True(first.Succeeded, first.Log.Error);
        Assert.Equal([$"raw/test/_airbyte_raw_users/dt={Today}/part_airbyte_raw_users_0000_{first.Log.RunId}.parquet"], lake.ParquetKeys());
        // What a folder reader takes (every name not starting with '.' or '_') is every row.
        var folder = Path.Combine(lake.Root, "raw/test/_airbyte_raw_users", $"dt={Today}");
        var visible = Directory.GetFiles(folder).Where(f => Path.GetFileName(f)[0] is not ('.' or '_')).ToList();
        Assert.Equal([["3"]], lake.Query($"select count(*) from read_parquet(['{string.Join("','", visible)}'])"));

        // A lake an earlier build wrote names the file after the table alone: it stays the table's, and is counted on.
        var earlier = Path.Combine(folder, "_airbyte_raw_users_0000_0ld0ld00.parquet");
        File.Move(Path.Combine(lake.Root, lake.ParquetKeys()[0]), earlier);
        Assert.True((await TempLake.RunAsync(lake.Pipeline("raw", lake.WriteSinger("b.singer", Orders(4, 5, "_airbyte_raw_users"))))).Succeeded);
        Assert.Equal([$"raw/test/_airbyte_raw_users/dt={Today}/_airbyte_raw_users_0000.parquet", $"raw/test/_airbyte_raw_users/dt={Today}/part_airbyte_raw_users_0001.parquet"],
            WithoutRunIds(lake.ParquetKeys()).Order(StringComparer.Ordinal));
        var full = await TempLake.RunAsync(lake.Pipeline("raw", lake.WriteSinger("c.singer", Orders(10, 11, "_airbyte_raw_users"))), full: true);
        Assert.True(full.Succeeded, full.Log.Error);
        Assert.Equal([$"raw/test/_airbyte_raw_users/dt={Today}/part_airbyte_raw_users_0002.parquet"], WithoutRunIds(lake.ParquetKeys()));
        Assert.Equal([["10"], ["11"]], lake.Query("select id from read_parquet('{lake}/raw/test/_airbyte_raw_users/*/*.parquet') order by id"));
        Assert.Equal(2L, lake.Manifest().Tables["test/_airbyte_raw_users"].RowCount);
    }

    [Fact]
    public async Task A_stream_named_with_dot_dot_slashes_stays_inside_its_source_folder()
    {
        using var lake = new TempLake();
        var result = await TempLake.RunAsync(lake.Pipeline("escape", lake.WriteSinger("a.singer", Orders(1, 1, "../../x"))));
        Assert.True(result.Succeeded, result.Log.Error);
        Assert.Equal([$"raw/test/.._.._x/dt={Today}/part.._.._x_0000.parquet"], WithoutRunIds(lake.ParquetKeys()));
        Assert.All(lake.Keys(), k => Assert.False(k.StartsWith("..") || k.Contains("/../")));
    }

    [Fact]
    public async Task A_stream_whose_table_an_upgrade_renamed_says_the_new_table_lacks_the_earlier_rows()
    {
        // Builds before 2026-12-04 kept '#', '?' and '%' in table names: the table of stream 'ev#1' was test/ev#1 (here made
        // from this build's by renaming its folder and manifest entry). After the upgrade the stream lands in test/ev_1.
        using var lake = new TempLake();
        var p = lake.Pipeline("hs", lake.WriteSinger("a.singer", Orders(1, 3, "ev#1")));
        Assert.True((await TempLake.RunAsync(p)).Succeeded);
        Directory.Move(Path.Combine(lake.Root, "raw", "test", "ev_1"), Path.Combine(lake.Root, "raw", "test", "ev#1"));
        var manifestFile = Path.Combine(lake.Root, DataSpoc.Pipe.Lake.LakePaths.ManifestKey);
        var manifest = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(manifestFile))!;
        var tables = manifest["tables"]!.AsObject();
        var entry = tables["test/ev_1"]!;
        tables.Remove("test/ev_1");
        entry["table"] = "ev#1";
        entry["location"] = $"{lake.Bucket}/raw/test/ev#1";
        tables["test/ev#1"] = entry;
        File.WriteAllText(manifestFile, manifest.ToJsonString());

        var upgraded = await TempLake.RunAsync(lake.Pipeline("hs", lake.WriteSinger("b.singer", Orders(4, 5, "ev#1"))));

        Assert.True(upgraded.Succeeded, upgraded.Log.Error);
        Assert.Contains($"stream 'ev#1': its table is now test/ev_1 ({lake.Bucket}/raw/test/ev_1/); earlier versions of dataspoc-pipe landed it as test/ev#1 " +
            $"({lake.Bucket}/raw/test/ev#1, 3 rows), which this run leaves as it is: the new table lacks those earlier rows; run --full re-extracts them into it", upgraded.Log.Notices);
        // Said once, by the run that starts the new table.
        var next = await TempLake.RunAsync(lake.Pipeline("hs", lake.WriteSinger("c.singer", Orders(6, 6, "ev#1"))));
        Assert.True(next.Succeeded, next.Log.Error);
        Assert.DoesNotContain(next.Log.Notices, n => n.Contains("earlier versions of dataspoc-pipe", StringComparison.Ordinal));

        // Going back: an earlier build lands 2 more rows in test/ev#1 (here its manifest entry says so), after test/ev_1's last run.
        manifest = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(manifestFile))!;
        var stats = manifest["tables"]!["test/ev#1"]!["stats"]!;
        var wentBack = lake.Manifest().Tables["test/ev_1"].Stats.LastExtraction!.Value.AddMilliseconds(1);
        stats["last_extraction"] = wentBack;
        stats["last_extraction_rows"] = 2;
        File.WriteAllText(manifestFile, manifest.ToJsonString());
        var back = await TempLake.RunAsync(lake.Pipeline("hs", lake.WriteSinger("d.singer", Orders(9, 9, "ev#1"))));
        Assert.True(back.Succeeded, back.Log.Error);
        var notice = Assert.Single(back.Log.Notices, n => n.Contains("test/ev#1", StringComparison.Ordinal));
        Assert.StartsWith("stream 'ev#1': an earlier version of dataspoc-pipe landed 2 row(s) in its old table test/ev#1", notice);
        Assert.EndsWith("this table lacks them; run --full re-extracts them into it", notice);
        var after = await TempLake.RunAsync(lake.Pipeline("hs", lake.WriteSinger("e.singer", Orders(10, 10, "ev#1"))));
        Assert.True(after.Succeeded, after.Log.Error);
        Assert.DoesNotContain(after.Log.Notices, n => n.Contains("test/ev#1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_stream_whose_table_differs_only_in_case_from_one_an_earlier_run_landed_is_refused_before_anything_is_written()
    {
        // Runs of one pipeline, and of another pipeline into the same folder, see the table folders the bucket's manifest lists.
        using var lake = new TempLake();
        Assert.True((await TempLake.RunAsync(lake.Pipeline("lower", lake.WriteSinger("a.singer", Orders(1, 2, "cs"))))).Succeeded);
        var landed = lake.Keys().Where(k => !k.StartsWith(".dataspoc", StringComparison.Ordinal)).ToList();

        foreach (var pipeline in new[] { "lower", "upper" })
        {
            var result = await TempLake.RunAsync(lake.Pipeline(pipeline, lake.WriteSinger($"{pipeline}.singer", Orders(3, 4, "CS"))));

            Assert.False(result.Succeeded);
            var writer = pipeline == "lower" ? "an earlier run of this pipeline" : "pipeline 'lower'";
            Assert.Equal($"line 1 (stream 'CS'): stream 'CS' of pipeline '{pipeline}' lands in table folder {lake.Bucket}/raw/test/CS/, and the bucket's manifest " +
                $"lists table test/cs at {lake.Bucket}/raw/test/cs/ (landed by {writer}): the two folders differ only in case; catalogs such as Glue, Hive and " +
                "Trino and case-insensitive file systems would treat them as one table. Land only one of them: rename the stream in the tap, leave it out of " +
                "source.streams, or give this pipeline a folder of its own (source.name or destination.path)", result.Log.Error);
            Assert.Equal(landed, lake.Keys().Where(k => !k.StartsWith(".dataspoc", StringComparison.Ordinal)));
            Assert.Equal(["test/cs"], lake.Manifest().Tables.Keys);
        }

        // The table itself still lands, as does a table in a folder of its own.
        Assert.True((await TempLake.RunAsync(lake.Pipeline("lower", lake.WriteSinger("b.singer", Orders(5, 5, "cs"))))).Succeeded);
        var apart = await TempLake.RunAsync(lake.Pipeline("upper", lake.WriteSinger("c.singer", Orders(6, 6, "CS")), p => p with { Source = p.Source with { Name = "other" } }));
        Assert.True(apart.Succeeded, apart.Log.Error);
        Assert.Equal([["1"], ["2"], ["5"]], lake.Query("select id from read_parquet('{lake}/raw/test/cs/*/*.parquet') order by id"));
    }

    [Fact]
    public async Task Partition_by_a_column_uses_its_utc_date_and_nulls_go_to_the_hive_default()
    {
        using var lake = new TempLake();
        string[] lines = [.. Orders(1, 3), """{"type":"RECORD","stream":"orders","record":{"id":9,"day":null}}"""];
        var p = lake.Pipeline("orders", lake.WriteSinger("a.singer", lines), p => p with { Destination = p.Destination with { PartitionBy = "day" } });
        Assert.True((await TempLake.RunAsync(p)).Succeeded);
        // 23:30 at -01:00 is the next day in UTC.
        Assert.Equal(
        [
            "raw/test/orders/dt=2025-01-11/orders_0000.parquet", "raw/test/orders/dt=2025-01-12/orders_0000.parquet",
            "raw/test/orders/dt=2025-01-13/orders_0000.parquet", "raw/test/orders/dt=__HIVE_DEFAULT_PARTITION__/orders_0000.parquet",
        ], WithoutRunIds(lake.ParquetKeys()));
        Assert.Equal([["2025-01-12", "1"], ["2025-01-13", "2"], ["2025-01-11", "3"]],
            lake.Query("select dt::varchar, id from read_parquet('{lake}/raw/test/orders/*/*.parquet', hive_partitioning=true) where id < 9 order by id"));
    }

    [Theory]
    [InlineData(39)] // a 65-byte value
    [InlineData(1000)]
    public async Task A_long_date_time_partition_value_of_a_transformed_record_lands_in_its_dates_folder(int fractionDigits)
    {
        // A transform (here a filter) hands the record over re-serialized; its partition comes from the same parse as the
        // stored value, however long: 23:30 at -01:00 is the next day in UTC.
        using var lake = new TempLake();
        var value = "2025-01-11T23:30:00." + new string('1', fractionDigits) + "-01:00";
        string[] lines = [Orders(1, 1)[0], $$$"""{"type":"RECORD","stream":"orders","record":{"id":1,"day":"{{{value}}}"}}"""];
        var p = lake.Pipeline("orders", lake.WriteSinger("a.singer", lines), p => p with
        {
            Destination = p.Destination with { PartitionBy = "day" },
            Transforms = new Dictionary<string, System.Text.Json.Nodes.JsonNode?> { ["orders"] = new System.Text.Json.Nodes.JsonObject { ["filter"] = "id >= 0" } },
        });
        var result = await TempLake.RunAsync(p);
        Assert.True(result.Succeeded, result.Log.Error);
        Assert.Equal(["raw/test/orders/dt=2025-01-12/orders_0000.parquet"], WithoutRunIds(lake.ParquetKeys()));
        Assert.Equal([["2025-01-12", "2025-01-12"]],
            lake.Query("select dt::varchar, (day at time zone 'UTC')::date::varchar from read_parquet('{lake}/raw/test/orders/*/*.parquet', hive_partitioning=true)"));
    }

    [Fact]
    public async Task Partition_by_none_drops_the_dt_level()
    {
        using var lake = new TempLake();
        var p = lake.Pipeline("orders", lake.WriteSinger("a.singer", Orders(1, 2)), p => p with { Destination = p.Destination with { PartitionBy = PartitionBySettings.None } });
        Assert.True((await TempLake.RunAsync(p)).Succeeded);
        Assert.Equal(["raw/test/orders/orders_0000.parquet"], WithoutRunIds(lake.ParquetKeys()));
        Assert.Empty(lake.Manifest().Tables["test/orders"].Partitioning);
    }

    [Theory]
    [InlineData(PartitionBySettings.None, PartitionBySettings.ExtractionDate)]
    [InlineData("day", PartitionBySettings.None)]
    public async Task An_append_in_another_partition_layout_than_the_plain_tables_files_is_refused_before_anything_is_written_and_a_full_refresh_takes_it(
        string first, string second)
    {
        // Two pipelines landing one table (same source name and stream) with different partition_by.
        using var lake = new TempLake();
        PipelineDefinition Pipeline(string name, string partitionBy, int from) =>
            lake.Pipeline(name, lake.WriteSinger($"{name}{from}.singer", Orders(from, from + 1)), p => p with { Destination = p.Destination with { PartitionBy = partitionBy } });
        Assert.True((await TempLake.RunAsync(Pipeline("one", first, 1))).Succeeded);
        var keys = lake.ParquetKeys();

        var refused = await TempLake.RunAsync(Pipeline("two", second, 3));
        Assert.False(refused.Succeeded);
        var (had, would) = first == PartitionBySettings.None
            ? ("unpartitioned (files in the table folder)", "partitioned by 'dt' (dt= folders)")
            : ("partitioned by 'dt' (dt= folders)", "unpartitioned (files in the table folder)");
        Assert.StartsWith($"stream 'orders': the table test/orders ({lake.Bucket}/raw/test/orders/) keeps {keys.Count} data file(s) {had}, last written by pipeline 'one', " +
            $"and partition_by: {second} of pipeline 'two' would add files {would}: the table would mix both", refused.Log.Error);
        Assert.Contains("Nothing was written; a full refresh (run --full, or write_mode: replace) rewrites the whole table with this partitioning", refused.Log.Error);
        Assert.Equal(keys, lake.ParquetKeys());
        Assert.Null(lake.State("two"));
        Assert.Equal(first == PartitionBySettings.None ? [] : ["dt"], lake.Manifest().Tables["test/orders"].Partitioning);

        var full = await TempLake.RunAsync(Pipeline("two", second, 5), full: true);
        Assert.True(full.Succeeded, full.Log.Error);
        Assert.Equal([["5"], ["6"]], lake.Query("SELECT id FROM read_parquet('{lake}/raw/test/orders/**/*.parquet') ORDER BY id"));
        Assert.Equal(second == PartitionBySettings.None ? [] : ["dt"], lake.Manifest().Tables["test/orders"].Partitioning);
    }

    [Theory]
    [InlineData(PartitionBySettings.ExtractionDate, PartitionBySettings.None)]
    [InlineData(PartitionBySettings.None, PartitionBySettings.ExtractionDate)]
    public async Task A_merge_in_another_partition_layout_is_refused_though_it_rewrites_every_kept_file(string first, string second)
    {
        // The merge rewrites the one kept file (id 1 is updated), but its other rows stay in that file's folder.
        using var lake = new TempLake();
        PipelineDefinition Pipeline(string partitionBy, int from, int to) =>
            lake.Pipeline("one", lake.WriteSinger($"{partitionBy}{from}.singer", Orders(from, to)), p => p with
            {
                Destination = p.Destination with { PartitionBy = partitionBy, WriteMode = WriteMode.Merge },
            });
        Assert.True((await TempLake.RunAsync(Pipeline(first, 1, 2))).Succeeded);
        var keys = lake.ParquetKeys();
        Assert.Single(keys);

        var refused = await TempLake.RunAsync(Pipeline(second, 1, 1));
        Assert.False(refused.Succeeded);
        Assert.Contains("the table would mix both", refused.Log.Error);
        Assert.Contains("Nothing was written", refused.Log.Error);
        Assert.Equal(keys, lake.ParquetKeys());
    }

    [Fact]
    public async Task Files_rotate_by_rows_and_each_holds_its_share()
    {
        using var lake = new TempLake();
        var p = lake.Pipeline("orders", lake.WriteSinger("a.singer", Orders(1, 25)), p => p with { Destination = p.Destination with { MaxFileRows = 10 } });
        var runner = new DataSpoc.Pipe.Runs.PipelineRunner(new DataSpoc.Pipe.Storage.ObjectStoreFactory()) { Limits = new() { BatchRows = 5 } };
        Assert.True((await TempLake.RunAsync(p, runner: runner)).Succeeded);
        Assert.Equal(3, lake.ParquetKeys().Count);
        Assert.Equal([["10"], ["10"], ["5"]], lake.Query("select count(*) from read_parquet('{lake}/raw/test/orders/*/*.parquet', filename=true) group by filename order by filename"));
    }

    [Fact]
    public async Task The_first_row_group_is_an_eighth_of_a_batch_so_encoding_starts_early_and_the_rest_are_full()
    {
        using var lake = new TempLake();
        var p = lake.Pipeline("orders", lake.WriteSinger("a.singer", Orders(1, 40_000)));
        var runner = new DataSpoc.Pipe.Runs.PipelineRunner(new DataSpoc.Pipe.Storage.ObjectStoreFactory()) { Limits = new() { BatchRows = 16_384, ParseLanes = 1 } };
        Assert.True((await TempLake.RunAsync(p, runner: runner)).Succeeded);
        Assert.Equal([["0", "4096"], ["1", "16384"], ["2", "16384"], ["3", "3136"]], lake.Query(
            "select row_group_id, any_value(row_group_num_rows) from parquet_metadata('{lake}/raw/test/orders/*/*.parquet') group by all order by 1"));
    }

    [Fact]
    public async Task Distinct_heavy_columns_nested_ones_included_skip_the_dictionary_and_read_back_intact()
    {
        using var lake = new TempLake();
        string[] tiers = ["basic", "gold", "vip"];
        var file = lake.WriteSinger("people.singer",
        [
            """{"type":"SCHEMA","stream":"people","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"tier":{"type":"string"},"customer":{"type":"object","properties":{"id":{"type":"integer"},"tier":{"type":"string"}}},"codes":{"type":"array","items":{"type":"integer"}}}}}""",
            .. Enumerable.Range(1, 3000).Select(i =>
                $$$"""{"type":"RECORD","stream":"people","record":{"id":{{{i}}},"tier":"{{{tiers[i % 3]}}}","customer":{"id":{{{i * 7919}}},"tier":"{{{tiers[i % 3]}}}"},"codes":[{{{i}}},{{{i + 100_000}}}]}}"""),
        ]);
        Assert.True((await TempLake.RunAsync(lake.Pipeline("people", file))).Succeeded);

        var encodings = lake.Query("select path_in_schema, any_value(encodings) from parquet_metadata('{lake}/raw/test/people/*/*.parquet') group by all order by 1")
            .ToDictionary(r => r[0]!, r => r[1]!);
        Assert.Contains("DELTA_BINARY_PACKED", encodings["id"]);
        Assert.Contains("DELTA_BINARY_PACKED", encodings["customer, id"]);
        Assert.Contains("DELTA_BINARY_PACKED", encodings["codes, list, element"]);
        Assert.Contains("DICTIONARY", encodings["tier"]);
        Assert.Contains("DICTIONARY", encodings["customer, tier"]);
        Assert.Equal([["3000", "3000", "4501500", (4501500L * 7919).ToString(), (2 * 4501500L + 3000L * 100_000).ToString()]], lake.Query(
            "select count(*), count(*) filter (where tier = customer.tier), sum(id), sum(customer.id), sum(list_sum(codes)) from read_parquet('{lake}/raw/test/people/*/*.parquet')"));
    }

    [Fact]
    public async Task Free_text_columns_are_written_without_min_max_statistics_and_short_distinct_strings_keep_theirs()
    {
        using var lake = new TempLake();
        var file = lake.WriteSinger("notes.singer",
        [
            """{"type":"SCHEMA","stream":"notes","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"code":{"type":"string"},"tier":{"type":"string"},"note":{"type":["null","string"]}}}}""",
            .. Enumerable.Range(1, 3000).Select(i =>
                $$$"""{"type":"RECORD","stream":"notes","record":{"id":{{{i}}},"code":"C-{{{i:D6}}}","tier":"{{{(i % 2 == 0 ? "gold" : "basic")}}}","note":"{{{$"note {i}: " + new string((char)('a' + i % 26), 80)}}}"}}"""),
        ]);
        Assert.True((await TempLake.RunAsync(lake.Pipeline("notes", file))).Succeeded);

        var stats = lake.Query("select path_in_schema, min(stats_min_value), max(stats_max_value) from parquet_metadata('{lake}/raw/test/notes/*/*.parquet') group by all order by 1")
            .ToDictionary(r => r[0]!, r => (Min: r[1], Max: r[2]));
        Assert.Equal(("C-000001", "C-003000"), stats["code"]);
        Assert.Equal(("basic", "gold"), stats["tier"]);
        Assert.Equal(("1", "3000"), stats["id"]);
        Assert.Equal((null, null), stats["note"]);
        Assert.Equal([["3000", "note 7: " + new string('h', 80)]], lake.Query(
            "select count(*), any_value(note) filter (where id = 7) from read_parquet('{lake}/raw/test/notes/*/*.parquet')"));
    }

    [Fact]
    public async Task A_schema_change_mid_stream_writes_the_old_rows_under_the_old_schema_first()
    {
        using var lake = new TempLake();
        string[] lines =
        [
            .. Orders(1, 2),
            """{"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"note":{"type":"string"}}}}""",
            """{"type":"RECORD","stream":"orders","record":{"id":3,"note":"new"}}""",
        ];
        Assert.True((await TempLake.RunAsync(lake.Pipeline("orders", lake.WriteSinger("a.singer", lines)))).Succeeded);
        Assert.Equal(2, lake.ParquetKeys().Count);
        Assert.Equal([["1", null], ["2", null], ["3", "new"]],
            lake.Query("select id, note from read_parquet('{lake}/raw/test/orders/*/*.parquet', union_by_name=true) order by id"));
        // The first file holds 'day': the latest SCHEMA's columns, then those only the run's earlier file holds.
        Assert.Equal([("id", false), ("note", true), ("day", true)], lake.Manifest().Tables["test/orders"].Columns.Select(c => (c.Name, c.Nullable)));
    }

    [Fact]
    public async Task A_SCHEMA_that_only_adds_nullable_columns_extends_the_open_file_instead_of_finishing_one()
    {
        // A tap discovering new keys re-sends its SCHEMA with one more column: a file per SCHEMA would write every
        // earlier column again in each (time growing with the square of the SCHEMAs). Rows buffered so far are kept,
        // null in the added columns; a SCHEMA that changes a column's type still finishes the file.
        using var lake = new TempLake();
        static string Schema(string extra) =>
            """{"type":"SCHEMA","stream":"c","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"name":{"type":["null","string"]},"s":{"type":["null","object"],"properties":{"x":{"type":["null","integer"]}}}EXTRA}}}""".Replace("EXTRA", extra);
        var run = await TempLake.RunAsync(lake.Pipeline("c", lake.WriteSinger("a.singer",
            Schema(""),
            """{"type":"RECORD","stream":"c","record":{"id":1,"name":"one","s":{"x":10}}}""",
            """{"type":"RECORD","stream":"c","record":{"id":2,"name":null}}""",
            Schema(""",  "k0":{"type":["null","integer"]}"""),
            """{"type":"RECORD","stream":"c","record":{"id":3,"k0":30,"s":{"x":null}}}""",
            Schema(""",  "k0":{"type":["null","integer"]},"k1":{"type":["null","string"]}"""),
            """{"type":"RECORD","stream":"c","record":{"id":4,"name":"four","k1":"x4"}}""")));
        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Single(lake.ParquetKeys());
        Assert.Equal([["1", "one", "10", null, null], ["2", null, null, null, null], ["3", null, null, "30", null], ["4", "four", null, null, "x4"]],
            lake.Query("select id, name, s.x, k0, k1 from read_parquet('{lake}/raw/test/c/*/*.parquet', union_by_name=true) order by id"));
        Assert.Equal(["id", "name", "s", "k0", "k1"], lake.Manifest().Tables["test/c"].Columns.Select(c => c.Name));

        // A column added inside a struct, or a column retyped, is no widening of the file: the rows so far get their own.
        using var other = new TempLake();
        run = await TempLake.RunAsync(other.Pipeline("c", other.WriteSinger("b.singer",
            Schema(""),
            """{"type":"RECORD","stream":"c","record":{"id":1,"s":{"x":1}}}""",
            Schema("").Replace("\"x\":{\"type\":[\"null\",\"integer\"]}", "\"x\":{\"type\":[\"null\",\"integer\"]},\"y\":{\"type\":[\"null\",\"integer\"]}"),
            """{"type":"RECORD","stream":"c","record":{"id":2,"s":{"x":2,"y":3}}}""",
            Schema("").Replace("\"name\":{\"type\":[\"null\",\"string\"]}", "\"name\":{\"type\":[\"null\",\"integer\"]}"),
            """{"type":"RECORD","stream":"c","record":{"id":3,"name":5}}""")));
        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Equal(3, other.ParquetKeys().Count);
        Assert.Equal([["1", "1", null], ["2", "2", "3"], ["3", null, null]],
            other.Query("select id, s.x, s.y from read_parquet('{lake}/raw/test/c/*/*.parquet', union_by_name=true) order by id"));
    }

    [Fact]
    public async Task A_SCHEMA_that_only_adds_a_nullable_column_extends_every_partition_s_open_file()
    {
        using var lake = new TempLake();
        static string Schema(string extra) =>
            """{"type":"SCHEMA","stream":"p","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"day":{"type":"string","format":"date-time"}EXTRA}}}""".Replace("EXTRA", extra);
        static string Row(int id, int day, string extra = "") =>
            $$$"""{"type":"RECORD","stream":"p","record":{"id":{{{id}}},"day":"2024-01-0{{{day}}}T10:00:00Z"{{{extra}}}}}""";
        var run = await TempLake.RunAsync(lake.Pipeline("p", lake.WriteSinger("a.singer",
            Schema(""), Row(1, 1), Row(2, 2), Row(3, 1),
            Schema(""","k":{"type":["null","integer"]}"""), Row(4, 2, ""","k":40"""), Row(5, 3, ""","k":50""")),
            p => p with { Destination = p.Destination with { PartitionBy = "day" } }));
        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Equal(3, lake.ParquetKeys().Count);
        Assert.Equal([["1", "2024-01-01", null], ["2", "2024-01-02", null], ["3", "2024-01-01", null], ["4", "2024-01-02", "40"], ["5", "2024-01-03", "50"]],
            lake.Query("select id, strftime(day, '%Y-%m-%d'), k from read_parquet('{lake}/raw/test/p/*/*.parquet', union_by_name=true) order by id"));
    }

    [Fact]
    public async Task A_column_the_tap_stops_sending_stays_in_the_manifest_while_earlier_files_hold_it()
    {
        using var lake = new TempLake();
        const string withNote = """{"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"note":{"type":"string"}}}}""";
        Assert.True((await TempLake.RunAsync(lake.Pipeline("orders", lake.WriteSinger("a.singer", withNote,
            """{"type":"RECORD","stream":"orders","record":{"id":1,"note":"kept"}}""")))).Succeeded);
        // The next run's tap no longer sends 'note' (a column dropped at the source) and adds 'tier'.
        Assert.True((await TempLake.RunAsync(lake.Pipeline("orders", lake.WriteSinger("b.singer",
            """{"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"tier":{"type":"string"}}}}""",
            """{"type":"RECORD","stream":"orders","record":{"id":2,"tier":"gold"}}""")))).Succeeded);

        // Every column a reader of the table's files finds is listed: 'note' as nullable (the new files have no values).
        var columns = lake.Manifest().Tables["test/orders"].Columns;
        Assert.Equal([("id", false), ("tier", true), ("note", true)], columns.Select(c => (c.Name, c.Nullable)));
        Assert.Equal([["1", "kept", null], ["2", null, "gold"]],
            lake.Query("select id, note, tier from read_parquet('{lake}/raw/test/orders/*/*.parquet', union_by_name=true) order by id"));

        // A full refresh replaces the files, and with them the columns only the earlier ones held.
        Assert.True((await TempLake.RunAsync(lake.Pipeline("orders", lake.WriteSinger("c.singer",
            """{"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"tier":{"type":"string"}}}}""",
            """{"type":"RECORD","stream":"orders","record":{"id":3,"tier":"basic"}}""")), full: true)).Succeeded);
        Assert.Equal(["id", "tier"], lake.Manifest().Tables["test/orders"].Columns.Select(c => c.Name));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_column_a_mid_run_schema_adds_and_drops_again_is_listed_while_a_file_of_the_run_holds_it(bool full)
    {
        // The run's middle file holds 'w'; the stream's last SCHEMA no longer declares it. Every file the run writes
        // contributes its columns, in a replace as in an append.
        using var lake = new TempLake();
        const string withoutW = """{"type":"SCHEMA","stream":"m","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"v":{"type":["null","integer"]}}}}""";
        const string withW = """{"type":"SCHEMA","stream":"m","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"v":{"type":["null","integer"]},"w":{"type":"string"}}}}""";
        var run = await TempLake.RunAsync(lake.Pipeline("m", lake.WriteSinger("a.singer",
            withoutW, """{"type":"RECORD","stream":"m","record":{"id":1,"v":10}}""",
            withW, """{"type":"RECORD","stream":"m","record":{"id":2,"v":20,"w":"w2"}}""",
            withoutW, """{"type":"RECORD","stream":"m","record":{"id":3,"v":30}}""")), full);
        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Equal([["1", "10", null], ["2", "20", "w2"], ["3", "30", null]],
            lake.Query("select id, v, w from read_parquet('{lake}/raw/test/m/*/*.parquet', union_by_name=true) order by id"));
        Assert.Equal([("id", false), ("v", true), ("w", true)], lake.Manifest().Tables["test/m"].Columns.Select(c => (c.Name, c.Nullable)));

        // A later append whose files lack 'w' keeps it: the earlier file still holds it.
        Assert.True((await TempLake.RunAsync(lake.Pipeline("m", lake.WriteSinger("b.singer", withoutW,
            """{"type":"RECORD","stream":"m","record":{"id":4,"v":40}}""")))).Succeeded);
        Assert.Equal(["id", "v", "w"], lake.Manifest().Tables["test/m"].Columns.Select(c => c.Name));
    }

    [Fact]
    public async Task A_column_whose_type_changes_mid_stream_or_between_runs_is_named_in_the_run_log()
    {
        // Files of one table then disagree on the column's type: readers that apply one schema to the table fail on some.
        using var lake = new TempLake();
        static string Schema(string type) =>
            """{"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"code":{"type":"TYPE"}}}}""".Replace("TYPE", type);
        static string Record(int id, string code) => $$$"""{"type":"RECORD","stream":"orders","record":{"id":{{{id}}},"code":{{{code}}}}}""";
        var first = await TempLake.RunAsync(lake.Pipeline("orders", lake.WriteSinger("a.singer", Schema("string"), Record(1, "\"a\""), Schema("integer"), Record(2, "7"))));
        Assert.True(first.Succeeded);
        Assert.Contains("stream 'orders': the SCHEMA at line 3 changes column(s) 'code' string -> int64; the files written before it keep the old type(s)", first.Log.Notices);

        var second = await TempLake.RunAsync(lake.Pipeline("orders", lake.WriteSinger("b.singer", Schema("string"), Record(3, "\"b\""))));
        Assert.True(second.Succeeded);
        Assert.Contains(second.Log.Notices, n => n.StartsWith("stream 'orders': column(s) 'code' int64 -> string since the table's earlier files, which keep the old type(s)", StringComparison.Ordinal));

        var third = await TempLake.RunAsync(lake.Pipeline("orders", lake.WriteSinger("c.singer", Schema("string"), Record(4, "\"c\""))));
        Assert.True(third.Succeeded);
        Assert.DoesNotContain(third.Log.Notices, n => n.Contains("'code'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Activate_version_with_a_new_version_replaces_and_the_same_version_appends()
    {
        using var lake = new TempLake();
        string[] Versioned(int from, int to, long version) => [.. Orders(from, to), $$"""{"type":"ACTIVATE_VERSION","stream":"orders","version":{{version}}}"""];
        Assert.True((await TempLake.RunAsync(lake.Pipeline("orders", lake.WriteSinger("a.singer", Versioned(1, 2, 100))))).Succeeded);
        Assert.True((await TempLake.RunAsync(lake.Pipeline("orders", lake.WriteSinger("b.singer", Versioned(3, 3, 100))))).Succeeded);
        Assert.Equal([["3"]], lake.Query("select count(*) from read_parquet('{lake}/raw/test/orders/*/*.parquet')"));
        Assert.Equal(100, lake.Manifest().Tables["test/orders"].TableVersion);
        Assert.True((await TempLake.RunAsync(lake.Pipeline("orders", lake.WriteSinger("c.singer", Versioned(7, 8, 200))))).Succeeded);
        Assert.Equal([["7"], ["8"]], lake.Query("select id from read_parquet('{lake}/raw/test/orders/*/*.parquet') order by id"));
        var table = lake.Manifest().Tables["test/orders"];
        Assert.Equal((200L, 2L, "replace"), (table.TableVersion!.Value, table.RowCount, table.WriteMode));
    }
}
