using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Tests.Support;
using DataSpoc.Pipe.Transforms;

namespace DataSpoc.Pipe.Tests.Transforms;

/// <summary>Each declarative transform through a real run (replay tap subprocess -> Parquet), read back with DuckDB.</summary>
public class DeclarativeTransformTests
{
    private const string Schema = """{"type":"SCHEMA","stream":"users","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"name":{"type":["null","string"]},"email":{"type":["null","string"]},"amount":{"type":["null","string"]},"signed_up":{"type":["null","string"]},"vip":{"type":["null","string"]}},"required":["id"]}}""";

    private static readonly string[] Records =
    [
        """{"type":"RECORD","stream":"users","record":{"id":1,"name":"Ana","email":"ana@example.com","amount":"10.5","signed_up":"2025-01-20T10:00:00+02:00","vip":"yes"}}""",
        """{"type":"RECORD","stream":"users","record":{"id":2,"name":"Bo","email":"bo@example.com","amount":"3","signed_up":"2025-02-01","vip":"no"}}""",
        """{"type":"RECORD","stream":"users","record":{"id":3,"name":null,"email":null,"amount":null,"signed_up":null,"vip":null}}""",
    ];

    private static PipelineDefinition WithMap(TempLake lake, string mapJson, string name = "users")
    {
        var file = lake.WriteSinger("users.singer", [Schema, .. Records]);
        return lake.Pipeline(Unique(name), file) with { Transforms = new Dictionary<string, JsonNode?> { ["users"] = JsonNode.Parse(mapJson) } };
    }

    private static List<string> Columns(TempLake lake) =>
        lake.Query("select column_name from (describe select * from read_parquet('{lake}/raw/test/users/*/*.parquet', hive_partitioning = false))").Select(r => r[0]!).ToList();

    private static async Task<RunResult> RunOk(PipelineDefinition pipeline)
    {
        var result = await TempLake.RunAsync(pipeline);
        Assert.True(result.Succeeded, result.Log.Error);
        return result;
    }

    [Fact]
    public async Task Select_keeps_only_the_listed_columns_in_the_listed_order()
    {
        using var lake = new TempLake();
        await RunOk(WithMap(lake, """{"select":["name","id"]}"""));
        Assert.Equal(["name", "id"], Columns(lake));
        Assert.Equal([["Ana", "1"], ["Bo", "2"], [null, "3"]], lake.Query("select name, id from read_parquet('{lake}/raw/test/users/*/*.parquet') order by id"));
        Assert.Equal(["name", "id"], lake.Manifest().Tables["test/users"].Columns.Select(c => c.Name));
    }

    [Fact]
    public async Task Plus_adds_numbers_and_never_joins_their_digits()
    {
        // NCalc's StringConcat option made every + join text: id + 1 was 11 for id 1, and 10.5 + 1 was 10.51.
        using var lake = new TempLake();
        await RunOk(WithMap(lake, """{"compute":{"next":"id + 1","twice":"id + id","plus_one":"amount + 1","label":"concat('u', id)","names":"name + name"}}"""));
        Assert.Equal(
            [["1", "2", "2", "11.5", "u1", "AnaAna"], ["2", "3", "4", "4", "u2", "BoBo"], ["3", "4", "6", null, "u3", null]],
            lake.Query("select id, next::varchar, twice::varchar, plus_one::varchar, label, names from read_parquet('{lake}/raw/test/users/*/*.parquet') order by id"));
        // amount is a string column (compute runs before cast): NCalc adds a string that reads as a number, and the
        // column follows the expression's type, text.
        Assert.Equal(["BIGINT", "BIGINT", "VARCHAR"],
            lake.Query("select typeof(next), typeof(twice), typeof(plus_one) from read_parquet('{lake}/raw/test/users/*/*.parquet') limit 1").Single());
    }

