using System.Globalization;
using System.Text;
using DataSpoc.Pipe.Parquet;
using NCalc;

namespace DataSpoc.Pipe.Transforms;

/// <summary>
/// A value of a decimal (<c>multipleOf</c>) column as expressions see it: its unscaled 128-bit integer and its scale, as
/// the DECIMAL(38, s) column stores it (<see cref="DecimalWriter"/>; not System.Decimal, which holds 28-29 digits).
/// <see cref="DecimalOps"/> computes with it exactly, as DuckDB does.
/// </summary>
internal readonly struct ExactDecimal : IFormattable, IConvertible
{
    /// <summary>The largest number of digits a value holds (DECIMAL(38, s)).</summary>
    public const int Precision = LeafNode.DecimalPrecision;

    private static readonly Int128[] Powers = [.. Enumerable.Range(0, Precision + 1).Select(e => Enumerable.Repeat((Int128)10, e).Aggregate((Int128)1, (a, b) => a * b))];
    private static readonly Int128 Bound = Powers[Precision];

    public Int128 Unscaled { get; }
    public int Scale { get; }

    /// <exception cref="OverflowException">The value needs more than 38 digits.</exception>
    public ExactDecimal(Int128 unscaled, int scale)
    {
        if (unscaled >= Bound || unscaled <= -Bound || scale is < 0 or > Precision)
            throw new OverflowException($"{Text(unscaled, scale)} does not fit a decimal(38, {scale}) (more than 38 digits)");
        Unscaled = unscaled;
        Scale = scale;
    }

    /// <summary>A JSON number's text at <paramref name="scale"/>, or null when it has more decimals than the scale or more than 38 digits (the column rejects it).</summary>
    public static ExactDecimal? FromJsonNumber(ReadOnlySpan<byte> utf8, int scale) =>
        DecimalWriter.TryParseUnscaled(utf8, scale, out var unscaled) == DecimalFit.Fits ? new ExactDecimal(unscaled, scale) : null;

    /// <summary>A whole number, scale 0.</summary>
    public static ExactDecimal FromLong(long value) => new(value, 0);

    /// <summary>
    /// A number constant of the expression as written (<c>0.1</c> is 1 at scale 1, not the double nearest 0.1): its
    /// shortest round-trip text, which is what was written unless it had more than 17 digits or trailing zeros.
    /// </summary>
    public static ExactDecimal? FromConstant(double value)
    {
        if (!double.IsFinite(value)) return null;
        var text = value.ToString("R", CultureInfo.InvariantCulture);
        for (var scale = 0; scale <= Precision; scale++)
            if (FromJsonNumber(Encoding.ASCII.GetBytes(text), scale) is { } d) return d;
        return null;
    }

    /// <summary>The same value at a scale at least its own (exact).</summary>
    /// <exception cref="OverflowException">It needs more than 38 digits there.</exception>
    public ExactDecimal AtScale(int scale) =>
        scale == Scale ? this : new ExactDecimal(checked(Unscaled * Powers[scale - Scale]), scale);

    public ExactDecimal Negate() => new(-Unscaled, Scale);

    /// <summary>The whole number at scale 0: toward minus infinity (<paramref name="direction"/> -1, floor), plus infinity (1, ceiling) or zero (0, truncate).</summary>
    public ExactDecimal ToWhole(int direction)
    {
        if (Scale == 0) return this;
        var (quotient, remainder) = Int128.DivRem(Unscaled, Powers[Scale]);
        if (direction < 0 && remainder < 0) quotient--;
        else if (direction > 0 && remainder > 0) quotient++;
        return new ExactDecimal(quotient, 0);
    }

    /// <summary>
    /// Rounded to <paramref name="digits"/> decimals, half away from zero as DuckDB's <c>round</c> on a decimal; the
    /// result has that scale (a larger one only adds zeros).
    /// </summary>
    public ExactDecimal Round(int digits)
    {
        if (digits >= Scale) return AtScale(digits);
        var power = Powers[Scale - digits];
        var (quotient, remainder) = Int128.DivRem(Unscaled, power);
        if (Int128.Abs(remainder) * 2 >= power) quotient += Int128.Sign(Unscaled);
        return new ExactDecimal(quotient, digits);
    }

    /// <summary>The nearest double (parsed from the digits: correctly rounded).</summary>
    public double ToDouble() => double.Parse(ToString(), CultureInfo.InvariantCulture);

    public int CompareTo(ExactDecimal other)
    {
        var scale = Math.Max(Scale, other.Scale);
        try
        {
            return AtScale(scale).Unscaled.CompareTo(other.AtScale(scale).Unscaled);
        }
        catch (OverflowException)
        {
            // One side is beyond 38 digits at the other's scale, so it is the larger in magnitude.
            return System.Numerics.BigInteger.Compare((System.Numerics.BigInteger)Unscaled * System.Numerics.BigInteger.Pow(10, scale - Scale),
                (System.Numerics.BigInteger)other.Unscaled * System.Numerics.BigInteger.Pow(10, scale - other.Scale));
        }
    }

    /// <summary>The digits at the scale (<c>1.50</c>, <c>-0.05</c>, <c>3</c>): as the column's value is written.</summary>
    public override string ToString() => Text(Unscaled, Scale);

    public string ToString(string? format, IFormatProvider? formatProvider) => ToString();

    private static string Text(Int128 unscaled, int scale)
    {
        var digits = Int128.Abs(unscaled).ToString(CultureInfo.InvariantCulture).PadLeft(scale + 1, '0');
        var sign = unscaled < 0 ? "-" : "";
        return scale == 0 ? sign + digits : sign + digits[..^scale] + "." + digits[^scale..];
    }

    // IConvertible: NCalc's math functions (Abs, Max, Sqrt, ...) read their arguments with Convert.ToDouble, so a
    // decimal reaches them as its double, as it did before decimals computed exactly.
    public TypeCode GetTypeCode() => TypeCode.Object;
    public double ToDouble(IFormatProvider? provider) => ToDouble();
    public decimal ToDecimal(IFormatProvider? provider) => decimal.Parse(ToString(), CultureInfo.InvariantCulture);
    public float ToSingle(IFormatProvider? provider) => (float)ToDouble();
    public string ToString(IFormatProvider? provider) => ToString();
    public object ToType(Type conversionType, IFormatProvider? provider) =>
        conversionType == typeof(ExactDecimal) ? this : Convert.ChangeType(ToDouble(), conversionType, provider);
    public bool ToBoolean(IFormatProvider? provider) => throw NotWhole("boolean");
    public char ToChar(IFormatProvider? provider) => throw NotWhole("char");
    public DateTime ToDateTime(IFormatProvider? provider) => throw NotWhole("date");
    public byte ToByte(IFormatProvider? provider) => checked((byte)Whole());
    public sbyte ToSByte(IFormatProvider? provider) => checked((sbyte)Whole());
    public short ToInt16(IFormatProvider? provider) => checked((short)Whole());
    public ushort ToUInt16(IFormatProvider? provider) => checked((ushort)Whole());
    public int ToInt32(IFormatProvider? provider) => checked((int)Whole());
    public uint ToUInt32(IFormatProvider? provider) => checked((uint)Whole());
    public long ToInt64(IFormatProvider? provider) => Whole();
    public ulong ToUInt64(IFormatProvider? provider) => checked((ulong)Whole());

    /// <summary>The value as a long when it is a whole number a long holds.</summary>
    public bool TryWhole(out long whole)
    {
        whole = 0;
        var power = Powers[Scale];
        if (Unscaled % power != 0) return false;
        var value = Unscaled / power;
        if (value < long.MinValue || value > long.MaxValue) return false;
        whole = (long)value;
        return true;
    }

    private long Whole() => Scale == 0 || Unscaled % Powers[Scale] == 0 ? checked((long)(Unscaled / Powers[Scale])) : throw NotWhole("whole number");

    private InvalidCastException NotWhole(string what) => new($"the decimal {this} is not a {what}");
}

