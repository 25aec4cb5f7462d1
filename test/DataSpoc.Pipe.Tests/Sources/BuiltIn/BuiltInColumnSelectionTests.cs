using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Sources.BuiltIn;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;
using Xunit;

namespace DataSpoc.Pipe.Tests.Sources.BuiltIn;

/// <summary>
/// <c>source.select</c> with the built-in taps: only the selected columns, the key columns and (incremental) the
/// replication key land, in the Parquet files and the manifest's schema. The taps extracted every column (the excluded
/// ones, PII, landed), since they built their reads from the live table or file and looked only at stream selection.
/// </summary>
[Collection("postgres")]
public sealed class BuiltInColumnSelectionTests(PostgresServer server) : IDisposable
{
    private const string Customers = """
        CREATE TABLE public.customers (id int4 PRIMARY KEY, name text, email text, updated_at timestamptz NOT NULL);
        INSERT INTO customers VALUES (1, 'ann', 'ann@x.io', '2024-01-01 00:00:00+00'), (2, 'bob', 'bob@x.io', '2024-01-02 00:00:00+00'),
                                     (3, 'cy', 'cy@x.io', '2024-01-03 00:00:00+00'), (4, 'di', 'di@x.io', '2024-01-04 00:00:00+00');
        """;

    private readonly TempLake _lake = new();
    private readonly TapHarness _h = new();

    public void Dispose()
    {
        _lake.Dispose();
        _h.Dispose();
    }

    private JsonObject PostgresConfig(string db)
    {
        Environment.SetEnvironmentVariable("DATASPOC_TEST_PG_PASSWORD", PostgresServer.Password);
        return new JsonObject
        {
            ["host"] = "127.0.0.1", ["port"] = server.Port, ["user"] = "postgres", ["password"] = "${DATASPOC_TEST_PG_PASSWORD}", ["dbname"] = db,
            ["sslmode"] = "disable", ["filter_tables"] = new JsonArray("public.customers"),
        };
    }

    private PipelineDefinition Selecting(string tap, JsonObject config, string stream, params string[] columns)
    {
        var pipeline = _lake.BuiltInPipeline($"{tap}-select", tap, config);
        return pipeline with
        {
            Source = pipeline.Source with { Select = new Dictionary<string, IReadOnlyList<string>> { [stream] = columns } },
        };
    }

    /// <summary>Asserts the landed columns (DuckDB's reading of every Parquet file of the table) and the manifest's are <paramref name="expected"/>.</summary>
    private void AssertColumns(string table, params string[] expected)
    {
        var landed = _lake.Query($"SELECT column_name FROM (DESCRIBE SELECT * FROM read_parquet('{{lake}}/raw/{table}/**/*.parquet', hive_partitioning = false))")
            .Select(r => r[0]!).ToList();
        Assert.Equal(expected, landed);
        Assert.Equal(expected, _lake.Manifest().Tables[table].Columns.Select(c => c.Name));
    }

    private List<List<string?>> Rows(string table, string columns) =>
        _lake.Query($"SELECT {columns} FROM read_parquet('{{lake}}/raw/{table}/**/*.parquet', hive_partitioning = false) ORDER BY 1");

    [Fact]
    public async Task A_full_table_postgres_pipeline_lands_only_the_selected_columns_and_the_primary_key()
    {
        var db = await server.CreateDatabaseAsync(Customers);
        await TempLake.RunBuiltInAsync(Selecting("postgres", PostgresConfig(db), "public-customers", "name"));

        AssertColumns("postgres/public-customers", "id", "name");
        Assert.Equal([["1", "ann"], ["2", "bob"], ["3", "cy"], ["4", "di"]], Rows("postgres/public-customers", "id::VARCHAR, name"));
    }

    [Fact]
    public async Task An_incremental_postgres_pipeline_lands_the_selected_columns_the_key_and_the_replication_key_and_keeps_its_bookmark()
    {
        var db = await server.CreateDatabaseAsync(Customers);
        var pipeline = Selecting("postgres", PostgresConfig(db), "public-customers", "email");
        pipeline = pipeline with
        {
            Source = pipeline.Source with { Replication = new Dictionary<string, StreamReplication> { ["public-customers"] = new("INCREMENTAL", "updated_at") } },
            Incremental = new IncrementalSettings { Enabled = true },
        };
        await TempLake.RunBuiltInAsync(pipeline);
        AssertColumns("postgres/public-customers", "id", "email", "updated_at");

        await server.ExecuteAsync(db, "INSERT INTO customers VALUES (5, 'ed', 'ed@x.io', '2024-01-05 00:00:00+00')");
        var second = await TempLake.RunBuiltInAsync(pipeline);
        // From the bookmark on: the row at it again, and the new one.
        Assert.Equal(2, second.Log.TotalRecords);
        Assert.Equal(["ann@x.io", "bob@x.io", "cy@x.io", "di@x.io", "di@x.io", "ed@x.io"], Rows("postgres/public-customers", "email").Select(r => r[0]));
    }

    [Fact]
    public async Task A_split_postgres_pipeline_lands_only_the_selected_columns_even_when_it_splits_on_another_one()
    {
        var db = await server.CreateDatabaseAsync(Customers);
        var pipeline = Selecting("postgres", PostgresConfig(db), "public-customers", "name");
        pipeline = pipeline with { Source = pipeline.Source with { Split = new SplitSettings("updated_at", 2, 2) } };
        await TempLake.RunBuiltInAsync(pipeline);

        AssertColumns("postgres/public-customers", "id", "name");
        Assert.Equal([["1", "ann"], ["2", "bob"], ["3", "cy"], ["4", "di"]], Rows("postgres/public-customers", "id::VARCHAR, name"));
    }

