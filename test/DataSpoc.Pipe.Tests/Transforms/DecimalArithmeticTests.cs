using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Tests.Support;
using DataSpoc.Pipe.Transforms;

namespace DataSpoc.Pipe.Tests.Transforms;

/// <summary>
/// <c>compute</c> and <c>filter</c> over decimal (<c>multipleOf</c>) columns through a real run (replay tap -> Parquet),
/// checked against DuckDB computing the same expression in SQL on the landed source columns: values and column types.
/// Each runs on the typed path and on the JSON path (a no-op code transform before the map keeps the stream there).
/// </summary>
public class DecimalArithmeticTests
{
    private const string Schema = """{"type":"SCHEMA","stream":"t","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"price":{"type":["null","number"],"multipleOf":0.01},"fee":{"type":["null","number"],"multipleOf":0.001},"qty":{"type":["null","integer"]},"rate":{"type":["null","number"]}},"required":["id"]}}""";

    private static readonly string[] Records =
    [
        """{"type":"RECORD","stream":"t","record":{"id":1,"price":0.10,"fee":0.200,"qty":3,"rate":0.5}}""",
        """{"type":"RECORD","stream":"t","record":{"id":2,"price":0.30,"fee":0,"qty":1,"rate":2}}""",
        """{"type":"RECORD","stream":"t","record":{"id":3,"price":1.25,"fee":0.125,"qty":7,"rate":0.1}}""",
        """{"type":"RECORD","stream":"t","record":{"id":4,"price":99999999999999999999999999999999.99,"fee":1.000,"qty":1,"rate":1}}""",
        """{"type":"RECORD","stream":"t","record":{"id":5,"price":null,"fee":null,"qty":null,"rate":null}}""",
        """{"type":"RECORD","stream":"t","record":{"id":6,"price":-2.35,"fee":-0.005,"qty":-4,"rate":3}}""",
    ];

    /// <summary>Computed column -> (map expression, DuckDB's SQL of it over the landed source columns).</summary>
    private static readonly (string Column, string Expression, string Sql)[] Computes =
    [
        ("total", "price * qty", "price * qty"),
        ("s", "price + fee", "price + fee"),
        ("d", "price / 3", "price / 3"),
        ("next", "price + 1", "price + 1"),
        ("diff", "price - fee", "price - fee"),
        ("pf", "price * fee", "price * fee"),
        ("neg", "-price", "-price"),
        ("lit", "price * 1.5", "price * 1.5"),
        ("mixed", "price * rate", "price * rate"),
        ("r1", "Round(price, 1)", "round(price, 1)"),
        // A comparison with null is null, as in SQL.
        ("gt", "price > 0.1", "price > 0.1"),
        // Math functions exact on decimals, of DuckDB's types (sign is a TINYINT there, an integer column here).
        ("abs", "Abs(price)", "abs(price)"),
        ("fl", "Floor(price)", "floor(price)"),
        ("ce", "Ceiling(fee)", "ceil(fee)"),
        ("tr", "Truncate(price)", "trunc(price)"),
        ("sg", "Sign(price)", "sign(price)::BIGINT"),
        // DuckDB's greatest of DECIMAL(38,2) and DECIMAL(38,3) is DECIMAL(38,2), as its if: here the larger scale, exact.
        ("mx", "Max(price, fee)", "greatest(price::DECIMAL(38,3), fee)"),
        ("mn", "Min(price, qty)", "least(price, qty)"),
        ("mx15", "Max(price, 1.5)", "greatest(price, 1.5)"),
        ("mxr", "Max(price, rate)", "greatest(price, rate)"),
        ("sq", "Sqrt(Abs(price))", "sqrt(abs(price))"),
        ("total_fee", "price * qty + fee", "price * qty + fee"),
        // DuckDB's if of DECIMAL(38,2) and DECIMAL(38,3) is DECIMAL(38,2), rounding -0.005 to -0.01: here the larger scale, exact.
        ("either", "if(qty > 2, price, fee)", "if(qty > 2, price::DECIMAL(38,3), fee)"),
        ("or_rate", "price ?? rate", "coalesce(price, rate)"),
    ];

