using System.Globalization;
using DataSpoc.Pipe.Tests.Support;
using DataSpoc.Pipe.Transforms;

namespace DataSpoc.Pipe.Tests.Transforms;

/// <summary>
/// The compiled form of <c>filter:</c> and <c>compute:</c> expressions (<see cref="CompiledExpression"/>) against NCalc's
/// interpretation, the reference: seeded random expressions over every operator and function the compiler takes, with
/// random values of every type expressions see (long, double, string, bool, null, at their edges). Wherever the compiled
/// form answers, NCalc must give the same value of the same type (and not fail). The seed is new every run and printed;
/// <c>DATASPOC_FUZZ_SEED=n</c> replays one.
/// </summary>
public class CompiledExpressionTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Expressions = 3000;
    private const int ValuesPerExpression = 12;

    private static readonly object?[] Pool =
    [
        null, 0L, 1L, -1L, 3L, 7L, -50L, long.MaxValue, long.MinValue, 9223372036854775806L, 2147483648L,
        0.0, -0.0, 2.5, -3.75, 1e10, 9.2233720368547758E18, 0.1, 1e-300, double.PositiveInfinity,
        "", "7", " 3 ", "ab", "yes", "café", "2.5", "true", "😀", "AbC",
        true, false,
        // Decimal columns' values: 0.10, -2.35, 0.125, 99999999999999999999999999999999.99 (34 digits), 0.
        new ExactDecimal(10, 2), new ExactDecimal(-235, 2), new ExactDecimal(125, 3), new ExactDecimal(Int128.Parse("9999999999999999999999999999999999"), 2), new ExactDecimal(0, 0),
    ];

    private static readonly string[] Constants = ["0", "1", "2", "5", "-3", "2.5", "0.5", "1e3", "2147483648", "'yes'", "'ab'", "''", "true", "false", "null"];

    private static readonly string[] Operators = ["+", "-", "*", "/", "%", ">", ">=", "<", "<=", "=", "==", "!=", "<>", "and", "or", "&&", "||", "??"];

    [Fact]
    public void Compiled_expressions_give_what_ncalc_gives()
    {
        var seed = FuzzSeed.FromEnvironment();
        output.WriteLine($"seed {seed} (replay with DATASPOC_FUZZ_SEED={seed})");
        var random = new Random(seed);
        long compiled = 0, interpreted = 0, expressions = 0;
        for (var n = 0; n < Expressions; n++)
        {
            var text = RandomExpression(random, random.Next(1, 4));
            var expression = TransformExpression.TryParse(text, out var error);
            Assert.True(expression is not null, $"seed {seed}: '{text}' does not parse: {error}");
            if (!expression.IsCompiled) continue;
            expressions++;
            for (var v = 0; v < ValuesPerExpression; v++)
            {
                var values = expression.Columns.Select(_ => Pool[random.Next(Pool.Length)]).ToArray();
                object? fast;
                try
                {
                    if (!expression.TryEvaluateCompiled(values, out fast))
                    {
                        interpreted++;
                        continue;
                    }
                }
                catch (OverflowException)
                {
                    // The one departure from NCalc, on purpose: a whole number that overflows is refused, where NCalc
                    // wraps it. A 64-bit overflow needs an operand of at least 2^31 (the pool's and constants' largest
                    // small one is 2^31, and three of those multiplied are already past 2^63).
                    // A decimal beyond 38 digits is refused by both forms alike (DecimalOps).
                    Assert.True(values.Any(x => x is long l && (l >= 1L << 31 || l <= -(1L << 31)) || x is ExactDecimal) || text.Contains("2147483648", StringComparison.Ordinal),
                        $"seed {seed}: '{text}' refused as an overflow with no large operand");
                    continue;
                }
                compiled++;
                string Where() => $"seed {seed}: '{text}' with {string.Join(", ", expression.Columns.Select((c, i) => $"{c}={Show(values[i])}"))}";
                object? reference;
                try { reference = expression.Interpret(values); }
                catch (Exception e) { throw new Xunit.Sdk.XunitException($"{Where()}: compiled gave {Show(fast)}, NCalc failed: {e.GetType().Name}: {e.Message}"); }
                Assert.True(Same(reference, fast), $"{Where()}: compiled gave {Show(fast)}, NCalc {Show(reference)}");
            }
        }
        output.WriteLine($"{expressions} compiled expressions: {compiled} evaluations compiled, {interpreted} left to NCalc");
        // Random values are often of types an operator does not compile (NCalc takes those), but a good share must be
        // answered by the compiled form, else the comparison proves little.
        Assert.True(compiled * 4 > compiled + interpreted, $"only {compiled} of {compiled + interpreted} evaluations were compiled");
    }

    /// <summary>
    /// <see cref="TransformExpression.NumberFormPartners"/> lets a typed map evaluate an integer once instead of in both
    /// forms a record may have spelled it in (<c>53</c>, a long; <c>53.0</c>, a double): where it says so, with its partner
    /// columns holding doubles, the value (or the failure) must be the same with the column bound to a long as to that
    /// long's double.
    /// </summary>
    [Fact]
    public void An_expression_said_to_be_the_same_for_either_number_form_is()
    {
        var seed = FuzzSeed.FromEnvironment();
        output.WriteLine($"seed {seed} (replay with DATASPOC_FUZZ_SEED={seed})");
        var random = new Random(seed);
        long[] longs = [0, 1, -1, 3, 5, 7, -3, 2, 1000, 2147483648, 9007199254740992, 9007199254740993, long.MaxValue, long.MinValue];
        var checkedForms = 0;
        for (var n = 0; n < Expressions; n++)
        {
            var text = RandomExpression(random, random.Next(1, 3));
            var expression = TransformExpression.TryParse(text, out _)!;
            for (var column = 0; column < expression.Columns.Count; column++)
            {
                if (expression.NumberFormPartners(expression.Columns[column]) is not { } partners) continue;
                for (var v = 0; v < ValuesPerExpression; v++)
                {
                    var values = expression.Columns.Select(_ => Pool[random.Next(Pool.Length)]).ToArray();
                    foreach (var p in partners) values[p] = Doubles[random.Next(Doubles.Length)];
                    var whole = longs[random.Next(longs.Length)];
                    values[column] = whole;
                    var asLong = Outcome(expression, values);
                    values[column] = (double)whole;
                    var asDouble = Outcome(expression, values);
                    checkedForms++;
                    Assert.True(asLong == asDouble, $"seed {seed}: '{text}' with {expression.Columns[column]}={whole}: as a long {asLong}, as a double {asDouble}");
                }
            }
        }
        output.WriteLine($"{checkedForms} evaluations compared in both number forms");
        Assert.True(checkedForms > 100, $"only {checkedForms} evaluations compared");
    }

    private static readonly object?[] Doubles = [.. Pool.Where(v => v is double)];

    /// <summary>The values a typed map binds unboxed: numbers, booleans and nulls (no strings).</summary>
    private static readonly object?[] Unboxed = [.. Pool.Where(v => v is null or long or double or bool), double.NaN, double.NegativeInfinity, 5L, 5.0, 6.0, -7.0];

    /// <summary>
    /// <see cref="TypedExpression"/> (unboxed values) against the object form it stands in for: wherever the typed form
    /// answers, the compiled object form must answer the same value of the same type.
    /// </summary>
    [Fact]
    public void Typed_expressions_give_what_the_compiled_form_gives()
    {
        var seed = FuzzSeed.FromEnvironment();
        output.WriteLine($"seed {seed} (replay with DATASPOC_FUZZ_SEED={seed})");
        var random = new Random(seed);
        long answered = 0, left = 0, typedExpressions = 0;
        for (var n = 0; n < Expressions * 2; n++)
        {
            var text = RandomExpression(random, random.Next(1, 4));
            var expression = TransformExpression.TryParse(text, out _)!;
            if (expression.CompileTyped() is not { } typed) continue;
            typedExpressions++;
            for (var v = 0; v < ValuesPerExpression; v++)
            {
                var values = expression.Columns.Select(_ => Unboxed[random.Next(Unboxed.Length)]).ToArray();
                Scalar result;
                try
                {
                    result = typed.Evaluate([.. values.Select(ToScalar)]);
                }
                catch (OverflowException)
                {
                    Assert.Throws<OverflowException>(() => expression.TryEvaluateCompiled(values, out _));
                    continue;
                }
                if (result.IsUnhandled)
                {
                    left++;
                    continue;
                }
                answered++;
                string Where() => $"seed {seed}: '{text}' with {string.Join(", ", expression.Columns.Select((c, i) => $"{c}={Show(values[i])}"))}";
                Assert.True(expression.TryEvaluateCompiled(values, out var reference), $"{Where()}: typed gave {Show(result.ToObject())}, the compiled form left it to NCalc");
                Assert.True(Same(reference, result.ToObject()), $"{Where()}: typed gave {Show(result.ToObject())}, compiled {Show(reference)}");
            }
        }
        output.WriteLine($"{typedExpressions} typed expressions: {answered} evaluations answered, {left} left to the object form");
        Assert.True(typedExpressions > 100 && answered * 4 > answered + left, $"{typedExpressions} typed expressions, only {answered} of {answered + left} evaluations answered");
    }

    [Theory]
    [InlineData("qty > 5", true)]
    [InlineData("amount * qty", true)]
    [InlineData("if(flag and qty >= 2, -(amount / qty), amount % 3 - 1.5) ?? 0", true)]
    [InlineData("qty + amount", false)]
    [InlineData("concat(qty)", false)]
    [InlineData("name = 'x'", false)]
    [InlineData("Abs(qty)", false)]
    public void The_typed_form_takes_numbers_and_booleans_only(string text, bool typed)
    {
        Assert.Equal(typed, TransformExpression.TryParse(text, out _)!.CompileTyped() is not null);
    }

    private static Scalar ToScalar(object? value) => value switch
    {
        null => Scalar.Null,
        long l => Scalar.Of(l),
        double d => Scalar.Of(d),
        bool b => Scalar.Of(b),
        _ => throw new ArgumentException($"not an unboxed value: {value}"),
    };

    [Theory]
    [InlineData("amount * qty", "qty", "amount")]
    [InlineData("qty - amount > 5 and qty > 2", "qty", "amount")]
    [InlineData("if(flag, amount / qty, qty * price)", "qty", "amount,price")]
    [InlineData("qty > 5", "qty", "")]
    [InlineData("qty * qty", "qty", null)]
    [InlineData("qty * 2.5", "qty", null)]
    [InlineData("qty + amount", "qty", null)]
    [InlineData("amount % qty", "qty", null)]
    [InlineData("-qty * amount", "qty", null)]
    public void Arithmetic_with_a_double_column_is_the_same_for_either_number_form(string text, string column, string? partners)
    {
        var expression = TransformExpression.TryParse(text, out _)!;
        var found = expression.NumberFormPartners(column);
        Assert.Equal(partners, found is null ? null : string.Join(",", found.Select(i => expression.Columns[i])));
    }

    private static string Outcome(TransformExpression expression, object?[] values)
    {
        try { return Show(expression.Evaluate((object?[])values.Clone())); }
        catch (Exception e) { return "fails: " + e.GetType().Name; }
    }

    [Theory]
    [InlineData("qty > 5", "qty", true)]
    [InlineData("not (qty = 3) and flag", "qty", true)]
    [InlineData("qty * 2 > 5", "qty", false)]
    [InlineData("qty > 9007199254740993", "qty", false)]
    [InlineData("concat(qty)", "qty", false)]
    [InlineData("amount * 2", "qty", true)]
    public void Comparisons_with_exact_constants_are_the_same_for_either_number_form(string text, string column, bool same)
    {
        Assert.Equal(same, TransformExpression.TryParse(text, out _)!.SameForEitherNumberForm(column));
    }

    [Theory]
    [InlineData("qty > 5", true)]
    [InlineData("amount * qty", true)]
    [InlineData("if(qty > 0, concat(upper(name), '-', len(name)), trim(name))", true)]
    [InlineData("Abs(qty)", false)]
    [InlineData("qty in (1, 2)", false)]
    [InlineData("name like 'a%'", false)]
    public void Compiles_the_operators_and_functions_it_knows(string text, bool compiles)
    {
        var expression = TransformExpression.TryParse(text, out var error);
        Assert.True(expression is not null, error);
        Assert.Equal(compiles, expression.IsCompiled);
    }

    [Fact]
    public void Leaves_to_ncalc_what_ncalc_fails_on_so_the_error_is_ncalc_s()
    {
        var expression = TransformExpression.TryParse("qty % 0", out _)!;
        Assert.False(expression.TryEvaluateCompiled([5L], out _));
        Assert.Throws<DivideByZeroException>(() => expression.Evaluate([5L]));
        var comparison = TransformExpression.TryParse("name > 5", out _)!;
        Assert.False(comparison.TryEvaluateCompiled(["ab"], out _));
        Assert.Throws<FormatException>(() => comparison.Evaluate(["ab"]));
    }

    private static string RandomExpression(Random random, int depth)
    {
        if (depth == 0 || random.Next(4) == 0)
            return random.Next(3) == 0 ? Constants[random.Next(Constants.Length)] : "abc"[random.Next(3)].ToString();
        string Sub() => RandomExpression(random, depth - 1);
        return random.Next(12) switch
        {
            0 => $"-({Sub()})",
            1 => $"not ({Sub()})",
            2 => $"!({Sub()})",
            3 => $"if({Sub()}, {Sub()}, {Sub()})",
            4 => $"({Sub()}) ? ({Sub()}) : ({Sub()})",
            5 => $"{new[] { "lower", "upper", "trim", "len" }[random.Next(4)]}({Sub()})",
            6 => $"concat({string.Join(", ", Enumerable.Range(0, random.Next(1, 4)).Select(_ => Sub()))})", // concat() is refused when parsed
            _ => $"({Sub()}) {Operators[random.Next(Operators.Length)]} ({Sub()})",
        };
    }

    private static bool Same(object? a, object? b) => (a, b) switch
    {
        (null, null) => true,
        (double x, double y) => BitConverter.DoubleToInt64Bits(x) == BitConverter.DoubleToInt64Bits(y) || (double.IsNaN(x) && double.IsNaN(y)),
        (not null, not null) => a.GetType() == b.GetType() && a.Equals(b),
        _ => false,
    };

    private static string Show(object? value) => value is null ? "null" : $"{value.GetType().Name} {Convert.ToString(value, CultureInfo.InvariantCulture)}";
}
