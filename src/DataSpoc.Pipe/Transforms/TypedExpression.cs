using NCalc;

namespace DataSpoc.Pipe.Transforms;

/// <summary>What a <see cref="Scalar"/> holds.</summary>
internal enum ScalarKind : byte
{
    /// <summary>No typed answer: the object form (<see cref="CompiledExpression"/>, then NCalc) decides.</summary>
    Unhandled,
    Null,
    /// <summary>An int, as NCalc gives integer constants (whole, but two ints compute as NCalc's own rules do).</summary>
    Int,
    Long,
    Double,
    Boolean,
}

/// <summary>
/// An expression value without a box: a long, a double (its bits), a boolean (0 or 1), null, an int constant. Sixteen
/// bytes, so that the expression's nodes return it in registers.
/// </summary>
internal readonly struct Scalar
{
    public readonly ScalarKind Kind;
    /// <summary>The value: a long, an int, a boolean's 0 or 1, a double's bits.</summary>
    private readonly long _bits;

    private Scalar(ScalarKind kind, long bits)
    {
        Kind = kind;
        _bits = bits;
    }

    public long Long => _bits;
    public double Double => BitConverter.Int64BitsToDouble(_bits);

    public static Scalar Unhandled => default;
    public static Scalar Null => new(ScalarKind.Null, 0);
    public static Scalar True => new(ScalarKind.Boolean, 1);
    public static Scalar False => new(ScalarKind.Boolean, 0);

    public static Scalar Of(long value) => new(ScalarKind.Long, value);
    public static Scalar Of(double value) => new(ScalarKind.Double, BitConverter.DoubleToInt64Bits(value));
    public static Scalar Of(bool value) => new(ScalarKind.Boolean, value ? 1 : 0);
    public static Scalar OfInt(int value) => new(ScalarKind.Int, value);

    public bool IsUnhandled => Kind == ScalarKind.Unhandled;

    /// <summary>Equal values of the same kind (doubles bit for bit: -0.0 is not 0.0 in a column).</summary>
    public bool Same(in Scalar other) => Kind == other.Kind && _bits == other._bits;

    /// <summary>The boxed value the object form computes with (for tests and messages).</summary>
    public object? ToObject() => Kind switch
    {
        ScalarKind.Int => (int)Long,
        ScalarKind.Long => Long,
        ScalarKind.Double => Double,
        ScalarKind.Boolean => Long != 0,
        _ => null,
    };
}

/// <summary>
/// The numeric and boolean part of a <see cref="CompiledExpression"/> over unboxed values: for an expression whose
/// columns hold numbers or booleans (a typed map binds them straight from the row), a record costs no allocation.
/// </summary>
/// <remarks>
/// Each node computes exactly what the matching node of <see cref="CompiledExpression"/> computes for the same values
/// (long, double, boolean, null, int constants) and gives <see cref="Scalar.Unhandled"/> wherever that one does; the
/// caller then evaluates the record through the object form, which leaves to NCalc what it does not know. An expression
/// with a string constant, a string function or <c>+</c> (which concatenates in the map language) is not compiled here.
/// <c>CompiledExpressionTests</c> compares the two forms on seeded random expressions.
/// </remarks>
internal sealed class TypedExpression
{
    private delegate Scalar Node(Scalar[] values);

    private readonly Node _root;

    private TypedExpression(Node root) => _root = root;

    /// <summary>The typed form of <paramref name="tree"/> over <paramref name="columns"/>, or null when it uses what this form does not compute.</summary>
    public static TypedExpression? TryCompile(LogicalExpression tree, IReadOnlyList<string> columns) =>
        Compile(tree, columns) is { } root ? new TypedExpression(root) : null;

    /// <summary>The value over <paramref name="values"/> (value i is column i's); <see cref="Scalar.Unhandled"/> when the object form must evaluate it.</summary>
    public Scalar Evaluate(Scalar[] values) => _root(values);

