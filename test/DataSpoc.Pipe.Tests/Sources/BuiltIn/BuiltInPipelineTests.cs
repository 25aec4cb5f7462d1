using System.Globalization;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Sources.BuiltIn;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;
using Npgsql;
using Xunit;

namespace DataSpoc.Pipe.Tests.Sources.BuiltIn;

/// <summary>Built-in taps run in-process by the pipeline runner into a file:// lake, read back with DuckDB.</summary>
[Collection("postgres")]
public sealed class BuiltInPipelineTests(PostgresServer server) : IDisposable
{
    private readonly TempLake _lake = new();
    private readonly TapHarness _h = new();

    public void Dispose()
    {
        _lake.Dispose();
        _h.Dispose();
    }

    private PipelineDefinition Pipeline(string name, string tap, JsonObject config) =>
        _lake.BuiltInPipeline(name, tap, config) with { Incremental = new IncrementalSettings { Enabled = true } };

    private static Task<RunResult> RunAsync(PipelineDefinition pipeline) => TempLake.RunBuiltInAsync(pipeline);

    [Fact]
    public async Task A_csv_pipeline_lands_every_typed_value_in_parquet()
    {
        _h.Write("in/orders.csv",
            "id,amount,paid,day,created_at,note\n" +
            "1,10.50,true,2024-01-02,2024-01-02T10:00:00.123456Z,\"hello, \"\"world\"\"\"\n" +
            "2,3,false,2024-01-03,2024-01-03T11:30:00+02:00,ünïcode ✓\n" +
            "3,,,,,\n");
        await RunAsync(Pipeline("csv-orders", "csv", new JsonObject { ["path"] = _h.Path("in") }));

        var rows = _lake.Query("SELECT id, amount, paid, day::VARCHAR, created_at, note FROM read_parquet('{lake}/raw/csv/orders/*/*.parquet') ORDER BY id");
        Assert.Equal(3, rows.Count);
        Assert.Equal(["1", "10.5", "true", "2024-01-02", "2024-01-02 10:00:00.123456", "hello, \"world\""], rows[0]);
        Assert.Equal(["2", "3", "false", "2024-01-03", "2024-01-03 09:30:00.000000", "ünïcode ✓"], rows[1]);
        Assert.Equal(["3", null, null, null, null, null], rows[2]);
        var types = _lake.Query("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('{lake}/raw/csv/orders/*/*.parquet'))");
        Assert.Contains(["id", "BIGINT"], types);
        Assert.Contains(["paid", "BOOLEAN"], types);
        Assert.Contains(["day", "DATE"], types);
        Assert.Contains(types, t => t[0] == "created_at" && t[1]!.StartsWith("TIMESTAMP", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_second_incremental_csv_run_lands_only_the_new_file()
    {
        _h.Write("in/a.csv", "id\n1\n2\n");
        var pipeline = Pipeline("csv-inc", "csv", new JsonObject
        {
            ["path"] = _h.Path("in"),
            ["streams"] = new JsonArray(new JsonObject { ["name"] = "events", ["pattern"] = "*.csv" }),
        });
        await RunAsync(pipeline);
        _h.Write("in/b.csv", "id\n3\n");
        var second = await RunAsync(pipeline);
        Assert.Equal(1, second.Log.TotalRecords);
        var ids = _lake.Query("SELECT id FROM read_parquet('{lake}/raw/csv/events/*/*.parquet') ORDER BY id").Select(r => r[0]);
        Assert.Equal(["1", "2", "3"], ids);
    }

    [Fact]
    public async Task An_incremental_csv_pipeline_with_write_mode_replace_replaces_the_table_with_every_file_not_only_the_changed_ones()
    {
        _h.Write("in/a.csv", "id\n1\n2\n");
        _h.Write("in/b.csv", "id\n3\n");
        var pipeline = Pipeline("csv-replace", "csv", new JsonObject
        {
            ["path"] = _h.Path("in"),
            ["streams"] = new JsonArray(new JsonObject { ["name"] = "t", ["pattern"] = "*" }),
        });
        pipeline = pipeline with { Destination = pipeline.Destination with { WriteMode = WriteMode.Replace } };
        string Ids() => string.Join(",", _lake.Query("SELECT id FROM read_parquet('{lake}/raw/csv/t/*/*.parquet') ORDER BY id").Select(r => r[0]));
        await RunAsync(pipeline);
        Assert.Equal("1,2,3", Ids());
        _h.Write("in/b.csv", "id\n3\n4\n");
        var second = await RunAsync(pipeline);
        Assert.Equal("1,2,3,4", Ids());
        Assert.Equal("full", second.Log.Mode);
        Assert.DoesNotContain(second.Log.Notices, n => n.Contains("read again whole", StringComparison.Ordinal));
        _h.Write("in/c.csv", "id\n9\n");
        await RunAsync(pipeline);
        Assert.Equal("1,2,3,4,9", Ids());
    }

    [Fact]
    public async Task A_singer_tap_of_an_incremental_pipeline_with_write_mode_replace_gets_no_bookmark_so_the_table_keeps_every_row()
    {
        string[] Records(int to) => [.. new[] { """{"type":"SCHEMA","stream":"orders","schema":{"properties":{"id":{"type":"integer"}}},"key_properties":["id"]}""" }
            .Concat(Enumerable.Range(1, to).Select(i => $$$"""{"type":"RECORD","stream":"orders","record":{"id":{{{i}}}}}"""))];
        var file = _lake.WriteSinger("orders.singer", Records(2));
        var pipeline = _lake.Pipeline("singer-replace", file, p => p with { Destination = p.Destination with { WriteMode = WriteMode.Replace } },
            new JsonObject { ["incremental"] = true });
        Assert.True((await TempLake.RunAsync(pipeline)).Succeeded);
        _lake.WriteSinger("orders.singer", Records(3));
        var second = await TempLake.RunAsync(pipeline);
        Assert.True(second.Succeeded, second.Log.Error);
        Assert.Equal(3, second.Log.TotalRecords);
        Assert.Equal([["1"], ["2"], ["3"]], _lake.Query("SELECT id FROM read_parquet('{lake}/raw/test/orders/*/*.parquet') ORDER BY id"));
    }

    [Fact]
    public async Task A_postgres_incremental_stream_with_write_mode_replace_replaces_the_table_with_the_whole_table()
    {
        var db = await server.CreateDatabaseAsync(PostgresTapTests.AllTypes);
        Environment.SetEnvironmentVariable("DATASPOC_TEST_PG_PASSWORD", PostgresServer.Password);
        var pipeline = Pipeline("pg-replace", "postgres", new JsonObject
        {
            ["host"] = "127.0.0.1", ["port"] = server.Port, ["user"] = "postgres", ["password"] = "${DATASPOC_TEST_PG_PASSWORD}", ["dbname"] = db,
            ["filter_tables"] = new JsonArray("public.orders"),
            ["replication_keys"] = new JsonObject { ["public-orders"] = "id" },
        });
        pipeline = pipeline with { Destination = pipeline.Destination with { WriteMode = WriteMode.Replace } };
        await RunAsync(pipeline);
        await server.ExecuteAsync(db, "INSERT INTO orders (region, updated_at) VALUES ('us', '2024-06-01 00:00:00+00')");
        await RunAsync(pipeline);
        var expected = await QueryDatabaseAsync(db, "SELECT id FROM orders ORDER BY id");
        Assert.Equal(expected, _lake.Query("SELECT id FROM read_parquet('{lake}/raw/postgres/public-orders/*/*.parquet') ORDER BY id"));
    }

    [Fact]
    public async Task A_full_reload_of_a_merge_pipeline_keeps_the_row_of_the_newest_file_as_the_incremental_runs_did()
    {
        // day10.csv sorts before day9.csv by name, but arrived after it.
        var day9 = _h.Write("in/day9.csv", "id,v\n1,v_day9\n2,only9\n");
        File.SetLastWriteTimeUtc(day9, new DateTime(2026, 1, 9, 0, 0, 0, DateTimeKind.Utc));
        var pipeline = Pipeline("csv-merge-order", "csv", new JsonObject
        {
            ["path"] = _h.Path("in"),
            ["streams"] = new JsonArray(new JsonObject { ["name"] = "orders", ["pattern"] = "*", ["key_properties"] = new JsonArray("id") }),
        });
        pipeline = pipeline with { Destination = pipeline.Destination with { WriteMode = WriteMode.Merge } };
        string Rows() => string.Join(" ", _lake.Query("SELECT id, v FROM read_parquet('{lake}/raw/csv/orders/*/*.parquet') ORDER BY id").Select(r => $"{r[0]}={r[1]}"));
        await RunAsync(pipeline);
        var day10 = _h.Write("in/day10.csv", "id,v\n1,v_day10\n");
        File.SetLastWriteTimeUtc(day10, new DateTime(2026, 1, 10, 0, 0, 0, DateTimeKind.Utc));
        await RunAsync(pipeline);
        Assert.Equal("1=v_day10 2=only9", Rows());

        Assert.True(BuiltInTaps.TryGet("csv", out var tap));
        var full = await new PipelineRunner(new ObjectStoreFactory()).RunAsync(pipeline, new RunOptions { Source = new BuiltInSource(tap), Full = true }, CancellationToken.None);
        Assert.True(full.Succeeded, full.Log.Error);
        Assert.Equal("1=v_day10 2=only9", Rows());
    }

    [Theory]
    [InlineData("csv", "id\n1\n2\n", "id\n3\n")]
    [InlineData("jsonl", "{\"id\":1}\n{\"id\":2}\n", "{\"id\":3}\n")]
    public async Task An_incremental_file_run_with_no_new_file_succeeds_with_nothing_to_land_and_the_next_file_still_lands(string tap, string first, string later)
    {
        // Under cron most runs find no new file: that is not a failure.
        _h.Write($"in/a.{tap}", first);
        var pipeline = Pipeline($"{tap}-quiet", tap, new JsonObject
        {
            ["path"] = _h.Path("in"),
            ["streams"] = new JsonArray(new JsonObject { ["name"] = "events", ["pattern"] = $"*.{tap}" }),
        });
        await RunAsync(pipeline);
        var quiet = await RunAsync(pipeline);
        Assert.Equal(0, quiet.Log.TotalRecords);
        Assert.Contains("the source sent no stream: nothing new to land", quiet.Log.Notices);
        _h.Write($"in/b.{tap}", later);
        var next = await RunAsync(pipeline);
        Assert.Equal(1, next.Log.TotalRecords);
        Assert.Equal(["1", "2", "3"], _lake.Query($"SELECT id FROM read_parquet('{{lake}}/raw/{tap}/events/*/*.parquet') ORDER BY id").Select(r => r[0]));

        // A file that grew is read again whole, and the run log says what that does to an appended table.
        File.AppendAllText(_h.Path($"in/b.{tap}"), tap == "csv" ? "4\n" : "{\"id\":4}\n");
        var grown = await RunAsync(pipeline);
        Assert.Equal(2, grown.Log.TotalRecords);
        Assert.Contains($"stream 'events': {_h.Path($"in/b.{tap}")} changed since an earlier run read it and is read again whole: " +
                        "an appended table then holds its earlier rows twice (write_mode: merge with key_properties replaces them instead)", grown.Log.Notices);
    }

    [Theory]
    [InlineData("csv", "id,v\n1,x\n")]
    [InlineData("jsonl", "{\"id\":1,\"v\":\"x\"}\n")]
    public async Task Empty_files_land_nothing_and_fail_nothing(string tap, string content)
    {
        // An export with no rows is often an empty file: it has no columns, so its stream is not sent at all.
        _h.Write($"in/orders.{tap}", content);
        _h.Write($"in/returns.{tap}", "");
        var result = await RunAsync(Pipeline($"{tap}-empty", tap, new JsonObject { ["path"] = _h.Path("in") }));
        Assert.Equal(1, result.Log.TotalRecords);
        Assert.Equal([$"{tap}/orders"], _lake.Manifest().Tables.Keys.ToList());
        Assert.Contains($"stream 'returns': {_h.Path($"in/returns.{tap}")} hold(s) nothing (empty): nothing landed, and a table it has keeps its rows", result.Log.Notices);

        // Only empty files: nothing to land, and not a failure.
        using var onlyEmpty = new TempLake();
        var empty = Pipeline($"{tap}-only-empty", tap, new JsonObject { ["path"] = _h.Path($"in/returns.{tap}") }) with
        {
            Destination = new DestinationDefinition { Bucket = onlyEmpty.Bucket },
        };
        Assert.Equal(0, (await RunAsync(empty)).Log.TotalRecords);

        // Run as a standalone Singer tap, the notice goes where taps log: stderr.
        var (exit, _, stderr) = await _h.RunRawAsync(tap, new JsonObject { ["path"] = _h.Path("in") });
        Assert.Equal(0, exit);
        Assert.Contains($"NOTICE stream 'returns': {_h.Path($"in/returns.{tap}")} hold(s) nothing (empty)", stderr);
    }

    [Fact]
    public async Task Jsonl_records_without_properties_fail_the_run_rather_than_vanish()
    {
        // Unlike an empty file, `{}` lines are rows: with no column to hold them they are refused, never dropped quietly.
        _h.Write("in/nothing.jsonl", "{}\n{}\n");
        Assert.True(BuiltInTaps.TryGet("jsonl", out var tap));
        var result = await new PipelineRunner(new ObjectStoreFactory()).RunAsync(
            Pipeline("jsonl-nothing", "jsonl", new JsonObject { ["path"] = _h.Path("in") }), new RunOptions { Source = new BuiltInSource(tap) }, CancellationToken.None);
        Assert.False(result.Succeeded);
        Assert.Contains("stream 'nothing'", result.Log.Error);
        Assert.Contains("defines no columns", result.Log.Error);
    }

    [Fact]
    public async Task A_postgres_pipeline_lands_the_database_values_and_an_incremental_rerun_adds_only_new_rows()
    {
        var db = await server.CreateDatabaseAsync(PostgresTapTests.AllTypes);
        Environment.SetEnvironmentVariable("DATASPOC_TEST_PG_PASSWORD", PostgresServer.Password);
        var config = new JsonObject
        {
            ["host"] = "127.0.0.1", ["port"] = server.Port, ["user"] = "postgres", ["password"] = "${DATASPOC_TEST_PG_PASSWORD}", ["dbname"] = db,
            ["filter_tables"] = new JsonArray("public.orders", "public.all_types"),
            ["replication_keys"] = new JsonObject { ["public-orders"] = "id" },
        };
        var pipeline = Pipeline("pg", "postgres", config);
        await RunAsync(pipeline);

        // Every orders row, compared with what the database holds.
        var expected = await QueryDatabaseAsync(db, "SELECT id, region, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') FROM orders ORDER BY id");
        var landed = _lake.Query("SELECT id, region, updated_at FROM read_parquet('{lake}/raw/postgres/public-orders/*/*.parquet') ORDER BY id");
        Assert.Equal(expected, landed);

        var typed = _lake.Query("""
            SELECT id, small, big, price, exact, flag, name, uid::VARCHAR, day::VARCHAR, "at", at_tz, clock::VARCHAR, doc, docb, blob, tags::VARCHAR, scores::VARCHAR
            FROM read_parquet('{lake}/raw/postgres/public-all_types/*/*.parquet') ORDER BY id
            """);
        Assert.Equal(["1", "7", "9000000000", "1234.56", "1E-06", "true", "héllo \"q\"", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "2024-02-29",
            "2024-01-02 03:04:05.123456", "2024-01-02 01:04:05.500000", "13:14:15.000001", """{"a":[1,2]}""", """{"b":{"c":null}}""", "AAEC/w==", "[x, NULL, z]", "[1, 2]"], typed[0]);
        Assert.Equal("2", typed[1][0]);
        Assert.All(typed[1].Skip(3), v => Assert.Null(v));

        await server.ExecuteAsync(db, "INSERT INTO orders (region, updated_at) VALUES ('us', '2024-06-01 00:00:00+00')");
        var second = await RunAsync(pipeline);
        var ids = _lake.Query("SELECT id, count(*) FROM read_parquet('{lake}/raw/postgres/public-orders/*/*.parquet') GROUP BY id HAVING id >= 25 ORDER BY id");
        // Inclusive bookmark: row 25 (the previous bookmark) lands again, row 26 is new; nothing older is re-read.
        Assert.Equal([["25", "2"], ["26", "1"]], ids);
        Assert.Equal(2, second.Log.Streams["public-orders"].Records);
    }

    private async Task<List<List<string?>>> QueryDatabaseAsync(string db, string sql)
    {
        await using var connection = new NpgsqlConnection(server.ConnectionString(db));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<List<string?>>();
        while (await reader.ReadAsync())
            rows.Add(Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? null : Convert.ToString(reader.GetValue(i), CultureInfo.InvariantCulture)).ToList());
        return rows;
    }
}
