using System.Globalization;
using System.Text.Json.Nodes;
using NCalc;
using NCalc.Exceptions;

namespace DataSpoc.Pipe.Transforms;

/// <summary>
/// A <c>filter:</c> or <c>compute:</c> expression, in NCalc's language (<c>amount &gt; 10 and status in ('paid','sent')</c>,
/// <c>if(qty &gt; 0, price * qty, 0)</c>), over a record's top-level columns. Parsed once; evaluated per record with the
/// columns it names bound as parameters (missing and null values are null); per record the compiled form
/// (<see cref="CompiledExpression"/>) answers where it can, NCalc's interpreter where it cannot. Adds the string functions
/// <c>lower</c>, <c>upper</c>, <c>trim</c>, <c>len</c> and <c>concat</c> to NCalc's math functions.
/// </summary>
internal sealed class TransformExpression
{
    /// <remarks>
    /// Not <c>StringConcat</c>: it makes every <c>+</c> concatenate text, numbers too (<c>id + 1</c> was 11 for id 1,
    /// <c>price + tax</c> 1.51 for 1.5 and 1). Without it <c>+</c> adds numbers and joins two strings, and a string with
    /// a number is NCalc's error (<c>concat</c> joins anything).
    /// </remarks>
    // Not OverflowProtection: it also calls every infinite double an overflow (2 / 0, arithmetic on an Infinity a number
    // column holds), which are values here. Whole numbers that overflow are refused by the compiled forms instead.
    private const ExpressionOptions Options = ExpressionOptions.AllowNullParameter | ExpressionOptions.OrdinalStringComparer;

    private static readonly HashSet<string> BuiltInFunctions = new(StringComparer.Ordinal)
    {
        "Abs", "Acos", "Asin", "Atan", "Ceiling", "Cos", "Exp", "Floor", "IEEERemainder", "Ln", "Log", "Log10", "Max", "Min",
        "Pow", "Round", "Sign", "Sin", "Sqrt", "Tan", "Truncate", "if", "ifs", "in",
    };

    private static readonly HashSet<string> StringFunctions = new(StringComparer.Ordinal) { "lower", "upper", "trim", "concat" };

    private readonly Expression _expression;
    /// <summary>The expression as closures, or null when it uses what is not compiled (NCalc then evaluates every record).</summary>
    private CompiledExpression? _compiled;
    /// <summary>The values of <see cref="Columns"/> for the record being evaluated (one thread, as NCalc's parameters).</summary>
    private readonly object?[] _bound;
    /// <summary>The columns the expression reads that the stream's schema declares a date-time, date or time, with that type.</summary>
    private IReadOnlyDictionary<string, Parquet.LeafKind> _temporalColumns = new Dictionary<string, Parquet.LeafKind>(StringComparer.Ordinal);

    private TransformExpression(string text, IReadOnlyList<string> columns)
    {
        Text = text;
        _expression = NewExpression(text, TemporalKindOf);
        Columns = columns;
        _bound = new object?[columns.Count];
        Compile();
    }

    private void Compile() =>
        _compiled = _expression.GetLogicalExpression() is { } tree ? CompiledExpression.TryCompile(tree, Columns, TemporalKindOf) : null;

    /// <summary>
    /// Tells the expression the stored types of the stream's columns (per SCHEMA: <see cref="StoredValue.TypesOf"/>), so
    /// that a date-time, date or time column compared with text reads the text as its type, as DuckDB casts a literal to
    /// the column's type (a date column reads <c>'2024-06-15T10:00:00Z'</c> as the date 2024-06-15, as DuckDB's
    /// <c>'2024-06-15T10:00:00Z'::DATE</c>); a string column compares as text whatever its values look like.
    /// </summary>
    internal void ReadColumnsAs(IReadOnlyDictionary<string, StoredType> types)
    {
        _temporalColumns = Columns.Where(c => types.TryGetValue(c, out var t) && IsTemporal(t.Kind))
            .ToDictionary(c => c, c => types[c].Kind, StringComparer.Ordinal);
        Compile();
    }

    private static bool IsTemporal(Parquet.LeafKind kind) => kind is Parquet.LeafKind.Timestamp or Parquet.LeafKind.Date or Parquet.LeafKind.Time;

    /// <summary>
    /// Why a text written in the expression cannot be compared with the date-time, date or time column it is compared
    /// with (it does not read as the column's type: DuckDB's cast of it fails the query), or null when every such text
    /// reads (call after <see cref="ReadColumnsAs"/>).
    /// </summary>
    internal string? UnreadableTemporalLiteral() =>
        _expression.GetLogicalExpression() is { } tree ? UnreadableTemporalLiteral(tree) : null;

