using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Sources.BuiltIn;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;
using Xunit;

namespace DataSpoc.Pipe.Tests.Sources.BuiltIn;

[Collection("postgres")]
public sealed class PostgresTapTests(PostgresServer server) : IDisposable
{
    private readonly TapHarness _h = new();

    public void Dispose() => _h.Dispose();

    internal const string AllTypes = """
        CREATE TYPE mood AS ENUM ('sad', 'happy');
        CREATE TABLE public.all_types (
          id int4 PRIMARY KEY,
          small int2, big int8 NOT NULL,
          real_v float4, double_v float8,
          price numeric(12,2), exact numeric, whole numeric(10,0),
          flag boolean,
          name text, code varchar(5), letter char(3),
          uid uuid,
          day date, at timestamp, at_tz timestamptz, clock time,
          doc json, docb jsonb,
          blob bytea,
          tags text[], scores int4[],
          feeling mood, span interval, addr inet
        );
        INSERT INTO all_types VALUES
          (1, 7, 9000000000, 1.5, 2.25, 1234.56, 0.000001, 42, true, 'héllo "q"', 'ab', 'x',
           'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2024-02-29', '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.5+02',
           '13:14:15.000001', '{"a": [1, 2]}', '{"b": {"c": null}}', '\x000102ff', ARRAY['x', NULL, 'z'], ARRAY[1, 2],
           'happy', '1 day 02:00:00', '10.0.0.1'),
          (2, NULL, -1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
        CREATE TABLE public.orders (id serial, region text, updated_at timestamptz NOT NULL, PRIMARY KEY (region, id));
        INSERT INTO orders (region, updated_at) SELECT 'eu', timestamptz '2024-01-01 00:00:00+00' + make_interval(hours => g) FROM generate_series(1, 25) g;
        CREATE SCHEMA sales;
        CREATE TABLE sales.items (sku text PRIMARY KEY, qty int8);
        INSERT INTO sales.items VALUES ('a', 1);
        CREATE VIEW public.eu_orders AS SELECT id, updated_at FROM orders WHERE region = 'eu';
        """;

    private JsonObject Config(string database, object? extra = null)
    {
        var config = new JsonObject
        {
            ["host"] = "127.0.0.1",
            ["port"] = server.Port,
            ["user"] = "postgres",
            ["password"] = "${DATASPOC_TEST_PG_PASSWORD}",
            ["dbname"] = database,
            ["sslmode"] = "disable",
        };
        Environment.SetEnvironmentVariable("DATASPOC_TEST_PG_PASSWORD", PostgresServer.Password);
        return config;
    }

    [Fact]
    public async Task Discovery_maps_every_column_type_to_json_schema_with_keys_and_stream_ids()
    {
        var db = await server.CreateDatabaseAsync(AllTypes);
        var catalog = await _h.DiscoverAsync("postgres", Config(db));
        var streams = catalog["streams"]!.AsArray().ToDictionary(s => (string)s!["tap_stream_id"]!, s => s!.AsObject());
        Assert.Equal(["public-all_types", "public-eu_orders", "public-orders", "sales-items"], streams.Keys.Order());
        Assert.Equal("""["region","id"]""", streams["public-orders"]["key_properties"]!.ToJsonString());
        Assert.Equal("[]", streams["public-eu_orders"]["key_properties"]!.ToJsonString());
        Assert.True((bool)streams["public-eu_orders"]["metadata"]![0]!["metadata"]!["is-view"]!);

        var p = streams["public-all_types"]["schema"]!["properties"]!;
        string S(string column) => SingerOutput.Json(p[column]);
        Assert.Equal("""{"type":["integer"]}""", S("id"));
        Assert.Equal("""{"type":["null","integer"]}""", S("small"));
        Assert.Equal("""{"type":["integer"]}""", S("big"));
        Assert.Equal("""{"type":["null","number"]}""", S("real_v"));
        Assert.Equal("""{"type":["null","number"]}""", S("double_v"));
        Assert.Equal("""{"type":["null","number"],"multipleOf":0.01}""", S("price"));
        Assert.Equal("""{"type":["null","number"]}""", S("exact"));
        Assert.Equal("""{"type":["null","number"],"multipleOf":1}""", S("whole"));
        Assert.Equal("""{"type":["null","boolean"]}""", S("flag"));
        Assert.Equal("""{"type":["null","string"]}""", S("name"));
        Assert.Equal("""{"type":["null","string"],"maxLength":5}""", S("code"));
        Assert.Equal("""{"type":["null","string"],"format":"uuid"}""", S("uid"));
        Assert.Equal("""{"type":["null","string"],"format":"date"}""", S("day"));
        Assert.Equal("""{"type":["null","string"],"format":"date-time"}""", S("at"));
        Assert.Equal("""{"type":["null","string"],"format":"date-time"}""", S("at_tz"));
        Assert.Equal("""{"type":["null","string"],"format":"time"}""", S("clock"));
        Assert.Equal("{}", S("doc"));
        Assert.Equal("{}", S("docb"));
        Assert.Equal("""{"type":["null","string"],"contentEncoding":"base64"}""", S("blob"));
        Assert.Equal("""{"type":["null","array"],"items":{"type":["null","string"]}}""", S("tags"));
        Assert.Equal("""{"type":["null","array"],"items":{"type":["null","integer"]}}""", S("scores"));
        Assert.Equal("""{"type":["null","string"]}""", S("feeling"));
        Assert.Equal("""{"type":["null","string"]}""", S("span"));
        var priceMeta = streams["public-all_types"]["metadata"]!.AsArray().Single(m => m!["breadcrumb"]!.ToJsonString() == """["properties","price"]""");
        Assert.Equal("numeric(12,2)", (string)priceMeta!["metadata"]!["sql-datatype"]!);
    }

