using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Tests.Support;
using DataSpoc.Pipe.Transforms;

namespace DataSpoc.Pipe.Tests.Transforms;

/// <summary>
/// Expression values that differed from DuckDB's (integers through doubles, date-times compared as text, decimal
/// remainders in doubles, branch types, text cast to integer), through a real run and checked against DuckDB.
/// </summary>
public class ExpressionValueTests
{
    private const string Schema = """{"type":"SCHEMA","stream":"t","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"i":{"type":["null","integer"]},"n":{"type":["null","number"]},"d":{"type":["null","number"],"multipleOf":0.01},"b":{"type":["null","boolean"]},"s":{"type":["null","string"]},"ts":{"type":["null","string"],"format":"date-time"},"t":{"type":["null","string"],"format":"time"}},"required":["id"]}}""";

    private static readonly string[] Records =
    [
        """{"type":"RECORD","stream":"t","record":{"id":1,"i":9007199254740993,"n":2.5,"d":2.50,"b":true,"s":"9007199254740993.0","ts":"2024-06-15T10:00:00Z","t":"06:00:00"}}""",
        """{"type":"RECORD","stream":"t","record":{"id":2,"i":9223372036854775807,"n":1e300,"d":-2.55,"b":false,"s":"1234567890123456789.0","ts":"2024-06-15T12:00:00+02:00","t":"06:00:00.5"}}""",
        """{"type":"RECORD","stream":"t","record":{"id":3,"i":-7,"n":-1.5,"d":-7.25,"b":null,"s":"12345678901234567e2","ts":"2024-06-16T00:00:00Z","t":"05:59:59"}}""",
    ];

    private const string Landed = "read_parquet('{lake}/raw/test/t/*/*.parquet')";

    private static PipelineDefinition Pipeline(TempLake lake, JsonObject map, InvalidRecordPolicy policy = InvalidRecordPolicy.Fail, params string[] records)
    {
        var file = lake.WriteSinger("t.singer", [Schema, .. records.Length > 0 ? records : Records]);
        return lake.Pipeline("ev-" + Guid.NewGuid().ToString("N")[..6], file) with
        {
            OnInvalidRecord = policy,
            Transforms = new Dictionary<string, JsonNode?> { ["t"] = map },
        };
    }

    private static async Task<TempLake> Landing(JsonObject map)
    {
        var lake = new TempLake();
        var result = await TempLake.RunAsync(Pipeline(lake, map));
        Assert.True(result.Succeeded, result.Log.Error);
        return lake;
    }

    [Theory]
    [InlineData("ts >= '2024-06-15T10:00:00Z'", "1,2,3")] // .000000Z sorted below Z: id 1 and 2 (the same instant) were dropped
    [InlineData("ts = '2024-06-15T12:00:00+02:00'", "1,2")]
    [InlineData("ts < '2024-06-16'", "1,2")]
    [InlineData("t = '06:00:00'", "1")] // no stored time equalled the literal
    [InlineData("t > '06:00:00'", "2")] // 06:00:00.000000 sorted above it
    [InlineData("'06:00' <= t", "1,2")]
    public async Task A_filter_compares_date_times_and_times_as_DuckDB_does(string filter, string expected)
    {
        using var lake = await Landing(new JsonObject { ["filter"] = filter });
        Assert.Equal(expected, string.Join(",", lake.Query($"select id from {Landed} order by id").Select(r => r[0])));
    }

    private const string TemporalSchema = """{"type":"SCHEMA","stream":"t","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"s":{"type":["null","string"]},"ts":{"type":["null","string"],"format":"date-time"},"day":{"type":["null","string"],"format":"date"}},"required":["id"]}}""";