/// <summary>
/// Arithmetic and comparisons with a decimal operand, as DuckDB computes them, for both evaluators (the compiled form
/// and NCalc's, through <see cref="TransformExpression"/>'s handlers), so they agree by construction:
/// <list type="bullet">
/// <item><c>+</c> and <c>-</c> of a decimal and a decimal or whole number: exact, at the larger scale;</item>
/// <item><c>*</c>: exact, at the sum of the scales;</item>
/// <item>a result beyond 38 digits (or a scale beyond 38) is an <see cref="OverflowException"/>: the record fails
/// (<c>on_invalid_record</c>), as a whole number that overflows does; never a rounded value;</item>
/// <item><c>/</c> and <c>%</c>, and any operation with a double: doubles (DuckDB divides decimals into DOUBLE);</item>
/// <item>comparisons with a decimal or whole number: exact; with a double: as doubles.</item>
/// </list>
/// A number constant written in the expression next to a decimal is the decimal written (<c>price = 0.3</c>,
/// <c>price * 1.5</c>), as in DuckDB's SQL, where <c>0.3</c> is a DECIMAL literal; a double column's value is a double.
/// </summary>
internal static class DecimalOps
{
    /// <summary>Whether <paramref name="type"/> is computed here when an operand is an <see cref="ExactDecimal"/>.</summary>
    public static bool Handles(BinaryExpressionType type) => type is BinaryExpressionType.Plus or BinaryExpressionType.Minus
        or BinaryExpressionType.Times or BinaryExpressionType.Div or BinaryExpressionType.Modulo or BinaryExpressionType.Equal
        or BinaryExpressionType.NotEqual or BinaryExpressionType.Greater or BinaryExpressionType.GreaterOrEqual
        or BinaryExpressionType.Lesser or BinaryExpressionType.LesserOrEqual;