    /// <summary>
    /// A plain table is copied with <c>COPY table (columns) TO</c> (no query plan on the server), which reads no
    /// inheritance children: every other relation, and a table with a column read through a cast, keeps the SELECT form,
    /// so a parent's and a partitioned table's sync still lands its children's rows.
    /// </summary>
    [Fact]
    public async Task Plain_tables_are_copied_directly_and_parents_partitioned_tables_and_views_still_land_their_children_s_rows()
    {
        var db = await server.CreateDatabaseAsync("""
            CREATE TABLE public.plain (id int8 PRIMARY KEY, "odd ""name" text);
            INSERT INTO plain SELECT g, 'p' || g FROM generate_series(1, 3) g;
            CREATE TABLE public.parent (id int8, note text);
            CREATE TABLE public.child (extra int4) INHERITS (parent);
            INSERT INTO parent VALUES (1, 'parent row');
            INSERT INTO child VALUES (2, 'child row', 7);
            CREATE TABLE public.by_day (id int8, day date) PARTITION BY RANGE (day);
            CREATE TABLE public.by_day_1 PARTITION OF by_day FOR VALUES FROM ('2024-01-01') TO ('2024-01-02');
            CREATE TABLE public.by_day_2 PARTITION OF by_day FOR VALUES FROM ('2024-01-02') TO ('2024-01-03');
            INSERT INTO by_day VALUES (1, '2024-01-01'), (2, '2024-01-02');
            CREATE TABLE public.with_json (id int8, doc jsonb);
            INSERT INTO with_json VALUES (1, '{"a": 1}');
            CREATE VIEW public.plain_view AS SELECT id FROM plain;
            """);
        await using var connection = new Npgsql.NpgsqlConnection(server.ConnectionString(db));
        await connection.OpenAsync();
        var tables = (await DataSpoc.Pipe.Sources.BuiltIn.PostgresDiscovery.DiscoverAsync(connection, ["public"], [], default))
            .ToDictionary(t => t.Table, t => DataSpoc.Pipe.Sources.BuiltIn.PostgresTableSync.CopySourceOf(t));
        Assert.Equal("\"public\".\"plain\" (\"id\", \"odd \"\"name\")", tables["plain"]);
        Assert.Equal("\"public\".\"child\" (\"id\", \"note\", \"extra\")", tables["child"]);
        Assert.Equal("\"public\".\"by_day_1\" (\"id\", \"day\")", tables["by_day_1"]);
        foreach (var selected in (string[])["parent", "by_day", "with_json", "plain_view"])
            Assert.StartsWith("(SELECT ", tables[selected]);

        var config = Config(db);
        config["filter_tables"] = new JsonArray("plain", "parent", "by_day", "with_json", "plain_view");
        var output = await _h.SyncAsync("postgres", config);
        string Rows(string stream) => string.Join("\n", output.Records(stream).Select(SingerOutput.Json).Order(StringComparer.Ordinal));
        Assert.Equal("""
            {"id":1,"odd \"name":"p1"}
            {"id":2,"odd \"name":"p2"}
            {"id":3,"odd \"name":"p3"}
            """, Rows("public-plain"));
        Assert.Equal("""
            {"id":1,"note":"parent row"}
            {"id":2,"note":"child row"}
            """, Rows("public-parent"));
        Assert.Equal("""
            {"id":1,"day":"2024-01-01"}
            {"id":2,"day":"2024-01-02"}
            """, Rows("public-by_day"));
        Assert.Equal("""{"id":1,"doc":{"a":1}}""", Rows("public-with_json"));
        Assert.Equal(3, output.Records("public-plain_view").Count());
    }

    [Fact]
    public async Task Full_table_sync_writes_every_value_in_its_json_form_then_activates_a_new_version()
    {
        var db = await server.CreateDatabaseAsync(AllTypes);
        var config = Config(db);
        config["filter_tables"] = new JsonArray("all_types");
        var output = await _h.SyncAsync("postgres", config);
        var rows = output.Records("public-all_types").ToList();
        Assert.Equal(2, rows.Count);
        Assert.Equal("""
            {"id":1,"small":7,"big":9000000000,"real_v":1.5,"double_v":2.25,"price":1234.56,"exact":0.000001,"whole":42,"flag":true,"name":"héllo \"q\"","code":"ab","letter":"x  ","uid":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","day":"2024-02-29","at":"2024-01-02T03:04:05.123456Z","at_tz":"2024-01-02T01:04:05.500000Z","clock":"13:14:15.000001","doc":{"a":[1,2]},"docb":{"b":{"c":null}},"blob":"AAEC/w==","tags":["x",null,"z"],"scores":[1,2],"feeling":"happy","span":"1 day 02:00:00","addr":"10.0.0.1"}
            """, SingerOutput.Json(rows[0]));
        Assert.All(rows[1].Where(kv => kv.Key is not ("id" or "big")), kv => Assert.Null(kv.Value));
        Assert.Contains(output.Messages, m => (string)m["type"]! == "ACTIVATE_VERSION" && (string)m["stream"]! == "public-all_types");
        Assert.DoesNotContain("public-orders", output.RecordStreams);
    }