    [Theory]
    [InlineData("s >= '2024-06-15T10:00:00Z'", "s >= '2024-06-15T10:00:00Z'")] // text: '.' sorts below 'Z' (was read as a date-time from its spelling)
    [InlineData("s = '2024-06-15T10:00:00Z'", "s = '2024-06-15T10:00:00Z'")]
    [InlineData("ts = '2024-01-01T10:00:00+02:00'", "ts = TIMESTAMPTZ '2024-01-01T10:00:00+02:00'")]
    [InlineData("ts < '2024-01-01T09:30:00+01:00'", "ts < TIMESTAMPTZ '2024-01-01T09:30:00+01:00'")]
    // A date reads a date-time text as its date as written, as DuckDB casts the literal to DATE (compared as text, 2024-06-15 was below it).
    [InlineData("day >= '2024-06-15T12:00:00Z'", "day >= '2024-06-15T12:00:00Z'")]
    [InlineData("day = '2024-06-15T10:00:00+02:00'", "day = '2024-06-15T10:00:00+02:00'")]
    [InlineData("'2024-06-16T23:00:00-05:00' > day", "'2024-06-16T23:00:00-05:00' > day")]
    public async Task Text_compares_as_a_date_time_by_the_columns_declared_type_not_its_spelling(string filter, string duckDbWhere)
    {
        string[] records =
        [
            """{"type":"RECORD","stream":"t","record":{"id":1,"s":"2024-06-15T10:00:00.000000Z","ts":"2024-01-01T08:00:00Z","day":"2024-06-15"}}""",
            """{"type":"RECORD","stream":"t","record":{"id":2,"s":"2024-06-15T10:00:00Z","ts":"2024-01-01T07:59:59Z","day":"2024-06-16"}}""",
            """{"type":"RECORD","stream":"t","record":{"id":3,"s":"2024-06-15T11:00:00.000000Z","ts":"2024-01-01T10:00:00+02:00","day":"2024-06-14"}}""",
        ];
        using var all = new TempLake();
        var plain = await TempLake.RunAsync(all.Pipeline("plain", all.WriteSinger("t.singer", [TemporalSchema, .. records])));
        Assert.True(plain.Succeeded, plain.Log.Error);
        var duckDb = string.Join(",", all.Query($"select id from {Landed} where {duckDbWhere} order by id").Select(r => r[0]));

        using var lake = new TempLake();
        var file = lake.WriteSinger("t.singer", [TemporalSchema, .. records]);
        var filtered = await TempLake.RunAsync(lake.Pipeline("filtered", file) with
        {
            Transforms = new Dictionary<string, JsonNode?> { ["t"] = new JsonObject { ["filter"] = filter } },
        });
        Assert.True(filtered.Succeeded, filtered.Log.Error);
        Assert.Equal(duckDb, string.Join(",", lake.Query($"select id from {Landed} order by id").Select(r => r[0])));
    }

    [Fact]
    public async Task A_computed_comparison_of_a_date_with_a_date_time_text_is_the_filters_and_DuckDBs()
    {
        string[] records =
        [
            """{"type":"RECORD","stream":"t","record":{"id":1,"day":"2024-06-15"}}""",
            """{"type":"RECORD","stream":"t","record":{"id":2,"day":"2024-06-14"}}""",
        ];
        using var lake = new TempLake();
        var result = await TempLake.RunAsync(lake.Pipeline("computed", lake.WriteSinger("t.singer", [TemporalSchema, .. records])) with
        {
            Transforms = new Dictionary<string, JsonNode?> { ["t"] = new JsonObject { ["compute"] = new JsonObject { ["late"] = "day >= '2024-06-15T12:00:00Z'" } } },
        });
        Assert.True(result.Succeeded, result.Log.Error);
        Assert.Equal([["1", "true", "true"], ["2", "false", "false"]],
            lake.Query($"select id, late::VARCHAR, (day >= '2024-06-15T12:00:00Z')::VARCHAR from {Landed} order by id"));
    }