    private static Node? Compile(LogicalExpression e, IReadOnlyList<string> columns)
    {
        switch (e)
        {
            case ValueExpression { Value: int i }:
                var integer = Scalar.OfInt(i);
                return _ => integer;
            case ValueExpression { Value: long l }:
                var whole = Scalar.Of(l);
                return _ => whole;
            case ValueExpression { Value: double d }:
                var real = Scalar.Of(d);
                return _ => real;
            case ValueExpression { Value: bool b }:
                var boolean = Scalar.Of(b);
                return _ => boolean;
            case Identifier { Name: "null" }:
                return _ => Scalar.Null;
            case Identifier id:
                var index = -1;
                for (var c = 0; c < columns.Count; c++)
                    if (columns[c] == id.Name) { index = c; break; }
                if (index < 0) return null;
                return values => values[index];
            case UnaryExpression u:
                return Compile(u.Expression, columns) is { } operand ? Unary(u.Type, operand) : null;
            case BinaryExpression b when SqlNulls.IsNullTest(b, out var testedExpression, out var equal):
                if (Compile(testedExpression, columns) is not { } tested) return null;
                return values => tested(values) switch
                {
                    { Kind: ScalarKind.Null } => Scalar.Of(equal),
                    { Kind: ScalarKind.Unhandled } => Scalar.Unhandled,
                    _ => Scalar.Of(!equal),
                };
            case BinaryExpression b when Leaf(b.LeftExpression, columns) is { } l && Leaf(b.RightExpression, columns) is { } r
                                         && BinaryOfLeaves(b.Type, l, r) is { } node:
                return node;
            case BinaryExpression b:
                var left = Compile(b.LeftExpression, columns);
                var right = Compile(b.RightExpression, columns);
                return left is null || right is null ? null : Binary(b.Type, left, right);
            case TernaryExpression t:
                var condition = Compile(t.LeftExpression, columns);
                var then = Compile(t.MiddleExpression, columns);
                var otherwise = Compile(t.RightExpression, columns);
                return condition is null || then is null || otherwise is null ? null : Choose(condition, then, otherwise);
            case Function { Identifier.Name: "if", Parameters.Count: 3 } f:
                var arguments = new Node[3];
                for (var a = 0; a < 3; a++)
                    if ((arguments[a] = Compile(f.Parameters[a], columns)!) is null) return null;
                return Choose(arguments[0], arguments[1], arguments[2]);
            default:
                return null;
        }
    }

    private static Node? Unary(UnaryExpressionType type, Node operand) => type switch
    {
        UnaryExpressionType.Not => values => operand(values) switch
        {
            { Kind: ScalarKind.Boolean } b => Scalar.Of(b.Long == 0),
            { Kind: ScalarKind.Null } => Scalar.Null, // SQL: not null is null
            _ => Scalar.Unhandled,
        },
        UnaryExpressionType.Negate => values => operand(values) switch
        {
            { Kind: ScalarKind.Long } l => Scalar.Of(checked(-l.Long)),
            { Kind: ScalarKind.Double } d => Scalar.Of(-d.Double),
            _ => Scalar.Unhandled,
        },
        _ => null,
    };

    private static Node Choose(Node condition, Node then, Node otherwise) => values => condition(values) switch
    {
        { Kind: ScalarKind.Boolean } c => c.Long != 0 ? then(values) : otherwise(values),
        { Kind: ScalarKind.Null } => otherwise(values), // not true: SQL's if and CASE take the else branch
        _ => Scalar.Unhandled,
    };

    /// <summary>A column or a constant: read in place by <see cref="BinaryOfLeaves"/> instead of through a node of its own.</summary>
    private readonly struct Operand(int column, Scalar constant)
    {
        public Scalar Get(Scalar[] values) => column >= 0 ? values[column] : constant;
    }

    private static Operand? Leaf(LogicalExpression e, IReadOnlyList<string> columns)
    {
        switch (e)
        {
            case ValueExpression { Value: int i }: return new Operand(-1, Scalar.OfInt(i));
            case ValueExpression { Value: long l }: return new Operand(-1, Scalar.Of(l));
            case ValueExpression { Value: double d }: return new Operand(-1, Scalar.Of(d));
            case ValueExpression { Value: bool b }: return new Operand(-1, Scalar.Of(b));
            case Identifier { Name: "null" }: return new Operand(-1, Scalar.Null);
            case Identifier id:
                for (var c = 0; c < columns.Count; c++)
                    if (columns[c] == id.Name) return new Operand(c, default);
                return null;
            default: return null;
        }
    }

