using System.Globalization;
using NCalc;

namespace DataSpoc.Pipe.Transforms;

/// <summary>
/// A <see cref="TransformExpression"/> compiled once from NCalc's parsed tree into a tree of closures over the values
/// of the columns it reads, so that a record costs a few calls instead of an NCalc interpretation (parameter binding,
/// visitor, type dispatch). Not System.Linq.Expressions: Native AOT interprets those.
/// </summary>
/// <remarks>
/// NCalc stays the reference for every value, type and error. A node computes only the cases whose NCalc result is
/// known exactly (numbers as long or double, booleans, strings, nulls where NCalc has a plain rule) and gives
/// <see cref="Unhandled"/> for anything else, including every case where NCalc throws; the whole expression is then
/// evaluated by NCalc for that record. So the compiled form never throws and never differs: CompiledExpressionTests
/// compares the two on seeded random expressions and values. Operands are evaluated as NCalc evaluates them: <c>and</c>,
/// <c>or</c>, <c>??</c>, <c>if</c> and <c>? :</c> only evaluate the branch they need. Arithmetic and comparisons with
/// a decimal column's value (<see cref="ExactDecimal"/>, which NCalc does not know) are <see cref="DecimalOps"/>' in
/// both forms: NCalc's through the handlers <see cref="TransformExpression"/> gives it.
/// </remarks>
internal sealed class CompiledExpression
{
    /// <summary>A node's answer when NCalc must evaluate the record.</summary>
    private static readonly object Unhandled = new();
    private static readonly object True = true;
    private static readonly object False = false;

    private delegate object? Node(object?[] values);

    private readonly Node _root;

    private CompiledExpression(Node root) => _root = root;

    /// <summary>
    /// Compiles <paramref name="tree"/> over <paramref name="columns"/> (value i of a record is column i), or null when it
    /// uses what is not compiled (a math function, <c>in</c>, <c>like</c>, bit operators, date literals): NCalc then
    /// evaluates it every time.
    /// </summary>
    /// <param name="tree">The parsed expression.</param>
    /// <param name="columns">The columns it reads, in the order of the values.</param>
    /// <param name="temporalKindOf">The date-time, date or time type of an operand that is such a column (else null).</param>
    public static CompiledExpression? TryCompile(LogicalExpression tree, IReadOnlyList<string> columns, Func<LogicalExpression, Parquet.LeafKind?> temporalKindOf) =>
        Compile(tree, columns, temporalKindOf) is { } root ? new CompiledExpression(root) : null;

    /// <summary>The value over <paramref name="values"/> (as expressions see them), or false when NCalc must evaluate it.</summary>
    public bool TryEvaluate(object?[] values, out object? result)
    {
        result = _root(values);
        return !ReferenceEquals(result, Unhandled);
    }

    private static Node? Compile(LogicalExpression e, IReadOnlyList<string> columns, Func<LogicalExpression, Parquet.LeafKind?> temporalKindOf)
    {
        switch (e)
        {
            case ValueExpression { Value: int or long or double or string or bool } v:
                var constant = v.Value;
                return _ => constant;
            case Identifier { Name: "null" }:
                return _ => null;
            case Identifier i:
                var index = IndexOf(columns, i.Name);
                if (index < 0) return null;
                return values => values[index];
            case UnaryExpression u:
                return Compile(u.Expression, columns, temporalKindOf) is { } operand ? Unary(u.Type, operand) : null;
            case BinaryExpression b when SqlNulls.IsNullTest(b, out var testedExpression, out var equal):
                return Compile(testedExpression, columns, temporalKindOf) is { } tested ? NullTest(tested, equal) : null;
            case BinaryExpression b:
                var left = Compile(b.LeftExpression, columns, temporalKindOf);
                var right = Compile(b.RightExpression, columns, temporalKindOf);
                return left is null || right is null ? null
                    : Binary(b.Type, left, right, new Constants(DecimalOps.IsFractionConstant(b.LeftExpression), DecimalOps.IsFractionConstant(b.RightExpression),
                        TransformExpression.TemporalOperands(b, temporalKindOf)));
            case TernaryExpression t:
                var condition = Compile(t.LeftExpression, columns, temporalKindOf);
                var then = Compile(t.MiddleExpression, columns, temporalKindOf);
                var otherwise = Compile(t.RightExpression, columns, temporalKindOf);
                return condition is null || then is null || otherwise is null ? null : Choose(condition, then, otherwise);
            case Function f:
                var arguments = new Node[f.Parameters.Count];
                for (var a = 0; a < arguments.Length; a++)
                    if ((arguments[a] = Compile(f.Parameters[a], columns, temporalKindOf)!) is null) return null;
                return Call(f.Identifier.Name, arguments);
            default:
                return null;
        }
    }