    private static PipelineDefinition Pipeline(TempLake lake, JsonObject map, params string[] records)
    {
        var file = lake.WriteSinger("t.singer", [Schema, .. records.Length > 0 ? records : Records]);
        return lake.Pipeline("dec-" + Guid.NewGuid().ToString("N")[..6], file) with
        {
            OnInvalidRecord = InvalidRecordPolicy.Fail,
            Transforms = new Dictionary<string, JsonNode?> { ["t"] = map },
        };
    }

    private static Task<RunResult> Run(PipelineDefinition pipeline, bool jsonPath)
    {
        IReadOnlyList<IRecordTransform> code = jsonPath ? [new DataSpoc.Pipe.Api.CodeTransform("t", r => r)] : [];
        return new PipelineRunner(new DataSpoc.Pipe.Storage.ObjectStoreFactory()).RunAsync(pipeline, new RunOptions { CodeTransforms = code }, CancellationToken.None);
    }

    private const string Landed = "read_parquet('{lake}/raw/test/t/*/*.parquet')";

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Compute_over_decimal_columns_lands_the_values_and_types_DuckDB_computes(bool jsonPath)
    {
        // Computed in doubles: 0.10 * 3 landed 0.30000000000000004 as DOUBLE, 99999999999999999999999999999999.99 + 1 as 1e+32.
        using var lake = new TempLake();
        var compute = new JsonObject();
        foreach (var (column, expression, _) in Computes) compute[column] = expression;
        var result = await Run(Pipeline(lake, new JsonObject { ["compute"] = compute }), jsonPath);
        Assert.True(result.Succeeded, result.Log.Error);

        foreach (var (column, expression, sql) in Computes)
        {
            var rows = lake.Query($"select id, {column}::varchar, ({sql})::varchar, typeof({column}), typeof({sql}) from {Landed} order by id");
            Assert.Equal(Records.Length, rows.Count);
            foreach (var row in rows)
            {
                Assert.True(row[1] == row[2], $"{expression} of row {row[0]}: landed {row[1] ?? "null"}, DuckDB computes {row[2] ?? "null"}");
                Assert.True(row[3] == row[4], $"{expression}: landed as {row[3]}, DuckDB computes {row[4]}");
            }
        }
        // The exact values the defect lost, spelled out.
        Assert.Equal([["0.30", "DECIMAL(38,2)", "0.300"]], lake.Query($"select total::varchar, typeof(total), s::varchar from {Landed} where id = 1"));
        Assert.Equal([["100000000000000000000000000000000.99"]], lake.Query($"select next::varchar from {Landed} where id = 4"));
        Assert.Equal([["DOUBLE"]], lake.Query($"select distinct typeof(d) from {Landed}"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_filter_compares_decimals_exactly_as_DuckDB_does(bool jsonPath)
    {
        // In doubles 0.10 + 0.200 is 0.30000000000000004: the row was dropped.
        const string filter = "price = 0.3 or price + fee = 0.3 or price * qty = 9.4";
        using var all = new TempLake();
        Assert.True((await TempLake.RunAsync(Pipeline(all, new JsonObject { ["compute"] = new JsonObject { ["d"] = "price / 3" } }))).Succeeded);
        var expected = all.Query($"select id from {Landed} where {filter} order by id");
        Assert.Equal([["1"], ["2"], ["6"]], expected);

        using var filtered = new TempLake();
        var result = await Run(Pipeline(filtered, new JsonObject { ["filter"] = filter, ["compute"] = new JsonObject { ["d"] = "price / 3" } }), jsonPath);
        Assert.True(result.Succeeded, result.Log.Error);
        Assert.Equal(expected, filtered.Query($"select id from {Landed} order by id"));
        // Without a compute the filter alone keeps the same rows.
        using var only = new TempLake();
        Assert.True((await Run(Pipeline(only, new JsonObject { ["filter"] = filter }), jsonPath)).Succeeded);
        Assert.Equal(expected, only.Query($"select id from {Landed} order by id"));
    }

    [Fact]
    public async Task The_parquet_tap_computes_over_its_decimal_columns_as_DuckDB_does()
    {
        using var lake = new TempLake();
        var input = Path.Combine(lake.Root, "..", "in-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(input);
        try
        {
            lake.Query($"""
                COPY (SELECT * FROM (VALUES (1, 0.10::DECIMAL(38,2), 0.200::DECIMAL(38,3), 3::BIGINT), (2, 99999999999999999999999999999999.99::DECIMAL(38,2), 1.000::DECIMAL(38,3), 1::BIGINT),
                    (3, NULL::DECIMAL(38,2), NULL::DECIMAL(38,3), NULL::BIGINT)) v(id, price, fee, qty)) TO '{Path.Combine(input, "t.parquet")}' (FORMAT parquet)
                """);
            var pipeline = lake.BuiltInPipeline("dec-parquet", "parquet", new JsonObject { ["path"] = input }) with
            {
                Transforms = new Dictionary<string, JsonNode?> { ["t"] = new JsonObject { ["compute"] = new JsonObject { ["total"] = "price * qty", ["s"] = "price + fee", ["d"] = "price / 3" } } },
            };
            await TempLake.RunBuiltInAsync(pipeline);
            const string table = "read_parquet('{lake}/raw/parquet/t/*/*.parquet', hive_partitioning = false)";
            var rows = lake.Query($"""
                SELECT id, total::VARCHAR, (price * qty)::VARCHAR, s::VARCHAR, (price + fee)::VARCHAR, d::VARCHAR, (price / 3)::VARCHAR,
                       typeof(total) = typeof(price * qty) AND typeof(s) = typeof(price + fee) AND typeof(d) = typeof(price / 3)
                FROM {table} ORDER BY id
                """);
            Assert.Equal(3, rows.Count);
            foreach (var row in rows)
                Assert.True(row[1] == row[2] && row[3] == row[4] && row[5] == row[6] && row[7] == "true", string.Join(" | ", row.Select(v => v ?? "null")));
            Assert.Equal([["0.30", "DECIMAL(38,2)"]], lake.Query($"SELECT total::VARCHAR, typeof(total) FROM {table} WHERE id = 1"));
        }
        finally
        {
            Directory.Delete(input, recursive: true);
        }
    }

    [Fact]
    public async Task A_computed_decimal_with_more_decimals_than_a_column_holds_fails_naming_the_compute()
    {
        using var lake = new TempLake();
        // Scale 42 (14 factors of scale 3) is past DECIMAL(38, s), as DuckDB refuses such a product; scale 21 is a column.
        var map = new JsonObject { ["compute"] = new JsonObject { ["tiny"] = string.Join(" * ", Enumerable.Repeat("fee", 14)), ["ok"] = "Round(fee * fee * fee * fee * fee * fee * fee, 4)", ["fine"] = "fee * fee * fee * fee * fee * fee * fee" } };
        var failed = await TempLake.RunAsync(Pipeline(lake, map));
        Assert.False(failed.Succeeded);
        Assert.Contains("transforms.t.compute.tiny", failed.Log.Error);
        Assert.Contains("42 digits after the point; a decimal column holds at most 38", failed.Log.Error);
        map["compute"]!.AsObject().Remove("tiny");
        Assert.True((await TempLake.RunAsync(Pipeline(lake, map))).Succeeded);
        Assert.Equal([["0.0000", "DECIMAL(38,4)", "0.000000476837158203125", "DECIMAL(38,21)"]],
            lake.Query($"select ok::varchar, typeof(ok), fine::varchar, typeof(fine) from {Landed} where id = 3"));
        Assert.Equal([["-0.000000000000000078125"]], lake.Query($"select fine::varchar from {Landed} where id = 6"));
    }

    [Theory]
    [InlineData("price * qty", "0.30")]
    [InlineData("price + fee", "0.300")]
    [InlineData("price - 0.1", "0.00")]
    [InlineData("price * 1.5", "0.150")]
    [InlineData("-price", "-0.10")]
    [InlineData("-price + fee", "0.100")]
    [InlineData("if(qty > 1, price, fee)", "0.10")]
    [InlineData("price ?? fee", "0.10")]
    [InlineData("price + fee = 0.3", "True")]
    [InlineData("price * qty >= 0.3", "True")]
    [InlineData("price / 4", "0.025")]
    [InlineData("price * 0.5e0", "0.050")]
    [InlineData("concat(price, '/', fee)", "0.10/0.200")]
    public void The_compiled_form_and_NCalc_give_the_same_decimal(string text, string expected)
    {
        var expression = TransformExpression.TryParse(text, out var error)!;
        Assert.Null(error);
        var values = expression.Columns.Select(c => c switch
        {
            "price" => (object)new ExactDecimal(10, 2),
            "fee" => new ExactDecimal(200, 3),
            "qty" => 3L,
            _ => null,
        }).ToArray();
        var interpreted = expression.Interpret(values);
        Assert.Equal(expected, Convert.ToString(interpreted, System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(expression.TryEvaluateCompiled(values, out var compiled), $"'{text}' was left to NCalc");
        Assert.Equal(interpreted, compiled);
    }

    [Theory]
    [InlineData("Round(price, 1)", "1.3")] // half away from zero, as DuckDB rounds a decimal
    [InlineData("Round(-price, 1)", "-1.3")]
    [InlineData("Round(price * 3, 1)", "3.8")]
    [InlineData("Abs(-price)", "1.25")] // exact, as DuckDB's abs of a decimal
    [InlineData("Max(price, 1)", "1.25")]
    [InlineData("Min(price, 2)", "1.25")]
    [InlineData("Max(price, null)", "1.25")]
    [InlineData("Floor(price)", "1")]
    [InlineData("Ceiling(price)", "2")]
    [InlineData("Sqrt(price * 4)", "2.23606797749979")]
    [InlineData("Pow(price, 2)", "1.5625")]
    [InlineData("Truncate(price)", "1")]
    [InlineData("Sign(-price)", "-1")]
    [InlineData("price in (1.25, 3)", "True")]
    [InlineData("Abs(price) > 1", "True")]
    public void NCalc_evaluates_what_is_not_compiled_with_decimals_too(string text, string expected)
    {
        var expression = TransformExpression.TryParse(text, out _)!;
        var interpreted = expression.Interpret([new ExactDecimal(125, 2)]);
        Assert.Equal(expected, Convert.ToString(interpreted, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("Acos(price - 1)")]
    [InlineData("Asin(price - 1)")]
    [InlineData("Atan(price)")]
    [InlineData("Cos(price)")]
    [InlineData("Exp(price)")]
    [InlineData("IEEERemainder(price, 1)")]
    [InlineData("Ln(price)")]
    [InlineData("Log(price, 10)")]
    [InlineData("Log10(price)")]
    [InlineData("Sin(price)")]
    [InlineData("Tan(price)")]
    public void A_math_function_reads_a_decimal_as_its_double(string text)
    {
        var expression = TransformExpression.TryParse(text, out _)!;
        var asDouble = expression.Interpret([1.25]);
        var asDecimal = expression.Interpret([new ExactDecimal(125, 2)]);
        Assert.IsType<double>(asDouble);
        Assert.Equal(asDouble, asDecimal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_decimal_product_beyond_38_digits_rejects_its_record_never_lands_rounded(bool jsonPath)
    {
        const string big = """{"type":"RECORD","stream":"t","record":{"id":7,"price":99999999999999999999999999999999.99,"fee":0,"qty":100000,"rate":1}}"""; // 39 digits
        using var lake = new TempLake();
        var map = new JsonObject { ["compute"] = new JsonObject { ["total"] = "price * qty" } };
        var failed = await Run(Pipeline(lake, map, Records[0], big), jsonPath);
        Assert.False(failed.Succeeded);
        Assert.Contains("transforms.t.compute.total", failed.Log.Error);
        Assert.Contains("99999999999999999999999999999999.99 * 100000 does not fit a decimal(38, 2)", failed.Log.Error);
        Assert.Contains("line 3", failed.Log.Error);

        var skipped = await Run(Pipeline(lake, map, Records[0], big) with { OnInvalidRecord = InvalidRecordPolicy.Skip }, jsonPath);
        Assert.True(skipped.Succeeded, skipped.Log.Error);
        Assert.Equal(1, skipped.Log.Streams["t"].Rejected);
        Assert.Equal([["1", "0.30"]], lake.Query($"select id, total::varchar from {Landed} order by id"));
        // DuckDB refuses the same product too.
        Assert.ThrowsAny<Exception>(() => lake.Query("select 99999999999999999999999999999999.99::DECIMAL(38,2) * 100000::BIGINT"));
    }
}