    [Fact]
    public async Task A_math_function_of_a_null_is_null_and_max_and_min_skip_it()
    {
        // NCalc reads a null argument as 0: Round(null / 3, 2) was 0, Max(null, 5) 5 only by luck (Max(null, -5) was 0).
        using var lake = new TempLake();
        await RunOk(WithMap(lake, """{"compute":{"third":"Round(amount / 3, 2)","pos":"Abs(amount)","most":"Max(amount, -5)","least":"Min(-5, amount)"}}"""));
        Assert.Equal(
            [["1", "3.5", "10.5"], ["3", null, null]],
            lake.Query("select id, third::varchar, pos::varchar from read_parquet('{lake}/raw/test/users/*/*.parquet') where id <> 2 order by id"));
        Assert.Equal([["-5.0", "-5.0"]], lake.Query("select most::varchar, least::varchar from read_parquet('{lake}/raw/test/users/*/*.parquet') where id = 3"));
    }

    [Theory]
    [InlineData("""{"compute":{"big":"id * 4611686018427387904"}}""", "compute.big", "1")] // 2 and 3 overflow
    [InlineData("""{"filter":"id * 4611686018427387904 > 0"}""", "filter", "1")] // kept or dropped a row by a wrapped product
    [InlineData("""{"compute":{"big":"-(id - 9223372036854775807 - 2)"}}""", "compute.big", "2,3")] // -(long.MinValue) for 1
    [InlineData("""{"compute":{"rest":"id % 0"}}""", "compute.rest", "")] // failed the run naming no stream, record or field
    public async Task A_whole_number_that_overflows_rejects_its_record_never_wraps(string map, string key, string kept)
    {
        // id * 2^62 was 2^62 for id 1, -2^63 for id 2 and 2^62 again for id 3 (wrapped): wrong values, reported as success.
        using var lake = new TempLake();
        var failed = await TempLake.RunAsync(WithMap(lake, map));
        Assert.False(failed.Succeeded);
        Assert.Contains($"transforms.users.{key}", failed.Log.Error);
        var result = await RunOk(WithMap(lake, map) with { OnInvalidRecord = InvalidRecordPolicy.Skip });
        var expected = kept.Split(',', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3 - expected.Length, result.Log.Streams["users"].Rejected);
        if (expected.Length > 0)
            Assert.Equal(expected, lake.Query("select id from read_parquet('{lake}/raw/test/users/*/*.parquet') order by id").Select(r => r[0]));
    }

    [Fact]
    public async Task An_infinite_double_stays_a_value_where_NCalc_evaluates()
    {
        // NCalc's OverflowProtection calls an infinite double an overflow: only whole results are checked with it.
        using var lake = new TempLake();
        await RunOk(WithMap(lake, """{"cast":{"amount":"number"},"compute":{"huge":"Abs(amount * 1e308 * 10)"}}"""));
        Assert.Equal([["1", null], ["2", null], ["3", null]], // infinities of a compute are null (the JSON path's rule)
            lake.Query("select id, huge::varchar from read_parquet('{lake}/raw/test/users/*/*.parquet') order by id"));
    }

    [Fact]
    public async Task Drop_removes_columns_from_the_files_and_the_manifest()
    {
        using var lake = new TempLake();
        await RunOk(WithMap(lake, """{"drop":["email","vip"]}"""));
        Assert.Equal(["id", "name", "amount", "signed_up"], Columns(lake));
        Assert.DoesNotContain("email", lake.Manifest().Tables["test/users"].Columns.Select(c => c.Name));
    }

    [Fact]
    public async Task Rename_writes_values_under_the_new_column_name()
    {
        using var lake = new TempLake();
        await RunOk(WithMap(lake, """{"rename":{"name":"full_name","id":"user_id"}}"""));
        Assert.Equal(["user_id", "full_name", "email", "amount", "signed_up", "vip"], Columns(lake));
        Assert.Equal([["1", "Ana"], ["2", "Bo"], ["3", null]], lake.Query("select user_id, full_name from read_parquet('{lake}/raw/test/users/*/*.parquet') order by 1"));
        Assert.Equal(["user_id"], lake.Manifest().Tables["test/users"].KeyProperties);
    }

    [Fact]
    public async Task A_rename_onto_an_existing_column_fails_the_run_naming_the_stream_and_key()
    {
        using var lake = new TempLake();
        var result = await TempLake.RunAsync(WithMap(lake, """{"rename":{"name":"email"}}"""));
        Assert.False(result.Succeeded);
        Assert.Contains("transforms.users.rename", result.Log.Error);
        Assert.Contains("'name' to 'email' collides with column 'email'", result.Log.Error);
        Assert.Empty(lake.ParquetKeys());
    }

