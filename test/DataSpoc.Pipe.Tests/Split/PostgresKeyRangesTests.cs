using System.Text.Json.Nodes;
using DataSpoc.Pipe.Sources.BuiltIn;
using DataSpoc.Pipe.Tests.Sources.BuiltIn;
using DataSpoc.Pipe.Tests.Support;
using Npgsql;
using Xunit;
using Xunit.Abstractions;

namespace DataSpoc.Pipe.Tests.Split;

/// <summary>
/// <c>source.split</c> in the built-in postgres tap against a real server: whatever the key's type, skew and nulls, the
/// parts of one plan read every row exactly once, read all at once in one process or one part at a time.
/// </summary>
[Collection("postgres")]
public sealed class PostgresKeyRangesTests(PostgresServer server, ITestOutputHelper output) : IDisposable
{
    private readonly TapHarness _h = new();

    public void Dispose() => _h.Dispose();

    /// <summary>Random keys (seeded in SQL): a skewed int8, timestamps, dates, short text with duplicates, uuids, numerics; 5% nulls.</summary>
    private async Task<string> ItemsAsync(int seed, int rows)
    {
        output.WriteLine($"seed {seed} (replay with DATASPOC_FUZZ_SEED={seed})");
        return await server.CreateDatabaseAsync($"""
            SELECT setseed({(seed % 10_000) / 10_000.0});
            CREATE TABLE public.items (id int8 PRIMARY KEY, at timestamptz, day date, code text, uid uuid, amount numeric(12,2), small int2);
            INSERT INTO items
            SELECT g + CASE WHEN g % 10 = 0 THEN 1000000000000 ELSE 0 END,
                   CASE WHEN random() < 0.05 THEN NULL ELSE timestamptz '2024-01-01 00:00:00+00' + random() * interval '400 days' END,
                   CASE WHEN random() < 0.05 THEN NULL ELSE date '2020-01-01' + (random() * 2000)::int END,
                   CASE WHEN random() < 0.05 THEN NULL ELSE substr(md5(random()::text), 1, 1 + (random() * 3)::int) END,
                   CASE WHEN random() < 0.05 THEN NULL ELSE md5(random()::text)::uuid END,
                   CASE WHEN random() < 0.05 THEN NULL ELSE round((random() * 1000)::numeric, 2) END,
                   CASE WHEN random() < 0.05 THEN NULL ELSE (random() * 20)::int2 END
            FROM generate_series(1, {rows}) g;
            """);
    }

    private JsonObject Config(string database, JsonObject? split)
    {
        Environment.SetEnvironmentVariable("DATASPOC_TEST_PG_PASSWORD", PostgresServer.Password);
        var config = new JsonObject
        {
            ["host"] = "127.0.0.1", ["port"] = server.Port, ["user"] = "postgres", ["password"] = "${DATASPOC_TEST_PG_PASSWORD}",
            ["dbname"] = database, ["sslmode"] = "disable", ["batch_size"] = 500,
        };
        if (split is not null) config[PostgresTap.SplitKey] = split;
        return config;
    }

    private async Task<List<long>> AllIdsAsync(string database)
    {
        await using var connection = new NpgsqlConnection(server.ConnectionString(database));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT id FROM items ORDER BY id", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var ids = new List<long>();
        while (await reader.ReadAsync()) ids.Add(reader.GetInt64(0));
        return ids;
    }

    private static List<long> Ids(SingerOutput output) => output.Records("public-items").Select(r => (long)r["id"]!).ToList();

