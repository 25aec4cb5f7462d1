using System.Diagnostics;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Sources;
using DataSpoc.Pipe.Sources.BuiltIn;
using DataSpoc.Pipe.Tests.Support;
using Npgsql;
using Xunit;
using Xunit.Abstractions;

namespace DataSpoc.Pipe.Tests.Sources.BuiltIn;

/// <summary>
/// A full table's binary COPY is read through libpq when it loads (<see cref="Libpq"/>), else through Npgsql
/// (forced here with <see cref="Libpq.ForceNpgsqlVariable"/>): both must land the same lake and fail the same way.
/// </summary>
[Collection("postgres")]
public sealed class PostgresLibpqCopyTests(PostgresServer server, ITestOutputHelper output) : IDisposable
{
    private readonly TapHarness _h = new();

    public void Dispose() => _h.Dispose();

    /// <summary>Rows of every length up to ~6 KB, so rows cross the pump's 32-64 KiB chunks, plus every type (AllTypes).</summary>
    private const string Events = """
        CREATE TABLE public.events (id int8 PRIMARY KEY, user_id int8 NOT NULL, name text, email text, amount numeric(12,2),
          active boolean, country text, created_at timestamptz);
        INSERT INTO events SELECT g, g % 500, 'user ' || g, repeat('é', (g * 7919) % 3000) || g || '@example.com', (g % 100000) / 100.0,
            g % 3 <> 0, (ARRAY['BR','US','DE','JP',NULL])[g % 5 + 1], timestamptz '2024-01-01' + g * interval '2 seconds'
          FROM generate_series(1, 20000) g;
        """;

    private JsonObject Config(string database, params string[] tables) => new()
    {
        ["host"] = "127.0.0.1", ["port"] = server.Port, ["user"] = "postgres", ["password"] = PostgresServer.Password, ["dbname"] = database,
        ["filter_tables"] = new JsonArray([.. tables.Select(t => (JsonNode?)t)]),
    };

    [Fact]
    public void Libpq_loads_on_this_machine_so_the_other_tests_read_through_it()
    {
        Assert.NotNull(Libpq.Functions);
    }

    [Fact]
    public async Task A_full_table_lands_the_same_lake_through_libpq_and_through_Npgsql()
    {
        var db = await server.CreateDatabaseAsync(Events + PostgresTapTests.AllTypes);
        using var throughLibpq = new TempLake();
        using var throughNpgsql = new TempLake();
        var config = Config(db, "public.events", "public.all_types", "public.orders");

        var opened = LibpqConnection.Opened;
        await TempLake.RunBuiltInAsync(throughLibpq.BuiltInPipeline("copy", "postgres", config));
        Assert.Equal(opened + 1, LibpqConnection.Opened); // one libpq connection for the sync's three COPYs

        opened = LibpqConnection.Opened;
        await WithNpgsqlAsync(() => TempLake.RunBuiltInAsync(throughNpgsql.BuiltInPipeline("copy", "postgres", config)));
        Assert.Equal(opened, LibpqConnection.Opened);

        Assert.Equal(throughNpgsql.Manifest().Tables.Keys, throughLibpq.Manifest().Tables.Keys);
        foreach (var (name, expected) in throughNpgsql.Manifest().Tables)
        {
            var actual = throughLibpq.Manifest().Tables[name];
            Assert.Equal(expected.Columns, actual.Columns);
            Assert.Equal(expected.RowCount, actual.RowCount);
        }
        Assert.Equal(20000, throughLibpq.Manifest().Tables.Single(t => t.Key.EndsWith("events", StringComparison.Ordinal)).Value.RowCount);
        var folders = throughNpgsql.ParquetKeys().Select(k => Path.GetDirectoryName(k)!.Replace('\\', '/'))
            .Select(d => Path.GetFileName(d).StartsWith("dt=", StringComparison.Ordinal) ? Path.GetDirectoryName(d)!.Replace('\\', '/') : d).Distinct().ToList();
        Assert.Equal(3, folders.Count);
        foreach (var folder in folders)
        {
            var query = $"FROM read_parquet('{{lake}}/{folder}/**/*.parquet', hive_partitioning = false)";
            Assert.Equal(throughNpgsql.Query($"SELECT column_name, column_type FROM (DESCRIBE SELECT * {query})"),
                throughLibpq.Query($"SELECT column_name, column_type FROM (DESCRIBE SELECT * {query})"));
            var expectedRows = throughNpgsql.Query($"SELECT COLUMNS(*)::VARCHAR {query} ORDER BY ALL");
            Assert.NotEmpty(expectedRows);
            Assert.Equal(expectedRows, throughLibpq.Query($"SELECT COLUMNS(*)::VARCHAR {query} ORDER BY ALL"));
        }
    }