    [Fact]
    public async Task The_standalone_postgres_tap_leaves_out_a_column_its_catalog_deselects()
    {
        var db = await server.CreateDatabaseAsync(Customers);
        var config = PostgresConfig(db);
        var catalog = await _h.DiscoverAsync("postgres", config);
        var stream = catalog["streams"]![0]!.AsObject();
        stream["schema"]!["properties"]!.AsObject().Remove("email");
        var email = stream["metadata"]!.AsArray().Single(m => m!["breadcrumb"]!.ToJsonString() == """["properties","email"]""")!;
        email["metadata"]!["selected"] = false;

        var output = await _h.SyncAsync("postgres", config, catalog: catalog);
        Assert.Equal(["id", "name", "updated_at"], output.Schemas["public-customers"]["properties"]!.AsObject().Select(p => p.Key));
        Assert.Equal("""{"id":1,"name":"ann","updated_at":"2024-01-01T00:00:00.000000Z"}""", SingerOutput.Json(output.Records("public-customers").First()));
        Assert.DoesNotContain(output.Lines, line => line.Contains("@x.io", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_selected_column_the_table_does_not_have_fails_the_run_naming_the_stream_the_column_and_what_it_has()
    {
        var db = await server.CreateDatabaseAsync(Customers);
        Assert.True(BuiltInTaps.TryGet("postgres", out var tap));
        var result = await new PipelineRunner(new ObjectStoreFactory()).RunAsync(Selecting("postgres", PostgresConfig(db), "public-customers", "name", "phone"),
            new RunOptions { Source = new BuiltInSource(tap) }, CancellationToken.None);
        Assert.False(result.Succeeded);
        Assert.Contains("stream 'public-customers' has no column 'phone'; it has: id, name, email, updated_at", result.Log.Error);
        Assert.False(Directory.Exists(Path.Combine(_lake.Root, "raw")));
    }

    [Fact]
    public async Task A_csv_pipeline_lands_only_the_selected_columns_and_the_key_and_does_not_parse_the_others()
    {
        // 'secret' holds a value its declared type refuses: a column left out is skipped, never parsed.
        _h.Write("in/orders.csv", "id,name,secret,amount\n1,a,x1,10.5\n2,b,x2,3\n");
        var config = new JsonObject
        {
            ["path"] = _h.Path("in"),
            ["streams"] = new JsonArray(new JsonObject
            {
                ["name"] = "orders", ["pattern"] = "*.csv", ["key_properties"] = new JsonArray("id"),
                ["types"] = new JsonObject { ["secret"] = "integer" },
            }),
        };
        await TempLake.RunBuiltInAsync(Selecting("csv", config, "orders", "amount"));

        AssertColumns("csv/orders", "id", "amount");
        Assert.Equal([["1", "10.5"], ["2", "3.0"]], Rows("csv/orders", "id::VARCHAR, amount::VARCHAR"));
    }

    [Fact]
    public async Task A_jsonl_pipeline_lands_only_the_selected_properties_and_the_key()
    {
        _h.Write("in/events.jsonl", """
            {"id": 1, "kind": "a", "secret": {"ssn": "1"}, "n": 1.5}
            {"id": 2, "kind": "b", "secret": {"ssn": "2"}, "n": NaN}
            """);
        var config = new JsonObject
        {
            ["path"] = _h.Path("in"),
            ["streams"] = new JsonArray(new JsonObject { ["name"] = "events", ["pattern"] = "*.jsonl", ["key_properties"] = new JsonArray("id") }),
        };
        var result = await TempLake.RunBuiltInAsync(Selecting("jsonl", config, "events", "kind", "n"));

        AssertColumns("jsonl/events", "id", "kind", "n");
        Assert.Equal([["1", "a", "1.5"], ["2", "b", "nan"]], Rows("jsonl/events", "id::VARCHAR, kind, n::VARCHAR"));
        Assert.Empty(result.Log.Streams.Values.SelectMany(s => s.DroppedProperties.Keys));

        // The standalone tap sends no left-out property either.
        var catalog = await _h.DiscoverAsync("jsonl", config);
        var secret = catalog["streams"]![0]!["metadata"]!.AsArray().Single(m => m!["breadcrumb"]!.ToJsonString() == """["properties","secret"]""")!;
        secret["metadata"]!["selected"] = false;
        var (exit, stdout, stderr) = await _h.RunRawAsync("jsonl", config, catalog: catalog);
        Assert.True(exit == 0, stderr);
        Assert.DoesNotContain("ssn", System.Text.Encoding.UTF8.GetString(stdout), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_parquet_pipeline_lands_only_the_selected_columns_and_the_key()
    {
        Directory.CreateDirectory(_h.Path("in"));
        _lake.Query($"COPY (SELECT * FROM (VALUES (1, 'a', {{'ssn': '1'}}, 1.5), (2, 'b', {{'ssn': '2'}}, 2.5)) t(id, kind, secret, n)) " +
            $"TO '{_h.Path("in/events.parquet")}' (FORMAT PARQUET)");
        var config = new JsonObject
        {
            ["path"] = _h.Path("in"),
            ["streams"] = new JsonArray(new JsonObject { ["name"] = "events", ["pattern"] = "*.parquet", ["key_properties"] = new JsonArray("id") }),
        };
        await TempLake.RunBuiltInAsync(Selecting("parquet", config, "events", "n"));

        AssertColumns("parquet/events", "id", "n");
        Assert.Equal([["1", "1.5"], ["2", "2.5"]], Rows("parquet/events", "id::VARCHAR, n::VARCHAR"));
    }
}
