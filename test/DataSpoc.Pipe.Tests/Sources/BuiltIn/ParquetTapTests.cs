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
}