    [Fact]
    public void Two_renames_onto_one_name_are_rejected_by_validate_naming_the_stream_and_key()
    {
        using var lake = new TempLake();
        var errors = TransformCompiler.Validate(WithMap(lake, """{"rename":{"name":"x","email":"x"}}"""));
        var error = Assert.Single(errors);
        Assert.Equal("transforms.users.rename", error.Key);
        Assert.Contains("'name' and 'email' would all be renamed to 'x'", error.Message);
    }

    [Fact]
    public async Task Cast_converts_values_and_the_parquet_types_follow()
    {
        using var lake = new TempLake();
        await RunOk(WithMap(lake, """{"cast":{"amount":"number","signed_up":"date-time","vip":"boolean","id":"string"}}"""));
        var types = lake.Query("select column_name, column_type from (describe select * from read_parquet('{lake}/raw/test/users/*/*.parquet', hive_partitioning = false))")
            .ToDictionary(r => r[0]!, r => r[1]!);
        Assert.Equal("DOUBLE", types["amount"]);
        Assert.StartsWith("TIMESTAMP", types["signed_up"]);
        Assert.Equal("BOOLEAN", types["vip"]);
        Assert.Equal("VARCHAR", types["id"]);
        Assert.Equal(
            [["1", "10.5", "2025-01-20 08:00:00.000000", "true"], ["2", "3", "2025-02-01 00:00:00.000000", "false"], ["3", null, null, null]],
            lake.Query("select id, amount, signed_up, vip from read_parquet('{lake}/raw/test/users/*/*.parquet') order by id"));
    }

    [Fact]
    public async Task Cast_to_date_writes_a_date_column()
    {
        using var lake = new TempLake();
        await RunOk(WithMap(lake, """{"cast":{"signed_up":"date"}}"""));
        Assert.Equal([["1", "2025-01-20"], ["2", "2025-02-01"], ["3", null]],
            lake.Query("select id, strftime(signed_up, '%Y-%m-%d') from read_parquet('{lake}/raw/test/users/*/*.parquet') order by id"));
        Assert.Equal("date32", lake.Manifest().Tables["test/users"].Columns.Single(c => c.Name == "signed_up").Type);
    }

    [Theory]
    [InlineData("date", "2024-03-05", "2024-03-05", "is not an ISO-8601 date")]
    [InlineData("date-time", "2024-03-06 04:30:00.000000", "2024-03-05 00:00:00.000000", "is not an ISO-8601 date-time")]
    public async Task A_cast_to_a_date_takes_what_a_date_column_takes_and_guesses_nothing(string target, string withOffset, string bare, string problem)
    {
        // DateTimeOffset.TryParse guessed: "03:04:05" was that time on the day of the run, "1.5" the 5th of January of
        // this year, "5/6/7" 2007-05-06 (month first, two-digit year). The cast now takes exactly what a declared
        // format: date / date-time column takes: ISO 8601; a date keeps a date-time's calendar date as written.
        using var lake = new TempLake();
        string[] values = ["2024-03-05T23:30:00-05:00", "2024-03-05", "03:04:05", "5/6/7", "1.5", "March 5, 2024", "Tue, 05 Mar 2024 10:00:00 GMT", " 2024-03-05"];
        var file = lake.WriteSinger("v.singer", [
            """{"type":"SCHEMA","stream":"v","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"v":{"type":["null","string"]},"d":{"type":["null","string"],"format":"date"}}}}""",
            .. values.Select((v, i) => $$$"""{"type":"RECORD","stream":"v","record":{"id":{{{i + 1}}},"v":"{{{v}}}","d":{{{(i < 2 ? $"\"{v}\"" : "null")}}}}}""")]);
        var pipeline = lake.Pipeline(Unique("cast"), file) with
        {
            OnInvalidRecord = InvalidRecordPolicy.Skip,
            Transforms = new Dictionary<string, JsonNode?> { ["v"] = new JsonObject { ["cast"] = new JsonObject { ["v"] = target } } },
        };
        var result = await RunOk(pipeline);
        Assert.Equal([["1", withOffset], ["2", bare]],
            lake.Query($"select id, {(target == "date" ? "strftime(v, '%Y-%m-%d')" : "v")} from read_parquet('{{lake}}/raw/test/v/*/*.parquet') order by id"));
        Assert.Equal(values.Length - 2, result.Log.Streams["v"].Rejected);
        Assert.Contains(result.Log.Notices, n => n.Contains("'03:04:05' " + problem, StringComparison.Ordinal));
        if (target == "date") // the same calendar date a declared format: date column keeps
            Assert.Equal([["2024-03-05", "2024-03-05"]], lake.Query("select strftime(v, '%Y-%m-%d'), strftime(d, '%Y-%m-%d') from read_parquet('{lake}/raw/test/v/*/*.parquet') where id = 1"));
    }