    private string? UnreadableTemporalLiteral(LogicalExpression e)
    {
        switch (e)
        {
            case BinaryExpression b when TemporalOperands(b, TemporalKindOf) is var (kind, constantOnRight):
                var (constant, column) = constantOnRight ? (b.RightExpression, b.LeftExpression) : (b.LeftExpression, b.RightExpression);
                var literal = (string)((ValueExpression)constant).Value!;
                if (StoredValue.InStoredSpelling(literal, kind) is not null) return null;
                var (type, example) = kind switch
                {
                    Parquet.LeafKind.Timestamp => ("date-time", "'2024-06-15T10:00:00Z'"),
                    Parquet.LeafKind.Date => ("date", "'2024-06-15'"),
                    _ => ("time", "'10:00:00'"),
                };
                return $"'{Text}' compares the {type} column '{((Identifier)column).Name}' with '{literal}', which is not a {type} (as DuckDB casts it " +
                    $"to the column's type, and fails): write an ISO 8601 {type} such as {example}";
            case BinaryExpression b: return UnreadableTemporalLiteral(b.LeftExpression) ?? UnreadableTemporalLiteral(b.RightExpression);
            case UnaryExpression u: return UnreadableTemporalLiteral(u.Expression);
            case TernaryExpression t: return UnreadableTemporalLiteral(t.LeftExpression) ?? UnreadableTemporalLiteral(t.MiddleExpression) ?? UnreadableTemporalLiteral(t.RightExpression);
            case Function f: return f.Parameters.Select(UnreadableTemporalLiteral).FirstOrDefault(r => r is not null);
            default: return null;
        }
    }

    /// <summary>The date-time, date or time type of an operand that is such a column, else null.</summary>
    private Parquet.LeafKind? TemporalKindOf(LogicalExpression operand) =>
        operand is Identifier i && _temporalColumns.TryGetValue(i.Name, out var kind) ? kind : null;

    /// <summary>Whether records are evaluated by the compiled form (else by NCalc's interpreter every time).</summary>
    internal bool IsCompiled => _compiled is not null;

    public string Text { get; }

    /// <summary>The columns the expression reads (its identifiers other than <c>null</c>).</summary>
    public IReadOnlyList<string> Columns { get; }

    /// <summary>Parses <paramref name="text"/>; on a syntax error or an unknown function returns null and the reason.</summary>
    public static TransformExpression? TryParse(string text, out string? error)
    {
        var expression = NewExpression(text, _ => null);
        if (expression.HasErrors())
        {
            error = $"'{text}' is not a valid expression: {expression.Error?.Message}";
            return null;
        }
        var unknown = expression.GetFunctionNames().FirstOrDefault(f => !BuiltInFunctions.Contains(f) && !StringFunctions.Contains(f) && f != "len");
        if (unknown is not null)
        {
            error = $"'{text}' calls unknown function '{unknown}' (available: {string.Join(", ", BuiltInFunctions.Concat(StringFunctions).Append("len").Order(StringComparer.Ordinal))})";
            return null;
        }
        if (expression.GetLogicalExpression() is { } tree && ArityError(tree) is { } arity)
        {
            error = $"'{text}' {arity}";
            return null;
        }
        if (InexactNumber(text) is var (literal, read))
        {
            error = $"'{text}' writes the number {literal}, which the expression would read as the double {read} (a number written in an " +
                "expression is a 64-bit integer or a double): write it with at most 17 significant digits, or quote it to compare it as text ('" + literal + "')";
            return null;
        }
        error = null;
        var columns = expression.GetParameterNames().Where(n => n != "null").Distinct(StringComparer.Ordinal).ToList();
        return new TransformExpression(text, columns);
    }

    /// <summary>
    /// The first number written in <paramref name="text"/> (outside quotes and names) that NCalc reads as a double other
    /// than its value (<c>12345678901234567890123</c>, <c>0.123456789012345678901</c>: more digits than a double holds),
    /// with that double's text; null when every number is exact as NCalc reads it. NCalc hands over only the double, so
    /// a comparison with it would be made in doubles, where DuckDB's is exact.
    /// </summary>
    internal static (string Literal, string Read)? InexactNumber(string text)
    {
        for (var i = 0; i < text.Length;)
        {
            var c = text[i];
            if (c is '\'' or '"' or '[' or '#')
            {
                var close = c == '[' ? ']' : c;
                for (i++; i < text.Length && text[i] != close; i++)
                    if (text[i] == '\\') i++;
                i++;
            }
            else if (char.IsLetter(c) || c is '_' or '@' or '$')
                while (i < text.Length && (char.IsLetterOrDigit(text[i]) || text[i] is '_' or '.')) i++;
            else if (char.IsAsciiDigit(c) || (c == '.' && i + 1 < text.Length && char.IsAsciiDigit(text[i + 1])))
            {
                var start = i;
                while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.')) i++;
                if (i < text.Length && text[i] is 'e' or 'E')
                {
                    var e = i + 1 < text.Length && text[i + 1] is '+' or '-' ? i + 2 : i + 1;
                    if (e < text.Length && char.IsAsciiDigit(text[e]))
                        for (i = e; i < text.Length && char.IsAsciiDigit(text[i]);) i++;
                }
                var literal = text[start..i];
                if (literal.All(char.IsAsciiDigit) && long.TryParse(literal, NumberStyles.None, CultureInfo.InvariantCulture, out _)) continue;
                if (double.TryParse(literal, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d)
                    && Significant(literal) != Significant(d.ToString("R", CultureInfo.InvariantCulture)))
                    return (literal, d.ToString("R", CultureInfo.InvariantCulture));
            }
            else i++;
        }
        return null;
    }

