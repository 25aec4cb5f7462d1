using NCalc;

namespace DataSpoc.Pipe.Transforms;

/// <summary>
/// Null in the map language's logic, as SQL's three-valued logic (DuckDB's): a comparison (<c>= != &lt; &gt;</c>,
/// <c>like</c>, <c>in</c>) with a null operand is null; <c>not null</c> is null; <c>false and null</c> is false,
/// <c>true or null</c> true, any other <c>and</c>/<c>or</c> with a null is null; <c>if</c> and <c>? :</c> take the else
/// branch for a null condition; a filter keeps a record only when it is true (<see cref="StreamMap.Keeps"/>).
/// <c>x == null</c> and <c>x != null</c> (a side written <c>null</c>) stay the explicit null test: true or false.
/// </summary>
/// <remarks>
/// NCalc's own rules differ (a comparison with a null is false, <c>not null</c> true): this class gives NCalc's
/// evaluation SQL's (<see cref="TransformExpression"/> calls it from its binary handler and negation), and
/// <see cref="CompiledExpression"/> and <see cref="TypedExpression"/> compute the same in their nodes, so that every
/// path agrees (<c>CompiledExpressionTests</c>; <c>NullLogicTests</c> checks them against DuckDB).
/// </remarks>
internal static class SqlNulls
{
    /// <summary>Whether <paramref name="b"/> is <c>x == null</c> or <c>x != null</c> (either side written <c>null</c>): <paramref name="tested"/> is the other side.</summary>
    public static bool IsNullTest(BinaryExpression b, out LogicalExpression tested, out bool equal)
    {
        equal = b.Type == BinaryExpressionType.Equal;
        tested = IsNullLiteral(b.LeftExpression) ? b.RightExpression : b.LeftExpression;
        return b.Type is BinaryExpressionType.Equal or BinaryExpressionType.NotEqual && (IsNullLiteral(b.LeftExpression) || IsNullLiteral(b.RightExpression));
    }

    private static bool IsNullLiteral(LogicalExpression e) => e is Identifier { Name: "null" };

    private static bool IsComparison(BinaryExpressionType type) => type is BinaryExpressionType.Equal or BinaryExpressionType.NotEqual
        or BinaryExpressionType.Greater or BinaryExpressionType.GreaterOrEqual or BinaryExpressionType.Lesser
        or BinaryExpressionType.LesserOrEqual or BinaryExpressionType.Like or BinaryExpressionType.NotLike;

    /// <summary>
    /// The value of <paramref name="b"/> where SQL's null rules decide it (the operands through <paramref name="left"/>
    /// and <paramref name="right"/>, each evaluated at most once, the right one only when needed); false when NCalc's
    /// own evaluation gives the value (no null involved, or an operand NCalc converts itself).
    /// </summary>
    public static bool TryBinary(BinaryExpression b, Func<object?> left, Func<object?> right, out object? result)
    {
        result = null;
        if (IsNullTest(b, out _, out var equal))
        {
            var tested = IsNullLiteral(b.LeftExpression) ? right() : left();
            result = (tested is null) == equal;
            return true;
        }
        switch (b.Type)
        {
            case BinaryExpressionType.And or BinaryExpressionType.Or:
            {
                var and = b.Type == BinaryExpressionType.And;
                var l = left();
                // false and x is false, true or x is true, without x (as NCalc, which evaluates no further).
                if (l is bool lb && lb != and) { result = lb; return true; }
                if (l is not (null or bool)) return false;
                var r = right();
                if (r is bool rb)
                {
                    // x and false is false, x or true is true; true and true is true, false or false false; else null.
                    result = rb != and || l is bool ? rb : null;
                    return true;
                }
                return r is null; // a null with true (and), false (or) or a null: null
            }
            case BinaryExpressionType.In or BinaryExpressionType.NotIn:
            {
                var l = left();
                if (l is null) return true;
                if (right() is not object?[] list || Array.IndexOf(list, null) < 0) return false;
                // SQL: x in (a, null) is true when x is a, else null (the null might be x); not in the opposite.
                if (!list.Any(e => e is not null && Same(l, e))) return true;
                result = b.Type == BinaryExpressionType.In;
                return true;
            }
            default:
                if (!IsComparison(b.Type)) return false;
                return left() is null || right() is null; // result null
        }
    }

    /// <summary><c>in(x, a, b, ...)</c> as NCalc's function form of <c>in</c>, with SQL's nulls; false when NCalc decides (no null).</summary>
    public static bool TryIn(NCalc.Handlers.FunctionData f, out object? result)
    {
        result = null;
        if (f.Count < 1) return false;
        var x = f.Evaluate(0);
        if (x is null) return true;
        var list = new object?[f.Count - 1];
        for (var i = 1; i < f.Count; i++) list[i - 1] = f.Evaluate(i);
        if (Array.IndexOf(list, null) < 0) return false;
        if (list.Any(e => e is not null && Same(x, e))) result = true;
        return true;
    }

    /// <summary>Whether two non-null values are equal as <c>=</c> compares them (a decimal exactly, numbers by value, text ordinal).</summary>
    private static bool Same(object x, object e)
    {
        if (x is ExactDecimal || e is ExactDecimal)
            return x is ExactDecimal or long or int or double && e is ExactDecimal or long or int or double
                   && DecimalOps.Binary(BinaryExpressionType.Equal, x, e, aConstant: x is double, bConstant: e is double) is true;
        if (x is long or int or double && e is long or int or double)
            return x is long or int && e is long or int ? Convert.ToInt64(x) == Convert.ToInt64(e) : Convert.ToDouble(x) == Convert.ToDouble(e);
        return Equals(x, e);
    }
}
