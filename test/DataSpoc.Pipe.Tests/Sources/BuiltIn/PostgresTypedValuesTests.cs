using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Sources;
using DataSpoc.Pipe.Sources.BuiltIn;
using Npgsql;
using Xunit;

namespace DataSpoc.Pipe.Tests.Sources.BuiltIn;

/// <summary>
/// The postgres tap hands rows over as typed values (binary COPY for full tables, a cursor for incremental tables and
/// split parts). Printed through <see cref="SingerJsonSink"/> they must be, byte for byte, the lines the tap printed
/// when it wrote JSON straight from the data reader (<see cref="JsonFromReader"/> keeps that writer as the reference).
/// </summary>
[Collection("postgres")]
public sealed class PostgresTypedValuesTests(PostgresServer server) : IDisposable
{
    private readonly TapHarness _h = new();

    public void Dispose() => _h.Dispose();

    /// <summary>Every type the tap maps, with NULLs and edge values.</summary>
    private const string Edges = """
        CREATE TYPE mood AS ENUM ('sad', 'happy');
        CREATE DOMAIN short_text AS varchar(8);
        CREATE TABLE public.edge (
          id int4 PRIMARY KEY,
          i2 int2, i4 int4, i8 int8,
          r float4, d float8,
          n numeric, n2 numeric(12,2), n0 numeric(10,0),
          b boolean,
          t text, vc varchar(10), bc char(4), ch "char", nm name, dom short_text,
          u uuid,
          dt date, ts timestamp, tstz timestamptz, tm time, tmtz timetz,
          j json, jb jsonb,
          by bytea,
          ta text[], ia int8[], na numeric[], tsa timestamptz[], ba bytea[], sa int2[],
          e mood, iv interval, ip inet, mac macaddr, money_v money, rng int4range, bits bit(4), pt point, xmlv xml
        );
        INSERT INTO edge VALUES
          (1, 7, 70000, 9000000000, 1.5, 2.25, 1234.5678, 1234.50, 42, true,
           'héllo "q" \ tab	end', 'ab', 'x', 'c', 'pg_name', 'dom',
           'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
           '2024-02-29', '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.5+02', '13:14:15.000001', '13:14:15+05:30',
           '{"a" : [1, 2.50, 1e3], "s": "é\u00e9 \n"}', '{"b": {"c": null}, "n": 1.50}',
           '\x000102ff',
           ARRAY['x', NULL, 'z"q'], ARRAY[1, -9223372036854775808], ARRAY[1.50, NULL], ARRAY['2024-01-01 00:00:00+00'::timestamptz], ARRAY['\x01'::bytea], ARRAY[-32768, 32767],
           'happy', '1 day 02:00:00.5', '10.0.0.1', '08:00:2b:01:02:03', 12.34, '[1,5)', B'1010', '(1.5,2)', '<a>x</a>'),
          (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
          (3, -32768, -2147483648, -9223372036854775808, 'NaN', 'Infinity', 10000000000000000000000000000, -9999999999.99, 0, false,
           '', '', '', ' ', '', '',
           '00000000-0000-0000-0000-000000000000',
           '0001-01-01', '1969-12-31 23:59:59.999999', '1900-01-01 00:00:00.000001+05:30', '00:00:00', '00:00:00-12',
           '[]', 'null', '', '{}', '{}', '{}', '{}', '{}', '{}',
           'sad', '-1 year -2 mons +3 days -04:05:06', '::1', '00:00:00:00:00:00', -0.01, 'empty', B'0000', '(0,0)', ''),
          (4, 32767, 2147483647, 9223372036854775807, '-Infinity', 'NaN', 0.0000000000000000000000000001, 0.10, -9999999999, true,
           'emoji 😀 ' || chr(1) || ' </script> ''', 'ten chars!', 'abcd', 'z', 'n', 'x',
           'ffffffff-ffff-ffff-ffff-ffffffffffff',
           '9999-12-31', '2262-04-11 23:47:16.854775', '1970-01-01 00:00:00+00', '23:59:59.999999', '23:59:59.999999+14',
           '"just a string"', '[1, "two", [3]]', '\x', NULL, NULL, NULL, NULL, NULL, NULL,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
          (5, 0, 0, 0, 1.1, 0.1, -0.5, 0, 1, NULL,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
          (6, 1, 1, 1, 16777217, 5e-324, 1e-28, 1, 1, NULL,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
          (7, 2, 2, 2, 1e-45, '-0', 0.30000000000000004, 2, 2, NULL,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'infinity', '-infinity', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
          (8, 3, 3, 3, 3.4028235e38, 1.7976931348623157e308, 1.000000000000000000000000000, 3, 3, NULL,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'infinity', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
        """;

