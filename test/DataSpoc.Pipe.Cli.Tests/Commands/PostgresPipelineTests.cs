using DataSpoc.Pipe.Cli.Tests.Support;
using DataSpoc.Pipe.Tests.Sources.BuiltIn;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

/// <summary>
/// The built-in <c>postgres</c> tap run by the CLI process (the native binary under <c>./test.sh</c>, where Npgsql's
/// type handling must survive trimming) against a real PostgreSQL server: discovery, a typed run, an incremental rerun.
/// </summary>
[Collection("postgres")]
public sealed class PostgresPipelineTests(PostgresServer server) : IDisposable
{
    private const string Tables = """
        CREATE TYPE mood AS ENUM ('sad', 'happy');
        CREATE TABLE public.orders (
          id int4 PRIMARY KEY, big int8, price numeric(12,2), ratio float8, flag boolean, note text, uid uuid,
          day date, at_tz timestamptz NOT NULL, doc jsonb, blob bytea, tags text[], feeling mood
        );
        INSERT INTO orders VALUES
          (1, 9000000000, 1234.56, 0.5, true, 'héllo "q"', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2024-02-29',
           '2024-01-02 03:04:05.5+02', '{"a": [1, 2]}', '\x000102ff', ARRAY['x', NULL], 'happy'),
          (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2024-01-03 00:00:00+00', NULL, NULL, NULL, NULL);
        """;

    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    [Fact]
    public async Task A_postgres_pipeline_discovers_lands_typed_values_and_reruns_incrementally()
    {
        var db = await server.CreateDatabaseAsync(Tables);
        _home.Set("PG_PASSWORD", PostgresServer.Password);
        _home.WritePipeline("pg", $$"""
            source:
              tap: postgres
              config:
                host: 127.0.0.1
                port: {{server.Port}}
                user: postgres
                password: ${PG_PASSWORD}
                dbname: {{db}}
                sslmode: disable
                replication_keys: {public-orders: id}
            destination:
              bucket: {{_home.Bucket}}
            incremental:
              enabled: true
            """);

        var streams = CliProcess.Run(_home, "streams", "pg", "-o", "json");
        Assert.True(streams.ExitCode == 0, streams.ToString());
        var stream = Assert.Single(Json.Parse(streams)["streams"]!.AsArray())!;
        Assert.Equal(("public-orders", 13L), (stream.Str("stream"), stream.Long("columns")));

        var first = CliProcess.Run(_home, "run", "pg", "-o", "json");
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Equal(2, Json.Parse(first).Long("total_records"));
        Assert.DoesNotContain(PostgresServer.Password, first.Stdout + first.Stderr);
        var files = $"{_home.Lake}/raw/postgres/public-orders/dt=*/*.parquet";
        var typed = LakeReader.Rows(files, """
            id, big, price::VARCHAR, ratio, flag, note, uid::VARCHAR, day::VARCHAR, epoch_us(at_tz), doc::VARCHAR, blob::VARCHAR,
            tags::VARCHAR, feeling
            """, "id");
        Assert.Equal(
            [
                [1L, 9000000000L, "1234.56", 0.5, true, "héllo \"q\"", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "2024-02-29",
                    1704157445500000L, """{"a":[1,2]}""", "AAEC/w==", "[x, NULL]", "happy"],
                [2L, null, null, null, null, null, null, null, 1704240000000000L, null, null, null, null],
            ],
            typed);

        await server.ExecuteAsync(db, "INSERT INTO orders (id, at_tz) VALUES (3, '2024-06-01 00:00:00+00')");
        var second = CliProcess.Run(_home, "run", "pg", "-o", "json");
        Assert.True(second.ExitCode == 0, second.ToString());
        // Inclusive bookmark: row 2 (the saved bookmark) lands again, row 3 is new, row 1 is not re-read.
        Assert.Equal(2, Json.Parse(second).Long("total_records"));
        Assert.Equal([[1L, 1L], [2L, 2L], [3L, 1L]], LakeReader.Query($"SELECT id, count(*) FROM read_parquet('{files}') GROUP BY id ORDER BY id"));
    }

    [Fact]
    public async Task The_standalone_postgres_tap_prints_a_discovery_catalog()
    {
        var db = await server.CreateDatabaseAsync(Tables);
        var config = Path.Combine(_home.Root, "pg.json");
        File.WriteAllText(config, $$"""{"host": "127.0.0.1", "port": {{server.Port}}, "user": "postgres", "password": "{{PostgresServer.Password}}", "dbname": "{{db}}", "sslmode": "disable"}""");
        var result = CliProcess.Run(_home, "tap", "postgres", "--config", config, "--discover");
        Assert.True(result.ExitCode == 0, result.ToString());
        var entry = Assert.Single(Json.Parse(result)["streams"]!.AsArray())!;
        Assert.Equal("public-orders", entry.Str("tap_stream_id"));
        Assert.Equal(["id"], entry["key_properties"]!.AsArray().Select(k => k!.GetValue<string>()));
        Assert.Equal(13, entry["schema"]!["properties"]!.AsObject().Count);
        Assert.Contains(entry["metadata"]!.AsArray(), m => m!["breadcrumb"]!.AsArray().Count == 0 && m["metadata"].Bool("selected"));
    }
}
