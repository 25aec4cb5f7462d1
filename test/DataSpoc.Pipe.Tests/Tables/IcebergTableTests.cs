using System.Buffers.Binary;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Parquet;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tables;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Tables;

public class IcebergTableTests
{
    private const string Schema =
        """{"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"name":{"type":["null","string"]},"at":{"type":["null","string"],"format":"date-time"}}}}""";

    private const string SchemaWithAmount =
        """{"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"amount":{"type":["null","number"]},"name":{"type":["null","string"]},"at":{"type":["null","string"],"format":"date-time"}}}}""";

    private static string[] Orders(int from, int to, string schema = Schema) =>
    [
        schema,
        .. Enumerable.Range(from, to - from + 1).Select(i =>
            "{\"type\":\"RECORD\",\"stream\":\"orders\",\"record\":{\"id\":" + i +
            ",\"name\":" + (i % 4 == 0 ? "null" : $"\"n{i}\"") +
            ",\"at\":\"2025-01-" + (10 + i % 5).ToString("D2") + "T08:00:00Z\"" +
            (schema == SchemaWithAmount ? $",\"amount\":{i}.5" : "") + "}}"),
    ];

    private static PipelineDefinition Iceberg(TempLake lake, string input, string partitionBy = PartitionBySettings.ExtractionDate) =>
        lake.Pipeline("orders", input, p => p with { Destination = p.Destination with { TableFormat = TableFormats.Iceberg, PartitionBy = partitionBy } });

    private static string TableDir(TempLake lake) => Path.Combine(lake.Root, "raw", "test", "orders");
    private static string TableUrl(TempLake lake) => "file://" + TableDir(lake);

    private static List<long> Ids(JsonObject read) => read["rows"]!.AsArray().Select(r => long.Parse(r!["id"]!.ToString())).Order().ToList();

    private static List<string> AvroFiles(TempLake lake) => Directory.GetFiles(Path.Combine(TableDir(lake), "metadata"), "*.avro").Order().ToList();

    [Fact]
    public void The_metadata_log_keeps_the_newest_100_earlier_versions_when_the_table_sets_no_limit()
    {
        var metadata = new JsonObject { ["location"] = "file:///lake/t", ["properties"] = new JsonObject(), ["metadata-log"] = new JsonArray() };
        for (var n = 1; n <= 150; n++) DataSpoc.Pipe.Tables.IcebergTable.AddToMetadataLog(metadata, $"file:///lake/t/metadata/v{n}.metadata.json", n);
        var log = metadata["metadata-log"]!.AsArray();
        Assert.Equal(DataSpoc.Pipe.Tables.IcebergTable.DefaultPreviousVersionsMax, log.Count);
        Assert.Equal("file:///lake/t/metadata/v51.metadata.json", log[0]!["metadata-file"]!.GetValue<string>());
        Assert.Equal(150, log[^1]!["timestamp-ms"]!.GetValue<long>());
        // Iceberg's writers keep at least one entry, whatever the property says; a value that is no number is an error naming it.
        metadata["properties"]![DataSpoc.Pipe.Tables.IcebergTable.PreviousVersionsMaxProperty] = "0";
        DataSpoc.Pipe.Tables.IcebergTable.AddToMetadataLog(metadata, "file:///lake/t/metadata/v151.metadata.json", 151);
        Assert.Single(metadata["metadata-log"]!.AsArray());
        metadata["properties"]![DataSpoc.Pipe.Tables.IcebergTable.PreviousVersionsMaxProperty] = "many";
        var error = Assert.Throws<DataSpoc.Pipe.Storage.StorageException>(() => DataSpoc.Pipe.Tables.IcebergTable.AddToMetadataLog(metadata, "x", 152));
        Assert.Contains("write.metadata.previous-versions-max is 'many'", error.Message);
    }