    /// <summary>
    /// Whether <paramref name="tree"/> gives the same value with <paramref name="column"/> bound to a long v or to the
    /// double (double)v, whatever the other columns hold (<see cref="NumberFormPartners"/> gives no partner).
    /// </summary>
    public static bool SameForEitherNumberForm(LogicalExpression tree, string column) => NumberFormPartners(tree, column) is [];

    /// <summary>
    /// When <paramref name="tree"/> gives the same value with <paramref name="column"/> bound to a long v or to the
    /// double (double)v: the columns that must then hold a double (any double: <c>*</c>, <c>-</c> and <c>/</c> of a whole
    /// number and a double compute in doubles, from (double)v in both forms); empty when the value is the same whatever
    /// they hold; null when it may differ. A node whose operands are the same in both forms is the same; the column is
    /// the same where it is only compared with a number constant below 2^53 (exact as a double: v and (double)v order
    /// alike against it), or multiplied, subtracted or divided with another column (its partner) that holds a double.
    /// </summary>
    public static IReadOnlyList<string>? NumberFormPartners(LogicalExpression tree, string column)
    {
        var partners = new List<string>();
        return FormIndependent(tree, column, partners) ? partners.Distinct(StringComparer.Ordinal).ToList() : null;
    }

    private static bool FormIndependent(LogicalExpression e, string column, List<string> partners)
    {
        switch (e)
        {
            case Identifier i: return i.Name != column;
            case ValueExpression: return true;
            case BinaryExpression { Type: BinaryExpressionType.Equal or BinaryExpressionType.NotEqual or BinaryExpressionType.Greater
                    or BinaryExpressionType.GreaterOrEqual or BinaryExpressionType.Lesser or BinaryExpressionType.LesserOrEqual } b
                when ComparedWithExactConstant(b.LeftExpression, b.RightExpression, column) || ComparedWithExactConstant(b.RightExpression, b.LeftExpression, column):
                return true;
            case BinaryExpression { Type: BinaryExpressionType.Times or BinaryExpressionType.Minus or BinaryExpressionType.Div } b
                when (ArithmeticPartner(b.LeftExpression, b.RightExpression, column) ?? ArithmeticPartner(b.RightExpression, b.LeftExpression, column)) is { } partner:
                partners.Add(partner);
                return true;
            case UnaryExpression u: return FormIndependent(u.Expression, column, partners);
            case BinaryExpression b: return FormIndependent(b.LeftExpression, column, partners) && FormIndependent(b.RightExpression, column, partners);
            case TernaryExpression t:
                return FormIndependent(t.LeftExpression, column, partners) && FormIndependent(t.MiddleExpression, column, partners)
                    && FormIndependent(t.RightExpression, column, partners);
            case Function f:
                foreach (var p in f.Parameters)
                    if (!FormIndependent(p, column, partners)) return false;
                return true;
            default: return !Mentions(e, column);
        }
    }

    /// <summary>The other column of an arithmetic node whose one operand is <paramref name="column"/> itself.</summary>
    private static string? ArithmeticPartner(LogicalExpression side, LogicalExpression other, string column) =>
        side is Identifier i && i.Name == column && other is Identifier o && o.Name != column && o.Name != "null" ? o.Name : null;

    private static bool ComparedWithExactConstant(LogicalExpression side, LogicalExpression other, string column) =>
        side is Identifier i && i.Name == column && other is ValueExpression { Value: int or long or double } v
        && Math.Abs(Convert.ToDouble(v.Value, CultureInfo.InvariantCulture)) < 9007199254740992d;