    /// <summary>A number's significant digits and the power of ten of the first (<c>0.0120</c> and <c>1.2E-2</c> alike).</summary>
    private static (string Digits, int Exponent) Significant(string number)
    {
        var e = number.IndexOfAny(['e', 'E']);
        var exponent = e < 0 ? 0 : int.Parse(number.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        var mantissa = (e < 0 ? number : number[..e]).TrimStart('-');
        var point = mantissa.IndexOf('.');
        var digits = mantissa.Replace(".", "", StringComparison.Ordinal);
        exponent += point < 0 ? digits.Length : point;
        var lead = digits.Length - digits.TrimStart('0').Length;
        digits = digits.Trim('0');
        return (digits, digits.Length == 0 ? 0 : exponent - lead);
    }

    /// <summary>How many arguments each function takes: at least <c>Min</c>, at most <c>Max</c> (null: any number), and how to say it.</summary>
    private static readonly Dictionary<string, (int Min, int? Max, string Expected)> Arities = new(StringComparer.Ordinal)
    {
        ["Abs"] = (1, 1, "1 argument"), ["Acos"] = (1, 1, "1 argument"), ["Asin"] = (1, 1, "1 argument"), ["Atan"] = (1, 1, "1 argument"),
        ["Ceiling"] = (1, 1, "1 argument"), ["Cos"] = (1, 1, "1 argument"), ["Exp"] = (1, 1, "1 argument"), ["Floor"] = (1, 1, "1 argument"),
        ["IEEERemainder"] = (2, 2, "2 arguments"), ["Ln"] = (1, 1, "1 argument"), ["Log"] = (2, 2, "2 arguments (value, base)"),
        ["Log10"] = (1, 1, "1 argument"), ["Max"] = (2, 2, "2 arguments"), ["Min"] = (2, 2, "2 arguments"),
        ["Pow"] = (2, 2, "2 arguments"), ["Round"] = (2, 2, "2 arguments (value, digits)"), ["Sign"] = (1, 1, "1 argument"),
        ["Sin"] = (1, 1, "1 argument"), ["Sqrt"] = (1, 1, "1 argument"), ["Tan"] = (1, 1, "1 argument"), ["Truncate"] = (1, 1, "1 argument"),
        ["if"] = (3, 3, "3 arguments (condition, then, else)"), ["ifs"] = (3, null, "an odd number of arguments, at least 3 (condition, value, ..., else)"),
        ["in"] = (2, null, "at least 2 arguments (value, candidates...)"), ["lower"] = (1, 1, "1 argument"), ["upper"] = (1, 1, "1 argument"),
        ["trim"] = (1, 1, "1 argument"), ["len"] = (1, 1, "1 argument"), ["concat"] = (1, null, "at least 1 argument"),
    };

    /// <summary>
    /// The first call in <paramref name="e"/> with a number of arguments its function does not take, said as the rest of
    /// a sentence; null when every call fits. NCalc only finds out per record (and <c>lower()</c> threw an index error),
    /// so a map is refused when it is read instead.
    /// </summary>
    private static string? ArityError(LogicalExpression e)
    {
        switch (e)
        {
            case Function f:
                var count = f.Parameters.Count;
                if (Arities.TryGetValue(f.Identifier.Name, out var arity)
                    && (count < arity.Min || count > arity.Max || (f.Identifier.Name == "ifs" && count % 2 == 0)))
                    return $"calls {f.Identifier.Name} with {count} argument{(count == 1 ? "" : "s")}; {f.Identifier.Name} takes {arity.Expected}";
                return f.Parameters.Select(ArityError).FirstOrDefault(a => a is not null);
            case UnaryExpression u: return ArityError(u.Expression);
            case BinaryExpression b: return ArityError(b.LeftExpression) ?? ArityError(b.RightExpression);
            case TernaryExpression t: return ArityError(t.LeftExpression) ?? ArityError(t.MiddleExpression) ?? ArityError(t.RightExpression);
            case LogicalExpressionList list: return list.Select(ArityError).FirstOrDefault(a => a is not null);
            default: return null;
        }
    }

    private static Expression NewExpression(string text, Func<LogicalExpression, Parquet.LeafKind?> temporalKindOf)
    {
        var expression = new Expression(text, Options, new ExpressionContext(), CultureInfo.InvariantCulture, DecimalAwareVisitors.Instance);
        expression.Functions["lower"] = f => Str(f, 0)?.ToLowerInvariant();
        expression.Functions["upper"] = f => Str(f, 0)?.ToUpperInvariant();
        expression.Functions["trim"] = f => Str(f, 0) is { } s ? Trim(s) : null;
        expression.Functions["len"] = f => Str(f, 0) is { } s ? (long)s.Length : null;
        expression.Functions["concat"] = f => string.Concat(Enumerable.Range(0, f.Count).Select(i => Str(f, i)));
        expression.EvaluateFunction += (name, args) =>
        {
            if (NullsInMath(name, args.Parameters, out var result)) args.Result = result;
            else if (name == "in" && SqlNulls.TryIn(args.Parameters, out result)) args.Result = result;
            else if (DecimalOps.TryFunction(name, args.Parameters, out result)) args.Result = result;
            else if (TryWholeFunction(name, args.Parameters, out result)) args.Result = result;
        };
        // Null in logic is SQL's (SqlNulls); arithmetic and comparisons with a decimal operand are DecimalOps' (NCalc
        // knows no ExactDecimal), and so are comparisons with a NaN (DuckDB's order); two texts compare, and match
        // like, by code point (CodePointText; NCalc's are by UTF-16 unit). The compiled form calls the same code, so
        // the two agree. The operands' values are NCalc's own (evaluated once, cached).
        expression.EvaluateBinary += args =>
        {
            var b = args.BinaryExpression;
            if (SqlNulls.TryBinary(b, args.LeftValue, args.RightValue, out var logic))
            {
                args.Result = logic;
                return;
            }
            if (b.Type is BinaryExpressionType.Like or BinaryExpressionType.NotLike)
            {
                if (args.LeftValue() is string value && args.RightValue() is string pattern)
                    args.Result = CodePointText.Like(value, pattern) == (b.Type == BinaryExpressionType.Like);
                return;
            }
            if (!DecimalOps.Handles(b.Type)) return;
            var (left, right) = (args.LeftValue(), args.RightValue());
            if (TemporalComparison(b.Type, left, right, TemporalOperands(b, temporalKindOf)) is { } temporal)
            {
                args.Result = temporal;
                return;
            }
            if (left is string l && right is string r && DecimalOps.IsComparison(b.Type))
            {
                args.Result = Holds(b.Type, CodePointText.Compare(l, r));
                return;
            }
            if (left is ExactDecimal || right is ExactDecimal || DecimalOps.IsWholeAgainstFraction(b, left, right) || IsNaNComparison(b.Type, left, right))
                args.Result = DecimalOps.Binary(b.Type, left, right, DecimalOps.IsFractionConstant(b.LeftExpression), DecimalOps.IsFractionConstant(b.RightExpression));
        };
        return expression;
    }

    /// <summary>
    /// NCalc's evaluation with <c>-x</c> of a decimal exact (NCalc's negation knows no <see cref="ExactDecimal"/>) and
    /// <c>not</c> of a null null (<see cref="SqlNulls"/>; NCalc's is true).
    /// </summary>
    private sealed class DecimalAwareVisitors : NCalc.Factories.IEvaluationVisitorFactory
    {
        public static readonly DecimalAwareVisitors Instance = new();
        private static readonly NCalc.Factories.EvaluationVisitorFactory Default = new();

        public NCalc.Visitors.EvaluationVisitor CreateEvaluationVisitor(ExpressionContext context, ExpressionEvaluationOptions options,
            CultureInfo cultureInfo, CancellationToken cancellationToken) =>
            new Visitor(context, options, cultureInfo, this, cancellationToken);

        public NCalc.Visitors.AsyncEvaluationVisitor CreateAsyncEvaluationVisitor(ExpressionContext context, ExpressionEvaluationOptions options,
            CultureInfo cultureInfo, CancellationToken cancellationToken) =>
            Default.CreateAsyncEvaluationVisitor(context, options, cultureInfo, cancellationToken);

        private sealed class Visitor(ExpressionContext context, ExpressionEvaluationOptions options, CultureInfo cultureInfo,
            NCalc.Factories.IEvaluationVisitorFactory factory, CancellationToken cancellationToken)
            : NCalc.Visitors.EvaluationVisitor(context, options, cultureInfo, factory, cancellationToken)
        {
            public override object? Visit(UnaryExpression expression)
            {
                if (expression.Type is UnaryExpressionType.Negate or UnaryExpressionType.Not)
                    switch (expression.Expression.Accept(this))
                    {
                        case ExactDecimal d when expression.Type == UnaryExpressionType.Negate: return d.Negate();
                        case null when expression.Type == UnaryExpressionType.Not: return null;
                    }
                return base.Visit(expression);
            }
        }
    }

    private static string? Str(NCalc.Handlers.FunctionData f, int index) => TextOf(f.Evaluate(index));

    /// <summary>
    /// NCalc's math functions read a null argument as 0 (<c>Round(price / 3, 2)</c> was 0 for a null price,
    /// <c>Max(x, -5)</c> 0 for a null x): a null argument gives null, and <c>Max</c>/<c>Min</c> take the other argument,
    /// as <c>greatest</c>/<c>least</c> do in DuckDB and PostgreSQL. Arguments without a null are left to NCalc's own
    /// function (the handler runs before it; false here sets no result).
    /// </summary>
    private static bool NullsInMath(string name, NCalc.Handlers.FunctionData f, out object? result)
    {
        result = null;
        if (name is "if" or "ifs" or "in" || !BuiltInFunctions.Contains(name)) return false;
        if (name is "Max" or "Min" && f.Count == 2)
        {
            var (a, b) = (f.Evaluate(0), f.Evaluate(1));
            if (a is not null && b is not null) return false;
            result = a ?? b;
            return true;
        }
        for (var i = 0; i < f.Count; i++)
            if (f.Evaluate(i) is null) return true;
        return false;
    }

    /// <summary>
    /// Which operand of <paramref name="b"/> is a text constant compared with a date-time, date or time column, and that
    /// column's type: (kind, true) when the right operand is the constant, (kind, false) the left; null when neither.
    /// </summary>
    internal static (Parquet.LeafKind Kind, bool ConstantOnRight)? TemporalOperands(BinaryExpression b, Func<LogicalExpression, Parquet.LeafKind?> temporalKindOf)
    {
        if (!DecimalOps.IsComparison(b.Type)) return null;
        if (b.RightExpression is ValueExpression { Value: string } && temporalKindOf(b.LeftExpression) is { } left) return (left, true);
        if (b.LeftExpression is ValueExpression { Value: string } && temporalKindOf(b.RightExpression) is { } right) return (right, false);
        return null;
    }

    /// <summary>
    /// A comparison of a date-time, date or time column's stored value with a text constant (<paramref name="operands"/>:
    /// <see cref="TemporalOperands"/>), the constant read as the column reads its values
    /// (<see cref="StoredValue.InStoredSpelling"/>); null when it is not one or the constant does not read as the
    /// column's type (the comparison is then the usual).
    /// </summary>
    internal static object? TemporalComparison(BinaryExpressionType type, object? left, object? right, (Parquet.LeafKind Kind, bool ConstantOnRight)? operands)
    {
        if (operands is not var (kind, constantOnRight) || left is not string l || right is not string r) return null;
        if (constantOnRight && StoredValue.InStoredSpelling(r, kind) is { } rs) r = rs;
        else if (!constantOnRight && StoredValue.InStoredSpelling(l, kind) is { } ls) l = ls;
        else return null;
        return Holds(type, CodePointText.Compare(l, r));
    }

    /// <summary>A comparison of numbers with a NaN, which NCalc makes false (DecimalOps.CompareDoubles orders it as DuckDB).</summary>
    private static bool IsNaNComparison(BinaryExpressionType type, object? left, object? right) =>
        DecimalOps.IsComparison(type) && (left is double l && double.IsNaN(l) || right is double r && double.IsNaN(r))
        && left is double or long or int && right is double or long or int;

    /// <summary>Whether comparison <paramref name="type"/> holds for operands in order <paramref name="c"/> (negative, 0, positive).</summary>
    private static bool Holds(BinaryExpressionType type, int c) => type switch
    {
        BinaryExpressionType.Equal => c == 0,
        BinaryExpressionType.NotEqual => c != 0,
        BinaryExpressionType.Greater => c > 0,
        BinaryExpressionType.GreaterOrEqual => c >= 0,
        BinaryExpressionType.Lesser => c < 0,
        _ => c <= 0,
    };

    /// <summary>
    /// A math function of whole numbers that keeps them whole, as DuckDB's of a BIGINT do (NCalc's computes in doubles
    /// or System.Decimal: <c>Max(i, 5)</c> of 9007199254740993 gave 9007199254740992): <c>Max</c>/<c>Min</c> of two,
    /// <c>Abs</c> (of the smallest long an overflow, so an invalid record), <c>Floor</c>, <c>Ceiling</c>,
    /// <c>Truncate</c>, and <c>Round</c> to 0 or more digits. False (NCalc's function) for anything else. Arguments
    /// are not null here (a null argument is handled before).
    /// </summary>
    private static bool TryWholeFunction(string name, NCalc.Handlers.FunctionData f, out object? result)
    {
        result = null;
        static bool Whole(object? v, out long l)
        {
            l = v switch { long x => x, int x => x, _ => 0 };
            return v is long or int;
        }
        switch (name)
        {
            case "Max" or "Min" when f.Count == 2 && Whole(f.Evaluate(0), out var a) && Whole(f.Evaluate(1), out var b):
                result = name == "Max" ? Math.Max(a, b) : Math.Min(a, b);
                return true;
            case "Abs" when f.Count == 1 && Whole(f.Evaluate(0), out var x):
                result = Math.Abs(x); // OverflowException for long.MinValue
                return true;
            case "Floor" or "Ceiling" or "Truncate" when f.Count == 1 && Whole(f.Evaluate(0), out var x):
                result = x;
                return true;
            case "Round" when f.Count == 2 && Whole(f.Evaluate(0), out var x) && Whole(f.Evaluate(1), out var digits) && digits >= 0:
                result = x;
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// <c>trim</c> as DuckDB's: the space separators (Unicode Zs: space, no-break space, em space, ideographic space, ...)
    /// at either end, not tabs, line breaks or other control characters (.NET's <c>Trim()</c> strips those too).
    /// </summary>
    internal static string Trim(string s)
    {
        var (start, end) = (0, s.Length);
        while (start < end && char.GetUnicodeCategory(s[start]) == UnicodeCategory.SpaceSeparator) start++;
        while (end > start && char.GetUnicodeCategory(s[end - 1]) == UnicodeCategory.SpaceSeparator) end--;
        return s[start..end];
    }

    /// <summary>A value as the string functions read it: booleans as <c>true</c>/<c>false</c>, numbers in the invariant culture.</summary>
    internal static string? TextOf(object? value) => value switch
    {
        null => null,
        bool b => b ? "true" : "false",
        IFormattable x => x.ToString(null, CultureInfo.InvariantCulture),
        var x => x.ToString(),
    };

    /// <summary>
    /// Evaluates over <paramref name="values"/> (the record's columns, computed ones included), each tap column read as
    /// its column of <paramref name="types"/> stores it (<see cref="StoredValue"/>).
    /// </summary>
    public object? Evaluate(IReadOnlyDictionary<string, JsonNode?> values, IReadOnlyDictionary<string, StoredType> types)
    {
        for (var i = 0; i < Columns.Count; i++)
            _bound[i] = values.TryGetValue(Columns[i], out var v) ? StoredValue.Of(v, types.TryGetValue(Columns[i], out var t) ? t : null) : null;
        return Evaluate(_bound);
    }

    /// <summary>Evaluates with <see cref="Columns"/>[i] bound to <paramref name="values"/>[i], as expressions see values (<see cref="ColumnCast.ClrValue"/>).</summary>
    public object? Evaluate(object?[] values) =>
        _compiled is not null && _compiled.TryEvaluate(values, out var result) ? result : Interpret(values);

    /// <summary>The compiled form's value, false when it leaves the record to NCalc (or there is none): for tests.</summary>
    internal bool TryEvaluateCompiled(object?[] values, out object? result)
    {
        result = null;
        return _compiled is not null && _compiled.TryEvaluate(values, out result);
    }

    /// <summary>NCalc's evaluation, the reference the compiled form follows.</summary>
    internal object? Interpret(object?[] values)
    {
        for (var i = 0; i < Columns.Count; i++) _expression.Parameters[Columns[i]] = values[i];
        _expression.Parameters["null"] = null;
        return _expression.Evaluate();
    }

    /// <summary>The unboxed form over numbers and booleans (<see cref="TypedExpression"/>), or null when the expression needs more.</summary>
    internal TypedExpression? CompileTyped() =>
        _compiled is not null && _expression.GetLogicalExpression() is { } tree ? TypedExpression.TryCompile(tree, Columns) : null;

    /// <summary>Whether the value is the same with <paramref name="column"/> read as a long or as that long's double (see <see cref="CompiledExpression.SameForEitherNumberForm"/>).</summary>
    internal bool SameForEitherNumberForm(string column) =>
        _expression.GetLogicalExpression() is { } tree && CompiledExpression.SameForEitherNumberForm(tree, column);

    /// <summary>
    /// The indexes in <see cref="Columns"/> of the columns that must hold a double for the value to be the same with
    /// <paramref name="column"/> read as a long or as that long's double (see <see cref="CompiledExpression.NumberFormPartners"/>);
    /// null when it may differ.
    /// </summary>
    internal int[]? NumberFormPartners(string column) =>
        _expression.GetLogicalExpression() is { } tree && CompiledExpression.NumberFormPartners(tree, column) is { } partners
            ? [.. partners.Select(p => Columns.ToList().IndexOf(p))]
            : null;

    /// <summary>The same expression with parameters of its own, for another thread (NCalc binds parameters in place).</summary>
    public TransformExpression Copy()
    {
        var copy = TryParse(Text, out _)!;
        copy._temporalColumns = _temporalColumns;
        copy.Compile();
        return copy;
    }

    /// <summary>The JSON type the expression yields, from its shape and the types of the columns it reads (string when unsure).</summary>
    public string ResultType(Func<string, string?> columnType) => (_expression.GetLogicalExpression() is { } tree ? TypeOf(tree, columnType) : null) ?? "string";

    private static string? TypeOf(LogicalExpression e, Func<string, string?> columnType) => e switch
    {
        ValueExpression v => v.Type switch
        {
            NCalc.ValueType.Integer => "integer",
            NCalc.ValueType.Float => "number",
            NCalc.ValueType.Boolean => "boolean",
            _ => "string",
        },
        Identifier i => i.Name == "null" ? null : columnType(i.Name),
        UnaryExpression u => u.Type switch
        {
            UnaryExpressionType.Not => "boolean",
            UnaryExpressionType.BitwiseNot => "integer",
            _ => TypeOf(u.Expression, columnType),
        },
        TernaryExpression t => Either(TypeOf(t.MiddleExpression, columnType), TypeOf(t.RightExpression, columnType)),
        BinaryExpression b when DecimalOperands(b, columnType) is var (l, r) && (ColumnCast.DecimalScale(l) is not null || ColumnCast.DecimalScale(r) is not null)
                                && DecimalOps.Handles(b.Type) => DecimalResult(b.Type, l, r),
        BinaryExpression b => b.Type switch
        {
            BinaryExpressionType.And or BinaryExpressionType.Or or BinaryExpressionType.Equal or BinaryExpressionType.NotEqual
                or BinaryExpressionType.Greater or BinaryExpressionType.GreaterOrEqual or BinaryExpressionType.Lesser
                or BinaryExpressionType.LesserOrEqual or BinaryExpressionType.In or BinaryExpressionType.NotIn
                or BinaryExpressionType.Like or BinaryExpressionType.NotLike => "boolean",
            BinaryExpressionType.Div or BinaryExpressionType.Exponentiation => "number",
            BinaryExpressionType.BitwiseAnd or BinaryExpressionType.BitwiseOr or BinaryExpressionType.BitwiseXOr
                or BinaryExpressionType.LeftShift or BinaryExpressionType.RightShift => "integer",
            BinaryExpressionType.Coalesce => Either(TypeOf(b.LeftExpression, columnType), TypeOf(b.RightExpression, columnType)),
            _ => Arithmetic(b.Type, TypeOf(b.LeftExpression, columnType), TypeOf(b.RightExpression, columnType)),
        },
        Function f => f.Identifier.Name switch
        {
            "if" => f.Parameters.Count > 1 ? Either(TypeOf(f.Parameters[1], columnType), f.Parameters.Count > 2 ? TypeOf(f.Parameters[2], columnType) : null) : null,
            "Round" when f.Parameters.Count == 2 && ColumnCast.DecimalScale(TypeOf(f.Parameters[0], columnType)) is not null
                         && f.Parameters[1] is ValueExpression { Value: int or long } digits
                         && Convert.ToInt64(digits.Value, CultureInfo.InvariantCulture) is >= 0 and <= ExactDecimal.Precision and var n
                => ColumnCast.DecimalType((int)n),
            "Abs" when f.Parameters.Count == 1 && TypeOf(f.Parameters[0], columnType) is var t && ColumnCast.DecimalScale(t) is not null => t,
            "Floor" or "Ceiling" or "Truncate" when f.Parameters.Count == 1 && ColumnCast.DecimalScale(TypeOf(f.Parameters[0], columnType)) is not null
                => ColumnCast.DecimalType(0),
            "Max" or "Min" when f.Parameters.Count == 2 && DecimalArguments(f, columnType) is { } greatest => greatest,
            // Whole numbers stay whole (TryWholeFunction), as DuckDB's greatest, least, abs, floor, ceil, trunc and
            // round of a BIGINT are BIGINT.
            "Max" or "Min" when f.Parameters.Count == 2 && TypeOf(f.Parameters[0], columnType) == "integer" && TypeOf(f.Parameters[1], columnType) == "integer" => "integer",
            "Abs" or "Floor" or "Ceiling" or "Truncate" when f.Parameters.Count == 1 && TypeOf(f.Parameters[0], columnType) == "integer" => "integer",
            "Round" when f.Parameters.Count == 2 && TypeOf(f.Parameters[0], columnType) == "integer"
                         && f.Parameters[1] is ValueExpression { Value: int or long } wholeDigits && Convert.ToInt64(wholeDigits.Value, CultureInfo.InvariantCulture) >= 0 => "integer",
            "in" => "boolean",
            "len" or "Sign" => "integer",
            var name when StringFunctions.Contains(name) => "string",
            "ifs" => null,
            _ => "number",
        },
        _ => null,
    };

    /// <summary>
    /// The type of a value that is one of two (<c>if</c>, <c>? :</c>, <c>??</c>): the first's, except that two decimals
    /// (or a decimal and a whole number) give a decimal of the larger scale, so that either value lands exactly, and a
    /// decimal and a double give a double (as arithmetic of the two does: a double may not fit the decimal's scale);
    /// a whole number and a double give a double, as DuckDB's <c>if</c>/<c>coalesce</c> of BIGINT and DOUBLE.
    /// </summary>
    private static string? Either(string? first, string? second)
    {
        var (a, b) = (ColumnCast.DecimalScale(first), ColumnCast.DecimalScale(second));
        if (a is null && b is null) return (first, second) is ("integer", "number") or ("number", "integer") ? "number" : first ?? second;
        if ((a is not null && second == "number") || (b is not null && first == "number")) return "number";
        if (a is not null && (b is not null || second is null or "integer")) return ColumnCast.DecimalType(Math.Max(a.Value, b ?? 0));
        if (b is not null && first is "integer") return ColumnCast.DecimalType(b.Value);
        return first ?? second;
    }

    /// <summary>
    /// The type of <c>Max</c>/<c>Min</c> with a decimal argument (<see cref="DecimalOps.TryFunction"/>): a decimal of the
    /// larger scale with a decimal, a whole number or a number written in the expression; a double with a double column.
    /// Null when neither argument is a decimal.
    /// </summary>
    private static string? DecimalArguments(Function f, Func<string, string?> columnType)
    {
        var (a, b) = (TypeOf(f.Parameters[0], columnType), TypeOf(f.Parameters[1], columnType));
        if (ColumnCast.DecimalScale(a) is null && ColumnCast.DecimalScale(b) is null) return null;
        int? Scale(LogicalExpression e, string? t) => ConstantScale(e) ?? (t is "integer" ? 0 : ColumnCast.DecimalScale(t));
        return Scale(f.Parameters[0], a) is { } x && Scale(f.Parameters[1], b) is { } y ? ColumnCast.DecimalType(Math.Max(x, y)) : "number";
    }

    /// <summary>
    /// The types of a binary node's operands, a number constant next to a decimal read as the decimal written (see
    /// <see cref="DecimalOps"/>: <c>price * 1.5</c> is exact, at the scale of <c>1.5</c>).
    /// </summary>
    private static (string? Left, string? Right) DecimalOperands(BinaryExpression b, Func<string, string?> columnType)
    {
        var (left, right) = (TypeOf(b.LeftExpression, columnType), TypeOf(b.RightExpression, columnType));
        if (ColumnCast.DecimalScale(left) is not null && ConstantScale(b.RightExpression) is { } rs) right = ColumnCast.DecimalType(rs);
        if (ColumnCast.DecimalScale(right) is not null && ConstantScale(b.LeftExpression) is { } ls) left = ColumnCast.DecimalType(ls);
        return (left, right);
    }

    private static int? ConstantScale(LogicalExpression e) => e switch
    {
        _ when !DecimalOps.IsFractionConstant(e) => null,
        ValueExpression { Value: double d } => ExactDecimal.FromConstant(d)?.Scale,
        UnaryExpression { Expression: ValueExpression { Value: double d } } => ExactDecimal.FromConstant(d)?.Scale,
        _ => null,
    };

    /// <summary>The type of a node <see cref="DecimalOps"/> computes, with a decimal operand: as <see cref="DecimalOps.Binary"/> gives it.</summary>
    private static string? DecimalResult(BinaryExpressionType op, string? left, string? right)
    {
        if (op is not (BinaryExpressionType.Plus or BinaryExpressionType.Minus or BinaryExpressionType.Times or BinaryExpressionType.Modulo))
            return op is BinaryExpressionType.Div ? "number" : "boolean";
        int? Scale(string? t) => t is null or "integer" ? 0 : ColumnCast.DecimalScale(t);
        if (Scale(left) is not { } l || Scale(right) is not { } r) return "number"; // a double operand: doubles
        return ColumnCast.DecimalType(op == BinaryExpressionType.Times ? l + r : Math.Max(l, r));
    }

    private static string? Arithmetic(BinaryExpressionType op, string? left, string? right)
    {
        if (op == BinaryExpressionType.Plus && (left == "string" || right == "string")) return "string";
        if (left == "integer" && right == "integer") return "integer";
        return left is "integer" or "number" || right is "integer" or "number" ? "number" : null;
    }
}

/// <summary>NCalc's evaluation errors, as one type to catch.</summary>
internal static class ExpressionErrors
{
    public static bool IsEvaluationError(Exception e) => e is NCalcException or InvalidCastException or FormatException or ArgumentException or ArithmeticException;
}
