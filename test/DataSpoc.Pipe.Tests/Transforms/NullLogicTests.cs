using System.Globalization;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Tests.Support;
using DataSpoc.Pipe.Transforms;

namespace DataSpoc.Pipe.Tests.Transforms;

/// <summary>
/// Null in the map language's logic is SQL's three-valued logic: each expression below, over every combination of
/// values with nulls, gives what DuckDB's SELECT of the same SQL gives, in every evaluation path (NCalc's
/// interpretation, the compiled form, the unboxed typed form); and a filter keeps the rows DuckDB's WHERE keeps, on the
/// typed and the JSON path, counting the others as filtered.
/// </summary>
public class NullLogicTests
{
    /// <summary>Map expression -> the same in DuckDB's SQL, over x (integer), y (double), b (boolean), s (text), p (DECIMAL(38,2)).</summary>
    private static readonly (string Map, string Sql)[] Expressions =
    [
        ("x > 1", "x > 1"),
        ("x = y", "x = y"),
        ("x != 2", "x <> 2"),
        ("not (x > 1)", "not (x > 1)"),
        ("not b", "not b"),
        ("!(y < 3)", "not (y < 3)"),
        ("x > 1 and y < 3", "x > 1 and y < 3"),
        ("x > 1 or y < 3", "x > 1 or y < 3"),
        ("b and x > 1", "b and x > 1"),
        ("b or x > 1", "b or x > 1"),
        ("b && not b", "b and not b"),
        ("b || not b", "b or not b"),
        ("not (x > 1 and b)", "not (x > 1 and b)"),
        ("not (x > 1 or b)", "not (x > 1 or b)"),
        ("b = true", "b = true"),
        ("(x > 1) = b", "(x > 1) = b"),
        ("x == null", "x is null"),
        ("x != null", "x is not null"),
        ("null == b", "b is null"),
        ("x != null and not (x > 1)", "x is not null and not (x > 1)"),
        ("if(x > 1, 10, 20)", "if(x > 1, 10, 20)"),
        ("if(b, y, 0.5)", "if(b, y, 0.5)"),
        ("x > 1 ? 1 : 0", "case when x > 1 then 1 else 0 end"),
        ("if(not b, 1, 2)", "if(not b, 1, 2)"),
        ("s = 'abc'", "s = 'abc'"),
        ("s like 'a%'", "s like 'a%'"),
        ("s > 'b' or b", "s > 'b' or b"),
        ("x in (1, 2)", "x in (1, 2)"),
        ("x in (1, null)", "x in (1, null)"),
        ("x not in (1, null)", "x not in (1, null)"),
        ("in(x, 2, null)", "x in (2, null)"),
        ("p > 1", "p > 1"),
        ("p = 1.25", "p = 1.25"),
        ("not (p > x)", "not (p > x)"),
        ("p == null", "p is null"),
        ("p != null", "p is not null"),
        ("p in (1.25, null)", "p in (1.25, null)"),
        ("Abs(y) > 1 or b", "abs(y) > 1 or b"),
    ];

    private static readonly object?[] Xs = [null, 1L, 2L];
    private static readonly object?[] Ys = [null, 2.5];
    private static readonly object?[] Bs = [null, true, false];
    private static readonly object?[] Ss = [null, "abc"];
    private static readonly object?[] Ps = [null, new ExactDecimal(125, 2)];

    private static List<object?[]> Rows() =>
        [.. from x in Xs from y in Ys from b in Bs from s in Ss from p in Ps select new[] { x, y, b, s, p }];

    private static readonly string[] Names = ["x", "y", "b", "s", "p"];

    private static string Literal(object? value, string type) => value switch
    {
        null => $"NULL::{type}",
        bool v => v ? "true" : "false",
        string v => $"'{v}'",
        IFormattable v => $"{v.ToString(null, CultureInfo.InvariantCulture)}::{type}",
        _ => throw new ArgumentException(value.ToString()),
    };

    private static string Text(object? value) => value switch
    {
        null => "NULL",
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString()!,
    };