    /// <summary>Whether a node of the expression is a number constant with a fraction (<c>0.3</c>, <c>-1.5</c>).</summary>
    public static bool IsFractionConstant(LogicalExpression e) => e switch
    {
        ValueExpression { Value: double } => true,
        UnaryExpression { Type: UnaryExpressionType.Negate, Expression: ValueExpression { Value: double } } => true,
        _ => false,
    };

    /// <summary>
    /// Whether <paramref name="b"/> compares a whole number with a number constant with a fraction (<c>i =
    /// 9007199254740992.0</c>): <see cref="Binary"/> compares them exactly, as DuckDB compares a BIGINT with a decimal
    /// literal (as doubles, 9007199254740993 equalled it).
    /// </summary>
    public static bool IsWholeAgainstFraction(BinaryExpression b, object? left, object? right) =>
        IsComparison(b.Type) && ((left is long && IsFractionConstant(b.RightExpression)) || (right is long && IsFractionConstant(b.LeftExpression)));

    /// <summary>
    /// Two doubles in DuckDB's order: NaN equals NaN and sorts above every number, Infinity included (IEEE 754's
    /// comparisons, .NET's operators, make every comparison with a NaN false but <c>!=</c>); -0 equals 0.
    /// </summary>
    public static int CompareDoubles(double a, double b) =>
        double.IsNaN(a) ? (double.IsNaN(b) ? 0 : 1) : double.IsNaN(b) ? -1 : a.CompareTo(b);

    public static bool IsComparison(BinaryExpressionType type) => type is BinaryExpressionType.Equal or BinaryExpressionType.NotEqual
        or BinaryExpressionType.Greater or BinaryExpressionType.GreaterOrEqual or BinaryExpressionType.Lesser or BinaryExpressionType.LesserOrEqual;