    [Fact]
    public async Task A_value_that_does_not_cast_is_rejected_under_the_invalid_record_policy()
    {
        using var lake = new TempLake();
        var pipeline = WithMap(lake, """{"cast":{"name":"integer"}}""") with { OnInvalidRecord = InvalidRecordPolicy.Skip };
        var result = await RunOk(pipeline);
        Assert.Equal(2, result.Log.Streams["users"].Rejected);
        Assert.Equal([["3"]], lake.Query("select id from read_parquet('{lake}/raw/test/users/*/*.parquet')"));
    }

    [Fact]
    public async Task Hash_writes_the_sha256_hex_of_the_salted_value_and_leaves_nulls_null()
    {
        using var lake = new TempLake();
        await RunOk(WithMap(lake, """{"hash":{"columns":["email"],"salt":"pepper"}}"""));
        Assert.Equal([["1", Sha("pepperana@example.com")], ["2", Sha("pepperbo@example.com")], ["3", null]],
            lake.Query("select id, email from read_parquet('{lake}/raw/test/users/*/*.parquet') order by id"));
    }

    [Fact]
    public async Task Hashing_is_stable_across_runs_and_pipelines()
    {
        using var lake = new TempLake();
        await RunOk(WithMap(lake, """{"hash":["email"]}""", "first"));
        await RunOk(WithMap(lake, """{"hash":["email"]}""", "second"));
        var rows = lake.Query("select id, string_agg(distinct email) from read_parquet('{lake}/raw/test/users/*/*.parquet') where email is not null group by id order by id");
        Assert.Equal([["1", Sha("ana@example.com")], ["2", Sha("bo@example.com")]], rows);
        Assert.Equal(2, lake.ParquetKeys().Count);
    }

    [Fact]
    public async Task A_hash_salt_from_an_environment_variable_stays_out_of_the_run_log()
    {
        using var lake = new TempLake();
        var file = lake.WriteSinger("users.singer", [Schema, .. Records]);
        var yaml = $$"""
            source:
              tap: {{TempLake.ReplayTap}}
              name: test
              config:
                file: {{file}}
            destination:
              bucket: {{lake.Bucket}}
            transforms:
              users:
                hash:
                  columns: [email]
                  salt: ${PII_SALT}
            """;
        var pipeline = new PipelineLoader(environment: v => v == "PII_SALT" ? "s3cr3t-salt" : null).Parse(yaml, Unique("salted"), "salted.yaml");
        await RunOk(pipeline);
        Assert.Equal([[Sha("s3cr3t-saltana@example.com")]], lake.Query("select email from read_parquet('{lake}/raw/test/users/*/*.parquet') where id = 1"));
        Assert.Contains("s3cr3t-salt", pipeline.Secrets);
        Assert.DoesNotContain("s3cr3t-salt", File.ReadAllText(Directory.GetFiles(Path.Combine(lake.Root, ".dataspoc/logs", pipeline.Name)).Single()));
    }

    [Fact]
    public async Task Filter_keeps_only_the_rows_it_accepts()
    {
        using var lake = new TempLake();
        var result = await RunOk(WithMap(lake, """{"filter":"name != null and lower(vip) = 'yes'"}"""));
        Assert.Equal([["1", "Ana"]], lake.Query("select id, name from read_parquet('{lake}/raw/test/users/*/*.parquet')"));
        Assert.Equal(1, result.Log.Streams["users"].Records);
        Assert.Equal(2, result.Log.Streams["users"].Filtered);
    }