    /// <summary>
    /// A comparison or arithmetic node of two columns or constants (the usual <c>qty > 5</c>, <c>amount * qty</c>): the
    /// same operations as <see cref="Binary"/>, one call per record instead of three.
    /// </summary>
    private static Node? BinaryOfLeaves(BinaryExpressionType type, Operand l, Operand r) => type switch
    {
        BinaryExpressionType.Equal => values => Equality(l.Get(values), r.Get(values), equal: true),
        BinaryExpressionType.NotEqual => values => Equality(l.Get(values), r.Get(values), equal: false),
        BinaryExpressionType.Greater => values => Order(l.Get(values), r.Get(values)) is var c && c <= Unordered ? Unorderable(c) : Scalar.Of(c > 0),
        BinaryExpressionType.GreaterOrEqual => values => Order(l.Get(values), r.Get(values)) is var c && c <= Unordered ? Unorderable(c) : Scalar.Of(c >= 0),
        BinaryExpressionType.Lesser => values => Order(l.Get(values), r.Get(values)) is var c && c <= Unordered ? Unorderable(c) : Scalar.Of(c < 0),
        BinaryExpressionType.LesserOrEqual => values => Order(l.Get(values), r.Get(values)) is var c && c <= Unordered ? Unorderable(c) : Scalar.Of(c <= 0),
        BinaryExpressionType.Minus => values => Arithmetic(l.Get(values), r.Get(values), minus: true),
        BinaryExpressionType.Times => values => Arithmetic(l.Get(values), r.Get(values), minus: false),
        BinaryExpressionType.Div => values => Divide(l.Get(values), r.Get(values)),
        BinaryExpressionType.Modulo => values => Modulo(l.Get(values), r.Get(values)),
        _ => null,
    };

    private static Node? Binary(BinaryExpressionType type, Node left, Node right) => type switch
    {
        // SQL's three-valued logic (SqlNulls): false and null is false, true or null is true, otherwise a null gives null.
        BinaryExpressionType.And => values => left(values) switch
        {
            { Kind: ScalarKind.Boolean, Long: 0 } => Scalar.False,
            { Kind: ScalarKind.Boolean } => right(values) is { Kind: ScalarKind.Boolean or ScalarKind.Null } r ? r : Scalar.Unhandled,
            { Kind: ScalarKind.Null } => right(values) switch
            {
                { Kind: ScalarKind.Boolean, Long: 0 } => Scalar.False,
                { Kind: ScalarKind.Boolean or ScalarKind.Null } => Scalar.Null,
                _ => Scalar.Unhandled,
            },
            _ => Scalar.Unhandled,
        },
        BinaryExpressionType.Or => values => left(values) switch
        {
            { Kind: ScalarKind.Boolean, Long: not 0 } => Scalar.True,
            { Kind: ScalarKind.Boolean } => right(values) is { Kind: ScalarKind.Boolean or ScalarKind.Null } r ? r : Scalar.Unhandled,
            { Kind: ScalarKind.Null } => right(values) switch
            {
                { Kind: ScalarKind.Boolean, Long: not 0 } => Scalar.True,
                { Kind: ScalarKind.Boolean or ScalarKind.Null } => Scalar.Null,
                _ => Scalar.Unhandled,
            },
            _ => Scalar.Unhandled,
        },
        BinaryExpressionType.Coalesce => values =>
        {
            var l = left(values);
            return l.Kind == ScalarKind.Null ? right(values) : l;
        },
        BinaryExpressionType.Equal => values => Equality(left(values), right(values), equal: true),
        BinaryExpressionType.NotEqual => values => Equality(left(values), right(values), equal: false),
        BinaryExpressionType.Greater => values => Order(left(values), right(values)) is var c && c <= Unordered ? Unorderable(c) : Scalar.Of(c > 0),
        BinaryExpressionType.GreaterOrEqual => values => Order(left(values), right(values)) is var c && c <= Unordered ? Unorderable(c) : Scalar.Of(c >= 0),
        BinaryExpressionType.Lesser => values => Order(left(values), right(values)) is var c && c <= Unordered ? Unorderable(c) : Scalar.Of(c < 0),
        BinaryExpressionType.LesserOrEqual => values => Order(left(values), right(values)) is var c && c <= Unordered ? Unorderable(c) : Scalar.Of(c <= 0),
        BinaryExpressionType.Minus => values => Arithmetic(left(values), right(values), minus: true),
        BinaryExpressionType.Times => values => Arithmetic(left(values), right(values), minus: false),
        BinaryExpressionType.Div => values => Divide(left(values), right(values)),
        BinaryExpressionType.Modulo => values => Modulo(left(values), right(values)),
        _ => null,
    };

    private static bool IsNumber(in Scalar s) => s.Kind is ScalarKind.Int or ScalarKind.Long or ScalarKind.Double;

    private static bool IsWhole(in Scalar s) => s.Kind is ScalarKind.Int or ScalarKind.Long;