    [Fact]
    public async Task Incremental_sync_reads_rows_from_the_inclusive_bookmark_in_key_order_with_state_after_each_batch()
    {
        var db = await server.CreateDatabaseAsync(AllTypes);
        var config = Config(db);
        config["filter_tables"] = new JsonArray("public.orders");
        config["replication_keys"] = new JsonObject { ["public-orders"] = "updated_at" };
        config["batch_size"] = 10;
        var first = await _h.SyncAsync("postgres", config);
        Assert.Equal(Enumerable.Range(1, 25).Select(i => (long)i), first.Records("public-orders").Select(r => (long)r["id"]!));
        var states = first.Messages.Where(m => (string)m["type"]! == "STATE").ToList();
        Assert.True(states.Count >= 3, $"expected a STATE after each batch of 10, got {states.Count}");
        var bookmark = first.LastState!["bookmarks"]!["public-orders"]!;
        Assert.Equal("updated_at", (string)bookmark["replication_key"]!);
        Assert.Equal("2024-01-02 01:00:00+00", (string)bookmark["replication_key_value"]!);
        Assert.DoesNotContain(first.Messages, m => (string)m["type"]! == "ACTIVATE_VERSION");

        await server.ExecuteAsync(db, "INSERT INTO orders (region, updated_at) VALUES ('eu', '2024-03-01 00:00:00+00'), ('us', '2024-03-02 00:00:00+00')");
        var second = await _h.SyncAsync("postgres", config, first.LastState);
        // Inclusive bookmark: the last row of the previous run comes again, then only the new rows.
        Assert.Equal([25L, 26L, 27L], second.Records("public-orders").Select(r => (long)r["id"]!));
        Assert.Equal("2024-03-02 00:00:00+00", (string)second.LastState!["bookmarks"]!["public-orders"]!["replication_key_value"]!);
    }

    /// <summary>
    /// The bookmark is the key's text, cast back on the next run: written in the database's DateStyle (here day first),
    /// it was read as another date once that setting changed, and the rows in between never landed. The tap's sessions
    /// fix the settings that shape a value's text, on the cursor (Npgsql) and the full table's COPY (libpq) alike.
    /// </summary>
    [Fact]
    public async Task Bookmarks_and_values_are_written_in_ISO_whatever_the_database_s_DateStyle_so_no_row_is_skipped_when_it_changes()
    {
        var db = await server.CreateDatabaseAsync("""
            CREATE TABLE public.ev (id int4 PRIMARY KEY, updated_at timestamptz NOT NULL, span tsrange, gap interval);
            INSERT INTO ev VALUES (1, '2024-03-01 10:00:00+00', '[2024-03-05 10:00, 2024-03-06 00:00)', '1 day 02:00:00'),
                                  (2, '2024-03-05 10:00:00+00', NULL, NULL);
            """);
        await server.ExecuteAsync(db, $"ALTER DATABASE {db} SET datestyle = 'SQL, DMY'; ALTER DATABASE {db} SET intervalstyle = 'sql_standard'");
        var config = Config(db);
        config["filter_tables"] = new JsonArray("ev");
        const string span = "[\"2024-03-05 10:00:00\",\"2024-03-06 00:00:00\")";

        // A full table (a binary COPY) selects the range and the interval as text: their ISO and PostgreSQL forms.
        var full = (await _h.SyncAsync("postgres", config)).Records("public-ev").Single(r => (int)r["id"]! == 1);
        Assert.Equal(span, (string)full["span"]!);
        Assert.Equal("1 day 02:00:00", (string)full["gap"]!);

        config["replication_keys"] = new JsonObject { ["public-ev"] = "updated_at" };
        var first = await _h.SyncAsync("postgres", config);
        Assert.Equal([1L, 2L], first.Records("public-ev").Select(r => (long)r["id"]!));
        Assert.Equal(span, (string)first.Records("public-ev").First()["span"]!);
        Assert.Equal("2024-03-05 10:00:00+00", (string)first.LastState!["bookmarks"]!["public-ev"]!["replication_key_value"]!);

        // The DBA puts PostgreSQL's default back: March 5th must still read as March 5th, so April 1st lands.
        await server.ExecuteAsync(db, $"ALTER DATABASE {db} SET datestyle = 'ISO, MDY'; " +
            "INSERT INTO ev VALUES (3, '2024-04-01 10:00:00+00', NULL, NULL), (4, '2024-06-01 10:00:00+00', NULL, NULL)");
        var second = await _h.SyncAsync("postgres", config, first.LastState);
        Assert.Equal([2L, 3L, 4L], second.Records("public-ev").Select(r => (long)r["id"]!));
        Assert.Equal("2024-06-01 10:00:00+00", (string)second.LastState!["bookmarks"]!["public-ev"]!["replication_key_value"]!);
    }

    [Fact]
    public async Task Two_tables_whose_stream_ids_are_equal_are_refused_naming_both_and_one_can_be_kept_by_its_schema_qualified_name()
    {
        var db = await server.CreateDatabaseAsync("""
            CREATE SCHEMA "a-b"; CREATE SCHEMA a;
            CREATE TABLE "a-b".c (id int PRIMARY KEY, src text); INSERT INTO "a-b".c VALUES (1, 'schema a-b table c');
            CREATE TABLE a."b-c" (id int PRIMARY KEY, src text); INSERT INTO a."b-c" VALUES (1, 'schema a table b-c'), (2, 'schema a table b-c');
            """);
        var config = Config(db);
        config["schemas"] = new JsonArray("a", "a-b");
        var stderr = await _h.FailAsync("postgres", config);
        Assert.Contains("postgres tap: tables \"a\".\"b-c\" and \"a-b\".\"c\" would both be stream 'a-b-c' and land as one table: " +
            "keep one of them with filter_tables (its schema.table name, e.g. [\"a.b-c\"]) or schemas", stderr);
        var (exit, _, discoverError) = await _h.RunRawAsync("postgres", config, discover: true);
        Assert.Equal(1, exit);
        Assert.Contains("would both be stream 'a-b-c'", discoverError);

        config["filter_tables"] = new JsonArray("a-b.c");
        var output = await _h.SyncAsync("postgres", config);
        Assert.Equal(["schema a-b table c"], output.Records("a-b-c").Select(r => (string)r["src"]!));
    }