    [Theory]
    [InlineData("filter", "day > 'June 15'", "date", "day", "June 15")]
    [InlineData("filter", "ts < '2024-13-01T00:00:00Z' or id > 0", "date-time", "ts", "2024-13-01T00:00:00Z")]
    [InlineData("compute.c", "if('soon' = day, 1, 2)", "date", "day", "soon")]
    public async Task A_text_that_is_not_of_the_compared_temporal_columns_type_fails_the_run_naming_the_key(string key, string expression, string type, string column, string literal)
    {
        using var lake = new TempLake();
        var map = key == "filter" ? new JsonObject { ["filter"] = expression } : new JsonObject { ["compute"] = new JsonObject { ["c"] = expression } };
        var result = await TempLake.RunAsync(lake.Pipeline("bad", lake.WriteSinger("t.singer",
            [TemporalSchema, """{"type":"RECORD","stream":"t","record":{"id":1,"day":"2024-06-15","ts":"2024-06-15T10:00:00Z"}}"""])) with
        {
            Transforms = new Dictionary<string, JsonNode?> { ["t"] = map },
        });
        Assert.False(result.Succeeded);
        // DuckDB: Conversion Error, the literal is cast to the column's type; here it compared as text, and kept or dropped rows.
        Assert.Contains($"transforms.t.{key}: '{expression}' compares the {type} column '{column}' with '{literal}', which is not a {type}", result.Log.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("id = 12345678901234567890123", "12345678901234567890123")]
    [InlineData("d > 0.123456789012345678901", "0.123456789012345678901")]
    [InlineData("i * 1.00000000000000000001 > 0", "1.00000000000000000001")]
    public void A_number_written_with_more_digits_than_a_double_holds_is_refused_naming_it(string text, string literal)
    {
        // NCalc reads it as a double (12345678901234567890123 as 1.2345678901234568E+22): the comparison would be made
        // in doubles, where DuckDB's is exact (HUGEINT / DECIMAL): `id = 12345678901234567890122` would be true as well.
        Assert.Null(TransformExpression.TryParse(text, out var error));
        Assert.Contains($"writes the number {literal}, which the expression would read as the double", error, StringComparison.Ordinal);
        Assert.Contains($"quote it to compare it as text ('{literal}')", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("id = 9223372036854775807")]
    [InlineData("d > 0.1 and n < 1e308 and n > 1.5E-7")]
    [InlineData("s = '12345678901234567890123' and [x1234567890123456789012] > 0 and abc12345678901234567890 > 0")]
    [InlineData("n = 100000000000000000000000")]
    public void Numbers_a_double_holds_exactly_and_digits_in_text_or_names_are_accepted(string text) =>
        Assert.NotNull(TransformExpression.TryParse(text, out _));

    [Fact]
    public async Task Max_Min_Abs_Floor_and_Round_of_integers_stay_exact_integers()
    {
        // As doubles: 9007199254740993 landed 9007199254740992.0, 9223372036854775807 as 9.223372036854776e+18. As DuckDB's
        // greatest, least and abs of a BIGINT; Floor and Round of a whole number are the number itself (DuckDB's floor gives a DOUBLE).
        using var lake = await Landing(new JsonObject { ["compute"] = new JsonObject
        {
            ["mx"] = "Max(i, 5)", ["mn"] = "Min(i, 0)", ["ab"] = "Abs(i)", ["fl"] = "Floor(i)", ["ro"] = "Round(i, 0)",
        } });
        var rows = lake.Query($"""
            select id, mx::varchar, greatest(i, 5)::varchar, mn::varchar, least(i, 0)::varchar, ab::varchar, abs(i)::varchar,
                   fl::varchar, i::varchar, ro::varchar, i::varchar,
                   typeof(mx) || typeof(mn) || typeof(ab) || typeof(fl) || typeof(ro)
            from {Landed} order by id
            """);
        Assert.Equal(3, rows.Count);
        foreach (var row in rows)
        {
            for (var c = 1; c < 11; c += 2) Assert.True(row[c] == row[c + 1], $"row {row[0]} column {c}: landed {row[c]}, DuckDB {row[c + 1]}");
            Assert.Equal("BIGINTBIGINTBIGINTBIGINTBIGINT", row[11]);
        }
        Assert.Equal([["9007199254740993", "9223372036854775807"]], lake.Query($"select (select mx::varchar from {Landed} where id = 1), (select ab::varchar from {Landed} where id = 2)"));
    }

    [Fact]
    public async Task Abs_of_the_smallest_integer_is_an_invalid_record_naming_the_compute()
    {
        using var lake = new TempLake();
        var smallest = """{"type":"RECORD","stream":"t","record":{"id":4,"i":-9223372036854775808}}""";
        var map = new JsonObject { ["compute"] = new JsonObject { ["ab"] = "Abs(i)" } };
        var failed = await TempLake.RunAsync(Pipeline(lake, map, InvalidRecordPolicy.Fail, Records[0], smallest));
        Assert.False(failed.Succeeded);
        Assert.Contains("compute.ab", failed.Log.Error);
        var skipped = await TempLake.RunAsync(Pipeline(lake, map, InvalidRecordPolicy.Skip, Records[0], smallest));
        Assert.True(skipped.Succeeded, skipped.Log.Error);
        Assert.Equal(1, skipped.Log.Streams["t"].Rejected);
    }

    [Theory]
    [InlineData("i = 9007199254740992.0", "")] // as doubles 9007199254740993 equalled it
    [InlineData("i != 9007199254740992.0", "1,2,3")]
    [InlineData("i > 9007199254740992.0", "1,2")]
    [InlineData("9007199254740992.0 < i", "1,2")]
    public async Task An_integer_compares_exactly_with_a_number_written_with_a_fraction(string filter, string expected)
    {
        using var lake = new TempLake();
        var result = await TempLake.RunAsync(Pipeline(lake, new JsonObject { ["filter"] = filter }));
        Assert.True(result.Succeeded, result.Log.Error);
        var kept = expected.Length == 0 ? 0 : expected.Split(',').Length;
        Assert.Equal(3 - kept, result.Log.Streams["t"].Filtered);
        if (kept > 0) Assert.Equal(expected, string.Join(",", lake.Query($"select id from {Landed} order by id").Select(r => r[0])));
        // And as DuckDB, over the whole table.
        using var all = await Landing(new JsonObject());
        Assert.Equal(expected, string.Join(",", all.Query($"select id from {Landed} where {filter.Replace("!=", "<>")} order by id").Select(r => r[0])));
    }

    private static readonly string[] Texts =
    [
        """{"type":"RECORD","stream":"t","record":{"id":1,"s":"\ud83d\ude00"}}""", // 😀, U+1F600: two UTF-16 units
        """{"type":"RECORD","stream":"t","record":{"id":2,"s":"\uff5a"}}""", // ｚ, U+FF5A: above the surrogates in UTF-16
        """{"type":"RECORD","stream":"t","record":{"id":3,"s":"a"}}""",
        """{"type":"RECORD","stream":"t","record":{"id":4,"s":"\u00a0x\t"}}""",
        """{"type":"RECORD","stream":"t","record":{"id":5,"s":"\u2003 y\u3000\n"}}""",
    ];

    [Theory]
    [InlineData("s > '\uff5a'", "1")] // in UTF-16 order 😀 sorted below ｚ: no row was kept
    [InlineData("s <= '\uff5a'", "2,3,4,5")]
    [InlineData("s like '_'", "1,2,3")] // _ matched one UTF-16 unit: 😀 was dropped
    [InlineData("s like '%\ud83d\ude00'", "1")]
    [InlineData("s not like '_'", "4,5")]
    public async Task A_filter_compares_text_by_code_point_as_DuckDB_does(string filter, string expected)
    {
        using var lake = new TempLake();
        var result = await TempLake.RunAsync(Pipeline(lake, new JsonObject { ["filter"] = filter }, InvalidRecordPolicy.Fail, Texts));
        Assert.True(result.Succeeded, result.Log.Error);
        Assert.Equal(expected, string.Join(",", lake.Query($"select id from {Landed} order by id").Select(r => r[0])));
        using var all = new TempLake();
        Assert.True((await TempLake.RunAsync(Pipeline(all, new JsonObject(), InvalidRecordPolicy.Fail, Texts))).Succeeded);
        Assert.Equal(expected, string.Join(",", all.Query($"select id from {Landed} where {filter} order by id").Select(r => r[0])));
    }

    private static readonly string[] NaNs =
    [
        """{"type":"RECORD","stream":"t","record":{"id":1,"n":NaN,"i":1}}""",
        """{"type":"RECORD","stream":"t","record":{"id":2,"n":1,"i":1}}""",
        """{"type":"RECORD","stream":"t","record":{"id":3,"n":Infinity,"i":1}}""",
        """{"type":"RECORD","stream":"t","record":{"id":4,"n":-1.5,"i":1}}""",
    ];

    [Theory]
    [InlineData("n > 1", "1,3")] // every comparison with NaN but != was false: id 1 was dropped
    [InlineData("n >= 1e308", "1,3")]
    [InlineData("n = n", "1,2,3,4")]
    [InlineData("n != n", "")]
    [InlineData("n < 1", "4")]
    [InlineData("Abs(n) > i", "1,3,4")] // NCalc evaluates a math function: its comparison too
    [InlineData("n > i and n != n + 0", "")]
    public async Task A_filter_orders_NaN_above_every_number_and_equal_to_itself_as_DuckDB_does(string filter, string expected)
    {
        using var lake = new TempLake();
        var result = await TempLake.RunAsync(Pipeline(lake, new JsonObject { ["filter"] = filter }, InvalidRecordPolicy.Fail, NaNs));
        Assert.True(result.Succeeded, result.Log.Error);
        Assert.Equal(4 - (expected.Length == 0 ? 0 : expected.Split(',').Length), result.Log.Streams["t"].Filtered);
        if (expected.Length > 0) Assert.Equal(expected, string.Join(",", lake.Query($"select id from {Landed} order by id").Select(r => r[0])));
        using var all = new TempLake();
        Assert.True((await TempLake.RunAsync(Pipeline(all, new JsonObject(), InvalidRecordPolicy.Fail, NaNs))).Succeeded);
        var duck = filter.Replace("!=", "<>").Replace("Abs(", "abs(");
        Assert.Equal(expected, string.Join(",", all.Query($"select id from {Landed} where {duck} order by id").Select(r => r[0])));
    }

    [Fact]
    public async Task Trim_strips_what_DuckDBs_trim_strips()
    {
        // .NET's Trim() also stripped the tab and the line break.
        using var lake = new TempLake();
        var result = await TempLake.RunAsync(Pipeline(lake, new JsonObject { ["compute"] = new JsonObject { ["tr"] = "trim(s)" } }, InvalidRecordPolicy.Fail, Texts));
        Assert.True(result.Succeeded, result.Log.Error);
        var rows = lake.Query($"select id, tr = trim(s), '[' || tr || ']' from {Landed} order by id");
        Assert.All(rows, row => Assert.True(row[1] == "true", string.Join(" | ", row)));
        Assert.Equal("[x\t]", rows[3][2]);
    }

    [Fact]
    public async Task If_and_coalesce_of_an_integer_and_a_number_give_a_number_for_either_branch()
    {
        // Typed from the first branch (integer): every row taking the other was an invalid record.
        using var lake = await Landing(new JsonObject { ["compute"] = new JsonObject { ["x"] = "if(b, 1, 2.5)", ["y"] = "if(b, i, n)", ["z"] = "i ?? n" } });
        var rows = lake.Query($"""
            select id, x, if(b, 1, 2.5)::double, y, if(b, i, n), z, coalesce(i, n), typeof(x) || typeof(y) || typeof(z) from {Landed} order by id
            """);
        Assert.Equal(3, rows.Count);
        foreach (var row in rows)
        {
            Assert.True(row[1] == row[2] && row[3] == row[4] && row[5] == row[6], string.Join(" | ", row));
            Assert.Equal("DOUBLEDOUBLEDOUBLE", row[7]);
        }
    }

    [Fact]
    public async Task The_remainder_of_a_decimal_is_exact_as_DuckDB_computes_it()
    {
        // In doubles 2.50 % 0.4 was 0.09999999999999987.
        using var lake = await Landing(new JsonObject { ["compute"] = new JsonObject { ["x"] = "d % 3", ["y"] = "d % 0.4", ["z"] = "d % 0" } });
        var rows = lake.Query($"select id, x::varchar, (d % 3)::varchar, y::varchar, (d % 0.4)::varchar, z, typeof(x), typeof(y) from {Landed} order by id");
        Assert.Equal(3, rows.Count);
        foreach (var row in rows)
        {
            Assert.True(row[1] == row[2] && row[3] == row[4], string.Join(" | ", row));
            Assert.Null(row[5]);
            Assert.Equal("DECIMAL(38,2)", row[6]);
            Assert.Equal("DECIMAL(38,2)", row[7]);
        }
        Assert.Equal([["0.10"]], lake.Query($"select y::varchar from {Landed} where id = 1"));
    }

    [Fact]
    public async Task A_text_cast_to_integer_lands_the_exact_whole_number_or_an_invalid_record()
    {
        // Through a double: 9007199254740993.0 landed 9007199254740992, 1234567890123456789.0 1234567890123456768.
        using var lake = await Landing(new JsonObject { ["cast"] = new JsonObject { ["s"] = "integer" } });
        var rows = lake.Query($"select id, s::varchar from {Landed} order by id");
        Assert.Equal([["1", "9007199254740993"], ["2", "1234567890123456789"], ["3", "1234567890123456700"]], rows);
        // A true fraction does not cast (README: casts refuse, never round).
        using var fraction = new TempLake();
        var half = """{"type":"RECORD","stream":"t","record":{"id":4,"s":"2.5"}}""";
        var skipped = await TempLake.RunAsync(Pipeline(fraction, new JsonObject { ["cast"] = new JsonObject { ["s"] = "integer" } }, InvalidRecordPolicy.Skip, Records[0], half));
        Assert.True(skipped.Succeeded, skipped.Log.Error);
        Assert.Equal(1, skipped.Log.Streams["t"].Rejected);
    }

    [Theory]
    [InlineData("Round(n)", "calls Round with 1 argument; Round takes 2 arguments (value, digits)")]
    [InlineData("Max(i)", "calls Max with 1 argument; Max takes 2 arguments")]
    [InlineData("if(b, 1)", "calls if with 2 arguments; if takes 3 arguments")]
    [InlineData("in(i)", "calls in with 1 argument; in takes at least 2 arguments")]
    [InlineData("ifs(b, 1)", "calls ifs with 2 arguments; ifs takes an odd number of arguments")]
    [InlineData("lower()", "calls lower with 0 arguments; lower takes 1 argument")]
    [InlineData("concat()", "calls concat with 0 arguments; concat takes at least 1 argument")]
    [InlineData("len(s, s)", "calls len with 2 arguments; len takes 1 argument")]
    [InlineData("1 + Abs(Round(n, 1, 2))", "calls Round with 3 arguments")]
    public void A_call_with_the_wrong_number_of_arguments_is_refused_when_the_map_is_read(string expression, string reason)
    {
        // NCalc found out per record (every row rejected; lower() threw IndexOutOfRangeException), validate passed.
        using var lake = new TempLake();
        var pipeline = Pipeline(lake, new JsonObject { ["compute"] = new JsonObject { ["x"] = expression } }) with { FilePath = "/p/things.yaml" };
        var error = Assert.Single(TransformCompiler.Validate(pipeline));
        Assert.Equal("transforms.t.compute.x", error.Key);
        Assert.Contains($"'{expression}' {reason}", error.Reason);
        Assert.Contains("/p/things.yaml", error.Message);
    }
}