    [Fact]
    public async Task Stream_names_with_uri_delimiters_land_in_folders_icebird_reads_back_equal()
    {
        // Iceberg records locations as they are and readers parse them as URIs: '#' and '?' cut them, '%41' decodes to 'A'.
        using var lake = new TempLake();
        var streams = new (string Stream, string Table)[] { ("hash#x", "hash_x"), ("q?x=1", "q_x=1"), ("p%41ct", "p_41ct") };
        var lines = streams.SelectMany((s, n) => (string[])
        [
            Schema.Replace("\"orders\"", JsonValue.Create(s.Stream).ToJsonString()),
            .. Enumerable.Range(1, 3).Select(i => $$$"""{"type":"RECORD","stream":{{{JsonValue.Create(s.Stream).ToJsonString()}}},"record":{"id":{{{n * 10 + i}}},"name":"{{{s.Table}}}-{{{i}}}"}}"""),
        ]).ToArray();

        var run = await TempLake.RunAsync(lake.Pipeline("names", lake.WriteSinger("names", lines), p => p with { Destination = p.Destination with { TableFormat = TableFormats.Iceberg } }));

        Assert.True(run.Succeeded, run.Log.Error);
        foreach (var ((_, table), n) in streams.Select((s, n) => (s, n)))
        {
            var dir = Path.Combine(lake.Root, "raw", "test", table);
            var rows = TableReaders.Icebird("file://" + dir)["rows"]!.AsArray().Select(r => $"{r!["id"]}|{r["name"]}").Order().ToList();
            Assert.Equal(Enumerable.Range(1, 3).Select(i => $"{n * 10 + i}|{table}-{i}"), rows);
            var metadata = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "metadata", "v1.metadata.json")))!;
            Assert.Equal($"{lake.Bucket}/raw/test/{table}", metadata["location"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task Icebird_reads_the_source_rows_after_every_run_and_the_previous_metadata_file_returns_the_previous_rows()
    {
        using var lake = new TempLake();
        Assert.True((await TempLake.RunAsync(Iceberg(lake, lake.WriteSinger("a", Orders(1, 3))))).Succeeded);
        Assert.Equal([1, 2, 3], Ids(TableReaders.Icebird(TableUrl(lake))));

        Assert.True((await TempLake.RunAsync(Iceberg(lake, lake.WriteSinger("b", Orders(4, 6))))).Succeeded);
        Assert.Equal([1, 2, 3, 4, 5, 6], Ids(TableReaders.Icebird(TableUrl(lake))));
        Assert.Equal([1, 2, 3], Ids(TableReaders.Icebird(TableUrl(lake), "v1.metadata.json")));

        var full = await TempLake.RunAsync(Iceberg(lake, lake.WriteSinger("c", Orders(10, 11))), full: true);
        Assert.True(full.Succeeded, full.Log.Error);
        Assert.Equal([10, 11], Ids(TableReaders.Icebird(TableUrl(lake))));
        Assert.Equal([1, 2, 3, 4, 5, 6], Ids(TableReaders.Icebird(TableUrl(lake), "v2.metadata.json")));
        // The overwritten files stay on storage for the snapshots that still read them (until maintenance expires those).
        Assert.Equal(3, lake.ParquetKeys().Count);

        Assert.Equal("3", File.ReadAllText(Path.Combine(TableDir(lake), "metadata", "version-hint.text")));
        var metadata = JsonNode.Parse(File.ReadAllText(Path.Combine(TableDir(lake), "metadata", "v3.metadata.json")))!;
        Assert.Equal(2, metadata["format-version"]!.GetValue<int>());
        Assert.Equal(["append", "append", "overwrite"], metadata["snapshots"]!.AsArray().Select(s => s!["summary"]!["operation"]!.GetValue<string>()));
        Assert.Equal([1L, 2L, 3L], metadata["snapshots"]!.AsArray().Select(s => s!["sequence-number"]!.GetValue<long>()));
        Assert.Equal("6", metadata["snapshots"]![2]!["summary"]!["deleted-records"]!.GetValue<string>());
        Assert.Equal(2, metadata["metadata-log"]!.AsArray().Count);
        var entry = lake.Manifest().Tables["test/orders"];
        Assert.Equal(["iceberg"], entry.TableFormats);
        Assert.Equal(TableUrl(lake) + "/metadata/v3.metadata.json", entry.IcebergMetadata);
        Assert.Equal(2, entry.RowCount);
    }

    [Fact]
    public async Task An_append_adds_one_manifest_and_keeps_the_earlier_ones_byte_for_byte()
    {
        using var lake = new TempLake();
        Assert.True((await TempLake.RunAsync(Iceberg(lake, lake.WriteSinger("a", Orders(1, 3))))).Succeeded);
        var firstManifests = AvroFiles(lake).Select(f => (f, File.ReadAllBytes(f))).Where(x => !Path.GetFileName(x.f).StartsWith("snap-")).ToList();
        var manifest = Assert.Single(firstManifests);
        Assert.True((await TempLake.RunAsync(Iceberg(lake, lake.WriteSinger("b", Orders(4, 5))))).Succeeded);

        Assert.Equal(manifest.Item2, File.ReadAllBytes(manifest.f));
        var metadata = JsonNode.Parse(File.ReadAllText(Path.Combine(TableDir(lake), "metadata", "v2.metadata.json")))!;
        var listUri = metadata["snapshots"]![1]!["manifest-list"]!.GetValue<string>();
        var list = Assert.Single(TableReaders.AvroCheck([new Uri(listUri).LocalPath]))!;
        Assert.Equal("manifest_file", list["kind"]!.GetValue<string>());
        var paths = list["entries"]!.AsArray().Select(e => new Uri(e!["path"]!.GetValue<string>()).LocalPath).ToList();
        Assert.Equal(2, paths.Count);
        Assert.Contains(manifest.f, paths);
        Assert.Equal([1, 2], list["entries"]!.AsArray().Select(e => e!["sequence_number"]!.GetValue<int>()).Order());
    }

    [Fact]
    public async Task Every_manifest_and_manifest_list_is_valid_Avro_of_the_spec_schemas_with_footer_statistics()
    {
        using var lake = new TempLake();
        Assert.True((await TempLake.RunAsync(Iceberg(lake, lake.WriteSinger("a", Orders(1, 8))))).Succeeded);
        Assert.True((await TempLake.RunAsync(Iceberg(lake, lake.WriteSinger("b", Orders(9, 9))))).Succeeded);
        var checks = TableReaders.AvroCheck(AvroFiles(lake));
        Assert.Equal(4, checks.Count); // a manifest and a manifest list per run
        foreach (var check in checks.Select(c => c!))
            Assert.True(check["problems"]!.AsArray().Count == 0, check.ToJsonString());

        var metadata = JsonNode.Parse(File.ReadAllText(Path.Combine(TableDir(lake), "metadata", "v1.metadata.json")))!;
        var fields = metadata["schemas"]![0]!["fields"]!.AsArray().ToDictionary(f => f!["name"]!.GetValue<string>(), f => f!["id"]!.GetValue<int>());
        var first = checks.Select(c => c!.AsObject()).Single(c => c["kind"]!.GetValue<string>() == "manifest_entry" && c["records"]!.GetValue<int>() == 1
            && c["entries"]![0]!["records"]!.GetValue<int>() == 8);
        var file = first["entries"]![0]!;
        Assert.Equal(1, file["status"]!.GetValue<int>());
        var id = fields["id"].ToString();
        Assert.Equal(8, file["values"]![id]!.GetValue<int>());
        Assert.Equal(0, file["nulls"]![id]!.GetValue<int>());
        Assert.Equal(2, file["nulls"]![fields["name"].ToString()]!.GetValue<int>()); // ids 4 and 8
        Assert.Equal(1L, BinaryPrimitives.ReadInt64LittleEndian(Convert.FromHexString(file["lower"]![id]!.GetValue<string>())));
        Assert.Equal(8L, BinaryPrimitives.ReadInt64LittleEndian(Convert.FromHexString(file["upper"]![id]!.GetValue<string>())));
        Assert.Equal("n1", System.Text.Encoding.UTF8.GetString(Convert.FromHexString(file["lower"]![fields["name"].ToString()]!.GetValue<string>())));
        var at = fields["at"].ToString();
        Assert.Equal(new DateTimeOffset(2025, 1, 10, 8, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds() * 1000,
            BinaryPrimitives.ReadInt64LittleEndian(Convert.FromHexString(file["lower"]![at]!.GetValue<string>())));
        // Extraction-date partitioning is identity on _extraction_date: the file's partition tuple is the run's date.
        Assert.Equal(DateOnly.FromDateTime(DateTime.UtcNow).DayNumber - DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber,
            file["partition"]!["_extraction_date"]!.GetValue<int>());
    }

    [Fact]
    public async Task Parquet_files_carry_the_field_ids_of_the_Iceberg_schema()
    {
        using var lake = new TempLake();
        Assert.True((await TempLake.RunAsync(Iceberg(lake, lake.WriteSinger("a", Orders(1, 2))))).Succeeded);
        var metadata = JsonNode.Parse(File.ReadAllText(Path.Combine(TableDir(lake), "metadata", "v1.metadata.json")))!;
        var expected = metadata["schemas"]![0]!["fields"]!.AsArray()
            .Where(f => f!["name"]!.GetValue<string>() != "_extraction_date")
            .Select(f => $"{f!["name"]}={f["id"]}").ToList();
        var parquet = Path.Combine(lake.Root, lake.ParquetKeys().Single());
        var actual = lake.Query($"select name, field_id from parquet_schema('{parquet}') where name <> 'schema' order by name")
            .Select(r => $"{r[0]}={r[1]}").ToList();
        Assert.Equal(expected.Order(), actual.Order());
    }

    [Fact]
    public async Task A_new_column_is_a_new_schema_whose_old_ids_stay_and_old_rows_read_it_as_null()
    {
        using var lake = new TempLake();
        Assert.True((await TempLake.RunAsync(Iceberg(lake, lake.WriteSinger("a", Orders(1, 2))))).Succeeded);
        Assert.True((await TempLake.RunAsync(Iceberg(lake, lake.WriteSinger("b", Orders(3, 3, SchemaWithAmount))))).Succeeded);
        var read = TableReaders.Icebird(TableUrl(lake));
        Assert.Equal(["1:id", "5:amount", "2:name", "3:at", "4:_extraction_date"], read["schema"]!.AsArray().Select(f => f!.GetValue<string>()));
        var rows = read["rows"]!.AsArray().OrderBy(r => long.Parse(r!["id"]!.ToString())).ToList();
        Assert.Null(rows[0]!["amount"]);
        Assert.Equal(3.5, rows[2]!["amount"]!.GetValue<double>());
        var metadata = JsonNode.Parse(File.ReadAllText(Path.Combine(TableDir(lake), "metadata", "v2.metadata.json")))!;
        Assert.Equal(1, metadata["current-schema-id"]!.GetValue<int>());
        Assert.Equal(2, metadata["schemas"]!.AsArray().Count);
        Assert.Equal(5, metadata["last-column-id"]!.GetValue<int>());
    }

    [Fact]
    public async Task A_column_named_like_a_nested_path_gets_an_id_of_its_own_and_keeps_it_in_the_next_run()
    {
        // 'a.b' beside struct a's field b, 'tags[]' beside list tags' element: the same types, so only the path tells them apart.
        const string schema = """{"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"a":{"type":["null","object"],"properties":{"b":{"type":["null","integer"]}}},"a.b":{"type":["null","integer"]},"tags":{"type":["null","array"],"items":{"type":"integer"}},"tags[]":{"type":["null","integer"]}}}}""";
        static string Record(int id) => "{\"type\":\"RECORD\",\"stream\":\"orders\",\"record\":{\"id\":" + id + ",\"a\":{\"b\":7},\"a.b\":99,\"tags\":[5],\"tags[]\":42}}";
        using var lake = new TempLake();
        Assert.True((await TempLake.RunAsync(Iceberg(lake, lake.WriteSinger("a", schema, Record(1)), PartitionBySettings.None))).Succeeded);

        static List<int> AllIds(JsonNode type) => type switch
        {
            JsonObject { } o when (string)o["type"]! == "struct" => [.. o["fields"]!.AsArray().SelectMany(f => (List<int>)[f!["id"]!.GetValue<int>(), .. AllIds(f["type"]!)])],
            JsonObject { } o when (string)o["type"]! == "list" => [o["element-id"]!.GetValue<int>(), .. AllIds(o["element"]!)],
            _ => [],
        };
        List<int> CurrentIds(string version)
        {
            var metadata = JsonNode.Parse(File.ReadAllText(Path.Combine(TableDir(lake), "metadata", version)))!;
            return AllIds(metadata["schemas"]!.AsArray().Single(x => x!["schema-id"]!.GetValue<int>() == metadata["current-schema-id"]!.GetValue<int>())!);
        }
        var ids = CurrentIds("v1.metadata.json");
        Assert.Equal(ids.Count, ids.Distinct().Count()); // the spec: every id unique in the table schema
        var fileIds = lake.Query("SELECT field_id::VARCHAR FROM parquet_schema('{lake}/raw/test/orders/*.parquet') WHERE field_id IS NOT NULL").Select(r => r[0]).ToList();
        Assert.Equal(fileIds.Count, fileIds.Distinct().Count());
        // Read by field id, as the spec projects data files (icebird's Parquet reader keys columns by their dotted path: it cannot).
        var metadata = JsonNode.Parse(File.ReadAllText(Path.Combine(TableDir(lake), "metadata", "v1.metadata.json")))!;
        var top = metadata["schemas"]![0]!["fields"]!.AsArray().ToDictionary(f => (string)f!["name"]!, f => f!["id"]!.GetValue<int>());
        var byId = lake.Query("SELECT a_b, tags_x, b.b, t[1] FROM read_parquet('{lake}/raw/test/orders/*.parquet', schema = MAP {" +
            $"{top["a.b"]}: {{name: 'a_b', type: 'BIGINT', default_value: NULL}}, {top["tags[]"]}: {{name: 'tags_x', type: 'BIGINT', default_value: NULL}}, " +
            $"{top["a"]}: {{name: 'b', type: 'STRUCT(b BIGINT)', default_value: NULL}}, {top["tags"]}: {{name: 't', type: 'BIGINT[]', default_value: NULL}}}})");
        Assert.Equal([["99", "42", "7", "5"]], byId);

        // The next run finds every column's id in the table's schema again.
        Assert.True((await TempLake.RunAsync(Iceberg(lake, lake.WriteSinger("b", schema, Record(2)), PartitionBySettings.None))).Succeeded);
        Assert.Equal(ids, CurrentIds("v2.metadata.json"));
        Assert.Equal(2, lake.Query("SELECT DISTINCT file_name FROM parquet_schema('{lake}/raw/test/orders/*.parquet')").Count);
        Assert.Single(lake.Query("SELECT DISTINCT list(field_id ORDER BY name, field_id) FROM parquet_schema('{lake}/raw/test/orders/*.parquet') WHERE field_id IS NOT NULL GROUP BY file_name"));
    }

    [Fact]
    public async Task A_column_whose_type_changes_reads_as_null_in_earlier_rows_and_the_run_log_says_so()
    {
        using var lake = new TempLake();
        Assert.True((await TempLake.RunAsync(Iceberg(lake, lake.WriteSinger("a", Orders(1, 2))))).Succeeded);
        var nameAsInteger = Schema.Replace("\"name\":{\"type\":[\"null\",\"string\"]}", "\"name\":{\"type\":[\"null\",\"integer\"]}", StringComparison.Ordinal);
        var second = await TempLake.RunAsync(Iceberg(lake, lake.WriteSinger("b", nameAsInteger,
            """{"type":"RECORD","stream":"orders","record":{"id":3,"name":42,"at":"2025-01-12T08:00:00Z"}}""")));
        Assert.True(second.Succeeded, second.Log.Error);

        // What the notice says: the current schema's 'name' has an id no earlier file holds, and the spec projects data
        // files by field id, so a conforming reader reads null there. (icebird matches by name and shows "n1": it does not.)
        var metadata = JsonNode.Parse(File.ReadAllText(Path.Combine(TableDir(lake), "metadata", "v2.metadata.json")))!;
        var current = metadata["schemas"]!.AsArray().Single(x => x!["schema-id"]!.GetValue<int>() == metadata["current-schema-id"]!.GetValue<int>())!;
        var nameField = current["fields"]!.AsArray().Single(f => (string)f!["name"]! == "name")!;
        Assert.Equal("long", (string)nameField["type"]!);
        var fileIds = lake.Query("SELECT file_name, field_id::VARCHAR FROM parquet_schema('{lake}/raw/test/orders/**/*.parquet') WHERE name = 'name' ORDER BY file_name");
        Assert.Equal(2, fileIds.Count);
        Assert.Equal(["2", nameField["id"]!.ToString()], fileIds.Select(r => r[1]!).Order(StringComparer.Ordinal).ToList());
        Assert.NotEqual("2", nameField["id"]!.ToString());
        Assert.Contains(second.Log.Notices, n => n.StartsWith("stream 'orders': column(s) 'name' string -> int64 since the table's earlier files: the Iceberg table takes each as a new column", StringComparison.Ordinal)
            && n.Contains("read it as null in the earlier rows", StringComparison.Ordinal));
        Assert.DoesNotContain(second.Log.Notices, n => n.Contains("Spark, Athena", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_date_time_partition_column_is_a_day_partition_and_no_partitioning_an_unpartitioned_spec()
    {
        using var lake = new TempLake();
        Assert.True((await TempLake.RunAsync(Iceberg(lake, lake.WriteSinger("a", Orders(1, 5)), partitionBy: "at"))).Succeeded);
        var metadata = JsonNode.Parse(File.ReadAllText(Path.Combine(TableDir(lake), "metadata", "v1.metadata.json")))!;
        var spec = metadata["partition-specs"]![0]!["fields"]![0]!;
        Assert.Equal(("day", 1000, 3), (spec["transform"]!.GetValue<string>(), spec["field-id"]!.GetValue<int>(), spec["source-id"]!.GetValue<int>()));
        Assert.Equal([1, 2, 3, 4, 5], Ids(TableReaders.Icebird(TableUrl(lake))));
        var manifests = TableReaders.AvroCheck(AvroFiles(lake)).Where(c => c!["kind"]!.GetValue<string>() == "manifest_entry").ToList();
        Assert.Equal(5, Assert.Single(manifests)!["entries"]!.AsArray().Count); // one file per day

        using var flat = new TempLake();
        Assert.True((await TempLake.RunAsync(Iceberg(flat, flat.WriteSinger("a", Orders(1, 2)), partitionBy: PartitionBySettings.None))).Succeeded);
        var flatMetadata = JsonNode.Parse(File.ReadAllText(Path.Combine(TableDir(flat), "metadata", "v1.metadata.json")))!;
        Assert.Empty(flatMetadata["partition-specs"]![0]!["fields"]!.AsArray());
        Assert.Equal([1, 2], Ids(TableReaders.Icebird(TableUrl(flat))));
    }

    [Fact]
    public async Task Appends_merges_and_compaction_keep_the_manifest_list_small_without_manifests_of_only_deleted_files_and_every_reader_sees_the_same_rows()
    {
        using var lake = new TempLake();
        var rows = new SortedDictionary<long, string>(); // id -> name: what the table must read
        PipelineDefinition Merge(int run, IEnumerable<int> ids)
        {
            var records = ids.Select(i =>
            {
                rows[i] = $"n{i}-r{run}";
                return "{\"type\":\"RECORD\",\"stream\":\"orders\",\"record\":{\"id\":" + i + ",\"name\":\"" + rows[i] + "\",\"at\":\"2025-01-" + (10 + i % 3) + "T08:00:00Z\"}}";
            }).ToArray();
            return lake.Pipeline("orders", lake.WriteSinger("r" + run, [Schema, .. records]), p => p with
            {
                Destination = p.Destination with { TableFormat = TableFormats.Iceberg, PartitionBy = "at", WriteMode = WriteMode.Merge },
            });
        }
        List<string> Expected() => [.. rows.Select(r => $"{r.Key}|{r.Value}").Order(StringComparer.Ordinal)];
        List<string> Icebird(string? metadataFile = null) =>
            [.. TableReaders.Icebird(TableUrl(lake), metadataFile)["rows"]!.AsArray().Select(r => $"{r!["id"]}|{r["name"]}").Order(StringComparer.Ordinal)];
        var metadataDir = Path.Combine(TableDir(lake), "metadata");
        long CurrentVersion() => long.Parse(File.ReadAllText(Path.Combine(metadataDir, "version-hint.text")));
        JsonObject Metadata() => JsonNode.Parse(File.ReadAllText(Path.Combine(metadataDir, $"v{CurrentVersion()}.metadata.json")))!.AsObject();
        var commit = new TableMetadataCommit { Prefix = "raw/test/orders/", Location = TableUrl(lake) };
        await using var store = new ObjectStoreFactory().Open(lake.Bucket);

        // Our own reader (a merge's, and maintain's): the current snapshot's live files, read by DuckDB.
        async Task<List<string>> OwnReader()
        {
            var keys = await new IcebergTable(store, TimeProvider.System).LiveDataFileKeysAsync(commit, CancellationToken.None);
            return [.. lake.Query($"select id, name from read_parquet([{string.Join(',', keys.Select(k => $"'{lake.Root}/{k}'"))}])").Select(r => $"{r[0]}|{r[1]}").Order(StringComparer.Ordinal)];
        }

        // The current snapshot's manifest list, checked against its manifests and the spec; returns how many manifests it has.
        int CheckManifestList()
        {
            var metadata = Metadata();
            var snapshot = IcebergTable.CurrentSnapshot(metadata)!;
            var snapshotId = snapshot["snapshot-id"]!.GetValue<long>();
            var list = IcebergManifests.ReadList(File.ReadAllBytes(new Uri(snapshot["manifest-list"]!.GetValue<string>()).LocalPath), "list");
            long liveRows = 0;
            foreach (var row in list)
            {
                var bytes = File.ReadAllBytes(new Uri(row.Path).LocalPath);
                var entries = IcebergManifests.ReadEntries(bytes, row, row.Path);
                Assert.Equal((row.AddedFiles, row.ExistingFiles, row.DeletedFiles, row.AddedRows, row.ExistingRows, row.DeletedRows),
                    (entries.Count(e => e.Status == 1), entries.Count(e => e.Status == 0), entries.Count(e => e.Status == 2),
                     entries.Where(e => e.Status == 1).Sum(e => e.File.Records), entries.Where(e => e.Status == 0).Sum(e => e.File.Records), entries.Where(e => e.Status == 2).Sum(e => e.File.Records)));
                // DELETED entries belong to the snapshot that deleted them only.
                Assert.True(row.AddedFiles + row.ExistingFiles > 0 || row.AddedSnapshotId == snapshotId, $"{row.Path} has no live file and was carried into snapshot {snapshotId}");
                Assert.All(entries.Where(e => e.Status == 2), e => Assert.Equal(snapshotId, e.SnapshotId));
                // The spec: only ADDED entries may inherit their snapshot id and sequence numbers.
                foreach (var raw in AvroReader.Read(bytes, row.Path).Records.Cast<Dictionary<string, object?>>().Where(e => (int)e["status"]! != 1))
                    Assert.True(raw["snapshot_id"] is long && raw["sequence_number"] is long && raw["file_sequence_number"] is long, row.Path);
                var partition = Assert.Single(row.Partitions!);
                var days = entries.Select(e => IcebergManifests.DaysSinceEpoch(e.File.PartitionDate!.Value)).ToList();
                Assert.Equal((days.Min(), days.Max()), (BitConverter.ToInt32(partition.Lower), BitConverter.ToInt32(partition.Upper)));
                liveRows += row.AddedRows + row.ExistingRows;
            }
            Assert.Equal(long.Parse(snapshot["summary"]!["total-records"]!.GetValue<string>()), liveRows);
            Assert.Equal(rows.Count, liveRows);
            foreach (var check in TableReaders.AvroCheck(list.Select(r => new Uri(r.Path).LocalPath)).Select(c => c!))
                Assert.True(check["problems"]!.AsArray().Count == 0, check.ToJsonString());
            return list.Count;
        }

        var first = await TempLake.RunAsync(Merge(1, Enumerable.Range(1, 6)));
        Assert.True(first.Succeeded, first.Log.Error);
        // The table merges its manifests once a list would hold 4 (Iceberg's table property, as an engine sets it: a new version).
        var withProperty = Metadata();
        withProperty["properties"]!["commit.manifest.min-count-to-merge"] = "4";
        File.WriteAllText(Path.Combine(metadataDir, $"v{CurrentVersion() + 1}.metadata.json"), withProperty.ToJsonString());
        File.WriteAllText(Path.Combine(metadataDir, "version-hint.text"), (CurrentVersion() + 1).ToString());

        // Runs that append two rows and update one or two earlier ones (each rewrites files, marking them DELETED).
        for (var run = 2; run <= 12; run++)
        {
            var result = await TempLake.RunAsync(Merge(run, [(int)rows.Keys.Max() + 1, (int)rows.Keys.Max() + 2, .. run % 3 == 0 ? new[] { run - 1, 1 } : [run - 1]]));
            Assert.True(result.Succeeded, result.Log.Error);
            Assert.InRange(CheckManifestList(), 1, 3);
        }
        Assert.Equal("overwrite", IcebergTable.CurrentSnapshot(Metadata())!["summary"]!["operation"]!.GetValue<string>());
        var beforeCompaction = Icebird();
        Assert.Equal(Expected(), beforeCompaction);
        Assert.Equal(Expected(), await OwnReader());

        // maintain --compact leaves one manifest (its new files ADDED, the rewritten ones DELETED, the rest EXISTING).
        var compactedAt = DateTimeOffset.UtcNow;
        await Task.Delay(200);
        await using (var runLock = await RunLock.AcquireAsync(store, "orders", "compact-test", TimeProvider.System, CancellationToken.None))
            Assert.True(Assert.Single(await new TableCompaction(store, TimeProvider.System).RunAsync("orders", Compression.Zstd, 128L * 1024 * 1024, new WriteLimits(), CancellationToken.None)).WrittenFiles > 0);
        Assert.Equal(1, CheckManifestList());
        var compactedVersion = CurrentVersion();
        var atCompaction = Expected();
        Assert.Equal(atCompaction, Icebird());
        Assert.Equal(atCompaction, await OwnReader());

        var last = await TempLake.RunAsync(Merge(13, [100, 2]));
        Assert.True(last.Succeeded, last.Log.Error);
        // The new files' manifest and the compaction's rewritten: the compaction's DELETED entries are left out.
        Assert.Equal(2, CheckManifestList());

        // Expiry of every snapshot before the compaction deletes every manifest and list no kept snapshot lists.
        var expired = Assert.Single(await new TableMaintenance(store, TimeProvider.System).RunAsync("orders", DateTimeOffset.UtcNow - compactedAt, CancellationToken.None));
        Assert.Equal(2, expired.KeptSnapshots);
        var kept = new HashSet<string>();
        foreach (var snapshot in Metadata()["snapshots"]!.AsArray())
        {
            var listPath = new Uri(snapshot!["manifest-list"]!.GetValue<string>()).LocalPath;
            kept.Add(listPath);
            kept.UnionWith(IcebergManifests.ReadList(File.ReadAllBytes(listPath), "list").Select(r => new Uri(r.Path).LocalPath));
        }
        Assert.Equal(kept.Order(StringComparer.Ordinal), AvroFiles(lake).Order(StringComparer.Ordinal));
        Assert.Equal(Expected(), Icebird());
        Assert.Equal(Expected(), await OwnReader());
        // Time travel to the kept compaction snapshot still reads its rows.
        Assert.Equal(atCompaction, Icebird($"v{compactedVersion}.metadata.json"));
    }

    /// <summary>The newest metadata file's partition-spec source ids its current schema lacks (Java Iceberg refuses to load such a table).</summary>
    private static List<int> UnboundSpecSources(TempLake lake)
    {
        var newest = Directory.GetFiles(Path.Combine(TableDir(lake), "metadata"), "v*.metadata.json")
            .MaxBy(f => int.Parse(Path.GetFileName(f)[1..^".metadata.json".Length]))!;
        var metadata = JsonNode.Parse(File.ReadAllText(newest))!;
        var current = metadata["schemas"]!.AsArray().Single(x => x!["schema-id"]!.GetValue<int>() == metadata["current-schema-id"]!.GetValue<int>())!;
        var ids = current["fields"]!.AsArray().Select(f => f!["id"]!.GetValue<int>()).ToHashSet();
        return [.. metadata["partition-specs"]!.AsArray().SelectMany(s => s!["fields"]!.AsArray()).Select(f => f!["source-id"]!.GetValue<int>()).Where(id => !ids.Contains(id))];
    }

    [Fact]
    public async Task A_full_refresh_to_no_partitioning_drops_the_old_spec_whose_source_column_the_schema_no_longer_has()
    {
        using var lake = new TempLake();
        Assert.True((await TempLake.RunAsync(Iceberg(lake, lake.WriteSinger("a", Orders(1, 2))))).Succeeded);
        var full = await TempLake.RunAsync(Iceberg(lake, lake.WriteSinger("b", Orders(3, 4)), partitionBy: PartitionBySettings.None), full: true);
        Assert.True(full.Succeeded, full.Log.Error);

        // Spec 0 was identity(_extraction_date), a column the unpartitioned table no longer has.
        Assert.Empty(UnboundSpecSources(lake));
        Assert.Equal([3, 4], Ids(TableReaders.Icebird(TableUrl(lake))));
    }

    [Fact]
    public async Task An_append_changing_the_partition_columns_type_is_refused_before_anything_is_written_and_a_full_refresh_takes_it()
    {
        using var lake = new TempLake();
        const string dateSchema =
            """{"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"at":{"type":["null","string"],"format":"date"}}}}""";
        string[] DateOrders(params int[] ids) => [dateSchema, .. ids.Select(i => "{\"type\":\"RECORD\",\"stream\":\"orders\",\"record\":{\"id\":" + i + ",\"at\":\"2025-01-1" + i + "\"}}")];
        Assert.True((await TempLake.RunAsync(Iceberg(lake, lake.WriteSinger("a", Orders(1, 2)), partitionBy: "at"))).Succeeded);
        List<string> TableKeys() => [.. lake.Keys().Where(k => k.StartsWith("raw/", StringComparison.Ordinal)).Order(StringComparer.Ordinal)];
        var keys = TableKeys();

        var refused = await TempLake.RunAsync(Iceberg(lake, lake.WriteSinger("b", DateOrders(3)), partitionBy: "at"));
        Assert.False(refused.Succeeded);
        Assert.StartsWith($"stream 'orders': the Iceberg table {lake.Bucket}/raw/test/orders keeps 2 live data file(s) partitioned by column(s) 'at' timestamptz -> date:", refused.Log.Error);
        Assert.Contains("run --full", refused.Log.Error, StringComparison.Ordinal);
        Assert.Equal(keys, TableKeys());
        Assert.Empty(UnboundSpecSources(lake));

        var full = await TempLake.RunAsync(Iceberg(lake, lake.WriteSinger("c", DateOrders(3, 4)), partitionBy: "at"), full: true);
        Assert.True(full.Succeeded, full.Log.Error);
        Assert.Empty(UnboundSpecSources(lake));
        var read = TableReaders.Icebird(TableUrl(lake));
        Assert.Equal([3, 4], Ids(read));
    }
}