    [Fact]
    public async Task Network_addresses_land_as_PostgreSQL_prints_them()
    {
        // inet's ::text always appends the mask; psql, COPY and array_to_json print it only when it is not the host's.
        var db = await server.CreateDatabaseAsync("""
            CREATE DOMAIN address AS inet;
            CREATE TABLE public.hosts (id int PRIMARY KEY, ip inet, net cidr, alias address, ips inet[]);
            INSERT INTO hosts VALUES (1, '::1', '::1/128', '10.0.0.1', ARRAY['::1'::inet, '10.1.2.3/8']), (2, '10.1.2.3/8', '10.0.0.0/8', NULL, NULL);
            """);
        var config = Config(db);
        config["filter_tables"] = new JsonArray("hosts");
        foreach (var incremental in new[] { false, true })
        {
            if (incremental) config["replication_keys"] = new JsonObject { ["public-hosts"] = "id" };
            var rows = (await _h.SyncAsync("postgres", config)).Records("public-hosts").Select(SingerOutput.Json).ToList();
            Assert.Equal("""{"id":1,"ip":"::1","net":"::1/128","alias":"10.0.0.1","ips":["::1","10.1.2.3/8"]}""", rows[0]);
            Assert.Equal("""{"id":2,"ip":"10.1.2.3/8","net":"10.0.0.0/8","alias":null,"ips":null}""", rows[1]);
        }
    }

    /// <summary>
    /// A numeric without precision and scale lands as a double, as DuckDB's postgres scanner reads it: the values a double
    /// holds exactly land as they are, and one it would round fails the run naming the column, the row and the value.
    /// </summary>
    [Fact]
    public async Task A_numeric_without_precision_lands_as_a_double_when_the_double_holds_it_and_fails_the_run_when_it_would_round_it()
    {
        var db = await server.CreateDatabaseAsync("""
            CREATE TABLE public.amounts (id int PRIMARY KEY, n numeric, ns numeric[]);
            INSERT INTO amounts VALUES (1, 0.1, ARRAY[0.1, 1.50, NULL]), (2, 123.45, ARRAY[1e28]), (3, 0.30000000000000004, NULL),
                                       (4, 10000000000000000000000000000, '{}'), (5, -1.5, NULL);
            """);
        var config = Config(db);
        config["filter_tables"] = new JsonArray("amounts");
        using var lake = new TempLake();
        var pipeline = lake.BuiltInPipeline("amounts", "postgres", config);
        await TempLake.RunBuiltInAsync(pipeline);
        var query = "FROM read_parquet('{lake}/**/*.parquet', hive_partitioning = false)";
        Assert.Equal([["n", "DOUBLE"], ["ns", "DOUBLE[]"]],
            lake.Query($"SELECT column_name, column_type FROM (DESCRIBE SELECT n, ns {query})").Select(r => r.Select(v => v!).ToArray()).ToArray());
        Assert.Equal([["1", "0.1", "[0.1, 1.5, NULL]"], ["2", "123.45", "[1e+28]"], ["3", "0.30000000000000004", null], ["4", "1e+28", "[]"], ["5", "-1.5", null]],
            lake.Query($"SELECT id::VARCHAR, n::VARCHAR, ns::VARCHAR {query} ORDER BY id").Select(r => r.ToArray()).ToArray());

        await server.ExecuteAsync(db, "UPDATE amounts SET n = 12345678901234567890.123456789 WHERE id = 3");
        Assert.True(BuiltInTaps.TryGet("postgres", out var tap));
        var failed = await new PipelineRunner(new ObjectStoreFactory()).RunAsync(pipeline, new RunOptions { Source = new BuiltInSource(tap) }, CancellationToken.None);
        Assert.False(failed.Succeeded);
        Assert.Contains("postgres tap: stream 'public-amounts' column 'n' (numeric): cannot convert a value in the row id = 3: " +
            "12345678901234567890.123456789 lands as a double, which does not hold it exactly (it would land as 1.2345678901234567E+19) " +
            "(a numeric without precision and scale lands as a double; to land such values exactly, declare the column numeric(p,s)", failed.Log.Error);

        await server.ExecuteAsync(db, "UPDATE amounts SET n = 1, ns = ARRAY[0.5, 123456789012345678.12345678901] WHERE id = 3");
        var stderr = await _h.FailAsync("postgres", config);
        Assert.Contains("postgres tap: stream 'public-amounts' column 'ns' (numeric[]): cannot convert a value in the row id = 3: " +
            "an element of the array 123456789012345678.12345678901 lands as a double, which does not hold it exactly (it would land as 1.2345678901234568E+17)", stderr);
    }