    private static bool Mentions(LogicalExpression tree, string column) => tree switch
    {
        Identifier i => i.Name == column,
        ValueExpression => false,
        UnaryExpression u => Mentions(u.Expression, column),
        BinaryExpression b => Mentions(b.LeftExpression, column) || Mentions(b.RightExpression, column),
        TernaryExpression t => Mentions(t.LeftExpression, column) || Mentions(t.MiddleExpression, column) || Mentions(t.RightExpression, column),
        Function f => f.Parameters.Any(p => Mentions(p, column)),
        _ => true,
    };

    private static int IndexOf(IReadOnlyList<string> columns, string name)
    {
        for (var i = 0; i < columns.Count; i++)
            if (columns[i] == name) return i;
        return -1;
    }

    private static Node? Unary(UnaryExpressionType type, Node operand) => type switch
    {
        UnaryExpressionType.Not => values => operand(values) switch
        {
            bool b => b ? False : True,
            null => null, // SQL: not null is null
            _ => Unhandled,
        },
        UnaryExpressionType.Negate => values => operand(values) switch
        {
            long l => (object)checked(-l),
            double d => (object)-d,
            ExactDecimal d => d.Negate(),
            _ => Unhandled,
        },
        _ => null,
    };

    private static Node Choose(Node condition, Node then, Node otherwise) => values => condition(values) switch
    {
        true => then(values),
        false or null => otherwise(values), // a null condition is not true: SQL's if and CASE take the else branch
        _ => Unhandled,
    };

    /// <summary><c>x == null</c> / <c>x != null</c>: the explicit null test, true or false (<see cref="SqlNulls.IsNullTest"/>).</summary>
    private static Node NullTest(Node tested, bool equal) => values => tested(values) switch
    {
        null => equal ? True : False,
        var v when ReferenceEquals(v, Unhandled) => Unhandled,
        _ => equal ? False : True,
    };

    /// <summary>
    /// Which operands of a binary node are number constants with a fraction (a decimal reads them as written: <see cref="DecimalOps"/>)
    /// and which is a text constant compared with a date-time, date or time column (the column's type reads it:
    /// <see cref="TransformExpression.TemporalComparison"/>).
    /// </summary>
    private readonly record struct Constants(bool Left, bool Right, (Parquet.LeafKind Kind, bool ConstantOnRight)? Temporal = null);

    /// <summary>
    /// A binary node where an operand is not a long, int or double: <see cref="DecimalOps"/>' value when one is an
    /// <see cref="ExactDecimal"/> and the other a number or null (NCalc's handler gives the same), else
    /// <see cref="Unhandled"/> (NCalc's handler reports a decimal with text or a boolean). Off the path of plain numbers.
    /// </summary>
    private static object? NotPlain(BinaryExpressionType type, object? a, object? b, Constants constants) =>
        (a is ExactDecimal || b is ExactDecimal) && a is null or ExactDecimal or long or int or double && b is null or ExactDecimal or long or int or double
            ? DecimalOps.Binary(type, a, b, constants.Left, constants.Right)
            : Unhandled;

    private static Node? Binary(BinaryExpressionType type, Node left, Node right, Constants constants)
    {
        if (!DecimalOps.IsComparison(type) || !(constants.Left || constants.Right || constants.Temporal is not null))
            return Plain(type, left, right, constants);
        // A comparison with a constant that its other operand reads in its own way (as NCalc's handlers do): a whole
        // number compares exactly with a number with a fraction (DecimalOps.IsWholeAgainstFraction), a date-time, date or time
        // column with text as its instant or time of day.
        return values =>
        {
            var (a, b) = (left(values), right(values));
            if ((a is long && constants.Right) || (b is long && constants.Left)) return DecimalOps.Binary(type, a, b, constants.Left, constants.Right);
            if (TransformExpression.TemporalComparison(type, a, b, constants.Temporal) is { } temporal) return temporal;
            var plain = type switch
            {
                BinaryExpressionType.Equal => Equality(a, b, equal: true),
                BinaryExpressionType.NotEqual => Equality(a, b, equal: false),
                BinaryExpressionType.Greater => Order(a, b, c => c > 0),
                BinaryExpressionType.GreaterOrEqual => Order(a, b, c => c >= 0),
                BinaryExpressionType.Lesser => Order(a, b, c => c < 0),
                _ => Order(a, b, c => c <= 0),
            };
            return Or(plain, type, a, b, constants);
        };
    }