    private static double AsDouble(in Scalar s) => s.Kind == ScalarKind.Double ? s.Double : s.Long;

    /// <summary>
    /// Whether a whole number and a double compare differently as doubles than exactly (beyond 2^53 a long has no
    /// double of its own): left to the object form, which compares a number constant exactly
    /// (<see cref="DecimalOps.IsWholeAgainstFraction"/>) and a double column's value as doubles.
    /// </summary>
    private static bool Inexact(in Scalar a, in Scalar b) =>
        (a.Kind == ScalarKind.Long && b.Kind == ScalarKind.Double && Math.Abs((double)a.Long) >= 9007199254740992d)
        || (b.Kind == ScalarKind.Long && a.Kind == ScalarKind.Double && Math.Abs((double)b.Long) >= 9007199254740992d);

    private static Scalar Equality(in Scalar a, in Scalar b, bool equal)
    {
        if (Inexact(a, b)) return Scalar.Unhandled;
        bool same;
        if (IsNumber(a) && IsNumber(b)) same = IsWhole(a) && IsWhole(b) ? a.Long == b.Long : DecimalOps.CompareDoubles(AsDouble(a), AsDouble(b)) == 0;
        else if (a.Kind == ScalarKind.Boolean && b.Kind == ScalarKind.Boolean) same = a.Long == b.Long;
        else return NullComparison(a, b) ? Scalar.Null : Scalar.Unhandled;
        return Scalar.Of(same == equal);
    }

    /// <summary>
    /// Whether a comparison is null because an operand is (SQL; <c>x == null</c> is the null test, compiled apart) and
    /// neither is left to the object form.
    /// </summary>
    private static bool NullComparison(in Scalar a, in Scalar b) =>
        (a.Kind == ScalarKind.Null && !b.IsUnhandled) || (b.Kind == ScalarKind.Null && !a.IsUnhandled);

    /// <summary>What <see cref="Order"/> gives when the object form does not order the two.</summary>
    private const int Unordered = int.MinValue + 1;
    /// <summary>What <see cref="Order"/> gives for a null operand: the comparison is null. Below <see cref="Unordered"/>,
    /// so that one test (<c>c &lt;= Unordered</c>) keeps both off the path of ordered values.</summary>
    private const int NullOrder = int.MinValue;

    private static Scalar Unorderable(int c) => c == NullOrder ? Scalar.Null : Scalar.Unhandled;

    private static int Order(in Scalar a, in Scalar b)
    {
        if (!IsNumber(a) || !IsNumber(b)) return NullComparison(a, b) ? NullOrder : Unordered;
        if (IsWhole(a) && IsWhole(b)) return a.Long.CompareTo(b.Long);
        if (Inexact(a, b)) return Unordered;
        return DecimalOps.CompareDoubles(AsDouble(a), AsDouble(b));
    }

    private static Scalar Arithmetic(in Scalar a, in Scalar b, bool minus)
    {
        if ((a.Kind == ScalarKind.Int && b.Kind == ScalarKind.Int) || !IsNumber(a) || !IsNumber(b)) return Scalar.Unhandled;
        // Checked: a whole result that overflows fails its record (OverflowException), never lands wrapped. NCalc wraps
        // (see TransformExpression.Options), so here the compiled forms depart from it on purpose.
        if (IsWhole(a) && IsWhole(b)) return Scalar.Of(minus ? checked(a.Long - b.Long) : checked(a.Long * b.Long));
        return Scalar.Of(minus ? AsDouble(a) - AsDouble(b) : AsDouble(a) * AsDouble(b));
    }

    private static Scalar Divide(in Scalar a, in Scalar b)
    {
        if ((a.Kind == ScalarKind.Int && b.Kind == ScalarKind.Int) || !IsNumber(a) || !IsNumber(b)) return Scalar.Unhandled;
        return Scalar.Of(AsDouble(a) / AsDouble(b));
    }

    private static Scalar Modulo(in Scalar a, in Scalar b)
    {
        if ((a.Kind == ScalarKind.Int && b.Kind == ScalarKind.Int) || !IsNumber(a) || !IsNumber(b)) return Scalar.Unhandled;
        if (!(IsWhole(a) && IsWhole(b))) return Scalar.Of(AsDouble(a) % AsDouble(b));
        // NCalc throws for these (division by zero, overflow): its error is the one reported.
        if (b.Long is 0 or -1) return Scalar.Unhandled;
        return Scalar.Of(a.Long % b.Long);
    }
}