    [Fact]
    public async Task Empty_tables_and_a_table_after_them_share_one_libpq_connection()
    {
        // An empty COPY is its header and end marker only; the next table's COPY runs on the same connection.
        var db = await server.CreateDatabaseAsync(Events + "CREATE TABLE public.empty_a (id int4 PRIMARY KEY, note text); CREATE TABLE public.empty_b (id int4);");
        var opened = LibpqConnection.Opened;
        var output = await _h.SyncAsync("postgres", Config(db, "public.empty_a", "public.empty_b", "public.events"));
        Assert.Equal(opened + 1, LibpqConnection.Opened);
        Assert.Equal(["public-events"], output.RecordStreams);
        Assert.Equal(20000, output.Records("public-events").Count());
        Assert.Equal(["public-empty_a", "public-empty_b", "public-events"],
            output.Messages.Where(m => (string)m["type"]! == "ACTIVATE_VERSION").Select(m => (string)m["stream"]!).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_table_with_a_generated_column_lands_its_generated_values_either_way()
    {
        // COPY table (columns) refuses a generated column ("column "b" is a generated column"): such a table is copied through a SELECT.
        var db = await server.CreateDatabaseAsync("""
            CREATE TABLE public.gen (id int4 PRIMARY KEY, a int4, b int4 GENERATED ALWAYS AS (a * 2) STORED);
            INSERT INTO gen (id, a) VALUES (1, 21), (2, NULL);
            """);
        await using (var connection = new NpgsqlConnection(server.ConnectionString(db)))
        {
            await connection.OpenAsync();
            var gen = (await PostgresDiscovery.DiscoverAsync(connection, ["public"], [], default)).Single();
            Assert.StartsWith("(SELECT ", PostgresTableSync.CopySourceOf(gen));
            // Without the generated column the table itself is copied.
            Assert.Equal("\"public\".\"gen\" (\"id\", \"a\")", PostgresTableSync.CopySourceOf(gen with { Columns = gen.Columns.Take(2).ToList() }));
        }
        var libpq = await _h.SyncAsync("postgres", Config(db, "public.gen"));
        var npgsql = await WithNpgsqlAsync(() => _h.SyncAsync("postgres", Config(db, "public.gen")));
        foreach (var synced in new[] { libpq, npgsql })
            Assert.Equal(["""{"id":1,"a":21,"b":42}""", """{"id":2,"a":null,"b":null}"""], synced.Records("public-gen").Select(SingerOutput.Json));
    }

    [Fact]
    public async Task A_server_error_in_the_middle_of_the_copy_fails_naming_the_stream_either_way()
    {
        // The view's rows fail at id 15000, after the first ~14999 rows have been sent.
        var db = await server.CreateDatabaseAsync(Events + "CREATE VIEW public.broken AS SELECT id, 100 / (15000 - id) AS ratio, email FROM events;");
        var libpq = await _h.FailAsync("postgres", Config(db, "public.broken"));
        var npgsql = await WithNpgsqlAsync(() => _h.FailAsync("postgres", Config(db, "public.broken")));
        foreach (var stderr in new[] { libpq, npgsql })
        {
            Assert.Contains("stream 'public-broken'", stderr);
            Assert.Contains("cannot read public.broken: division by zero", stderr);
        }
    }

    [Fact]
    public async Task A_wrong_password_through_libpq_fails_with_a_message_that_does_not_contain_it()
    {
        var pq = Libpq.Functions ?? throw new InvalidOperationException("libpq does not load");
        var wrong = "not-the-password-libpq-xyz";
        var error = Assert.Throws<TapException>(() => LibpqConnection.Open(pq,
            [new("host", "127.0.0.1"), new("port", server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)), new("dbname", "postgres"),
             new("user", "postgres"), new("password", wrong), new("sslmode", "disable")], "127.0.0.1/postgres"));
        Assert.Contains("cannot connect to 127.0.0.1/postgres through libpq", error.Message);
        Assert.Contains("password authentication failed", error.Message);
        Assert.DoesNotContain(wrong, error.Message);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Cancelling_a_sync_whose_sink_waits_stops_the_servers_copy(bool throughLibpq)
    {
        // The sink stops taking rows after the first: the pump fills its pipe and waits, the server waits on the socket.
        // Reading the rest instead of cancelling would take 2 minutes (a row near the end sleeps).
        var db = await server.CreateDatabaseAsync("""
            CREATE TABLE public.events (id int8 PRIMARY KEY, email text);
            INSERT INTO events SELECT g, 'user' || g || '@example.com' FROM generate_series(1, 1000000) g;
            CREATE VIEW public.slow_events AS SELECT id, email, CASE WHEN id = 900000 THEN (SELECT 1 FROM pg_sleep(120)) END AS pause FROM events;
            """);
        using var cancel = new CancellationTokenSource();
        var sink = new StallingSink(cancel);
        var clock = Stopwatch.StartNew();
        Task Sync() => Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => ((ITypedBuiltInTap)new PostgresTap()).SyncAsync(Config(db, "public.slow_events"), null, null, sink, cancel.Token));
        await (throughLibpq ? Sync() : WithNpgsqlAsync(Sync));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"the cancelled sync took {clock.Elapsed}");
        // The server ends the COPY (no backend of that database is left running it).
        await using var connection = new NpgsqlConnection(server.ConnectionString());
        await connection.OpenAsync();
        long running = -1;
        for (var i = 0; i < 100 && running != 0; i++)
        {
            await using var count = new NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE datname = @db AND state = 'active' AND query LIKE 'COPY%'", connection);
            count.Parameters.AddWithValue("db", db);
            running = (long)(await count.ExecuteScalarAsync())!;
            if (running != 0) await Task.Delay(100);
        }
        Assert.Equal(0, running);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_copy_whose_server_process_is_terminated_fails_naming_the_stream(bool throughLibpq)
    {
        var db = await server.CreateDatabaseAsync("""
            CREATE TABLE public.events (id int8 PRIMARY KEY, email text);
            INSERT INTO events SELECT g, 'user' || g || '@example.com' FROM generate_series(1, 300000) g;
            """);
        var sink = new TerminatingSink(server.ConnectionString(), db);
        Task<TapException> Sync() => Assert.ThrowsAsync<TapException>(
            () => ((ITypedBuiltInTap)new PostgresTap()).SyncAsync(Config(db, "public.events"), null, null, sink, CancellationToken.None));
        var error = await (throughLibpq ? Sync() : WithNpgsqlAsync(Sync));
        output.WriteLine(error.Message);
        Assert.True(error.Message.StartsWith("postgres tap: stream 'public-events': cannot read public.events: ", StringComparison.Ordinal), error.Message);
        Assert.True(sink.Terminated);
        Assert.True(sink.Records < 300000, $"{sink.Records} rows arrived");
    }

    [Fact]
    public async Task An_incremental_read_whose_server_process_is_terminated_fails_naming_the_stream()
    {
        // An incremental table is read through a cursor, here in one batch (~60 MB, more than the sockets hold): the
        // server process ends while that batch's rows stream in, and the error is named like the COPY's.
        var db = await server.CreateDatabaseAsync("""
            CREATE TABLE public.events (id int8 PRIMARY KEY, email text);
            INSERT INTO events SELECT g, repeat('x', 200) || g || '@example.com' FROM generate_series(1, 300000) g;
            """);
        var config = Config(db, "public.events");
        config["replication_keys"] = new JsonObject { ["public-events"] = "id" };
        config["batch_size"] = 300000;
        var sink = new TerminatingSink(server.ConnectionString(), db, "FETCH%");
        var error = await Assert.ThrowsAsync<TapException>(
            () => ((ITypedBuiltInTap)new PostgresTap()).SyncAsync(config, null, null, sink, CancellationToken.None));
        output.WriteLine(error.Message);
        Assert.True(error.Message.StartsWith("postgres tap: stream 'public-events': cannot read public.events: ", StringComparison.Ordinal), error.Message);
        Assert.True(sink.Terminated);
        Assert.True(sink.Records < 300000, $"{sink.Records} rows arrived");
    }

    /// <summary>Runs <paramref name="action"/> with the COPY forced through Npgsql (the tests of this collection run one at a time).</summary>
    private static async Task<T> WithNpgsqlAsync<T>(Func<Task<T>> action)
    {
        Environment.SetEnvironmentVariable(Libpq.ForceNpgsqlVariable, "npgsql");
        try
        {
            Assert.Null(Libpq.Functions);
            return await action();
        }
        finally
        {
            Environment.SetEnvironmentVariable(Libpq.ForceNpgsqlVariable, null);
        }
    }

    private static Task WithNpgsqlAsync(Func<Task> action) => WithNpgsqlAsync(async () =>
    {
        await action();
        return 0;
    });

    /// <summary>At the first row, terminates the server process that runs the database's COPY (or the query <paramref name="query"/> matches), then takes every row.</summary>
    private sealed class TerminatingSink(string connectionString, string database, string query = "COPY%") : RecordSink
    {
        private readonly Rows _rows = new();

        public bool Terminated { get; private set; }

        public override long Records => _rows.Count;

        public override RowWriter WriteSchema(string stream, JsonObject schema, IReadOnlyList<string> keyProperties, IReadOnlyList<string>? bookmarkProperties = null) => _rows;

        public override void WriteState(JsonNode state) { }
        public override void WriteActivateVersion(string stream, long version) { }
        public override ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public override async ValueTask FlushIfFullAsync(CancellationToken cancellationToken)
        {
            if (Terminated) return;
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync(cancellationToken);
            await using var terminate = new NpgsqlCommand(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = @db AND query LIKE @query", connection);
            terminate.Parameters.AddWithValue("db", database);
            terminate.Parameters.AddWithValue("query", query);
            Terminated = (long)(await terminate.ExecuteScalarAsync(cancellationToken))! == 1;
        }

        private sealed class Rows : RowsWithoutValues
        {
            public long Count;
            public override void EndRow() => Count++;
        }
    }

    /// <summary>Takes one row, then waits (for the token) on every later one: a consumer that has stopped.</summary>
    private sealed class StallingSink(CancellationTokenSource cancel) : RecordSink
    {
        private readonly Rows _rows = new();

        public override long Records => _rows.Count;

        public override RowWriter WriteSchema(string stream, JsonObject schema, IReadOnlyList<string> keyProperties, IReadOnlyList<string>? bookmarkProperties = null) => _rows;

        public override void WriteState(JsonNode state) { }
        public override void WriteActivateVersion(string stream, long version) { }
        public override ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public override async ValueTask FlushIfFullAsync(CancellationToken cancellationToken)
        {
            // Long enough for the pump to fill its pipe and the server's socket.
            cancel.CancelAfter(TimeSpan.FromSeconds(1));
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        private sealed class Rows : RowsWithoutValues
        {
            public long Count;
            public override void EndRow() => Count++;
        }
    }
}