    private static Node? Plain(BinaryExpressionType type, Node left, Node right, Constants constants) => type switch
    {
        // SQL's three-valued logic (SqlNulls): false and null is false, true or null is true, otherwise a null gives null.
        BinaryExpressionType.And => values => left(values) switch
        {
            false => False,
            true => right(values) switch { bool r => r ? True : False, null => null, _ => Unhandled },
            null => right(values) switch { false => False, true or null => null, _ => Unhandled },
            _ => Unhandled,
        },
        BinaryExpressionType.Or => values => left(values) switch
        {
            true => True,
            false => right(values) switch { bool r => r ? True : False, null => null, _ => Unhandled },
            null => right(values) switch { true => True, false or null => null, _ => Unhandled },
            _ => Unhandled,
        },
        BinaryExpressionType.Coalesce => values => left(values) ?? right(values),
        // Each as before decimals, plus one reference check: a decimal operand (which the plain operations leave
        // unhandled) goes to NotPlain. No delegate in between, so plain numbers cost what they did.
        BinaryExpressionType.Equal => values => { var (a, b) = (left(values), right(values)); return Or(Equality(a, b, equal: true), type, a, b, constants); },
        BinaryExpressionType.NotEqual => values => { var (a, b) = (left(values), right(values)); return Or(Equality(a, b, equal: false), type, a, b, constants); },
        BinaryExpressionType.Greater => values => { var (a, b) = (left(values), right(values)); return Or(Order(a, b, c => c > 0), type, a, b, constants); },
        BinaryExpressionType.GreaterOrEqual => values => { var (a, b) = (left(values), right(values)); return Or(Order(a, b, c => c >= 0), type, a, b, constants); },
        BinaryExpressionType.Lesser => values => { var (a, b) = (left(values), right(values)); return Or(Order(a, b, c => c < 0), type, a, b, constants); },
        BinaryExpressionType.LesserOrEqual => values => { var (a, b) = (left(values), right(values)); return Or(Order(a, b, c => c <= 0), type, a, b, constants); },
        BinaryExpressionType.Plus => values => { var (a, b) = (left(values), right(values)); return Or(Plus(a, b), type, a, b, constants); },
        BinaryExpressionType.Minus => values =>
        {
            var (a, b) = (left(values), right(values));
            return Or(Arithmetic(a, b, static (x, y) => checked(x - y), static (x, y) => x - y), type, a, b, constants);
        },
        BinaryExpressionType.Times => values =>
        {
            var (a, b) = (left(values), right(values));
            return Or(Arithmetic(a, b, static (x, y) => checked(x * y), static (x, y) => x * y), type, a, b, constants);
        },
        BinaryExpressionType.Div => values => { var (a, b) = (left(values), right(values)); return Or(Divide(a, b), type, a, b, constants); },
        BinaryExpressionType.Modulo => values => { var (a, b) = (left(values), right(values)); return Or(Modulo(a, b), type, a, b, constants); },
        _ => null,
    };

    /// <summary>The plain operation's <paramref name="result"/>, or <see cref="NotPlain"/>'s when it left the operands unhandled.</summary>
    private static object? Or(object? result, BinaryExpressionType type, object? a, object? b, Constants constants) =>
        ReferenceEquals(result, Unhandled) ? NotPlain(type, a, b, constants) : result;

    /// <summary>A number as NCalc compares and computes it: whether it is whole (int or long) and its value.</summary>
    private static bool Number(object? value, out bool whole, out long l, out double d)
    {
        switch (value)
        {
            case long x: whole = true; l = x; d = x; return true;
            case int x: whole = true; l = x; d = x; return true;
            case double x: whole = false; l = 0; d = x; return true;
            default: whole = false; l = 0; d = 0; return false;
        }
    }