    /// <summary>
    /// <paramref name="a"/> <paramref name="type"/> <paramref name="b"/> where one of them is an <see cref="ExactDecimal"/>
    /// (and <see cref="Handles"/> the type). A <c>*Constant</c> flag says the operand is a number constant written in the
    /// expression (<see cref="IsFractionConstant"/>).
    /// </summary>
    public static object? Binary(BinaryExpressionType type, object? a, object? b, bool aConstant, bool bConstant)
    {
        if (a is null || b is null)
            // Arithmetic and comparisons with a null give null, as SQL's (SqlNulls; x == null is the null test, handled before).
            return null;
        if (!IsNumber(a) || !IsNumber(b))
            throw new InvalidCastException($"'{OperatorText(type)}' does not apply to {Describe(a)} and {Describe(b)}");
        if (type is BinaryExpressionType.Div
            || (a is double && !aConstant) || (b is double && !bConstant) || Exact(a) is not { } x || Exact(b) is not { } y)
        {
            var (da, db) = (Convert.ToDouble(a, CultureInfo.InvariantCulture), Convert.ToDouble(b, CultureInfo.InvariantCulture));
            return type switch
            {
                BinaryExpressionType.Plus => da + db,
                BinaryExpressionType.Minus => da - db,
                BinaryExpressionType.Times => da * db,
                BinaryExpressionType.Div => da / db,
                BinaryExpressionType.Modulo => da % db,
                BinaryExpressionType.Equal => CompareDoubles(da, db) == 0,
                BinaryExpressionType.NotEqual => CompareDoubles(da, db) != 0,
                BinaryExpressionType.Greater => CompareDoubles(da, db) > 0,
                BinaryExpressionType.GreaterOrEqual => CompareDoubles(da, db) >= 0,
                BinaryExpressionType.Lesser => CompareDoubles(da, db) < 0,
                _ => CompareDoubles(da, db) <= 0,
            };
        }
        return type switch
        {
            BinaryExpressionType.Plus or BinaryExpressionType.Minus or BinaryExpressionType.Times => Exactly(type, x, y),
            BinaryExpressionType.Modulo => Remainder(x, y),
            BinaryExpressionType.Equal => x.CompareTo(y) == 0,
            BinaryExpressionType.NotEqual => x.CompareTo(y) != 0,
            BinaryExpressionType.Greater => x.CompareTo(y) > 0,
            BinaryExpressionType.GreaterOrEqual => x.CompareTo(y) >= 0,
            BinaryExpressionType.Lesser => x.CompareTo(y) < 0,
            _ => x.CompareTo(y) <= 0,
        };
    }

    /// <exception cref="OverflowException">The result needs more than 38 digits (named with its operands).</exception>
    private static object Exactly(BinaryExpressionType type, ExactDecimal x, ExactDecimal y)
    {
        try
        {
            return type == BinaryExpressionType.Times ? Multiply(x, y) : AddOrSubtract(x, y, type == BinaryExpressionType.Minus);
        }
        catch (OverflowException e)
        {
            var scale = type == BinaryExpressionType.Times ? x.Scale + y.Scale : Math.Max(x.Scale, y.Scale);
            throw new OverflowException($"{x} {OperatorText(type)} {y} does not fit a decimal(38, {scale}) (more than 38 digits)", e);
        }
    }

    /// <summary>
    /// <c>x % y</c> at the larger scale, with the sign of <paramref name="x"/>, as DuckDB's <c>%</c> of decimals
    /// (<c>2.50 % 0.4</c> is 0.10); null for a zero <paramref name="y"/> (DuckDB's NULL; in doubles it was NaN, landed null).
    /// </summary>
    private static object? Remainder(ExactDecimal x, ExactDecimal y)
    {
        var scale = Math.Max(x.Scale, y.Scale);
        var (ux, uy) = (x.AtScale(scale).Unscaled, y.AtScale(scale).Unscaled);
        return uy == 0 ? null : new ExactDecimal(ux % uy, scale);
    }

    private static object AddOrSubtract(ExactDecimal x, ExactDecimal y, bool minus)
    {
        var scale = Math.Max(x.Scale, y.Scale);
        var (ux, uy) = (x.AtScale(scale).Unscaled, y.AtScale(scale).Unscaled);
        return new ExactDecimal(minus ? checked(ux - uy) : checked(ux + uy), scale);
    }

    private static object Multiply(ExactDecimal x, ExactDecimal y)
    {
        if (x.Scale + y.Scale > ExactDecimal.Precision)
            throw new OverflowException($"{x} * {y} needs {x.Scale + y.Scale} decimals; a decimal holds at most {ExactDecimal.Precision}");
        return new ExactDecimal(checked(x.Unscaled * y.Unscaled), x.Scale + y.Scale);
    }

    /// <summary><c>Round(value, digits)</c> of a decimal: a decimal at that scale, or null when it is not one (<paramref name="digits"/> not a whole number from 0 to 38).</summary>
    public static object? Round(ExactDecimal value, object? digits) => digits switch
    {
        int n and >= 0 and <= ExactDecimal.Precision => value.Round(n),
        long n and >= 0 and <= ExactDecimal.Precision => value.Round((int)n),
        _ => null,
    };

