using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Sources;
using DataSpoc.Pipe.Sources.BuiltIn;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace DataSpoc.Pipe.Tests.Sources.BuiltIn;

/// <summary>
/// Every built-in tap that writes typed rows (<see cref="ITypedBuiltInTap"/>) and has a fixture here, run both ways: its
/// rows typed into the engine's sink, and the same rows printed as Singer JSON and read back, must give the same lake.
/// A tap that still prints Singer text has nothing to compare (the test says so and passes).
/// </summary>
[Collection("postgres")]
public sealed class TypedTapDifferentialTests(PostgresServer server, ITestOutputHelper output) : IDisposable
{
    private readonly TapHarness _h = new();

    public void Dispose() => _h.Dispose();

    public static TheoryData<string, InvalidRecordPolicy> Fixtures() => new()
    {
        { "csv", InvalidRecordPolicy.Fail },
        { "csv", InvalidRecordPolicy.Quarantine },
        { "jsonl", InvalidRecordPolicy.Quarantine },
        { "parquet", InvalidRecordPolicy.Fail },
        { "postgres", InvalidRecordPolicy.Fail },
    };

    [Fact]
    public void Every_built_in_tap_but_the_network_one_has_a_fixture()
    {
        var withFixtures = Fixtures().Select(row => (string)row[0]).ToHashSet();
        Assert.Equal(BuiltInTaps.Names.Where(n => n != "google-sheets-public"), BuiltInTaps.Names.Where(withFixtures.Contains));
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public async Task A_typed_tap_lands_the_lake_its_Singer_JSON_lands(string name, InvalidRecordPolicy policy)
    {
        Assert.True(BuiltInTaps.TryGet(name, out var tap));
        if (tap is not ITypedBuiltInTap)
        {
            output.WriteLine($"the {name} tap prints Singer text: nothing to compare");
            return;
        }
        var config = await FixtureAsync(name);
        var (typed, _) = await TypedSourceDifferential.AssertSameLakeAsync(bucket => new PipelineDefinition
        {
            Name = "typed-" + name,
            Source = new SourceDefinition { Tap = name, InlineConfig = config },
            Destination = new DestinationDefinition { Bucket = bucket },
            Incremental = new IncrementalSettings { Enabled = true },
            OnInvalidRecord = policy,
        }, () => new BuiltInSource(tap));
        Assert.True(typed.Succeeded, typed.Log.Error);
        Assert.True(typed.Log.TotalRecords > 0);
    }

    /// <summary>
    /// A map that filters, computes, casts and hashes runs on the typed rows of the tap (no RECORD line printed for
    /// them): the lake must be the one the same rows printed as Singer JSON land through the map on the JSON side.
    /// </summary>
    [Theory]
    [InlineData("csv", "orders", "id != 3", "amount * id", "concat(note, '-', id)", "id", "paid", "note")]
    [InlineData("postgres", "public-all_types", "big > 0", "double_v * small", "concat(name, '-', code)", "small", "flag", "name")]
    public async Task A_filter_compute_cast_hash_map_on_typed_rows_lands_what_it_lands_on_their_Singer_JSON(
        string name, string stream, string filter, string number, string text, string toNumber, string toString, string hashed)
    {
        Assert.True(BuiltInTaps.TryGet(name, out var tap));
        var config = await FixtureAsync(name);
        var map = new JsonObject
        {
            ["filter"] = filter,
            ["compute"] = new JsonObject { ["product"] = number, ["label"] = text },
            ["cast"] = new JsonObject { [toNumber] = "number", [toString] = "string" },
            ["hash"] = new JsonArray((JsonNode)hashed),
        };
        var (typed, _) = await TypedSourceDifferential.AssertSameLakeAsync(bucket => new PipelineDefinition
        {
            Name = "typed-map-" + name,
            Source = new SourceDefinition { Tap = name, InlineConfig = config },
            Destination = new DestinationDefinition { Bucket = bucket },
            Transforms = new Dictionary<string, JsonNode?> { [stream] = map },
            OnInvalidRecord = InvalidRecordPolicy.Quarantine,
        }, () => new BuiltInSource(tap));
        Assert.True(typed.Succeeded, typed.Log.Error);
        Assert.Equal(1, typed.Log.Streams[stream].Filtered);
        Assert.True(typed.Log.Streams[stream].Records > 0);
    }

    [Fact]
    public async Task Seeded_postgres_numerics_land_through_the_typed_decimal_append_as_their_Singer_JSON_lands()
    {
        // numeric(p, s) columns become decimal columns of scale s, filled by the typed decimal append without text;
        // a view's unconstrained numeric is a number column (doubles). Seeded values of 1 to 18 digits, both signs.
        var db = await server.CreateDatabaseAsync("""
            CREATE TABLE public.amounts (id int4 PRIMARY KEY, whole numeric(18,0), money numeric(12,2), fine numeric(20,6));
            SELECT setseed(0.61);
            INSERT INTO amounts SELECT g, round(((random() - 0.5) * 10 ^ (g % 19))::numeric), round(((random() - 0.5) * 10 ^ (g % 11))::numeric, 2),
                round(((random() - 0.5) * 10 ^ (g % 15))::numeric, g % 7)
              FROM generate_series(1, 2000) g;
            INSERT INTO amounts VALUES (0, 0, 0, 0), (-1, NULL, -0.01, 99999999999999.999999);
            CREATE VIEW public.amounts_loose AS SELECT id, money::numeric AS money, fine::numeric(30,8) AS fine FROM amounts;
            """);
        var config = new JsonObject
        {
            ["host"] = "127.0.0.1", ["port"] = server.Port, ["user"] = "postgres", ["password"] = PostgresServer.Password, ["dbname"] = db,
            ["filter_tables"] = new JsonArray("public.amounts", "public.amounts_loose"),
        };
        Assert.True(BuiltInTaps.TryGet("postgres", out var tap));
        var (typed, _) = await TypedSourceDifferential.AssertSameLakeAsync(bucket => new PipelineDefinition
        {
            Name = "typed-numerics",
            Source = new SourceDefinition { Tap = "postgres", InlineConfig = config },
            Destination = new DestinationDefinition { Bucket = bucket },
        }, () => new BuiltInSource(tap));
        Assert.True(typed.Succeeded, typed.Log.Error);
        Assert.Equal(2002, typed.Log.Streams["public-amounts"].Records);
    }

    /// <summary>Every column type the tap stores without JSON text, edge values and nulls included (no json or array column).</summary>
    private const string FlatTypes = """
        CREATE TYPE mood AS ENUM ('sad', 'happy');
        CREATE TABLE public.flat (
          id int4 PRIMARY KEY, small int2, big int8, real_v float4, double_v float8, price numeric(12,2), exact numeric,
          flag boolean, name text, code varchar(5), letter char(3), uid uuid, day date, at timestamp, at_tz timestamptz,
          clock time, blob bytea, feeling mood, span interval);
        INSERT INTO flat VALUES
          (1, -32768, 9223372036854775807, 1.1, 0.1, -1234567890.12, 0.000001, true, 'héllo "q" ✓', 'ab', 'x',
           'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2024-02-29', '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.5+02',
           '23:59:59.999999', '\x000102ff', 'happy', '1 day 02:00:00'),
          (2, NULL, -9223372036854775808, 'NaN', 'Infinity', 0, -0.5, false, '', NULL, NULL, NULL, '0001-01-01', NULL,
           '1970-01-01 00:00:00+00', '00:00', '\x', NULL, NULL),
          (3, NULL, NULL, '-Infinity', '-0', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
        INSERT INTO flat (id, big, price, name, at_tz) SELECT g, g * 7919, g / 100.0, 'user ' || g, timestamptz '2024-01-01' + g * interval '1 second'
          FROM generate_series(4, 3000) g;
        """;

    [Fact]
    public async Task A_flat_postgres_table_copied_straight_into_the_column_buffers_lands_as_its_Singer_JSON_lands()
    {
        // Every column stores its values itself, so the COPY's rows skip the row writer (RowWriter.Direct).
        var db = await server.CreateDatabaseAsync(FlatTypes);
        var (typed, _) = await TypedSourceDifferential.AssertSameLakeAsync(bucket => FlatPipeline(bucket, db, "public.flat"), BuiltInPostgres);
        Assert.True(typed.Succeeded, typed.Log.Error);
        Assert.Equal(3000, typed.Log.Streams["public-flat"].Records);
    }

    [Fact]
    public async Task Float_NaN_and_the_infinities_land_as_they_are_in_columns_and_arrays_by_both_paths()
    {
        // They landed as null before (a float8[] holding one failed the run: array_to_json writes "NaN" as a string).
        var db = await server.CreateDatabaseAsync("""
            CREATE TABLE public.floats (id int4 PRIMARY KEY, d float8, r float4, ds float8[]);
            INSERT INTO floats VALUES (1, 'NaN', '-Infinity', '{NaN,1.5,Infinity}'), (2, 1.5, 'Infinity', '{-Infinity}'), (3, NULL, NULL, NULL);
            """);
        var (typed, _) = await TypedSourceDifferential.AssertSameLakeAsync(bucket => FlatPipeline(bucket, db, "public.floats"), BuiltInPostgres);
        Assert.True(typed.Succeeded, typed.Log.Error);

        using var lake = new TempLake();
        await TempLake.RunBuiltInAsync(FlatPipeline(lake.Bucket, db, "public.floats"));
        Assert.Equal([["1", "nan", "-inf", "[nan, 1.5, inf]"], ["2", "1.5", "inf", "[-inf]"], ["3", null, null, null]],
            lake.Query("select id, d::varchar, r::varchar, ds::varchar from read_parquet('{lake}/raw/postgres/public-floats/*/*.parquet') order by id"));
    }

    [Fact]
    public async Task A_value_the_direct_copy_cannot_read_fails_the_run_as_it_fails_value_by_value()
    {
        // A numeric NaN has no decimal: the row is given again value by value, whose error names the column and the row.
        var db = await server.CreateDatabaseAsync("""
            CREATE TABLE public.bad (id int4 PRIMARY KEY, amount numeric, note text);
            INSERT INTO bad SELECT g, g, 'n' || g FROM generate_series(1, 500) g;
            INSERT INTO bad VALUES (501, 'NaN', 'x');
            """);
        var (typed, _) = await TypedSourceDifferential.AssertSameLakeAsync(bucket => FlatPipeline(bucket, db, "public.bad"), BuiltInPostgres);
        Assert.False(typed.Succeeded);
        Assert.Contains("column 'amount'", typed.Log.Error);
        Assert.Contains("id = 501", typed.Log.Error);
    }

    [Fact]
    public async Task Text_that_is_not_UTF_8_fails_the_direct_copy_naming_its_stream()
    {
        // A SQL_ASCII database stores any bytes. The server checks them against the connection's UTF8 client_encoding
        // and stops the COPY; were any to arrive, the string column's append declines them and the row read again
        // value by value fails naming its column. Either way the run fails: no value is stored altered.
        var db = "t_" + Guid.NewGuid().ToString("N")[..10];
        await server.ExecuteAsync("postgres", $"CREATE DATABASE {db} ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
        await server.ExecuteAsync(db, """
            CREATE TABLE public.latin (id int4 PRIMARY KEY, note text);
            INSERT INTO latin SELECT g, 'caf' || g FROM generate_series(1, 500) g;
            INSERT INTO latin VALUES (501, E'caf\351');
            """);
        var (typed, _) = await TypedSourceDifferential.AssertSameLakeAsync(bucket => FlatPipeline(bucket, db, "public.latin"), BuiltInPostgres);
        Assert.False(typed.Succeeded);
        Assert.Contains("stream 'public-latin'", typed.Log.Error);
        Assert.Contains("UTF8", typed.Log.Error);
    }

    private static ISource BuiltInPostgres() => BuiltInTaps.TryGet("postgres", out var tap) ? new BuiltInSource(tap) : throw new InvalidOperationException("no postgres tap");

    private PipelineDefinition FlatPipeline(string bucket, string db, string table) => new()
    {
        Name = "typed-flat",
        Source = new SourceDefinition
        {
            Tap = "postgres",
            InlineConfig = new JsonObject
            {
                ["host"] = "127.0.0.1", ["port"] = server.Port, ["user"] = "postgres", ["password"] = PostgresServer.Password, ["dbname"] = db,
                ["filter_tables"] = new JsonArray(table),
            },
        },
        Destination = new DestinationDefinition { Bucket = bucket },
    };

    private async Task<JsonObject> FixtureAsync(string name)
    {
        switch (name)
        {
            case "csv":
                _h.Write("csv/orders.csv",
                    "id,amount,paid,day,created_at,at_time,note,code\n" +
                    "1,10.50,true,2024-01-02,2024-01-02T10:00:00.1234567Z,10:11:12,\"hello, \"\"world\"\"\",007\n" +
                    "2,3,false,2024-01-03,2024-01-03 11:30:00+02:00,23:59:59.999999,ünïcode ✓,012\n" +
                    "3,,TRUE,,2024-01-04T12:00:00-03:30,,,100\n" +
                    "4,-0.001,false,2024-02-29,2024-02-29T00:00:00Z,00:00,\"multi\nline\",\n");
                return new JsonObject { ["path"] = _h.Path("csv") };
            case "jsonl":
                _h.Write("jsonl/events.jsonl",
                    "{\"id\": 1, \"at\": \"2024-01-02T03:04:05Z\", \"doc\": {\"a\": [1, 2]}, \"n\": 1.50}\n" +
                    "{\"id\": 2, \"at\": null, \"extra\": \"x\", \"n\": 2}\n" +
                    "{\"id\": \"three\", \"n\": 3e0}\n");
                return new JsonObject { ["path"] = _h.Path("jsonl") };
            case "parquet":
                return new JsonObject { ["path"] = await ParquetFilesAsync() };
            case "postgres":
                var db = await server.CreateDatabaseAsync(PostgresTapTests.AllTypes);
                return new JsonObject
                {
                    ["host"] = "127.0.0.1", ["port"] = server.Port, ["user"] = "postgres", ["password"] = PostgresServer.Password, ["dbname"] = db,
                    ["filter_tables"] = new JsonArray("public.orders", "public.all_types"),
                };
            default:
                throw new ArgumentException($"no fixture for the {name} tap");
        }
    }

    /// <summary>Parquet files of every column type: a csv fixture landed by the engine itself, read back by the parquet tap.</summary>
    private async Task<string> ParquetFilesAsync()
    {
        var csv = await FixtureAsync("csv");
        var lake = _h.Path("parquet-lake");
        Directory.CreateDirectory(lake);
        var result = await new PipelineRunner(new ObjectStoreFactory()) { TypedSources = false }.RunAsync(new PipelineDefinition
        {
            Name = "parquet-fixture",
            Source = new SourceDefinition { Tap = "csv", InlineConfig = csv },
            Destination = new DestinationDefinition { Bucket = "file://" + lake, PartitionBy = PartitionBySettings.None },
        }, new RunOptions { Source = BuiltInTaps.TryGet("csv", out var tap) ? new BuiltInSource(tap) : null }, CancellationToken.None);
        Assert.True(result.Succeeded, result.Log.Error);
        return Path.Combine(lake, "raw", "csv", "orders");
    }
}
