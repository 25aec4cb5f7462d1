using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Sources.BuiltIn;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;
using DuckDB.NET.Data;
using Xunit;

namespace DataSpoc.Pipe.Tests.Sources.BuiltIn;

public sealed class ParquetTapTests : IDisposable
{
    private readonly TapHarness _h = new();

    public void Dispose() => _h.Dispose();

    /// <summary>Writes a Parquet file with DuckDB (an independent writer) from a query.</summary>
    private static void WriteWithDuckDb(string path, string select)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var conn = new DuckDBConnection("DataSource=:memory:");
        conn.Open();
        using var cmd = conn.CreateCommand();
        cmd.CommandText = $"SET TimeZone='UTC'; COPY ({select}) TO '{path}' (FORMAT parquet)";
        cmd.ExecuteNonQuery();
    }

    [Fact]
    public async Task A_negative_zero_double_prints_as_minus_0_0_which_python_reads_as_a_float_with_its_sign()
    {
        // Printed as -0 before, which Python's json (every singer-python target) reads as the integer 0: sign and type lost.
        WriteWithDuckDb(_h.Path("in/zeros.parquet"), "SELECT 1 AS id, '-0.0'::DOUBLE AS d, ['-0.0'::DOUBLE, 2.5, 1.0] AS ds, 0.0::DOUBLE AS z");
        var output = await _h.SyncAsync("parquet", new JsonObject { ["path"] = _h.Path("in") });
        var line = output.Lines.Single(l => l.Contains("\"RECORD\"", StringComparison.Ordinal));
        Assert.Contains("\"d\":-0.0,\"ds\":[-0.0,2.5,1],\"z\":0}", line);
        Assert.True(double.IsNegative(output.Records("zeros").Single()["d"]!.GetValue<double>()));
    }

    [Fact]
    public async Task Parquet_tap_maps_the_parquet_schema_and_reads_every_value_back_including_nested_ones()
    {
        WriteWithDuckDb(_h.Path("in/things.parquet"), """
            SELECT * FROM (VALUES
              (1::BIGINT, 5::SMALLINT, 7::UTINYINT, 1.5::DOUBLE, 12.34::DECIMAL(10,2), 123456789012.345678::DECIMAL(30,6), 'héllo'::VARCHAR, true,
               TIMESTAMP '2024-01-02 03:04:05.123456', TIMESTAMPTZ '2024-01-02 03:04:05+02', DATE '2024-02-29', TIME '13:14:15.5',
               {'x': 1, 'y': 'q'}, [1, NULL, 3], [{'k': 'a'}, NULL], MAP {'a': 1}, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::UUID, '\x00\x01'::BLOB),
              (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, [], NULL, NULL, NULL, NULL)
            ) t(id, small, tiny, dbl, price, big_dec, name, flag, "at", at_tz, day, clock, s, ints, structs, m, uid, blob)
            """);
        var output = await _h.SyncAsync("parquet", new JsonObject { ["path"] = _h.Path("in") });
        var p = output.Schemas["things"]["properties"]!;
        Assert.Equal("""{"type":["null","integer"]}""", SingerOutput.Json(p["id"]));
        Assert.Equal("""{"type":["null","number"],"multipleOf":0.01}""", SingerOutput.Json(p["price"]));
        Assert.Equal("""{"type":["null","number"],"multipleOf":0.000001}""", SingerOutput.Json(p["big_dec"]));
        Assert.Equal("""{"type":["null","string"],"format":"date-time"}""", SingerOutput.Json(p["at"]));
        Assert.Equal("""{"type":["null","string"],"format":"date"}""", SingerOutput.Json(p["day"]));
        Assert.Equal("""{"type":["null","string"],"format":"time"}""", SingerOutput.Json(p["clock"]));
        Assert.Equal("""{"type":["null","object"],"properties":{"x":{"type":["null","integer"]},"y":{"type":["null","string"]}}}""", SingerOutput.Json(p["s"]));
        Assert.Equal("""{"type":["null","array"],"items":{"type":["null","integer"]}}""", SingerOutput.Json(p["ints"]));
        Assert.Equal("""{"type":["null","string"],"contentEncoding":"base64"}""", SingerOutput.Json(p["blob"]));

        var rows = output.Records("things").ToList();
        Assert.Equal("""
            {"id":1,"small":5,"tiny":7,"dbl":1.5,"price":12.34,"big_dec":123456789012.345678,"name":"héllo","flag":true,"at":"2024-01-02T03:04:05.123456Z","at_tz":"2024-01-02T01:04:05.000000Z","day":"2024-02-29","clock":"13:14:15.500000","s":{"x":1,"y":"q"},"ints":[1,null,3],"structs":[{"k":"a"},null],"m":[{"key":"a","value":1}],"uid":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","blob":"AAE="}
            """, SingerOutput.Json(rows[0]));
        Assert.Equal("""
            {"id":2,"small":null,"tiny":null,"dbl":null,"price":null,"big_dec":null,"name":null,"flag":null,"at":null,"at_tz":null,"day":null,"clock":null,"s":null,"ints":[],"structs":null,"m":null,"uid":null,"blob":null}
            """, SingerOutput.Json(rows[1]));
    }

    [Fact]
    public async Task A_lake_table_folder_is_read_back_as_one_stream_and_only_new_files_are_read_on_the_next_run()
    {
        using var lake = new TempLake();
        var csv = _h.Write("csv/orders.csv", "id,total,at\n1,9.5,2024-01-01T00:00:00Z\n2,10,2024-01-02T00:00:00Z\n");
        var pipeline = new PipelineDefinition
        {
            Name = "raw",
            Source = new SourceDefinition { Tap = "csv", InlineConfig = new JsonObject { ["path"] = csv } },
            Destination = new DestinationDefinition { Bucket = lake.Bucket },
        };
        var runner = new PipelineRunner(new ObjectStoreFactory());
        var run = await runner.RunAsync(pipeline, new RunOptions { Source = new BuiltInSource(new CsvTap()) }, CancellationToken.None);
        Assert.True(run.Succeeded, run.Log.Error);

        var config = new JsonObject { ["path"] = $"{lake.Bucket}/raw/csv/orders/" };
        var first = await _h.SyncAsync("parquet", config);
        Assert.Equal(["orders"], first.RecordStreams);
        Assert.Equal(["""{"id":1,"total":9.5,"at":"2024-01-01T00:00:00.000000Z"}""", """{"id":2,"total":10,"at":"2024-01-02T00:00:00.000000Z"}"""],
            first.Records("orders").Select(SingerOutput.Json));

        var again = await _h.SyncAsync("parquet", config, first.LastState);
        Assert.Empty(again.RecordStreams);

        WriteWithDuckDb(Path.Combine(lake.Root, "raw/csv/orders/dt=2030-01-01/orders_0000.parquet"), "SELECT 3::BIGINT AS id, 1.0::DOUBLE AS total, TIMESTAMPTZ '2030-01-01 00:00:00+00' AS \"at\"");
        var next = await _h.SyncAsync("parquet", config, first.LastState);
        Assert.Equal([3L], next.Records("orders").Select(r => (long)r["id"]!));
    }

    [Fact]
    public async Task A_file_that_is_not_parquet_fails_naming_it()
    {
        var bad = _h.Write("in/bad.parquet", "not parquet at all");
        var stderr = await _h.FailAsync("parquet", new JsonObject { ["path"] = bad });
        Assert.Contains($"{bad} is not a readable Parquet file: Invalid: Parquet magic bytes not found in footer", stderr);
        Assert.DoesNotContain("N7parquet", stderr);
    }

    [Fact]
    public async Task A_file_damaged_after_its_first_row_groups_fails_naming_the_file_and_row_group_without_a_stack_trace()
    {
        // 4 KiB cut out of the middle: the footer is intact, so the file opens, and every column chunk past the cut
        // is read at the wrong offset.
        var path = _h.Path("in/damaged.parquet");
        WriteWithDuckDb(path, "SELECT i::BIGINT AS id, 'name ' || i AS name FROM range(100000) t(i)");
        var bytes = File.ReadAllBytes(path);
        var cut = bytes.Length / 2;
        File.WriteAllBytes(path, [.. bytes[..cut], .. bytes[(cut + 4096)..]]);
        var stderr = await _h.FailAsync("parquet", new JsonObject { ["path"] = path });
        Assert.Matches($@"^parquet tap: {System.Text.RegularExpressions.Regex.Escape(path)} row group \d+( row \d+ column '(id|name)')?: the file is damaged: \S", stderr);
        Assert.DoesNotContain("N7parquet", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Fact]
    public async Task Part_files_of_spark_duckdb_and_hive_are_one_stream_per_table_folder_and_loose_table_files_keep_their_names()
    {
        var one = _h.Path("one.parquet");
        WriteWithDuckDb(one, "SELECT 1::BIGINT AS id");
        foreach (var part in new[]
                 {
                     "spark/orders/part-00000-3f2a9c1e-0b1d-4c55-9e1a-7d2b8c9f0a11-c000.snappy.parquet", "spark/orders/part-00001-3f2a9c1e-0b1d-4c55-9e1a-7d2b8c9f0a11-c000.snappy.parquet",
                     "spark/customers/part-00000-9a8b7c6d-1e2f-4a5b-8c9d-0e1f2a3b4c5d-c000.snappy.parquet",
                     "duck/events/data_0.parquet", "duck/events/data_1.parquet", "arrow/clicks/part-0.parquet", "hive/visits/000000_0.parquet",
                     "tables/products.parquet", "tables/suppliers.parquet", "tables/suppliers_dataset.parquet",
                 })
        {
            Directory.CreateDirectory(Path.GetDirectoryName(_h.Path(part))!);
            File.Copy(one, _h.Path(part));
        }
        File.Delete(one);
        var output = await _h.SyncAsync("parquet", new JsonObject { ["path"] = _h.Dir });
        Assert.Equal(["clicks", "customers", "events", "orders", "products", "suppliers", "suppliers_dataset", "visits"], output.RecordStreams.Order(StringComparer.Ordinal));
        Assert.Equal(2, output.Records("orders").Count());
        Assert.Equal(2, output.Records("events").Count());
    }

    [Fact]
    public async Task A_hive_partitioned_folder_lands_its_partition_columns_typed_as_duckdb_reads_them()
    {
        // DuckDB keeps year/day/region out of the files: the folder names (year=2020/day=…/region=r0) are the only place they are.
        Directory.CreateDirectory(_h.Path("in"));
        using (var conn = new DuckDBConnection("DataSource=:memory:"))
        {
            conn.Open();
            using var cmd = conn.CreateCommand();
            cmd.CommandText = $"""
                COPY (SELECT * FROM (VALUES (1, 0.5, 2020, DATE '2024-01-02', 'r0'), (2, 1.5, 2021, DATE '2024-01-03', 'a b'), (3, 2.5, 2021, DATE '2024-01-03', NULL))
                      t(id, amt, year, day, region))
                TO '{_h.Path("in/sales")}' (FORMAT parquet, PARTITION_BY (year, day, region))
                """;
            cmd.ExecuteNonQuery();
        }
        var output = await _h.SyncAsync("parquet", new JsonObject { ["path"] = _h.Path("in/sales") });
        var p = output.Schemas["sales"]["properties"]!.AsObject();
        Assert.Equal(["id", "amt", "year", "day", "region"], p.Select(kv => kv.Key));
        Assert.Equal("""{"type":["null","integer"]}""", SingerOutput.Json(p["year"]));
        Assert.Equal("""{"type":["null","string"],"format":"date"}""", SingerOutput.Json(p["day"]));
        Assert.Equal("""{"type":["null","string"]}""", SingerOutput.Json(p["region"]));
        var rows = output.Records("sales").Select(r => SingerOutput.Json(r)).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(
        [
            """{"id":1,"amt":0.5,"year":2020,"day":"2024-01-02","region":"r0"}""",
            """{"id":2,"amt":1.5,"year":2021,"day":"2024-01-03","region":"a b"}""",
            """{"id":3,"amt":2.5,"year":2021,"day":"2024-01-03","region":null}""",
        ], rows);
    }

    [Theory]
    [InlineData("TIMESTAMP", "'infinity'", "9223372036854775807 microseconds")]
    [InlineData("TIMESTAMPTZ", "'-infinity'", "-9223372036854775807 microseconds")]
    [InlineData("TIMESTAMP", "'60000-01-01'", "microseconds from 1970-01-01")]
    [InlineData("TIMESTAMP_MS", "'infinity'", "9223372036854775807 milliseconds")]
    [InlineData("TIMESTAMP[]", "['infinity']", "9223372036854775807 microseconds")]
    [InlineData("DATE", "'infinity'", "2147483647 days")]
    [InlineData("DATE", "'12000-01-01'", "days from 1970-01-01")]
    public async Task A_timestamp_or_date_beyond_the_lakes_years_fails_naming_the_row_and_column_instead_of_wrapping(string type, string far, string expected)
    {
        // int64 'infinity' * 10 wrapped to -10 ticks (1969-12-31 23:59:59.999999) and year 60000 to 1544, landing silently.
        var good = type.EndsWith("[]", StringComparison.Ordinal) ? "['2024-01-01']" : "'2024-01-01'";
        WriteWithDuckDb(_h.Path("in/far.parquet"), $"SELECT * FROM (VALUES (1, {good}::{type}), (2, {far}::{type})) t(i, v)");
        var stderr = await _h.FailAsync("parquet", new JsonObject { ["path"] = _h.Path("in") });
        Assert.Contains($"{_h.Path("in/far.parquet")} row group 0 row 1 column 'v': ", stderr);
        Assert.Contains(expected, stderr);
        Assert.Contains("is outside the years 1 to 9999 the lake's dates and timestamps hold", stderr);
        Assert.DoesNotContain("Actual value was", stderr);
    }

    [Fact]
    public async Task A_time_of_24_00_fails_naming_the_row_and_column_in_plain_words()
    {
        WriteWithDuckDb(_h.Path("in/times.parquet"), "SELECT * FROM (VALUES (1, TIME '23:59:59.999999'), (2, TIME '24:00:00')) t(i, v)");
        var stderr = await _h.FailAsync("parquet", new JsonObject { ["path"] = _h.Path("in") });
        Assert.Contains($"{_h.Path("in/times.parquet")} row group 0 row 1 column 'v': the time 24:00:00 is not a time of day the lake holds", stderr);
        Assert.DoesNotContain("TimeOnly", stderr);
    }

    [Fact]
    public async Task Same_named_table_folders_in_different_folders_fail_instead_of_merging_into_one_stream()
    {
        WriteWithDuckDb(_h.Path("in/a/orders/data_0.parquet"), "SELECT 1 AS id");
        WriteWithDuckDb(_h.Path("in/b/orders/data_0.parquet"), "SELECT 2 AS id, 'x' AS extra");
        var stderr = await _h.FailAsync("parquet", new JsonObject { ["path"] = _h.Path("in") });
        Assert.Contains($"would both be stream 'orders' (they are not parts of one table); configure a stream with a pattern for them", stderr);
        Assert.Contains(_h.Path("in/a/orders/data_0.parquet"), stderr);
        Assert.Contains(_h.Path("in/b/orders/data_0.parquet"), stderr);
    }

    [Fact]
    public async Task A_jsonl_file_next_to_its_gzip_copy_fails_instead_of_landing_every_row_twice()
    {
        var plain = _h.Write("in/events.jsonl", "{\"id\":1}\n");
        using (var gz = new System.IO.Compression.GZipStream(File.Create(_h.Path("in/events.jsonl.gz")), System.IO.Compression.CompressionLevel.Fastest))
            gz.Write(File.ReadAllBytes(plain));
        var stderr = await _h.FailAsync("jsonl", new JsonObject { ["path"] = _h.Path("in") });
        Assert.Contains("would both be stream 'events'", stderr);
    }

    [Fact]
    public async Task Part_files_whose_columns_differ_only_in_case_are_refused_as_one_schema_with_them_is()
    {
        WriteWithDuckDb(_h.Path("in/tbl/data_0.parquet"), "SELECT 1 AS id, 'a' AS v");
        WriteWithDuckDb(_h.Path("in/tbl/data_1.parquet"), "SELECT 2 AS \"ID\", 'b' AS \"V\"");
        var stderr = await _h.FailAsync("parquet", new JsonObject { ["path"] = _h.Path("in") });
        Assert.Contains($"stream 'tbl': column 'id' of {_h.Path("in/tbl/data_0.parquet")} and column 'ID' of {_h.Path("in/tbl/data_1.parquet")}: " +
            "properties 'id' and 'ID' differ only in case; Parquet readers such as DuckDB, Spark and Trino would treat them as one column", stderr);
    }
}
