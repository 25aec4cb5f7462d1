using System.Text.Json.Nodes;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Sources.BuiltIn;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;
using DuckDB.NET.Data;
using Xunit;

namespace DataSpoc.Pipe.Tests.Sources.BuiltIn;

/// <summary>
/// A Parquet file of every type DuckDB writes, read by the parquet tap (typed values; nested values as JSON text) into
/// a lake, and read back with DuckDB: each value lands as the value it is (a float as the double its shortest text
/// reads as, instants and times to the microsecond, unsigned and small integers as BIGINT, a UUID and bytes as text).
/// </summary>
public sealed class ParquetLakeRoundTripTests : IDisposable
{
    private readonly TempLake _lake = new();
    private readonly TapHarness _h = new();

    public void Dispose()
    {
        _lake.Dispose();
        _h.Dispose();
    }

    private const string EveryType = """
        SELECT * FROM (VALUES
          (1::BIGINT, -8::TINYINT, -16::SMALLINT, -32::INTEGER, 200::UTINYINT, 60000::USMALLINT, 4000000000::UINTEGER, 9223372036854775807::UBIGINT,
           1.1::FLOAT, 0.1::DOUBLE, 123.4::DECIMAL(4,1), -12.34::DECIMAL(10,2), 123456789012.345678::DECIMAL(18,6), 12345678901234567890.123456::DECIMAL(30,6),
           'héllo ✓'::VARCHAR, true, TIMESTAMP '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.123'::TIMESTAMP_MS, '2024-01-02 03:04:05.123456789'::TIMESTAMP_NS,
           TIMESTAMPTZ '2024-01-02 03:04:05+02', DATE '2024-02-29', TIME '13:14:15.123456', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::UUID, '\x00\x01\xFF'::BLOB,
           {'x': 1, 'f': 2.5::FLOAT, 'at': TIMESTAMP '2024-01-01 00:00:00'}, [1, NULL, 3], MAP {'a': 1}),
          (2, NULL, NULL, NULL, NULL, NULL, NULL, 0::UBIGINT, -2.5, '-0.0'::DOUBLE, NULL, NULL, NULL, NULL, '', false, NULL, NULL, NULL, NULL, DATE '0001-01-01', TIME '00:00:00', NULL, ''::BLOB,
           NULL, [], NULL),
          (3, 127, 32767, 2147483647, 255, 65535, 4294967295, NULL, 'NaN'::FLOAT, 'Infinity'::DOUBLE, -999.9, 0.01, 0.000001, 0.000001,
           NULL, NULL, TIMESTAMP '1969-12-31 23:59:59.999999', NULL, '1900-01-01 00:00:00.000000001'::TIMESTAMP_NS, NULL, DATE '9999-12-31', TIME '23:59:59.999999', NULL, NULL,
           {'x': NULL, 'f': NULL, 'at': NULL}, [NULL], MAP {})
        ) t(id, i8, i16, i32, u8, u16, u32, u64, f32, f64, d1, d2, d3, d4, s, b, ts, ts_ms, ts_ns, tstz, dt, tm, uid, blob, st, li, mp)
        """;

