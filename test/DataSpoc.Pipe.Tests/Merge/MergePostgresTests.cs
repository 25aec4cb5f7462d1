using System.Globalization;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Sources.BuiltIn;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Sources.BuiltIn;
using DataSpoc.Pipe.Tests.Support;
using Npgsql;
using Xunit.Abstractions;

namespace DataSpoc.Pipe.Tests.Merge;

/// <summary>
/// <c>write_mode: merge</c> over the built-in postgres tap with a replication key (a real PostgreSQL on 127.0.0.1):
/// random inserts, updates and soft deletes (<c>_sdc_deleted_at</c> set, as a CDC tap would send them), each bumping
/// <c>updated_at</c>; the tap re-sends the boundary row of its inclusive bookmark every run. After each run the lake,
/// read by DuckDB, equals the table's rows that are not deleted.
/// </summary>
[Collection("postgres")]
public sealed class MergePostgresTests(PostgresServer server, ITestOutputHelper output) : IDisposable
{
    private readonly TempLake _lake = new();

    public void Dispose() => _lake.Dispose();

    [Fact]
    public async Task The_lake_equals_the_postgres_table_after_every_run_of_random_inserts_updates_and_soft_deletes()
    {
        var seed = FuzzSeed.FromEnvironment();
        output.WriteLine($"seed {seed} (replay: DATASPOC_FUZZ_SEED={seed})");
        var random = new Random(seed);
        var db = await server.CreateDatabaseAsync("""
            CREATE TABLE public.accounts (id int PRIMARY KEY, name text, qty int8, score float8, updated_at timestamptz NOT NULL, _sdc_deleted_at timestamptz);
            """);
        Environment.SetEnvironmentVariable("DATASPOC_TEST_PG_PASSWORD", PostgresServer.Password);
        var pipeline = new PipelineDefinition
        {
            Name = "pg-merge",
            Source = new SourceDefinition
            {
                Tap = "postgres",
                InlineConfig = new JsonObject
                {
                    ["host"] = "127.0.0.1", ["port"] = server.Port, ["user"] = "postgres", ["password"] = "${DATASPOC_TEST_PG_PASSWORD}", ["dbname"] = db,
                    ["filter_tables"] = new JsonArray("public.accounts"),
                    ["replication_keys"] = new JsonObject { ["public-accounts"] = "updated_at" },
                },
            },
            Destination = new DestinationDefinition { Bucket = _lake.Bucket, MaxFileRows = 40, WriteMode = WriteMode.Merge },
            Incremental = new IncrementalSettings { Enabled = true },
        };
        Assert.True(BuiltInTaps.TryGet("postgres", out var tap));
        var clock = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var nextId = 1;
        await using var connection = new NpgsqlConnection(server.ConnectionString(db));
        await connection.OpenAsync();

        for (var run = 1; run <= 20; run++)
        {
            for (var change = 0; change < 30; change++)
            {
                clock = clock.AddSeconds(random.Next(1, 5)).AddTicks(random.Next(0, 10_000_000) / 10 * 10);
                var ids = await IdsAsync(connection);
                var roll = random.NextDouble();
                await using var command = connection.CreateCommand();
                command.Parameters.AddWithValue("at", clock);
                command.Parameters.AddWithValue("name", random.Next(4) == 0 ? DBNull.Value : $"name {random.Next(1000)} ção");
                command.Parameters.AddWithValue("qty", random.Next(5) == 0 ? DBNull.Value : random.NextInt64(-1L << 40, 1L << 40));
                command.Parameters.AddWithValue("score", Math.Round(random.NextDouble() * 1000, 3));
                if (ids.Count == 0 || roll < 0.35)
                {
                    command.CommandText = "INSERT INTO accounts VALUES (@id, @name, @qty, @score, @at, NULL)";
                    command.Parameters.AddWithValue("id", nextId++);
                }
                else
                {
                    command.Parameters.AddWithValue("id", ids[random.Next(ids.Count)]);
                    command.CommandText = roll < 0.8
                        ? "UPDATE accounts SET name = @name, qty = @qty, score = @score, updated_at = @at, _sdc_deleted_at = NULL WHERE id = @id"
                        : "UPDATE accounts SET updated_at = @at, _sdc_deleted_at = @at WHERE id = @id";
                }
                await command.ExecuteNonQueryAsync();
            }

            var result = await new PipelineRunner(new ObjectStoreFactory()).RunAsync(pipeline, new RunOptions { Source = new BuiltInSource(tap) }, CancellationToken.None);
            Assert.True(result.Succeeded, $"seed {seed} run {run}: {result.Log.Error}");
            var expected = await QueryAsync(connection, "SELECT id, name, qty, score, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') FROM accounts WHERE _sdc_deleted_at IS NULL ORDER BY id");
            var files = _lake.ParquetKeys();
            var actual = files.Count == 0 ? [] : _lake.Query(
                "SELECT id, name, qty, score, updated_at FROM read_parquet([" + string.Join(", ", files.Select(k => $"'{{lake}}/{k}'")) + "]) ORDER BY id");
            Assert.True(expected.Count == actual.Count && expected.Zip(actual).All(p => p.First.SequenceEqual(p.Second)),
                $"seed {seed} run {run}: lake ({actual.Count} rows) differs from the table ({expected.Count} rows): first difference " +
                string.Join(" | ", expected.Zip(actual).FirstOrDefault(p => !p.First.SequenceEqual(p.Second)).First ?? []));
            Assert.Equal(actual.Count, _lake.Manifest().Tables["postgres/public-accounts"].RowCount);
        }
    }

    private static async Task<List<int>> IdsAsync(NpgsqlConnection connection)
    {
        var ids = new List<int>();
        await using var command = new NpgsqlCommand("SELECT id FROM accounts ORDER BY id", connection);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) ids.Add(reader.GetInt32(0));
        return ids;
    }

    private static async Task<List<List<string?>>> QueryAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<List<string?>>();
        while (await reader.ReadAsync())
            rows.Add(Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? null : reader.GetValue(i) switch
            {
                double d => d.ToString("R", CultureInfo.InvariantCulture),
                var v => Convert.ToString(v, CultureInfo.InvariantCulture),
            }).ToList());
        return rows;
    }
}