    private static object? Equality(object? a, object? b, bool equal)
    {
        bool same;
        if (Number(a, out var wa, out var la, out var da) && Number(b, out var wb, out var lb, out var db)) same = wa && wb ? la == lb : DecimalOps.CompareDoubles(da, db) == 0;
        else if (a is string sa && b is string sb) same = string.Equals(sa, sb, StringComparison.Ordinal);
        else if (a is bool ba && b is bool bb) same = ba == bb;
        else return NullComparison(a, b);
        return same == equal ? True : False;
    }

    /// <summary>
    /// A comparison that is not of two plain values: null when an operand is null (SQL: a comparison with a null is
    /// null; <c>x == null</c> is <see cref="NullTest"/>), else <see cref="Unhandled"/>. Off the path of non-null values.
    /// </summary>
    private static object? NullComparison(object? a, object? b) =>
        (a is null && !ReferenceEquals(b, Unhandled)) || (b is null && !ReferenceEquals(a, Unhandled)) ? null : Unhandled;

    private static object? Order(object? a, object? b, Func<int, bool> holds)
    {
        if (!Number(a, out var wa, out var la, out var da) || !Number(b, out var wb, out var lb, out var db)) return NullComparison(a, b);
        return holds(wa && wb ? la.CompareTo(lb) : DecimalOps.CompareDoubles(da, db)) ? True : False;
    }

    /// <summary>
    /// <c>+</c> as NCalc adds: two numbers add (as <see cref="Arithmetic"/>), a null gives null. A string is NCalc's: it
    /// adds two that read as numbers ("2.5" + "2.5" is 5), joins two that do not, and fails a string with a number.
    /// </summary>
    private static object? Plus(object? a, object? b)
    {
        if (ReferenceEquals(a, Unhandled) || ReferenceEquals(b, Unhandled)) return Unhandled;
        if (a is null || b is null) return null;
        return Arithmetic(a, b, static (x, y) => checked(x + y), static (x, y) => x + y);
    }

    private static object Arithmetic(object? a, object? b, Func<long, long, long> whole, Func<double, double, double> real)
    {
        if (a is int && b is int) return Unhandled;
        if (!Number(a, out var wa, out var la, out var da) || !Number(b, out var wb, out var lb, out var db)) return Unhandled;
        // Boxed apart: a conditional of long and double would make both double. The whole operations are checked: a
        // result that overflows fails its record (OverflowException), never lands wrapped as NCalc's would.
        if (wa && wb) return whole(la, lb);
        return real(da, db);
    }

    private static object Divide(object? a, object? b)
    {
        if (a is int && b is int) return Unhandled;
        if (!Number(a, out _, out _, out var da) || !Number(b, out _, out _, out var db)) return Unhandled;
        return da / db;
    }

    private static object Modulo(object? a, object? b)
    {
        if (a is int && b is int) return Unhandled;
        if (!Number(a, out var wa, out var la, out var da) || !Number(b, out var wb, out var lb, out var db)) return Unhandled;
        if (!(wa && wb)) return da % db;
        // NCalc throws for these (division by zero, overflow): its error is the one reported.
        if (lb == 0 || lb == -1) return Unhandled;
        return la % lb;
    }

    private static Node? Call(string name, Node[] arguments)
    {
        switch (name)
        {
            case "if" when arguments.Length == 3:
                return Choose(arguments[0], arguments[1], arguments[2]);
            case "lower" or "upper" or "trim" or "len" when arguments.Length >= 1:
                var argument = arguments[0];
                Func<string, object> apply = name switch
                {
                    "lower" => s => s.ToLowerInvariant(),
                    "upper" => s => s.ToUpperInvariant(),
                    "trim" => TransformExpression.Trim,
                    _ => s => (long)s.Length,
                };
                return values =>
                {
                    var value = argument(values);
                    if (ReferenceEquals(value, Unhandled)) return Unhandled;
                    return TransformExpression.TextOf(value) is { } s ? apply(s) : null;
                };
            case "concat":
                return values =>
                {
                    var parts = new string?[arguments.Length];
                    for (var i = 0; i < arguments.Length; i++)
                    {
                        var value = arguments[i](values);
                        if (ReferenceEquals(value, Unhandled)) return Unhandled;
                        parts[i] = TransformExpression.TextOf(value);
                    }
                    return string.Concat(parts);
                };
            default:
                return null;
        }
    }
}