    /// <summary>
    /// A math function of a decimal, exact and of DuckDB's result type: <c>Round(d, n)</c> a DECIMAL(38, n);
    /// <c>Abs</c> the same scale; <c>Floor</c>, <c>Ceiling</c>, <c>Truncate</c> scale 0 (DuckDB's floor, ceil and
    /// trunc of a DECIMAL(w, s) are a DECIMAL(w, 0)); <c>Sign</c> a whole number; <c>Max</c>/<c>Min</c> of a decimal and
    /// a decimal, a whole number or a number written in the expression (a decimal literal in SQL) the larger scale, as
    /// DuckDB's greatest/least. False (NCalc's function, in doubles) for anything else: a double column's value with a
    /// decimal computes in doubles, as DuckDB's DOUBLE; so do <c>Sqrt</c>, <c>Pow</c>, <c>Exp</c>, <c>Log</c>, ...
    /// Arguments are not null here (a null argument is handled before).
    /// </summary>
    public static bool TryFunction(string name, NCalc.Handlers.FunctionData f, out object? result)
    {
        result = null;
        switch (name)
        {
            case "Round" when f.Count == 2 && f.Evaluate(0) is ExactDecimal d && Round(d, f.Evaluate(1)) is { } rounded:
                result = rounded;
                return true;
            case "Abs" or "Floor" or "Ceiling" or "Truncate" or "Sign" when f.Count == 1 && f.Evaluate(0) is ExactDecimal d:
                result = name switch
                {
                    "Abs" => new ExactDecimal(Int128.Abs(d.Unscaled), d.Scale),
                    "Sign" => (long)Int128.Sign(d.Unscaled),
                    _ => d.ToWhole(name == "Floor" ? -1 : name == "Ceiling" ? 1 : 0),
                };
                return true;
            case "Max" or "Min" when f.Count == 2:
            {
                var (a, b) = (f.Evaluate(0), f.Evaluate(1));
                if (!(a is ExactDecimal || b is ExactDecimal) || a is null || b is null || !IsNumber(a) || !IsNumber(b)) return false;
                // NCalc's Max and Min give null for a type they do not know: with a double column's value, in doubles.
                if ((a is double && !IsFractionConstant(f[0])) || (b is double && !IsFractionConstant(f[1])) || Exact(a) is not { } x || Exact(b) is not { } y)
                {
                    var (da, db) = (Convert.ToDouble(a, CultureInfo.InvariantCulture), Convert.ToDouble(b, CultureInfo.InvariantCulture));
                    result = name == "Max" ? Math.Max(da, db) : Math.Min(da, db);
                    return true;
                }
                var scale = Math.Max(x.Scale, y.Scale);
                var larger = x.CompareTo(y) >= 0;
                result = (name == "Max" == larger ? x : y).AtScale(scale);
                return true;
            }
            default:
                return false;
        }
    }

    private static bool IsNumber(object value) => value is ExactDecimal or long or int or double;

    private static ExactDecimal? Exact(object value) => value switch
    {
        ExactDecimal d => d,
        long l => ExactDecimal.FromLong(l),
        int i => ExactDecimal.FromLong(i),
        double d => ExactDecimal.FromConstant(d),
        _ => null,
    };

    private static string Describe(object value) => value switch
    {
        ExactDecimal d => $"the decimal {d}",
        string s => $"the text '{s}'",
        bool b => b ? "true" : "false",
        _ => $"'{value}'",
    };

    private static string OperatorText(BinaryExpressionType type) => type switch
    {
        BinaryExpressionType.Plus => "+",
        BinaryExpressionType.Minus => "-",
        BinaryExpressionType.Times => "*",
        BinaryExpressionType.Div => "/",
        BinaryExpressionType.Modulo => "%",
        BinaryExpressionType.Equal => "=",
        BinaryExpressionType.NotEqual => "!=",
        BinaryExpressionType.Greater => ">",
        BinaryExpressionType.GreaterOrEqual => ">=",
        BinaryExpressionType.Lesser => "<",
        _ => "<=",
    };
}