    [Theory]
    [InlineData("id")]
    [InlineData("at")]
    [InlineData("day")]
    [InlineData("code")]
    [InlineData("uid")]
    [InlineData("amount")]
    [InlineData("small")]
    public async Task The_parts_of_one_plan_read_every_row_exactly_once(string column)
    {
        var seed = FuzzSeed.FromEnvironment();
        var db = await ItemsAsync(seed, 3000);
        var expected = await AllIdsAsync(db);
        foreach (var parts in new[] { 1, 3, 4, 7 })
        {
            // One process, every range, three at a time: one SCHEMA, the rows once each, one ACTIVATE_VERSION.
            var whole = await _h.SyncAsync("postgres", Config(db, new JsonObject { ["column"] = column, ["parts"] = parts, ["parallel"] = 3 }));
            Assert.Equal(expected, Ids(whole).Order().ToList());
            Assert.Single(whole.Messages, m => (string)m["type"]! == "SCHEMA");
            Assert.Single(whole.Messages, m => (string)m["type"]! == "ACTIVATE_VERSION");

            // One part at a time (as workers do), all reading one plan.
            var plan = await new PostgresTap().PlanSplitAsync(Config(db, new JsonObject { ["column"] = column, ["parts"] = parts }), null, null, CancellationToken.None);
            var perPart = new List<List<long>>();
            for (var part = 0; part < parts; part++)
                perPart.Add(Ids(await _h.SyncAsync("postgres", Config(db, new JsonObject { ["column"] = column, ["parts"] = parts, ["part"] = part, ["plan"] = plan.DeepClone() }))));
            Assert.Equal(expected, perPart.SelectMany(p => p).Order().ToList());
            output.WriteLine($"{column} in {parts}: {string.Join(" ", perPart.Select(p => p.Count))}");
            // Min/max or quantile ranges over 3,000 rows of many distinct values: no part holds more than twice its share,
            // except the skewed int8 (min/max ranges follow the span, not the rows: 10% of the ids are 10^12 higher).
            if (column is not ("id" or "small") && parts > 1)
                Assert.All(perPart, p => Assert.InRange(p.Count, 1, 2 * expected.Count / parts + 200));
        }
    }

    [Fact]
    public async Task An_incremental_split_reads_the_window_once_and_saves_its_upper_end_as_the_bookmark()
    {
        var db = await ItemsAsync(FuzzSeed.FromEnvironment(), 2000);
        var config = Config(db, new JsonObject { ["column"] = "code", ["parts"] = 4, ["parallel"] = 4 });
        config["replication_keys"] = new JsonObject { ["public-items"] = "id" };
        var first = await _h.SyncAsync("postgres", config);
        var expected = await AllIdsAsync(db);
        Assert.Equal(expected, Ids(first).Order().ToList());
        var state = first.LastState!;
        Assert.Equal(expected.Max(), (long)state["bookmarks"]!["public-items"]!["replication_key_value"]!);
        Assert.DoesNotContain(first.Messages, m => (string)m["type"]! == "ACTIVATE_VERSION");

        await server.ExecuteAsync(db, "INSERT INTO items (id, code) VALUES (2000000000000, 'zz'), (2000000000001, NULL)");
        var second = await _h.SyncAsync("postgres", config, state);
        // The bookmark row again (inclusive, as unsplit incremental reads are), then the new rows.
        Assert.Equal([expected.Max(), 2000000000000, 2000000000001], Ids(second).Order().ToList());
        Assert.Equal(2000000000001, (long)second.LastState!["bookmarks"]!["public-items"]!["replication_key_value"]!);

        var third = await _h.SyncAsync("postgres", config, second.LastState);
        Assert.Equal([2000000000001], Ids(third));
    }

    [Fact]
    public async Task A_column_that_cannot_order_rows_or_a_second_selected_table_is_refused_by_name()
    {
        var db = await server.CreateDatabaseAsync("CREATE TABLE a (id int, doc jsonb, f float8); CREATE TABLE b (id int);");
        var json = await _h.FailAsync("postgres", Config(db, new JsonObject { ["column"] = "id", ["parts"] = 2 }));
        Assert.Contains("source.split reads one table, but 2 are selected (public-a, public-b)", json);
        var config = Config(db, new JsonObject { ["column"] = "doc", ["parts"] = 2 });
        config["filter_tables"] = new JsonArray("a");
        Assert.Contains("stream 'public-a': source.split column 'doc': its type jsonb cannot split a table", await _h.FailAsync("postgres", config));
        config[PostgresTap.SplitKey] = new JsonObject { ["column"] = "nope", ["parts"] = 2 };
        Assert.Contains("source.split column 'nope' is not a column of public.a", await _h.FailAsync("postgres", config));
    }
}