    /// <summary>
    /// A numeric(38, s) of a scale beyond 18 lands as DECIMAL(38, s) with every digit, past System.Decimal's 28-29 digits
    /// and 28 places too: through the binary COPY (a full sync, straight into the column buffers), through the cursor
    /// (incremental), and in the tap's Singer output. It landed as DOUBLE, rounded, with no notice.
    /// </summary>
    [Fact]
    public async Task A_numeric_of_scale_19_to_38_lands_as_a_decimal_with_every_digit_by_copy_cursor_and_singer_output()
    {
        var db = await server.CreateDatabaseAsync("""
            CREATE TABLE public.fine (id int PRIMARY KEY, d20 numeric(38,20), d38 numeric(38,38), d19 numeric(30,19));
            INSERT INTO fine VALUES
              (1, 0.12345678901234567890, 0.00000000000000000000000000000000000001, 1.1234567890123456789),
              (2, 12345678.12345678901234567891, -0.99999999999999999999999999999999999999, 0.0000000000000000001),
              (3, -999999999999999999.99999999999999999999, 0, -12345678901.1234567890123456789),
              (4, 0, NULL, NULL);
            """);
        // DuckDB prints a DECIMAL(38,38) without the leading zero.
        string[][] expected =
        [
            ["1", "0.12345678901234567890", ".00000000000000000000000000000000000001", "1.1234567890123456789"],
            ["2", "12345678.12345678901234567891", "-.99999999999999999999999999999999999999", "0.0000000000000000001"],
            ["3", "-999999999999999999.99999999999999999999", ".00000000000000000000000000000000000000", "-12345678901.1234567890123456789"],
            ["4", "0.00000000000000000000", null!, null!],
        ];
        var config = Config(db);
        config["filter_tables"] = new JsonArray("fine");
        var incremental = config.DeepClone().AsObject();
        incremental["replication_keys"] = new JsonObject { ["public-fine"] = "id" };
        foreach (var tapConfig in new[] { config, incremental })
        {
            using var lake = new TempLake();
            await TempLake.RunBuiltInAsync(lake.BuiltInPipeline("fine", "postgres", tapConfig));
            const string from = "FROM read_parquet('{lake}/**/*.parquet', hive_partitioning = false)";
            Assert.Equal([["DECIMAL(38,20)", "DECIMAL(38,38)", "DECIMAL(38,19)"]], lake.Query($"SELECT typeof(d20), typeof(d38), typeof(d19) {from} LIMIT 1"));
            Assert.Equal(expected, lake.Query($"SELECT id::VARCHAR, d20::VARCHAR, d38::VARCHAR, d19::VARCHAR {from} ORDER BY id").Select(r => r.ToArray()).ToArray());
        }

        var output = await _h.SyncAsync("postgres", config);
        Assert.Contains("\"multipleOf\":0.00000000000000000000000000000000000001", output.Lines.Single(l => l.Contains("\"SCHEMA\"", StringComparison.Ordinal)));
        var records = output.Lines.Where(l => l.Contains("\"RECORD\"", StringComparison.Ordinal)).ToList();
        Assert.Contains("\"d20\":-999999999999999999.99999999999999999999,\"d38\":0.00000000000000000000000000000000000000,\"d19\":-12345678901.1234567890123456789", records[2]);
        Assert.Contains("\"d20\":12345678.12345678901234567891,\"d38\":-0.99999999999999999999999999999999999999", records[1]);
    }

    /// <summary>
    /// A table landed when a numeric(38,20) landed as DOUBLE keeps the column DOUBLE on an append (see
    /// <c>TableSchemaTests</c> for Iceberg and Delta): through the binary COPY, straight into the column buffers, a value
    /// the double does not hold is counted in the run log, not rounded silently; a full refresh lands DECIMAL(38,20).
    /// </summary>
    [Fact]
    public async Task A_numeric_of_scale_20_the_table_holds_as_double_keeps_landing_as_double_with_its_rounded_values_counted_until_a_full_refresh()
    {
        // The table as a build before DECIMAL(38,20) left it: the column DOUBLE.
        var db = await server.CreateDatabaseAsync("""
            CREATE TABLE public.fine (id int PRIMARY KEY, d20 double precision);
            INSERT INTO fine VALUES (1, 0.5);
            """);
        var config = Config(db);
        config["filter_tables"] = new JsonArray("fine");
        using var lake = new TempLake();
        var pipeline = lake.BuiltInPipeline("fine", "postgres", config);
        pipeline = pipeline with { Destination = pipeline.Destination with { WriteMode = WriteMode.Append, PartitionBy = PartitionBySettings.None } };
        await TempLake.RunBuiltInAsync(pipeline);
        await server.ExecuteAsync(db, """
            ALTER TABLE fine ALTER d20 TYPE numeric(38,20);
            INSERT INTO fine VALUES (2, 0.12345678901234567890), (3, 12345678.12345678901234567891), (4, 1.25);
            """);

        var append = await TempLake.RunBuiltInAsync(pipeline);
        const string files = "'{lake}/**/*.parquet'";
        Assert.Equal([["DOUBLE"]], lake.Query($"SELECT DISTINCT type FROM parquet_schema({files}) WHERE name = 'd20'"));
        Assert.Equal([["1", "0.5"], ["2", "0.12345678901234568"], ["3", "12345678.12345679"], ["4", "1.25"]],
            lake.Query($"SELECT DISTINCT id, d20 FROM read_parquet({files}) ORDER BY id"));
        var notice = Assert.Single(append.Log.Notices, n => n.Contains("'d20'", StringComparison.Ordinal));
        Assert.Contains("DECIMAL(38,20)", notice, StringComparison.Ordinal);
        Assert.Contains("still lands as DOUBLE", notice, StringComparison.Ordinal);
        Assert.Contains("2 number(s) had more significant digits than a DOUBLE holds and landed rounded", notice, StringComparison.Ordinal);
        Assert.Contains("run --full", notice, StringComparison.Ordinal);

        Assert.True(BuiltInTaps.TryGet("postgres", out var tap));
        var full = await new PipelineRunner(new ObjectStoreFactory()).RunAsync(pipeline, new RunOptions { Source = new BuiltInSource(tap), Full = true }, CancellationToken.None);
        Assert.True(full.Succeeded, full.Log.Error);
        Assert.Equal([["DecimalType(scale=20, precision=38)"]], lake.Query($"SELECT DISTINCT logical_type::VARCHAR FROM parquet_schema({files}) WHERE name = 'd20'"));
        Assert.Equal([["1", "0.50000000000000000000"], ["2", "0.12345678901234567890"], ["3", "12345678.12345678901234567891"], ["4", "1.25000000000000000000"]],
            lake.Query($"SELECT id, d20::VARCHAR FROM read_parquet({files}) ORDER BY id"));
    }