    [Fact]
    public async Task A_filter_that_drops_every_row_commits_an_empty_table_with_the_schema()
    {
        using var lake = new TempLake();
        var result = await RunOk(WithMap(lake, """{"filter":"id > 100"}"""));
        Assert.Equal(0, result.Log.TotalRecords);
        Assert.Empty(lake.ParquetKeys());
        var table = lake.Manifest().Tables["test/users"];
        Assert.Equal(0, table.RowCount);
        Assert.Equal(["id", "name", "email", "amount", "signed_up", "vip"], table.Columns.Select(c => c.Name));
    }

    [Fact]
    public async Task Compute_adds_columns_whose_type_follows_the_expression()
    {
        using var lake = new TempLake();
        await RunOk(WithMap(lake, """{"compute":{"double_id":"id * 2","ratio":"id / 4","label":"concat(upper(name), '-', id)","big":"id >= 2"},"cast":{"label":"string"}}"""));
        var types = lake.Query("select column_name, column_type from (describe select * from read_parquet('{lake}/raw/test/users/*/*.parquet', hive_partitioning = false))")
            .ToDictionary(r => r[0]!, r => r[1]!);
        Assert.Equal("BIGINT", types["double_id"]);
        Assert.Equal("DOUBLE", types["ratio"]);
        Assert.Equal("BOOLEAN", types["big"]);
        Assert.Equal(
            [["1", "2", "0.25", "ANA-1", "false"], ["2", "4", "0.5", "BO-2", "true"], ["3", "6", "0.75", "-3", "true"]],
            lake.Query("select id, double_id, ratio, label, big from read_parquet('{lake}/raw/test/users/*/*.parquet') order by id"));
    }

    [Fact]
    public async Task A_column_the_stream_does_not_have_fails_the_run_naming_the_stream_key_and_column()
    {
        using var lake = new TempLake();
        var result = await TempLake.RunAsync(WithMap(lake, """{"select":["id","phone"]}"""));
        Assert.False(result.Succeeded);
        Assert.Contains("transforms.users.select: column 'phone' is not in the stream", result.Log.Error);
    }

    [Fact]
    public void Validate_names_each_bad_key_of_each_stream()
    {
        using var lake = new TempLake();
        var pipeline = WithMap(lake, """{"cast":{"id":"int"},"filter":"id >","compute":{"x":"nope(id)"},"colour":1,"select":"id"}""");
        var errors = TransformCompiler.Validate(pipeline).Select(e => e.Key + ": " + e.Reason).ToList();
        Assert.Contains(errors, e => e.StartsWith("transforms.users.cast.id: unknown type 'int'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("transforms.users.filter: 'id >' is not a valid expression", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("transforms.users.compute.x: 'nope(id)' calls unknown function 'nope'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("transforms.users.colour: unknown key", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("transforms.users.select: expected a list", StringComparison.Ordinal));
        var compile = Assert.Throws<ConfigException>(() => TransformCompiler.Compile(pipeline));
        Assert.Contains("more transform error(s)", compile.Message);
    }

    [Fact]
    public async Task A_map_for_another_stream_leaves_this_one_untouched()
    {
        using var lake = new TempLake();
        var file = lake.WriteSinger("users.singer", [Schema, .. Records]);
        var pipeline = lake.Pipeline(Unique("users"), file) with { Transforms = new Dictionary<string, JsonNode?> { ["orders"] = JsonNode.Parse("""{"drop":["x"]}""") } };
        await RunOk(pipeline);
        Assert.Equal(["id", "name", "email", "amount", "signed_up", "vip"], Columns(lake));
    }

    [Fact]
    public void Key_properties_follow_renames_and_lose_columns_the_map_removes()
    {
        using var lake = new TempLake();
        var map = Assert.Single(TransformCompiler.Compile(WithMap(lake, """{"rename":{"id":"user_id"},"drop":["email"]}""")));
        map.TransformSchema("users", JsonNode.Parse("""{"type":"object","properties":{"id":{"type":"integer"},"email":{"type":"string"}}}""")!.AsObject());
        Assert.Equal(["user_id"], map.TransformKeyProperties("users", ["id", "email"]));
    }

    /// <summary>The engine keys its temp folders by pipeline name machine-wide, so concurrent test runs must not share names.</summary>
    private static string Unique(string name) => name + "-" + Guid.NewGuid().ToString("N")[..6];

    private static string Sha(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
