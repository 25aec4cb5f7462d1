using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Sources.BuiltIn;
using DataSpoc.Pipe.Tests.Support;
using Npgsql;
using Xunit;

namespace DataSpoc.Pipe.Tests.Sources;

/// <summary>
/// A real public Singer tap, run as its users run it: singer-io tap-postgres 0.2.1 on singer-python 5.3.1 (from
/// <c>../shared/taps</c>, with Debian's python3 packages that <c>.ci/setup</c> installs) against a real PostgreSQL, through
/// the pipeline runner into a file:// lake read back by DuckDB and compared value by value with the database. The tap
/// reads its catalog from <c>--properties</c> only, names streams <c>&lt;db&gt;-public-&lt;table&gt;</c> in the catalog and
/// <c>&lt;table&gt;</c> in its messages, syncs only selected streams, and needs replication metadata.
/// </summary>
[Collection("postgres")]
public sealed class RealTapTests(PostgresServer server) : IDisposable
{
    private readonly TempLake _lake = new();

    public void Dispose() => _lake.Dispose();

    /// <summary>The tap's launcher in the workplace's shared folder, beside the repository (CI clones it there too).</summary>
    private static string TapPostgres
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "DataSpoc.Pipe.slnx"))) dir = dir.Parent;
            var path = Path.GetFullPath(Path.Combine(dir!.FullName, "..", "shared", "taps", "bin", "tap-postgres"));
            Assert.True(File.Exists(path), $"the real tap is expected at {path} (../shared/taps beside the repository)");
            return path;
        }
    }

    private PipelineDefinition Pipeline(string database, Func<SourceDefinition, SourceDefinition>? source = null, bool incremental = false) => new()
    {
        Name = "pg-" + database,
        Source = (source ?? (s => s))(new SourceDefinition
        {
            Tap = TapPostgres,
            InlineConfig = new JsonObject
            {
                ["host"] = "127.0.0.1", ["port"] = server.Port, ["user"] = "postgres", ["password"] = PostgresServer.Password, ["dbname"] = database,
                ["filter_dbs"] = database, // the other tests' databases on the same server are not this test's
            },
            Name = "pg",
        }),
        Destination = new DestinationDefinition { Bucket = _lake.Bucket },
        Incremental = new IncrementalSettings { Enabled = incremental },
    };

    private static async Task<RunResult> RunAsync(PipelineDefinition pipeline)
    {
        var result = await new PipelineRunner(new ObjectStoreFactory()).RunAsync(pipeline, new RunOptions(), CancellationToken.None);
        Assert.True(result.Succeeded, $"run failed: {result.Log.Error} / stderr: {result.Log.Tap?.StderrTail}");
        return result;
    }

    private const string Orders = """
        CREATE TABLE orders(id integer PRIMARY KEY, customer text, amount numeric(10,2), updated_at timestamptz NOT NULL);
        INSERT INTO orders SELECT g, 'customer ' || g, g * 1.25, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute' FROM generate_series(1, 500) g;
        CREATE TABLE customers(id integer PRIMARY KEY, name text);
        INSERT INTO customers SELECT g, 'name ' || g FROM generate_series(1, 7) g;
        """;

    private List<List<string?>> Lake(string table, string columns, string order = "id") =>
        _lake.Query($"SELECT {columns} FROM read_parquet('{{lake}}/raw/pg/{table}/*/*.parquet', union_by_name = true) ORDER BY {order}");

    private async Task<List<List<string?>>> DatabaseAsync(string database, string sql)
    {
        await using var connection = new NpgsqlConnection(server.ConnectionString(database));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<List<string?>>();
        while (await reader.ReadAsync())
            rows.Add(Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? null : reader.GetValue(i).ToString()).ToList());
        return rows;
    }

    [Fact]
    public async Task A_stream_selected_by_its_tap_stream_id_lands_every_row_through_the_properties_flag()
    {
        var db = await server.CreateDatabaseAsync(Orders);
        var result = await RunAsync(Pipeline(db, s => s with { Streams = [$"{db}-public-orders"] }));

        Assert.Equal(500, result.Log.Streams["orders"].Records);
        Assert.False(result.Log.Streams.ContainsKey("customers"));
        Assert.Contains("--properties", result.Log.Tap.Command, StringComparison.Ordinal);
        Assert.Equal(
            await DatabaseAsync(db, "SELECT id, customer, amount::text, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') FROM orders ORDER BY id"),
            Lake("orders", "id, customer, amount::VARCHAR, strftime(updated_at, '%Y-%m-%d %H:%M:%S')"));
    }

    [Fact]
    public async Task Without_source_streams_every_discovered_stream_is_selected_and_lands()
    {
        var db = await server.CreateDatabaseAsync(Orders);
        var result = await RunAsync(Pipeline(db));

        Assert.Equal(500, result.Log.Streams["orders"].Records);
        Assert.Equal(7, result.Log.Streams["customers"].Records);
        Assert.Equal(await DatabaseAsync(db, "SELECT id, name FROM customers ORDER BY id"), Lake("customers", "id, name"));
    }

    [Fact]
    public async Task A_glob_selects_by_stream_name_or_id_and_a_name_that_matches_nothing_lists_the_catalog()
    {
        var db = await server.CreateDatabaseAsync(Orders);
        var result = await RunAsync(Pipeline(db, s => s with { Streams = ["*-public-cust*"] }));
        Assert.Equal(["customers"], result.Log.Streams.Keys);

        var missing = await new PipelineRunner(new ObjectStoreFactory()).RunAsync(Pipeline(db, s => s with { Streams = ["invoices"] }), new RunOptions(), CancellationToken.None);
        Assert.False(missing.Succeeded);
        Assert.Contains("'invoices' not in the tap's catalog", missing.Log.Error, StringComparison.Ordinal);
        Assert.Contains($"{db}-public-orders (stream orders)", missing.Log.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Deselected_columns_are_not_extracted_and_the_key_stays()
    {
        var db = await server.CreateDatabaseAsync(Orders);
        await RunAsync(Pipeline(db, s => s with
        {
            Streams = ["orders"],
            Select = new Dictionary<string, IReadOnlyList<string>> { ["orders"] = ["amount"] },
        }));

        var columns = _lake.Query("SELECT column_name FROM (DESCRIBE SELECT * FROM read_parquet('{lake}/raw/pg/orders/*/*.parquet', hive_partitioning = false))").Select(r => r[0]).ToList();
        Assert.Equal(["id", "amount"], columns);
        Assert.Equal(await DatabaseAsync(db, "SELECT id, amount::text FROM orders ORDER BY id"), Lake("orders", "id, amount::VARCHAR"));
    }

    [Fact]
    public async Task Incremental_replication_hands_the_state_back_and_lands_only_new_rows_after_the_boundary()
    {
        var db = await server.CreateDatabaseAsync(Orders);
        var pipeline = Pipeline(db, s => s with
        {
            Streams = ["orders"],
            Replication = new Dictionary<string, StreamReplication> { ["orders"] = new("INCREMENTAL", "updated_at") },
        }, incremental: true);
        var first = await RunAsync(pipeline);
        Assert.Equal(500, first.Log.Streams["orders"].Records);
        var bookmark = _lake.State(pipeline.Name)?["bookmarks"]?[$"{db}-public-orders"];
        Assert.Equal("updated_at", bookmark?["replication_key"]?.ToString());

        await server.ExecuteAsync(db, """
            INSERT INTO orders SELECT g, 'customer ' || g, g * 1.25, timestamptz '2024-06-01 00:00:00+00' + g * interval '1 minute' FROM generate_series(501, 520) g;
            """);
        var second = await RunAsync(pipeline);

        // The tap selects `>=` its bookmark, so the last row of the first run comes again (write_mode: merge will land it once).
        Assert.Equal(21, second.Log.Streams["orders"].Records);
        Assert.Equal(["520", "521"], _lake.Query("SELECT count(DISTINCT id), count(*) FROM read_parquet('{lake}/raw/pg/orders/*/*.parquet')")[0]);
        Assert.Equal(await DatabaseAsync(db, "SELECT id, amount::text FROM orders ORDER BY id"), Lake("orders", "DISTINCT id, amount::VARCHAR"));
        Assert.Equal("2024-06-01T08:40:00+00:00",
            _lake.State(pipeline.Name)?["bookmarks"]?[$"{db}-public-orders"]?["replication_key_value"]?.ToString());
    }

    /// <summary>As if loaded from a file: its catalog is cached beside it, as a home's pipelines' catalogs are.</summary>
    private PipelineDefinition FromFile(PipelineDefinition pipeline) => pipeline with { FilePath = _lake.PipelineFile(pipeline.Name) };

    [Fact]
    public async Task A_column_added_at_the_source_between_incremental_runs_lands_its_values_and_the_run_log_says_so()
    {
        var db = await server.CreateDatabaseAsync(Orders);
        var pipeline = FromFile(Pipeline(db, s => s with
        {
            Streams = ["orders"],
            Replication = new Dictionary<string, StreamReplication> { ["orders"] = new("INCREMENTAL", "updated_at") },
        }, incremental: true));
        await RunAsync(pipeline);
        Assert.True(File.Exists(Path.ChangeExtension(pipeline.FilePath!, ".catalog.json")));

        // The tap builds its SELECT from the catalog: a cached one without the column would read these rows without it,
        // and the bookmark would move past them for good.
        await server.ExecuteAsync(db, """
            ALTER TABLE orders ADD COLUMN note text;
            INSERT INTO orders SELECT g, 'customer ' || g, g * 1.25, timestamptz '2024-06-01 00:00:00+00' + g * interval '1 minute', 'note ' || g
            FROM generate_series(501, 520) g;
            """);
        var second = await RunAsync(pipeline);

        Assert.Equal(
            await DatabaseAsync(db, "SELECT id, note FROM orders WHERE id > 500 ORDER BY id"),
            Lake("orders", "id, note", "id").Where(r => long.Parse(r[0]!, System.Globalization.CultureInfo.InvariantCulture) > 500).ToList());
        Assert.Contains(second.Log.Notices, n => n.StartsWith($"stream '{db}-public-orders' (table orders): the tap's catalog changed since the catalog cached in ", StringComparison.Ordinal)
            && n.Contains("new column(s) note, extracted from this run on", StringComparison.Ordinal)
            && n.Contains("run --full", StringComparison.Ordinal));
        Assert.Contains("\"note\"", File.ReadAllText(Path.ChangeExtension(pipeline.FilePath!, ".catalog.json")), StringComparison.Ordinal);

        // Once cached, the same catalog is no news.
        var third = await RunAsync(pipeline);
        Assert.DoesNotContain(third.Log.Notices, n => n.Contains("catalog changed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_table_created_after_the_first_run_lands_when_every_stream_is_selected()
    {
        var db = await server.CreateDatabaseAsync(Orders);
        var pipeline = FromFile(Pipeline(db));
        await RunAsync(pipeline);

        await server.ExecuteAsync(db, "CREATE TABLE invoices(id integer PRIMARY KEY, total numeric(8,2)); INSERT INTO invoices SELECT g, g * 2.5 FROM generate_series(1, 9) g;");
        var second = await RunAsync(pipeline);

        Assert.Equal(9, second.Log.Streams["invoices"].Records);
        Assert.Equal(await DatabaseAsync(db, "SELECT id, total::text FROM invoices ORDER BY id"), Lake("invoices", "id, total::VARCHAR"));
        Assert.Contains(second.Log.Notices, n => n.Contains($"new stream(s) since the catalog cached in ", StringComparison.Ordinal)
            && n.Contains($": {db}-public-invoices; selected, extracted from this run on", StringComparison.Ordinal));
    }

    [Fact]
    public async Task With_source_discover_cached_the_cached_catalog_is_used_and_the_tap_is_not_asked_again()
    {
        var db = await server.CreateDatabaseAsync(Orders);
        var pipeline = FromFile(Pipeline(db, s => s with { Streams = ["customers"], Discover = DiscoverModes.Cached }));
        await RunAsync(pipeline);
        await server.ExecuteAsync(db, "ALTER TABLE customers ADD COLUMN email text; UPDATE customers SET email = 'e' || id;");

        var second = await RunAsync(pipeline);

        Assert.DoesNotContain(second.Log.Notices, n => n.Contains("catalog changed", StringComparison.Ordinal));
        Assert.DoesNotContain("email", File.ReadAllText(Path.ChangeExtension(pipeline.FilePath!, ".catalog.json")), StringComparison.Ordinal);
        var columns = _lake.Query("SELECT column_name FROM (DESCRIBE SELECT * FROM read_parquet('{lake}/raw/pg/customers/*/*.parquet', hive_partitioning = false))").Select(r => r[0]).ToList();
        Assert.DoesNotContain("email", columns);
    }

    [Fact]
    public async Task The_same_activate_version_sent_again_keeps_the_table_and_a_new_one_replaces_it()
    {
        var db = await server.CreateDatabaseAsync(Orders);
        var pipeline = Pipeline(db, s => s with
        {
            Streams = ["customers"],
            Replication = new Dictionary<string, StreamReplication> { ["customers"] = new("INCREMENTAL", "id") },
        }, incremental: true);
        await RunAsync(pipeline);
        var version = _lake.Manifest().Tables["pg/customers"].TableVersion;
        Assert.NotNull(version);
        await RunAsync(pipeline); // the boundary row again, under the same version: appended, not a replacement
        Assert.Equal(version, _lake.Manifest().Tables["pg/customers"].TableVersion);
        Assert.Equal("8", _lake.Query("SELECT count(*) FROM read_parquet('{lake}/raw/pg/customers/*/*.parquet')")[0][0]);

        // FULL_TABLE sends a new version each run: the table is replaced, never doubled.
        var full = pipeline with { Source = pipeline.Source with { Replication = new Dictionary<string, StreamReplication> { ["customers"] = new("FULL_TABLE", null) } } };
        await RunAsync(full);
        await RunAsync(full);
        Assert.NotEqual(version, _lake.Manifest().Tables["pg/customers"].TableVersion);
        Assert.Equal(await DatabaseAsync(db, "SELECT id, name FROM customers ORDER BY id"), Lake("customers", "id, name"));
    }

    [Fact]
    public async Task Every_column_type_of_a_wide_table_lands_with_the_database_values()
    {
        var db = await server.CreateDatabaseAsync("""
            CREATE TABLE wide(id bigint PRIMARY KEY, c_small smallint, c_int integer, c_big bigint, c_num numeric(12,3), c_real real,
              c_double double precision, c_bool boolean, c_text text, c_varchar varchar(20), c_char char(3), c_date date, c_ts timestamp,
              c_tstz timestamptz, c_time time, c_uuid uuid, c_json json, c_jsonb jsonb, c_inet inet, c_int_arr integer[], c_text_arr text[],
              c_money money, c_bit bit(1));
            INSERT INTO wide VALUES
              (1, -32768, 2147483647, 9223372036854775807, 123456789.123, 1.5, 2.25, true, 'héllo "q" \ ✓', 'v', 'abc', '2024-02-29',
               '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05+02', '13:14:15', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a":1}',
               '{"b":[1,2]}', '10.0.0.1', '{1,2,3}', '{"x","y"}', 12.34, B'1'),
              (2, 32767, -2147483648, -9223372036854775808, -0.001, -3.25, 1e300, false, '', '', 'x', '0001-01-01', '1970-01-01 00:00:00',
               '2262-04-11 23:47:16+00', '00:00:00', '00000000-0000-0000-0000-000000000000', '[]', 'null', '::1', '{}', '{""}', -1, B'0'),
              (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
            """);
        await RunAsync(Pipeline(db, s => s with { Streams = ["wide"] }));

        AssertSameRows(
            await DatabaseAsync(db, """
                SELECT id, c_small::text, c_int::text, c_big::text, c_num::text, c_real::text, c_double::float8::text, c_bool::text,
                  c_text, c_varchar, c_char, to_char(c_date, 'YYYY-MM-DD'), to_char(c_ts, 'YYYY-MM-DD HH24:MI:SS.US'),
                  to_char(c_tstz AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), c_time::text, c_uuid::text, host(c_inet), c_money::text,
                  (c_bit = B'1')::text
                FROM wide ORDER BY id
                """),
            Lake("wide", """
                id, c_small::VARCHAR, c_int::VARCHAR, c_big::VARCHAR, c_num::VARCHAR, c_real::VARCHAR, c_double::VARCHAR,
                c_bool::VARCHAR, c_text, c_varchar, c_char, strftime(c_date, '%Y-%m-%d'), strftime(c_ts, '%Y-%m-%d %H:%M:%S.%f'),
                strftime(c_tstz, '%Y-%m-%d %H:%M:%S'), c_time, c_uuid, c_inet, c_money, c_bit::VARCHAR
                """));
        // JSON and arrays: the same JSON values (the tap re-serialises them with its own spacing, and sends a NULL array as []).
        var database = await DatabaseAsync(db, """
            SELECT c_json::text, c_jsonb::text, coalesce(array_to_json(c_int_arr)::text, '[]'), coalesce(array_to_json(c_text_arr)::text, '[]')
            FROM wide ORDER BY id
            """);
        var lake = Lake("wide", "c_json, c_jsonb, c_int_arr::VARCHAR, c_text_arr::VARCHAR");
        for (var row = 0; row < database.Count; row++)
            for (var column = 0; column < database[row].Count; column++)
                Assert.True(SameJson(database[row][column], lake[row][column]),
                    $"row {row + 1} column {column}: database {database[row][column] ?? "NULL"}, lake {lake[row][column] ?? "NULL"}");
    }

    private static void AssertSameRows(List<List<string?>> database, List<List<string?>> lake)
    {
        Assert.Equal(database.Count, lake.Count);
        for (var row = 0; row < database.Count; row++)
            for (var column = 0; column < database[row].Count; column++)
                Assert.True(database[row][column] == lake[row][column],
                    $"row {row + 1} column {column + 1}: database {database[row][column] ?? "NULL"}, lake {lake[row][column] ?? "NULL"}");
    }

    private static bool SameJson(string? a, string? b) =>
        a is null || b is null ? a == b || (a ?? b) == "null" : JsonNode.DeepEquals(JsonNode.Parse(a), JsonNode.Parse(b));

    [Fact]
    public async Task Tables_of_one_name_in_two_databases_are_refused_together_and_land_when_one_is_selected_by_id()
    {
        var first = await server.CreateDatabaseAsync(Orders);
        var second = await server.CreateDatabaseAsync(Orders);
        PipelineDefinition BothDatabases(PipelineDefinition p) =>
            p with { Source = p.Source with { InlineConfig = new JsonObject(p.Source.InlineConfig!.Where(kv => kv.Key != "filter_dbs").Select(kv => KeyValuePair.Create(kv.Key, kv.Value?.DeepClone()))) { ["filter_dbs"] = $"{first},{second}" } } };

        var mixed = await new PipelineRunner(new ObjectStoreFactory()).RunAsync(BothDatabases(Pipeline(first, s => s with { Streams = ["*-public-orders"] })), new RunOptions(), CancellationToken.None);
        Assert.False(mixed.Succeeded);
        Assert.Contains("all send their records as stream 'orders'", mixed.Log.Error, StringComparison.Ordinal);
        Assert.Empty(_lake.ParquetKeys());

        var result = await RunAsync(BothDatabases(Pipeline(first, s => s with { Streams = [$"{second}-public-orders"] })));
        Assert.Equal(500, result.Log.Streams["orders"].Records);
    }

    [Fact]
    public async Task A_tap_that_ignores_the_catalog_flag_it_is_given_fails_the_run_with_the_likely_cause()
    {
        var db = await server.CreateDatabaseAsync(Orders);
        var result = await new PipelineRunner(new ObjectStoreFactory()).RunAsync(
            Pipeline(db, s => s with { Streams = ["orders"], CatalogFlag = CatalogFlags.Catalog }), new RunOptions(), CancellationToken.None);

        Assert.False(result.Succeeded);
        Assert.Contains("no SCHEMA and no RECORD", result.Log.Error, StringComparison.Ordinal);
        Assert.Contains("passed with --catalog", result.Log.Error, StringComparison.Ordinal);
        Assert.Contains("No properties were selected", result.Log.Error, StringComparison.Ordinal);
        Assert.Empty(_lake.ParquetKeys());
        Assert.Null(_lake.State(result.Log.Pipeline));
    }
}