    /// <summary>
    /// The lake has no infinite date: PostgreSQL's infinity and -infinity land as the latest and earliest values it holds
    /// (as Npgsql reads them), in a column and inside an array alike, and the run log counts them per column, since a
    /// real value of those dates lands the same.
    /// </summary>
    [Fact]
    public async Task Infinite_dates_and_timestamps_land_as_the_latest_and_earliest_values_in_columns_and_arrays_and_the_run_log_counts_them()
    {
        var db = await server.CreateDatabaseAsync("""
            CREATE TABLE public.validity (id int PRIMARY KEY, valid_to timestamptz, day date, starts timestamp, days date[], ats timestamptz[]);
            INSERT INTO validity VALUES
              (1, 'infinity', 'infinity', '-infinity', ARRAY['infinity'::date, '2024-01-02', '-infinity'], ARRAY['infinity'::timestamptz, '2024-01-02 03:04:05+00']),
              (2, 'infinity', '-infinity', '2024-01-01 00:00:00', NULL, ARRAY['-infinity'::timestamptz]),
              (3, '9999-12-31 23:59:59.999999+00', '9999-12-31', '0001-01-01 00:00:00', '{}', NULL);
            """);
        var config = Config(db);
        config["filter_tables"] = new JsonArray("validity");
        foreach (var incremental in new[] { false, true })
        {
            if (incremental) config["replication_keys"] = new JsonObject { ["public-validity"] = "id" };
            using var lake = new TempLake();
            var result = await TempLake.RunBuiltInAsync(lake.BuiltInPipeline("validity", "postgres", config));
            var query = "FROM read_parquet('{lake}/**/*.parquet', hive_partitioning = false)";
            Assert.Equal([
                ["1", "9999-12-31 23:59:59.999999+00", "9999-12-31", "0001-01-01 00:00:00+00", "[9999-12-31, 2024-01-02, 0001-01-01]", "['9999-12-31 23:59:59.999999+00', '2024-01-02 03:04:05+00']"],
                ["2", "9999-12-31 23:59:59.999999+00", "0001-01-01", "2024-01-01 00:00:00+00", null, "['0001-01-01 00:00:00+00']"],
                ["3", "9999-12-31 23:59:59.999999+00", "9999-12-31", "0001-01-01 00:00:00+00", "[]", null]],
                lake.Query($"SELECT id::VARCHAR, valid_to::VARCHAR, day::VARCHAR, starts::VARCHAR, days::VARCHAR, ats::VARCHAR {query} ORDER BY id")
                    .Select(r => r.ToArray()).ToArray());
            var notices = result.Log.Notices.Where(n => n.Contains("infinity", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
            const string why = " (the latest and earliest values the lake holds, which a real value of that date lands as too)";
            Assert.Equal([
                "stream 'public-validity' column 'ats' (timestamp with time zone[]): 1 value(s) were 'infinity', landed as 9999-12-31T23:59:59.999999Z; 1 value(s) were '-infinity', landed as 0001-01-01T00:00:00Z" + why,
                "stream 'public-validity' column 'day' (date): 1 value(s) were 'infinity', landed as 9999-12-31; 1 value(s) were '-infinity', landed as 0001-01-01" + why,
                "stream 'public-validity' column 'days' (date[]): 1 value(s) were 'infinity', landed as 9999-12-31; 1 value(s) were '-infinity', landed as 0001-01-01" + why,
                "stream 'public-validity' column 'starts' (timestamp without time zone): 1 value(s) were '-infinity', landed as 0001-01-01T00:00:00Z" + why,
                "stream 'public-validity' column 'valid_to' (timestamp with time zone): 2 value(s) were 'infinity', landed as 9999-12-31T23:59:59.999999Z" + why,
            ], notices);
        }
    }

    [Fact]
    public async Task Catalog_metadata_selects_streams_and_sets_the_replication_key()
    {
        var db = await server.CreateDatabaseAsync(AllTypes);
        var config = Config(db);
        var catalog = await _h.DiscoverAsync("postgres", config);
        foreach (var s in catalog["streams"]!.AsArray())
        {
            var top = s!["metadata"]![0]!["metadata"]!.AsObject();
            var id = (string)s["tap_stream_id"]!;
            top["selected"] = id == "sales-items";
            if (id == "sales-items") { top["replication-method"] = "INCREMENTAL"; top["replication-key"] = "sku"; }
        }
        var output = await _h.SyncAsync("postgres", config, catalog: catalog);
        Assert.Equal(["sales-items"], output.RecordStreams);
        Assert.Equal("a", (string)output.LastState!["bookmarks"]!["sales-items"]!["replication_key_value"]!);
    }

    [Fact]
    public async Task An_appending_incremental_run_counts_in_the_run_log_the_rows_it_read_again_at_the_bookmark()
    {
        // Rows >= the bookmark are read (none sharing the last key is missed), so an appended table gets the rows at the
        // bookmark again on every run: said in the run log (nothing said before), not when merge replaces them by key.
        var db = await server.CreateDatabaseAsync("""
            CREATE TABLE public.ev (id int8 PRIMARY KEY, k int4 NOT NULL);
            INSERT INTO ev VALUES (1, 10), (2, 20), (3, 20);
            """);
        var config = Config(db);
        config["filter_tables"] = new JsonArray("ev");
        config["replication_keys"] = new JsonObject { ["public-ev"] = "k" };
        using var lake = new TempLake();
        var append = lake.BuiltInPipeline("ev", "postgres", config) with { Incremental = new IncrementalSettings { Enabled = true } };

        var first = await TempLake.RunBuiltInAsync(append);
        Assert.DoesNotContain(first.Log.Notices, n => n.Contains("equals the bookmark", StringComparison.Ordinal));
        var second = await TempLake.RunBuiltInAsync(append);
        Assert.Equal(2, second.Log.Streams["public-ev"].Records);
        Assert.Contains(second.Log.Notices, n => n.StartsWith("stream 'public-ev': 2 row(s) whose replication key 'k' equals the bookmark (20) were read again", StringComparison.Ordinal)
            && n.Contains("write_mode: merge", StringComparison.Ordinal));

        using var mergeLake = new TempLake();
        var merge = mergeLake.BuiltInPipeline("ev", "postgres", config) with
        {
            Incremental = new IncrementalSettings { Enabled = true },
            Destination = append.Destination with { Bucket = mergeLake.Bucket, WriteMode = WriteMode.Merge },
        };
        await TempLake.RunBuiltInAsync(merge);
        var merged = await TempLake.RunBuiltInAsync(merge);
        Assert.Equal(2, merged.Log.Streams["public-ev"].Records);
        Assert.DoesNotContain(merged.Log.Notices, n => n.Contains("equals the bookmark", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Rows_with_a_null_replication_key_are_named_in_the_run_log_on_the_first_run_and_after()
    {
        var db = await server.CreateDatabaseAsync("""
            CREATE TABLE public.tickets (id int8 PRIMARY KEY, seen_at timestamptz);
            INSERT INTO tickets VALUES (1, '2024-01-01 00:00:00+00'), (2, NULL), (3, '2024-01-02 00:00:00+00'), (4, NULL), (5, '2024-01-03 00:00:00+00');
            ANALYZE tickets;
            """);
        var config = Config(db);
        config["filter_tables"] = new JsonArray("tickets");
        config["replication_keys"] = new JsonObject { ["public-tickets"] = "seen_at" };
        using var lake = new TempLake();
        var pipeline = lake.BuiltInPipeline("tickets", "postgres", config) with { Incremental = new IncrementalSettings { Enabled = true } };
        Assert.True(BuiltInTaps.TryGet("postgres", out var tap));
        async Task<RunResult> Run()
        {
            var result = await new PipelineRunner(new ObjectStoreFactory()).RunAsync(pipeline, new RunOptions { Source = new BuiltInSource(tap) }, CancellationToken.None);
            Assert.True(result.Succeeded, result.Log.Error);
            return result;
        }

        var first = await Run();
        Assert.Contains(first.Log.Notices, n => n.StartsWith("stream 'public-tickets': 2 row(s) have a NULL replication key 'seen_at': this first run landed them", StringComparison.Ordinal)
            && n.Contains("will not land", StringComparison.Ordinal));
        var ids = "SELECT id::VARCHAR FROM read_parquet('{lake}/**/*.parquet', hive_partitioning = false) ORDER BY id";
        Assert.Equal(["1", "2", "3", "4", "5"], lake.Query(ids).Select(r => r[0]));

        // What the notice warns of: a row inserted later with a NULL key is not read by the next run.
        await server.ExecuteAsync(db, "INSERT INTO tickets VALUES (6, NULL), (7, '2024-01-04 00:00:00+00')");
        var second = await Run();
        Assert.Contains(second.Log.Notices, n => n.StartsWith("stream 'public-tickets': PostgreSQL's statistics say 40% of the rows have a NULL replication key 'seen_at'", StringComparison.Ordinal));
        Assert.Equal(["1", "2", "3", "4", "5", "5", "7"], lake.Query(ids).Select(r => r[0]));

        // A NOT NULL key needs no word.
        await server.ExecuteAsync(db, "DELETE FROM tickets WHERE seen_at IS NULL; ALTER TABLE tickets ALTER seen_at SET NOT NULL");
        var third = await Run();
        Assert.DoesNotContain(third.Log.Notices, n => n.Contains("NULL replication key", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_multidimensional_array_column_lands_as_nested_lists()
    {
        // A 2-D value reads as an array of arrays, one level per dimension of the column's values.
        var db = await server.CreateDatabaseAsync("""
            CREATE TABLE public.grids (id int8 PRIMARY KEY, cells int4[][], words text[][][], flat int4[]);
            INSERT INTO grids VALUES (1, '{{1,2},{3,NULL}}', '{{{"a","b"}},{{"c",NULL}}}', '{5,6}'), (2, NULL, '{}', '{}');
            """);
        var config = Config(db);
        config["filter_tables"] = new JsonArray("grids");
        var output = await _h.SyncAsync("postgres", config);
        var schema = output.Messages.Single(m => (string)m["type"]! == "SCHEMA")["schema"]!["properties"]!;
        Assert.Equal("""{"type":["null","array"],"items":{"type":["null","array"],"items":{"type":["null","integer"]}}}""", schema["cells"]!.ToJsonString());
        Assert.Equal("""{"type":["null","array"],"items":{"type":["null","array"],"items":{"type":["null","array"],"items":{"type":["null","string"]}}}}""",
            schema["words"]!.ToJsonString());
        Assert.Equal("""{"type":["null","array"],"items":{"type":["null","integer"]}}""", schema["flat"]!.ToJsonString());

        using var lake = new TempLake();
        await TempLake.RunBuiltInAsync(lake.BuiltInPipeline("grids", "postgres", config));
        var query = "FROM read_parquet('{lake}/**/*.parquet', hive_partitioning = false)";
        Assert.Equal([["cells", "BIGINT[][]"], ["words", "VARCHAR[][][]"], ["flat", "BIGINT[]"]],
            lake.Query($"SELECT column_name, column_type FROM (DESCRIBE SELECT cells, words, flat {query})").Select(r => r.Select(v => v!).ToArray()).ToArray());
        Assert.Equal([["1", "[[1, 2], [3, NULL]]", "[[[a, b]], [[c, NULL]]]", "[5, 6]"], ["2", null, "[]", "[]"]],
            lake.Query($"SELECT id::VARCHAR, cells::VARCHAR, words::VARCHAR, flat::VARCHAR {query} ORDER BY id").Select(r => r.ToArray()).ToArray());
    }

    [Fact]
    public async Task Array_dimensions_come_from_the_values_not_from_what_the_column_declares()
    {
        // PostgreSQL does not enforce a column's declared dimensions (pg_attribute.attndims): pg_dump writes int[][] as
        // integer[] (1), LIKE and CREATE TABLE AS record 0, and an int[][] column takes a 3-D value.
        var db = await server.CreateDatabaseAsync("""
            CREATE TABLE public.restored (id int8 PRIMARY KEY, m int4[], flat int4[], empty int4[][]);
            INSERT INTO restored VALUES (1, '{{1,2},{3,4}}', '{5}', '{}'), (2, NULL, NULL, NULL), (3, '{}', '{}', NULL);
            CREATE TABLE public.copied (LIKE restored INCLUDING ALL);
            INSERT INTO copied SELECT * FROM restored;
            CREATE TABLE public.deeper (id int8 PRIMARY KEY, c int4[][]);
            INSERT INTO deeper VALUES (1, '{{{1},{2}}}');
            """);
        var config = Config(db);
        config["filter_tables"] = new JsonArray("restored", "copied", "deeper");
        var output = await _h.SyncAsync("postgres", config);
        var schemas = output.Messages.Where(m => (string)m["type"]! == "SCHEMA").ToDictionary(m => (string)m["stream"]!, m => m["schema"]!["properties"]!);
        const string grid = """{"type":["null","array"],"items":{"type":["null","array"],"items":{"type":["null","integer"]}}}""";
        const string list = """{"type":["null","array"],"items":{"type":["null","integer"]}}""";
        foreach (var stream in (string[])["public-restored", "public-copied"])
        {
            Assert.Equal(grid, schemas[stream]["m"]!.ToJsonString());
            Assert.Equal(list, schemas[stream]["flat"]!.ToJsonString());
            // Only empty arrays and NULLs: as declared (LIKE records no dimensions: one).
            Assert.Equal(stream == "public-restored" ? grid : list, schemas[stream]["empty"]!.ToJsonString());
        }
        Assert.Equal("""{"type":["null","array"],"items":{"type":["null","array"],"items":{"type":["null","array"],"items":{"type":["null","integer"]}}}}""",
            schemas["public-deeper"]["c"]!.ToJsonString());

        using var lake = new TempLake();
        config["filter_tables"] = new JsonArray("copied");
        await TempLake.RunBuiltInAsync(lake.BuiltInPipeline("copied", "postgres", config));
        Assert.Equal([["1", "[[1, 2], [3, 4]]", "[5]"], ["2", null, null], ["3", "[]", "[]"]],
            lake.Query("SELECT id::VARCHAR, m::VARCHAR, flat::VARCHAR FROM read_parquet('{lake}/**/*.parquet', hive_partitioning = false) ORDER BY id")
                .Select(r => r.ToArray()).ToArray());

        // An incremental run measures the rows it reads, those at or past the bookmark: here only empty arrays and NULLs.
        config["filter_tables"] = new JsonArray("restored");
        config["replication_keys"] = new JsonObject { ["public-restored"] = "id" };
        var state = JsonNode.Parse("""{"bookmarks":{"public-restored":{"replication_key":"id","replication_key_value":2}}}""")!.AsObject();
        var incremental = await _h.SyncAsync("postgres", config, state);
        Assert.Equal(list, incremental.Messages.Single(m => (string)m["type"]! == "SCHEMA")["schema"]!["properties"]!["m"]!.ToJsonString());
    }

    [Fact]
    public async Task An_array_column_whose_rows_mix_dimensions_is_refused_naming_a_row()
    {
        var db = await server.CreateDatabaseAsync("""
            CREATE TABLE public.mixed (region text, id int8, m int4[], PRIMARY KEY (region, id));
            INSERT INTO mixed VALUES ('eu', 1, '{{1,2},{3,4}}'), ('us', 7, '{5,6}'), ('eu', 3, NULL);
            """);
        var config = Config(db);
        config["filter_tables"] = new JsonArray("mixed");
        var stderr = await _h.FailAsync("postgres", config);
        Assert.Contains("postgres tap: stream 'public-mixed' column 'm' (integer[]): its rows hold arrays of 1 and of 2 dimensions (the row region = us, id = 7 holds 1)", stderr);
        Assert.Contains("WHERE array_ndims(\"m\") = 1", stderr);
    }

    [Fact]
    public async Task A_wrong_password_fails_with_a_message_that_does_not_contain_it()
    {
        var db = await server.CreateDatabaseAsync("SELECT 1");
        var config = Config(db);
        config["password"] = "not-the-password-xyz";
        var stderr = await _h.FailAsync("postgres", config);
        Assert.Contains("cannot connect to 127.0.0.1", stderr);
        Assert.DoesNotContain("not-the-password-xyz", stderr);
    }

    [Fact]
    public async Task A_port_where_no_server_listens_fails_saying_the_connection_was_refused()
    {
        // A port just released: nothing listens on it.
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var config = Config("postgres");
        config["port"] = port;
        var stderr = await _h.FailAsync("postgres", config);
        Assert.Contains($"postgres tap: cannot connect to 127.0.0.1:{port}/postgres: Failed to connect to 127.0.0.1:{port} (Connection refused)", stderr);
    }
}