    private static void WriteWithDuckDb(string path, string select)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var conn = new DuckDBConnection("DataSource=:memory:");
        conn.Open();
        using var cmd = conn.CreateCommand();
        cmd.CommandText = $"SET TimeZone='UTC'; COPY ({select}) TO '{path}' (FORMAT parquet)";
        cmd.ExecuteNonQuery();
    }

    /// <summary>
    /// What <c>dataspoc-pipe tap parquet</c> printed for <see cref="EveryType"/> when leaves went out as JSON text (commit
    /// 1f9fbfa), but for NaN and Infinity, which land as such now: here as the strings a number column reads them from.
    /// </summary>
    private const string JsonRecords = """
        {"id":1,"i8":-8,"i16":-16,"i32":-32,"u8":200,"u16":60000,"u32":4000000000,"u64":9223372036854775807,"f32":1.1,"f64":0.1,"d1":123.4,"d2":-12.34,"d3":123456789012.345678,"d4":12345678901234567890.123456,"s":"héllo ✓","b":true,"ts":"2024-01-02T03:04:05.123456Z","ts_ms":"2024-01-02T03:04:05.123000Z","ts_ns":"2024-01-02T03:04:05.123456Z","tstz":"2024-01-02T01:04:05.000000Z","dt":"2024-02-29","tm":"13:14:15.123456","uid":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","blob":"AAH/","st":{"x":1,"f":2.5,"at":"2024-01-01T00:00:00.000000Z"},"li":[1,null,3],"mp":[{"key":"a","value":1}]}
        {"id":2,"i8":null,"i16":null,"i32":null,"u8":null,"u16":null,"u32":null,"u64":0,"f32":-2.5,"f64":-0,"d1":null,"d2":null,"d3":null,"d4":null,"s":"","b":false,"ts":null,"ts_ms":null,"ts_ns":null,"tstz":null,"dt":"0001-01-01","tm":"00:00:00.000000","uid":null,"blob":"","st":null,"li":[],"mp":null}
        {"id":3,"i8":127,"i16":32767,"i32":2147483647,"u8":255,"u16":65535,"u32":4294967295,"u64":null,"f32":"NaN","f64":"Infinity","d1":-999.9,"d2":0.01,"d3":0.000001,"d4":0.000001,"s":null,"b":null,"ts":"1969-12-31T23:59:59.999999Z","ts_ms":null,"ts_ns":"1900-01-01T00:00:00.000000Z","tstz":null,"dt":"9999-12-31","tm":"23:59:59.999999","uid":null,"blob":null,"st":{"x":null,"f":null,"at":null},"li":[null],"mp":[]}
        """;

    [Fact]
    public async Task Every_parquet_type_lands_in_the_lake_as_the_value_it_is_and_as_its_json_text_did()
    {
        WriteWithDuckDb(_h.Path("in/every.parquet"), EveryType);
        var config = new JsonObject { ["path"] = _h.Path("in") };
        var schema = (await _h.DiscoverAsync("parquet", config))["streams"]![0]!["schema"]!.DeepClone();
        _h.Write("json/every.jsonl", JsonRecords + "\n");
        await TempLake.RunBuiltInAsync(_lake.BuiltInPipeline("typed", "parquet", config));
        await TempLake.RunBuiltInAsync(_lake.BuiltInPipeline("json", "jsonl", new JsonObject
        {
            ["path"] = _h.Path("json"),
            ["streams"] = new JsonArray(new JsonObject { ["name"] = "every", ["schema"] = schema }),
        }));

        const string Typed = "read_parquet('{lake}/raw/parquet/every/*/*.parquet', hive_partitioning = false)";
        const string Json = "read_parquet('{lake}/raw/jsonl/every/*/*.parquet', hive_partitioning = false)";
        var types = _lake.Query($"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {Typed})").Select(r => $"{r[0]} {r[1]}").ToList();
        Assert.Equal(_lake.Query($"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {Json})").Select(r => $"{r[0]} {r[1]}"), types);
        Assert.Equal(
            [
                "id BIGINT", "i8 BIGINT", "i16 BIGINT", "i32 BIGINT", "u8 BIGINT", "u16 BIGINT", "u32 BIGINT", "u64 BIGINT", "f32 DOUBLE", "f64 DOUBLE",
                "d1 DECIMAL(38,1)", "d2 DECIMAL(38,2)", "d3 DECIMAL(38,6)", "d4 DECIMAL(38,6)", "s VARCHAR", "b BOOLEAN",
                "ts TIMESTAMP WITH TIME ZONE", "ts_ms TIMESTAMP WITH TIME ZONE", "ts_ns TIMESTAMP WITH TIME ZONE", "tstz TIMESTAMP WITH TIME ZONE",
                "dt DATE", "tm TIME", "uid VARCHAR", "blob VARCHAR", "st STRUCT(x BIGINT, f DOUBLE, \"at\" TIMESTAMP WITH TIME ZONE)", "li BIGINT[]",
                "mp STRUCT(\"key\" VARCHAR, \"value\" BIGINT)[]",
            ], types);

        // Doubles as their exact text (DuckDB's VARCHAR of a double is its shortest round-trip form).
        var rows = _lake.Query($"SELECT COLUMNS(*)::VARCHAR FROM {Typed} ORDER BY id");
        Assert.Equal(_lake.Query($"SELECT COLUMNS(*)::VARCHAR FROM {Json} ORDER BY id"), rows);
        Assert.Equal(3, rows.Count);
        Assert.Equal(["9223372036854775807", "1.1", "0.1", "12345678901234567890.123456", "2024-01-02 03:04:05.123456+00", "13:14:15.123456", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "AAH/", "{'x': 1, 'f': 2.5, 'at': '2024-01-01 00:00:00+00'}"],
            _lake.Query($"SELECT COLUMNS(['u64', 'f32', 'f64', 'd4', 'ts_ns', 'tm', 'uid', 'blob', 'st'])::VARCHAR FROM {Typed} WHERE id = 1").Single());
        Assert.Equal(["-0.0", "0001-01-01", "[]", null], _lake.Query($"SELECT f64::VARCHAR, dt::VARCHAR, li::VARCHAR, st::VARCHAR FROM {Typed} WHERE id = 2").Single());
        // Parquet's NaN and infinities land as they are (they landed as null before).
        Assert.Equal(["nan", "inf"], _lake.Query($"SELECT f32::VARCHAR, f64::VARCHAR FROM {Typed} WHERE id = 3").Single());
    }

    /// <summary>
    /// A DECIMAL of scale 19 to 38 (DuckDB's DECIMAL(38,19), (38,20), (38,38)) lands as itself with every digit, and the
    /// tap prints every digit: it landed as DOUBLE, rounded. Values past System.Decimal's 28 places go through their text.
    /// </summary>
    [Fact]
    public async Task A_decimal_of_scale_19_to_38_lands_as_itself_with_every_digit()
    {
        WriteWithDuckDb(_h.Path("in/dec/data.parquet"), """
            SELECT * FROM (VALUES
              (1, '0.12345678901234567890'::DECIMAL(38,20), '1234567890.1234567890123456789'::DECIMAL(38,19), '0.00000000000000000000000000000000000001'::DECIMAL(38,38)),
              (2, '-999999999999999999.99999999999999999999'::DECIMAL(38,20), '0'::DECIMAL(38,19), '-0.99999999999999999999999999999999999999'::DECIMAL(38,38)),
              (3, '0.00000000000000000001'::DECIMAL(38,20), NULL, '0.5'::DECIMAL(38,38))
            ) t(id, d20, d19, d38)
            """);
        var config = new JsonObject { ["path"] = _h.Path("in/dec") };
        await TempLake.RunBuiltInAsync(_lake.BuiltInPipeline("dec", "parquet", config));
        const string Landed = "read_parquet('{lake}/raw/parquet/dec/*/*.parquet', hive_partitioning = false)";
        Assert.Equal([["DECIMAL(38,20)", "DECIMAL(38,19)", "DECIMAL(38,38)"]], _lake.Query($"SELECT typeof(d20), typeof(d19), typeof(d38) FROM {Landed} LIMIT 1"));
        // DuckDB prints a DECIMAL(38,38) without the leading zero.
        string?[][] expected =
        [
            ["1", "0.12345678901234567890", "1234567890.1234567890123456789", ".00000000000000000000000000000000000001"],
            ["2", "-999999999999999999.99999999999999999999", "0.0000000000000000000", "-.99999999999999999999999999999999999999"],
            ["3", "0.00000000000000000001", null, ".50000000000000000000000000000000000000"],
        ];
        Assert.Equal(expected, _lake.Query($"SELECT id::VARCHAR, d20::VARCHAR, d19::VARCHAR, d38::VARCHAR FROM {Landed} ORDER BY id").Select(r => r.ToArray()).ToArray());

        var output = await _h.SyncAsync("parquet", config);
        Assert.Contains("\"multipleOf\":0.00000000000000000000000000000000000001", output.Lines.Single(l => l.Contains("\"SCHEMA\"", StringComparison.Ordinal)));
        Assert.Contains("\"d20\":0.12345678901234567890,\"d19\":1234567890.1234567890123456789,\"d38\":0.00000000000000000000000000000000000001",
            output.Lines.First(l => l.Contains("\"RECORD\"", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task NaN_and_the_infinities_inside_lists_and_structs_land_as_they_are_and_print_as_bare_words()
    {
        var source = _h.Path("in/floats.parquet");
        WriteWithDuckDb(source, """
            SELECT * FROM (VALUES
              (1, [1.5::DOUBLE, 'NaN'::DOUBLE, 'Infinity'::DOUBLE, '-Infinity'::DOUBLE], ['NaN'::FLOAT, 2.5::FLOAT], {'d': 'NaN'::DOUBLE, 'l': ['-Infinity'::DOUBLE], 's': 'NaN'}, ['NaN', 'x']),
              (2, [NULL, 0.5::DOUBLE], []::FLOAT[], {'d': 'Infinity'::DOUBLE, 'l': [1.0::DOUBLE], 's': NULL}, NULL)
            ) t(id, lf, l32, st, names)
            """);
        var config = new JsonObject { ["path"] = _h.Path("in") };
        await TempLake.RunBuiltInAsync(_lake.BuiltInPipeline("typed", "parquet", config));

        const string Columns = "id::VARCHAR, lf::VARCHAR, l32::VARCHAR, st::VARCHAR, names::VARCHAR";
        var landed = _lake.Query($"SELECT {Columns} FROM read_parquet('{{lake}}/raw/parquet/floats/*/*.parquet', hive_partitioning = false) ORDER BY id");
        Assert.Equal(_lake.Query($"SELECT {Columns} FROM read_parquet('{source}') ORDER BY id"), landed);
        Assert.Equal("[1.5, nan, inf, -inf]", landed[0][1]);
        Assert.Equal("{'d': nan, 'l': [-inf], 's': NaN}", landed[0][3]);

        // `dataspoc-pipe tap parquet` prints them as it prints a flat one: bare words (a text "NaN" stays a string).
        var printed = (await _h.SyncAsync("parquet", config)).Lines.Single(l => l.Contains("\"id\":1,"));
        Assert.Contains("\"lf\":[1.5,NaN,Infinity,-Infinity],\"l32\":[NaN,2.5],\"st\":{\"d\":NaN,\"l\":[-Infinity],\"s\":\"NaN\"},\"names\":[\"NaN\",\"x\"]", printed);
    }

    [Fact]
    public async Task An_interval_lands_as_the_text_duckdb_prints_and_nanoseconds_cut_to_the_microsecond_are_named_in_the_run_log()
    {
        var source = _h.Path("in/times.parquet");
        WriteWithDuckDb(source, """
            SELECT * FROM (VALUES
              (1, INTERVAL '1 day', '2024-01-01 10:00:00.123456789'::TIMESTAMP_NS, [INTERVAL '25 hours']),
              (2, INTERVAL '1 year 2 months 3 days 04:05:06.007', '2024-01-01 10:00:00.123456'::TIMESTAMP_NS, []),
              (3, INTERVAL '0 seconds', '1970-01-01 00:00:00.000000001'::TIMESTAMP_NS, NULL),
              (4, INTERVAL '1 month 300 milliseconds', NULL, NULL)
            ) t(id, iv, tsns, ivs)
            """);
        var pipeline = _lake.BuiltInPipeline("typed", "parquet", new JsonObject { ["path"] = _h.Path("in") });
        await TempLake.RunBuiltInAsync(pipeline);

        const string Table = "read_parquet('{lake}/raw/parquet/times/*/*.parquet', hive_partitioning = false)";
        Assert.Equal(["VARCHAR", "VARCHAR[]"], _lake.Query($"SELECT column_type FROM (DESCRIBE SELECT iv, ivs FROM {Table})").Select(r => r[0]));
        var landed = _lake.Query($"SELECT id::VARCHAR, iv, iv::INTERVAL::VARCHAR, ivs::VARCHAR FROM {Table} ORDER BY id");
        Assert.Equal(_lake.Query($"SELECT id::VARCHAR, iv::VARCHAR, iv::VARCHAR, ivs::VARCHAR FROM read_parquet('{source}') ORDER BY id"), landed);
        Assert.Equal(["1 day", "1 year 2 months 3 days 04:05:06.007", "00:00:00", "1 month 00:00:00.3"], landed.Select(r => r[1]));
        Assert.Equal("['25:00:00']", landed[0][3]);

        var notice = Assert.Single(_lake.Logs("typed").Single().Notices, n => n.Contains("nanoseconds"));
        Assert.Equal($"stream 'times': {source} column 'tsns': 2 value(s) with nanoseconds landed cut to the microsecond (the lake's timestamps and times hold microseconds)", notice);
    }

    [Fact]
    public async Task A_value_the_lake_refuses_is_named_by_its_file_row_group_and_row_not_a_line()
    {
        var source = _h.Path("in/big.parquet");
        WriteWithDuckDb(source, "SELECT * FROM (VALUES (1, 5::UBIGINT), (2, 18446744073709551615::UBIGINT)) t(id, ub)");
        Assert.True(BuiltInTaps.TryGet("parquet", out var tap));
        var run = await new PipelineRunner(new ObjectStoreFactory()).RunAsync(_lake.BuiltInPipeline("typed", "parquet", new JsonObject { ["path"] = _h.Path("in") }),
            new RunOptions { Source = new BuiltInSource(tap) }, CancellationToken.None);
        Assert.False(run.Succeeded);
        Assert.StartsWith($"stream 'big', {source} row group 0 row 1: field 'ub': 18446744073709551615 is not a 64-bit integer", run.Log.Error);
    }

    [Fact]
    public async Task A_row_a_transform_rejects_is_named_by_its_file_row_group_and_row_not_a_line()
    {
        var source = _h.Path("in/codes.parquet");
        WriteWithDuckDb(source, "SELECT * FROM (VALUES (1, '10'), (2, 'ten'), (3, '30')) t(id, code)");
        Assert.True(BuiltInTaps.TryGet("parquet", out var tap));
        var pipeline = _lake.BuiltInPipeline("typed", "parquet", new JsonObject { ["path"] = _h.Path("in") }) with
        {
            Transforms = new Dictionary<string, JsonNode?> { ["codes"] = new JsonObject { ["cast"] = new JsonObject { ["code"] = "integer" } } },
        };
        var run = await new PipelineRunner(new ObjectStoreFactory()).RunAsync(pipeline, new RunOptions { Source = new BuiltInSource(tap) }, CancellationToken.None);
        Assert.False(run.Succeeded);
        // The row went through the JSON path as a printed RECORD line; that line's number names nothing in the file.
        Assert.StartsWith($"stream 'codes', {source} row group 0 row 1: ", run.Log.Error);
        Assert.Contains("field 'code'", run.Log.Error);
    }
}