    private JsonObject Config(string database) => new()
    {
        ["host"] = "127.0.0.1",
        ["port"] = server.Port,
        ["user"] = "postgres",
        ["password"] = PostgresServer.Password,
        ["dbname"] = database,
        ["sslmode"] = "disable",
        ["filter_tables"] = new JsonArray("edge"),
    };

    [Fact]
    public async Task A_full_table_copy_prints_every_type_exactly_as_the_json_writer_did()
    {
        var db = await server.CreateDatabaseAsync(Edges);
        var tap = await RecordLinesAsync(Config(db));
        Assert.Equal(8, tap.Count);
        Assert.Equal(await ReferenceLinesAsync(db), tap.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task An_incremental_cursor_prints_every_type_exactly_as_the_json_writer_did()
    {
        var db = await server.CreateDatabaseAsync(Edges);
        var config = Config(db);
        config["replication_keys"] = new JsonObject { ["public-edge"] = "id" };
        config["batch_size"] = 3;
        var tap = await RecordLinesAsync(config);
        Assert.Equal(await ReferenceLinesAsync(db, orderBy: "id"), tap);
    }

    [Fact]
    public async Task Split_parts_read_in_parallel_print_every_row_once_exactly_as_the_json_writer_did()
    {
        var db = await server.CreateDatabaseAsync(Edges);
        var config = Config(db);
        config[PostgresTap.SplitKey] = new JsonObject { ["column"] = "id", ["parts"] = 3, ["parallel"] = 3 };
        config["batch_size"] = 1;
        var tap = await RecordLinesAsync(config);
        Assert.Equal(await ReferenceLinesAsync(db), tap.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task The_sink_receives_typed_values_as_the_lake_would_read_the_printed_json()
    {
        var db = await server.CreateDatabaseAsync(Edges);
        var sink = new RecordingSink();
        await ((ITypedBuiltInTap)new PostgresTap()).SyncAsync(Config(db), null, null, sink, CancellationToken.None);
        var rows = sink.Rows.ToDictionary(r => (long)r["id"]!);

        Assert.Equal(1.5, rows[1]["r"]);
        Assert.Equal(1.1, rows[5]["r"]); // float4 1.1 as the JSON text "1.1" reads, not 1.100000023841858
        Assert.Equal(16777216.0, rows[6]["r"]);
        Assert.Equal(1e-45, rows[7]["r"]);
        Assert.True(double.IsNaN((double)rows[3]["r"]!)); // NaN and the infinities as they are (Parquet holds them)
        Assert.Equal(double.NegativeInfinity, rows[4]["r"]);
        Assert.Equal(double.PositiveInfinity, rows[3]["d"]);
        Assert.Equal(5e-324, rows[6]["d"]);
        Assert.Equal(long.MinValue, rows[3]["i8"]);
        Assert.Equal(long.MaxValue, rows[4]["i8"]);
        Assert.Equal(-32768L, rows[3]["i2"]);
        Assert.Equal(10000000000000000000000000000m, rows[3]["n"]);
        Assert.Equal("1234.50", ((decimal)rows[1]["n2"]!).ToString(CultureInfo.InvariantCulture));
        Assert.Equal(new DateTime(1969, 12, 31, 23, 59, 59, DateTimeKind.Utc).AddTicks(9_999_990), rows[3]["ts"]);
        Assert.Equal(new DateTime(1899, 12, 31, 18, 30, 0, DateTimeKind.Utc).AddTicks(10), rows[3]["tstz"]);
        Assert.Equal(new DateOnly(1, 1, 1), rows[3]["dt"]);
        Assert.Equal(new TimeOnly(23, 59, 59).Add(TimeSpan.FromTicks(9_999_990)), rows[4]["tm"]);
        Assert.Equal("ffffffff-ffff-ffff-ffff-ffffffffffff", rows[4]["u"]);
        Assert.Equal("AAEC/w==", rows[1]["by"]);
        Assert.Equal("[\"x\",null,\"z\\\"q\"]", rows[1]["ta"]);
        Assert.Equal("""{"b": {"c": null}, "n": 1.50}""", rows[1]["jb"]);
        Assert.Equal("1 day 02:00:00.5", rows[1]["iv"]);
        Assert.Equal("10.0.0.1", rows[1]["ip"]);
        Assert.Equal("::1", rows[3]["ip"]);
        Assert.True(rows[2].Where(kv => kv.Key != "id").All(kv => kv.Value is null));
        Assert.Equal(8, sink.Records);
        Assert.Equal(["SCHEMA public-edge", "ACTIVATE_VERSION public-edge", "STATE"], sink.Messages);
    }

    [Theory]
    [InlineData("numeric", "12345678901234567890123456789012345678", "numeric")]
    [InlineData("numeric(38,0)", "'NaN'", "numeric(38,0)")]
    [InlineData("numeric", "'NaN'", "numeric")]
    [InlineData("numeric", "12345678901234567890.123456789", "numeric")]
    [InlineData("numeric[]", "ARRAY[0.1, 123456789012345678.12345678901]", "numeric[]")]
    [InlineData("time", "'24:00:00'", "time without time zone")]
    public async Task A_value_with_no_exact_record_form_fails_naming_the_stream_column_and_type(string type, string value, string printedType)
    {
        var db = await server.CreateDatabaseAsync($"CREATE TABLE public.edge (id int4 PRIMARY KEY, v {type}); INSERT INTO edge VALUES (0, NULL), (7, {value});");
        foreach (var incremental in new[] { false, true })
        {
            var config = Config(db);
            if (incremental) config["replication_keys"] = new JsonObject { ["public-edge"] = "id" };
            var stderr = await _h.FailAsync("postgres", config);
            // The row is named by its primary key (a full-table COPY) or its replication key (a cursor reads forward only).
            Assert.Contains($"postgres tap: stream 'public-edge' column 'v' ({printedType}): cannot convert a value in the row id = 7: ", stderr);
            // A numeric's error says how to land such values anyway.
            var hint = type switch
            {
                "numeric" => "(a numeric without precision and scale lands as a double; to land such values exactly, declare the column numeric(p,s), " +
                    "which lands as a decimal, or sync a view that selects \"v\"::numeric(38,s) or \"v\"::text; \"v\"::float8 lands them rounded)",
                "numeric[]" => "(a numeric array's elements land as doubles; to land such values, sync a view that selects \"v\"::text, or \"v\"::float8[] to land them rounded)",
                "numeric(38,0)" => "(to land such values, sync a view that selects \"v\"::text or \"v\"::float8)",
                _ => null,
            };
            Assert.True(hint is null ? !stderr.Contains("to land such values", StringComparison.Ordinal) : stderr.Contains(hint, StringComparison.Ordinal), stderr);
        }
    }

    [Fact]
    public async Task A_full_table_copy_reads_rows_across_its_read_buffers_exactly_as_the_json_writer_did()
    {
        // ~13 MB of rows of every length up to 9 KB, and one of 300 KB: rows cross the COPY's read buffers, one is
        // larger than its row buffer, and the reader outruns the bounded pipe. The numerics (seeded) have 0-13 digits
        // before and after the point, trailing zeros included, so every base-10000 digit position is decoded.
        var db = await server.CreateDatabaseAsync("""
            CREATE TABLE public.edge (id int4 PRIMARY KEY, t text, n numeric(12,2), ts timestamptz, m numeric);
            SELECT setseed(0.23);
            INSERT INTO edge SELECT g, repeat(chr(233) || 'x', (g * 7919) % 3000), g / 100.0, '2024-01-01'::timestamptz + g * interval '1 second',
                round(((random() - 0.5) * 10 ^ (g % 14))::numeric, g % 14)
              FROM generate_series(1, 3000) g;
            INSERT INTO edge VALUES (0, repeat('big', 100000), -1, NULL, 0.000);
            """);
        var tap = await RecordLinesAsync(Config(db));
        Assert.Equal(3001, tap.Count);
        Assert.Equal(await ReferenceLinesAsync(db), tap.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_float4_becomes_the_double_its_shortest_text_reads_as()
    {
        foreach (var f in new[] { 1.1f, 0.1f, 3.4028235e38f, 1e-45f, -0f, 16777217f, 123456.79f })
        {
            var text = JsonSerializer.Serialize(f);
            Assert.Equal(double.Parse(text, CultureInfo.InvariantCulture), PostgresColumn.AsPrintedDouble(f));
        }
    }

    private async Task<List<string>> RecordLinesAsync(JsonObject config)
    {
        var (exit, stdout, stderr) = await _h.RunRawAsync("postgres", config);
        Assert.True(exit == 0, $"tap exited {exit}: {stderr}");
        return SingerOutput.Parse(stdout).Lines.Where(l => l.StartsWith("{\"type\":\"RECORD\"", StringComparison.Ordinal)).ToList();
    }

    /// <summary>The RECORD lines of public.edge as the tap printed them before it wrote typed values.</summary>
    private async Task<List<string>> ReferenceLinesAsync(string db, string? orderBy = null)
    {
        await using var connection = new NpgsqlConnection(server.ConnectionString(db));
        await connection.OpenAsync();
        await using (var zone = new NpgsqlCommand("SET TIME ZONE 'UTC'", connection)) await zone.ExecuteNonQueryAsync();
        var table = (await PostgresDiscovery.DiscoverAsync(connection, [], ["edge"], CancellationToken.None)).Single();
        var sql = $"SELECT {string.Join(", ", table.Columns.Select(c => c.SelectExpression))} FROM {table.QualifiedName} AS t" + (orderBy is null ? "" : $" ORDER BY {orderBy}");
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync(System.Data.CommandBehavior.SequentialAccess);
        var output = new MemoryStream();
        var writer = new SingerWriter(output);
        var stream = JsonEncodedText.Encode(table.StreamId);
        while (await reader.ReadAsync())
        {
            var json = writer.BeginRecord(stream);
            for (var i = 0; i < table.Columns.Count; i++) JsonFromReader.Write(table.Columns[i], json, reader, i);
            writer.EndRecord();
        }
        await writer.FlushAsync(CancellationToken.None);
        var lines = Encoding.UTF8.GetString(output.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return orderBy is null ? [.. lines.Order(StringComparer.Ordinal)] : [.. lines];
    }

    /// <summary>
    /// The tap's value writer before typed rows (kept as the reference the typed path must print identically), NaN and
    /// the infinities printed as Python prints them since they land as such (they were null before), and -0.0 as
    /// <c>-0.0</c>, as Python prints it (the JSON writer's <c>-0</c> is the integer 0 to Python).
    /// </summary>
    private static class JsonFromReader
    {
        private static void WritePython(Utf8JsonWriter json, JsonEncodedText property, double value)
        {
            json.WritePropertyName(property);
            json.WriteRawValue(double.IsNaN(value) ? "NaN" : value == 0 ? "-0.0" : value > 0 ? "Infinity" : "-Infinity", skipInputValidation: true);
        }

        private static bool AsNumber(double value) => double.IsFinite(value) && !(value == 0 && double.IsNegative(value));

        public static void Write(PostgresColumn column, Utf8JsonWriter json, NpgsqlDataReader reader, int ordinal)
        {
            var property = JsonEncodedText.Encode(column.Name);
            if (reader.IsDBNull(ordinal))
            {
                json.WriteNull(property);
                return;
            }
            switch (column.Kind)
            {
                case PostgresValueKind.Int16: json.WriteNumber(property, reader.GetInt16(ordinal)); break;
                case PostgresValueKind.Int32: json.WriteNumber(property, reader.GetInt32(ordinal)); break;
                case PostgresValueKind.Int64: json.WriteNumber(property, reader.GetInt64(ordinal)); break;
                case PostgresValueKind.Float4:
                    var f = reader.GetFloat(ordinal);
                    if (AsNumber(f)) json.WriteNumber(property, f); else WritePython(json, property, f);
                    break;
                case PostgresValueKind.Float8:
                    var d = reader.GetDouble(ordinal);
                    if (AsNumber(d)) json.WriteNumber(property, d); else WritePython(json, property, d);
                    break;
                case PostgresValueKind.Numeric: json.WriteNumber(property, reader.GetDecimal(ordinal)); break;
                case PostgresValueKind.Boolean: json.WriteBoolean(property, reader.GetBoolean(ordinal)); break;
                case PostgresValueKind.Uuid: json.WriteString(property, reader.GetGuid(ordinal)); break;
                case PostgresValueKind.Date:
                    json.WriteString(property, reader.GetFieldValue<DateOnly>(ordinal).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
                    break;
                case PostgresValueKind.Timestamp:
                    json.WriteString(property, reader.GetFieldValue<DateTime>(ordinal).ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture));
                    break;
                case PostgresValueKind.Time:
                    json.WriteString(property, reader.GetFieldValue<TimeOnly>(ordinal).ToString("HH:mm:ss.ffffff", CultureInfo.InvariantCulture));
                    break;
                case PostgresValueKind.Bytea: json.WriteBase64String(property, reader.GetFieldValue<byte[]>(ordinal)); break;
                case PostgresValueKind.RawJson:
                    json.WritePropertyName(property);
                    json.WriteRawValue(reader.GetString(ordinal));
                    break;
                default: json.WriteString(property, reader.GetString(ordinal)); break;
            }
        }
    }

    /// <summary>A sink that keeps what it is given: each row as property name to the typed value (base64, json and strings as text).</summary>
    private sealed class RecordingSink : RecordSink
    {
        public List<Dictionary<string, object?>> Rows { get; } = [];
        public List<string> Messages { get; } = [];

        public override long Records => Rows.Count;

        public override RowWriter WriteSchema(string stream, JsonObject schema, IReadOnlyList<string> keyProperties, IReadOnlyList<string>? bookmarkProperties = null)
        {
            Messages.Add($"SCHEMA {stream}");
            return new Recorder(this, schema["properties"]!.AsObject().Select(p => p.Key).ToArray());
        }

        public override void WriteState(JsonNode state) => Messages.Add("STATE");
        public override void WriteActivateVersion(string stream, long version) => Messages.Add($"ACTIVATE_VERSION {stream}");
        public override ValueTask FlushIfFullAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
        public override ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

        private sealed class Recorder(RecordingSink sink, string[] names) : RowWriter
        {
            private Dictionary<string, object?>? _row;

            private void Set(int property, object? value) => (_row ?? throw new InvalidOperationException("a value outside a row")).Add(names[property], value);

            public override void BeginRow() => _row = [];
            public override void EndRow()
            {
                sink.Rows.Add(_row!);
                _row = null;
            }

            public override void WriteJsonRow(ReadOnlySpan<byte> recordObject) => throw new InvalidOperationException("the postgres tap writes typed values");
            public override void Null(int property) => Set(property, null);
            public override void Long(int property, long value) => Set(property, value);
            public override void Double(int property, double value) => Set(property, value);
            public override void Decimal(int property, decimal value) => Set(property, value);
            public override void Bool(int property, bool value) => Set(property, value);
            public override void String(int property, ReadOnlySpan<char> value) => Set(property, value.ToString());
            public override void Utf8String(int property, ReadOnlySpan<byte> value) => Set(property, Encoding.UTF8.GetString(value));
            public override void Date(int property, DateOnly value) => Set(property, value);
            public override void Timestamp(int property, DateTime utc) => Set(property, utc);
            public override void Time(int property, TimeOnly value) => Set(property, value);
            public override void Base64(int property, ReadOnlySpan<byte> value) => Set(property, Convert.ToBase64String(value));
            public override void Json(int property, ReadOnlySpan<byte> value) => Set(property, Encoding.UTF8.GetString(value));
            public override void Json(int property, ReadOnlySpan<char> value) => Set(property, value.ToString());
        }
    }
}