    [Fact]
    public void Expressions_with_nulls_give_what_DuckDB_gives_in_every_evaluation_path()
    {
        var rows = Rows();
        string[] types = ["BIGINT", "DOUBLE", "BOOLEAN", "VARCHAR", "DECIMAL(38,2)"];
        var table = string.Join(", ", rows.Select((r, i) => $"({i}, {string.Join(", ", r.Select((v, c) => Literal(v, types[c])))})"));
        using var lake = new TempLake();
        var failures = new List<string>();
        var typedChecked = 0;
        foreach (var (map, sql) in Expressions)
        {
            var duck = lake.Query($"select id, ({sql})::varchar from (values {table}) t(id, x, y, b, s, p) order by id").Select(r => r[1] ?? "NULL").ToList();
            var expression = TransformExpression.TryParse(map, out var error);
            Assert.True(expression is not null, error);
            var typed = expression.CompileTyped();
            for (var i = 0; i < rows.Count; i++)
            {
                var values = expression.Columns.Select(c => rows[i][Array.IndexOf(Names, c)]).ToArray();
                var where = $"'{map}' over {string.Join(", ", expression.Columns.Select((c, k) => $"{c}={Text(values[k])}"))}";
                var interpreted = Text(expression.Interpret(values));
                if (interpreted != duck[i]) failures.Add($"{where}: NCalc gives {interpreted}, DuckDB {duck[i]}");
                if (expression.TryEvaluateCompiled(values, out var compiled) && Text(compiled) != duck[i])
                    failures.Add($"{where}: the compiled form gives {Text(compiled)}, DuckDB {duck[i]}");
                if (typed is not null && values.All(v => v is null or long or double or bool))
                {
                    var scalar = typed.Evaluate([.. values.Select(ScalarOf)]);
                    if (scalar.IsUnhandled) continue;
                    typedChecked++;
                    if (Text(scalar.ToObject()) != duck[i]) failures.Add($"{where}: the typed form gives {Text(scalar.ToObject())}, DuckDB {duck[i]}");
                }
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(60)));
        Assert.True(typedChecked > 200, $"the typed form answered only {typedChecked} times");
    }

    private static Scalar ScalarOf(object? value) => value switch
    {
        null => Scalar.Null,
        long l => Scalar.Of(l),
        double d => Scalar.Of(d),
        bool b => Scalar.Of(b),
        _ => throw new ArgumentException(value.ToString()),
    };

    private const string Schema = """{"type":"SCHEMA","stream":"t","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"qty":{"type":["null","integer"]},"rate":{"type":["null","number"]},"ok":{"type":["null","boolean"]},"price":{"type":["null","number"],"multipleOf":0.01}},"required":["id"]}}""";

    private const string Landed = "read_parquet('{lake}/raw/test/t/*/*.parquet')";

    [Theory]
    [InlineData("not (qty > 2)", false)]
    [InlineData("not (qty > 2)", true)]
    [InlineData("not (qty > 2 and ok)", false)]
    [InlineData("not (qty > 2 and ok)", true)]
    [InlineData("qty > 2 or not ok", false)]
    [InlineData("qty > 2 or not ok", true)]
    [InlineData("not (price > 1) or rate < 1", false)]
    [InlineData("not (price > 1) or rate < 1", true)]
    [InlineData("if(ok, qty > 1, rate > 1)", false)]
    [InlineData("rate in (0.5, null) or not ok", false)]
    [InlineData("rate in (0.5, null) or not ok", true)]
    public async Task A_filter_keeps_the_rows_DuckDBs_where_keeps_and_counts_the_others_as_filtered(string filter, bool jsonPath)
    {
        // Before: a comparison with a null was false and not of it true, so "not (qty > 2)" kept the rows whose qty is null.
        string[] values = ["null", "1", "3"];
        string[] rates = ["null", "0.5", "2"];
        string[] oks = ["null", "true", "false"];
        string[] prices = ["null", "0.50", "1.25"];
        var records = new List<string>();
        var id = 0;
        foreach (var q in values) foreach (var r in rates) foreach (var o in oks) foreach (var p in prices)
            records.Add($$$"""{"type":"RECORD","stream":"t","record":{"id":{{{++id}}},"qty":{{{q}}},"rate":{{{r}}},"ok":{{{o}}},"price":{{{p}}}}}""");

        using var all = new TempLake();
        Assert.True((await Run(all, null, records, jsonPath: false)).Succeeded);
        var expected = all.Query($"select id from {Landed} where {filter} order by id");
        Assert.NotEmpty(expected);

        using var lake = new TempLake();
        var result = await Run(lake, new JsonObject { ["filter"] = filter }, records, jsonPath);
        Assert.True(result.Succeeded, result.Log.Error);
        Assert.Equal(expected, lake.Query($"select id from {Landed} order by id"));
        Assert.Equal(records.Count - expected.Count, result.Log.Streams["t"].Filtered);
    }

    private static Task<RunResult> Run(TempLake lake, JsonObject? map, List<string> records, bool jsonPath)
    {
        var file = lake.WriteSinger("t.singer", [Schema, .. records]);
        var pipeline = lake.Pipeline("nulls-" + Guid.NewGuid().ToString("N")[..6], file) with { OnInvalidRecord = InvalidRecordPolicy.Fail };
        if (map is not null) pipeline = pipeline with { Transforms = new Dictionary<string, JsonNode?> { ["t"] = map } };
        IReadOnlyList<IRecordTransform> code = jsonPath ? [new DataSpoc.Pipe.Api.CodeTransform("t", r => r)] : [];
        return new PipelineRunner(new DataSpoc.Pipe.Storage.ObjectStoreFactory()).RunAsync(pipeline, new RunOptions { CodeTransforms = code }, CancellationToken.None);
    }
}
