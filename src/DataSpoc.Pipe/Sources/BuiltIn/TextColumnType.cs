using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>The types a text column (CSV, sheet export) can be declared as or inferred to.</summary>
/// <remarks>
/// <see cref="WholeNumber"/> is only inferred: a column of whole numbers some beyond a 64-bit integer, up to 38 digits,
/// which lands as DECIMAL(38,0), exact, as the jsonl tap lands such a column (a DOUBLE would round them).
/// </remarks>
internal enum TextColumnType { Integer, Number, Boolean, Date, DateTime, String, Time, WholeNumber }

/// <summary>
/// Type inference and conversion for text cells, following DuckDB's <c>read_csv</c> sniffer so that a file lands
/// with the types DuckDB would give it. Inference keeps, per column, the set of types every sampled non-empty cell
/// fits (and, for dates and date-times, the set of formats every cell fits), and picks the narrowest: integer,
/// whole number (beyond a long, up to 38 digits: DECIMAL(38,0), where DuckDB reads a rounded DOUBLE), number, boolean, time, date, date-time, else string. An empty cell is null whatever the type; spaces around a
/// cell are ignored for every type but string (DuckDB trims them too).
/// </summary>
internal static class TextColumnTypes
{
    [Flags]
    internal enum Fits : byte
    {
        None = 0, Integer = 1, Number = 2, Boolean = 4, Date = 8, DateTime = 16, Time = 32, WholeNumber = 64,
        All = Integer | Number | Boolean | Date | DateTime | Time | WholeNumber,
    }

    /// <summary>What sampling learnt about one column: the types and the date/date-time formats every cell fits.</summary>
    internal struct ColumnFit
    {
        public Fits Types;
        public DateOrders Dates;
        public DateOrders DateTimes;
        public char DateSeparator;
        public char DateTimeSeparator;
        /// <summary>A sampled cell is a whole number of more than 38 digits, which only a (rounding) DOUBLE holds.</summary>
        public bool WholeBeyondDecimal;
        /// <summary>Sampled whole numbers that a DOUBLE does not hold exactly (past 2^53), and the first of them.</summary>
        public int RoundedWholes;
        public string? FirstRoundedWhole;

        public static ColumnFit All => new() { Types = Fits.All, Dates = DateOrders.All, DateTimes = DateOrders.All };

        /// <summary>Narrows this column's fit by one non-empty cell.</summary>
        public void Add(ReadOnlySpan<char> cell)
        {
            cell = Trim(cell);
            var fits = FitsOf(cell);
            if (fits == Fits.Number && cell.Length > MaxWholeDigits && IsWhole(cell, int.MaxValue)) WholeBeyondDecimal = true;
            if ((fits & Fits.Number) != 0 && RoundsAsDouble(cell) && RoundedWholes++ == 0) FirstRoundedWhole = cell.ToString();
            if ((fits & Fits.Date) != 0) Narrow(ref Dates, ref DateSeparator, DateShape.Of(cell, withTime: false));
            if ((fits & Fits.DateTime) != 0) Narrow(ref DateTimes, ref DateTimeSeparator, DateShape.Of(cell, withTime: true));
            Types &= fits;
            if (Dates == DateOrders.None) Types &= ~Fits.Date;
            if (DateTimes == DateOrders.None) Types &= ~Fits.DateTime;
        }

        private static void Narrow(ref DateOrders orders, ref char separator, (DateOrders Orders, char Separator) shape)
        {
            if (separator != '\0' && separator != shape.Separator) orders = DateOrders.None;
            separator = shape.Separator;
            orders &= shape.Orders;
        }

        /// <summary>The column's type and, for a date or date-time, the one format its cells are read with.</summary>
        public readonly (TextColumnType Type, DateFormat Format) Choose(bool sawValue)
        {
            var type = TextColumnTypes.Choose(Types, sawValue);
            return type switch
            {
                TextColumnType.Date => (type, DateFormat.First(Dates, DateSeparator)),
                TextColumnType.DateTime => (type, DateFormat.First(DateTimes, DateTimeSeparator)),
                _ => (type, DateFormat.Iso),
            };
        }
    }

    public static TextColumnType Parse(string text, string where) => text.Trim().ToLowerInvariant() switch
    {
        "integer" or "int" => TextColumnType.Integer,
        "number" or "float" or "double" or "decimal" => TextColumnType.Number,
        "boolean" or "bool" => TextColumnType.Boolean,
        "date" => TextColumnType.Date,
        "date-time" or "datetime" or "timestamp" => TextColumnType.DateTime,
        "time" => TextColumnType.Time,
        "string" or "text" => TextColumnType.String,
        _ => throw new TapException($"{where}: unknown type '{text}' (use integer, number, boolean, date, date-time, time or string)"),
    };

    /// <summary>The types a non-empty cell fits.</summary>
    public static Fits FitsOf(ReadOnlySpan<char> cell)
    {
        var fits = Fits.None;
        if (IsInteger(cell)) fits |= Fits.Integer | Fits.WholeNumber | Fits.Number;
        else if (IsWhole(cell, MaxWholeDigits)) fits |= Fits.WholeNumber | Fits.Number;
        else if (IsNumber(cell)) fits |= Fits.Number;
        else if (IsLenientNumber(cell)) fits |= Fits.Number;
        else if (cell.Length is >= 3 and <= 9 && TryNamedDouble(cell, out _)) fits |= Fits.Number;
        if (TryBoolean(cell, out _)) fits |= Fits.Boolean;
        if (TryTime(cell, out _)) fits |= Fits.Time;
        var shape = DateShape.Of(cell, withTime: false);
        if (shape.Orders != DateOrders.None) fits |= Fits.Date;
        else if (DateShape.Of(cell, withTime: true).Orders != DateOrders.None) fits |= Fits.DateTime;
        return fits;
    }

    /// <summary>The narrowest type all sampled cells fit; a column with no non-empty sample is a string.</summary>
    public static TextColumnType Choose(Fits fits, bool sawValue)
    {
        if (!sawValue) return TextColumnType.String;
        if (fits.HasFlag(Fits.Integer)) return TextColumnType.Integer;
        if (fits.HasFlag(Fits.WholeNumber)) return TextColumnType.WholeNumber;
        if (fits.HasFlag(Fits.Number)) return TextColumnType.Number;
        if (fits.HasFlag(Fits.Boolean)) return TextColumnType.Boolean;
        if (fits.HasFlag(Fits.Time)) return TextColumnType.Time;
        if (fits.HasFlag(Fits.Date)) return TextColumnType.Date;
        if (fits.HasFlag(Fits.DateTime)) return TextColumnType.DateTime;
        return TextColumnType.String;
    }

    /// <summary>The JSON Schema of a nullable column of this type.</summary>
    public static JsonObject Schema(TextColumnType type) => type switch
    {
        TextColumnType.Integer => new JsonObject { ["type"] = new JsonArray("null", "integer") },
        TextColumnType.Number => new JsonObject { ["type"] = new JsonArray("null", "number") },
        // multipleOf 1: DECIMAL(38,0), as the jsonl tap's JsonShape types whole numbers beyond a long.
        TextColumnType.WholeNumber => new JsonObject { ["type"] = new JsonArray("null", "number"), ["multipleOf"] = 1 },
        TextColumnType.Boolean => new JsonObject { ["type"] = new JsonArray("null", "boolean") },
        TextColumnType.Date => new JsonObject { ["type"] = new JsonArray("null", "string"), ["format"] = "date" },
        TextColumnType.DateTime => new JsonObject { ["type"] = new JsonArray("null", "string"), ["format"] = "date-time" },
        TextColumnType.Time => new JsonObject { ["type"] = new JsonArray("null", "string"), ["format"] = "time" },
        _ => new JsonObject { ["type"] = new JsonArray("null", "string") },
    };

    /// <summary>
    /// Hands one cell to <paramref name="row"/> as a typed value; returns false when the cell does not fit the type.
    /// Each value is the one the cell's Singer JSON text is read back as (a number cell lands as the double its JSON
    /// text parses to, a time as its microseconds), so a pipeline lands the same lake whether the rows go through
    /// Singer JSON or straight to the engine.
    /// </summary>
    public static bool TryWrite(RowWriter row, int property, TextColumnType type, ReadOnlySpan<char> cell, DateFormat format = default) =>
        TryWrite(row, property, type, cell, format, out _);

    /// <summary>
    /// <see cref="TryWrite(RowWriter, int, TextColumnType, ReadOnlySpan{char}, DateFormat)"/>; <paramref name="cutDigits"/>:
    /// a date-time or time cell had non-zero digits past the microsecond, cut (the lake's precision; DuckDB cuts them too).
    /// </summary>
    public static bool TryWrite(RowWriter row, int property, TextColumnType type, ReadOnlySpan<char> cell, DateFormat format, out bool cutDigits)
    {
        cutDigits = false;
        if (cell.IsEmpty)
        {
            row.Null(property);
            return true;
        }
        if (type == TextColumnType.String)
        {
            row.String(property, cell);
            return true;
        }
        if (cell[0] == ' ' || cell[^1] == ' ')
        {
            cell = Trim(cell);
            if (cell.IsEmpty)
            {
                row.Null(property);
                return true;
            }
        }
        switch (type)
        {
            case TextColumnType.Integer:
                if (!TryLong(cell, out var l)) return false;
                row.Long(property, l);
                return true;
            case TextColumnType.WholeNumber:
                if (TryLong(cell, out var small)) row.Decimal(property, small);
                else if (decimal.TryParse(cell, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var m)) row.Decimal(property, m);
                // 29 to 38 digits, beyond a System.Decimal: the digits as JSON number text, which the DECIMAL(38,0) column reads exactly.
                else if (IsWhole(cell, MaxWholeDigits)) row.Json(property, cell);
                else return false;
                return true;
            case TextColumnType.Number:
                if (!TryNumber(cell, out var d)) return false;
                row.Double(property, d);
                return true;
            case TextColumnType.Boolean:
                if (!TryBoolean(cell, out var b)) return false;
                row.Bool(property, b);
                return true;
            case TextColumnType.Date:
                DateOnly date;
                if (format.IsIso ? !TryDate(cell, out date) : !format.TryDate(cell, out date, out var rest) || !rest.IsEmpty) return false;
                row.Date(property, date);
                return true;
            case TextColumnType.DateTime:
                DateTimeOffset instant;
                if (format.IsIso ? !TryDateTime(cell, out instant, out cutDigits) : !format.TryDateTime(cell, out instant, out cutDigits)) return false;
                row.Timestamp(property, instant.UtcDateTime);
                return true;
            case TextColumnType.Time:
                if (!TryTime(cell, out var time, out cutDigits)) return false;
                row.Time(property, time);
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// An integer cell: an optional <c>-</c> and digits (leading zeros allowed: a column declared integer takes
    /// <c>007</c>) whose value fits a long.
    /// </summary>
    internal static bool TryLong(ReadOnlySpan<char> cell, out long value)
    {
        value = 0;
        var negative = cell.Length > 0 && cell[0] == '-';
        var digits = negative ? cell[1..] : cell;
        if (digits.IsEmpty) return false;
        ulong magnitude = 0;
        foreach (var c in digits)
        {
            var digit = (uint)(c - '0');
            if (digit > 9 || magnitude > (ulong.MaxValue - digit) / 10) return false;
            magnitude = magnitude * 10 + digit;
        }
        if (magnitude > (negative ? (ulong)long.MaxValue + 1 : long.MaxValue)) return false;
        value = negative ? (long)(0 - magnitude) : (long)magnitude;
        return true;
    }

    private static readonly double[] PowersOf10 = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

    /// <summary>
    /// A number cell as the double its Singer JSON text is read back as. A JSON-shaped cell is its own text, read
    /// correctly rounded (exactly when it has at most 15 digits: one division of two exact doubles). Other forms DuckDB
    /// reads as numbers (<c>.5</c>, <c>00.5</c>, <c>1e5</c>, very long digit strings) are written as JSON through a
    /// decimal when one holds them, so their value is that decimal's, else the double they parse to.
    /// </summary>
    internal static bool TryNumber(ReadOnlySpan<char> cell, out double value)
    {
        value = 0;
        if (IsNumber(cell) && cell.IndexOfAny('e', 'E') < 0 && cell.Length <= 30)
        {
            if (TryExactDouble(cell, out value)) return true;
            return double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
        }
        // NaN and the infinities only once the cell is no number: the usual cell does not pay for them.
        if (!IsNumber(cell, allowLeadingZero: true) && !IsLenientNumber(cell)) return cell.Length is >= 3 and <= 9 && TryNamedDouble(cell, out value);
        if (decimal.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out var m))
        {
            // The JSON text of the decimal, read as a double: what the engine makes of it.
            Span<byte> text = stackalloc byte[64];
            System.Buffers.Text.Utf8Formatter.TryFormat(m, text, out var written);
            return double.TryParse(text[..written], NumberStyles.Float, CultureInfo.InvariantCulture, out value);
        }
        // 1e999 is infinite, as DuckDB reads it.
        return double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>
    /// NaN and the infinities as DuckDB's sniffer takes them for a DOUBLE column: <c>nan</c>, <c>inf</c>, <c>infinity</c>
    /// in any case, with an optional <c>-</c> (not <c>+</c>). They land as those doubles.
    /// </summary>
    private static bool TryNamedDouble(ReadOnlySpan<char> cell, out double value)
    {
        var negative = cell[0] == '-';
        var word = negative ? cell[1..] : cell;
        if (word.Equals("nan", StringComparison.OrdinalIgnoreCase)) value = double.NaN;
        else if (word.Equals("inf", StringComparison.OrdinalIgnoreCase) || word.Equals("infinity", StringComparison.OrdinalIgnoreCase))
            value = negative ? double.NegativeInfinity : double.PositiveInfinity;
        else
        {
            value = 0;
            return false;
        }
        return true;
    }

    /// <summary>A plain decimal (sign, digits, optional fraction) of at most 15 digits, converted exactly.</summary>
    private static bool TryExactDouble(ReadOnlySpan<char> cell, out double value)
    {
        value = 0;
        var negative = cell[0] == '-';
        long mantissa = 0;
        int digits = 0, fraction = -1;
        for (var i = negative ? 1 : 0; i < cell.Length; i++)
        {
            var c = cell[i];
            if (c == '.') { fraction = 0; continue; }
            if (++digits > 15) return false;
            mantissa = mantissa * 10 + (c - '0');
            if (fraction >= 0) fraction++;
        }
        value = fraction > 0 ? mantissa / PowersOf10[fraction] : mantissa;
        if (negative) value = -value;
        return true;
    }

    public static string Name(TextColumnType type) => type switch
    {
        TextColumnType.Integer => "integer",
        TextColumnType.Number => "number",
        TextColumnType.WholeNumber => "whole number of at most 38 digits",
        TextColumnType.Boolean => "boolean",
        TextColumnType.Date => "date",
        TextColumnType.DateTime => "date-time",
        TextColumnType.Time => "time",
        _ => "string",
    };

    /// <summary>
    /// An optional sign and digits fitting a long. Inference refuses a leading zero, so codes like <c>007</c> stay
    /// strings; a column declared integer accepts them.
    /// </summary>
    private static bool IsInteger(ReadOnlySpan<char> cell, bool allowLeadingZero = false)
    {
        var digits = cell.Length > 0 && cell[0] == '-' ? cell[1..] : cell;
        if (digits.IsEmpty || (digits.Length > 19 && !allowLeadingZero)) return false;
        if (digits.Length > 1 && digits[0] == '0' && !allowLeadingZero) return false;
        foreach (var c in digits) if (!char.IsAsciiDigit(c)) return false;
        return digits.Length < 19 || long.TryParse(cell, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _);
    }

    /// <summary>The most digits a whole-number column holds (DECIMAL(38,0)).</summary>
    internal const int MaxWholeDigits = 38;

    /// <summary>Whether <paramref name="cell"/> is a whole number a DOUBLE rounds (every whole number of up to 15 digits is exact).</summary>
    private static bool RoundsAsDouble(ReadOnlySpan<char> cell)
    {
        if (cell.Length <= 15 || !IsWhole(cell, int.MaxValue)) return false;
        var rounded = double.Parse(cell, CultureInfo.InvariantCulture);
        return !double.IsFinite(rounded) || new System.Numerics.BigInteger(rounded) != System.Numerics.BigInteger.Parse(cell, CultureInfo.InvariantCulture);
    }

    /// <summary>The text a DOUBLE column lands for a whole number it rounds.</summary>
    public static string AsDouble(string whole) => double.Parse(whole, CultureInfo.InvariantCulture).ToString("R", CultureInfo.InvariantCulture);

    /// <summary>An optional <c>-</c> and at most <paramref name="maxDigits"/> digits, without a leading zero (valid JSON number text).</summary>
    private static bool IsWhole(ReadOnlySpan<char> cell, int maxDigits)
    {
        var digits = cell.Length > 0 && cell[0] == '-' ? cell[1..] : cell;
        return digits.Length > 0 && digits.Length <= maxDigits && (digits[0] != '0' || digits.Length == 1) && !digits.ContainsAnyExceptInRange('0', '9');
    }

    /// <summary>A JSON-compatible decimal number: sign, digits (no leading zero before more digits), optional fraction and exponent.</summary>
    private static bool IsNumber(ReadOnlySpan<char> cell, bool allowLeadingZero = false)
    {
        var i = 0;
        if (i < cell.Length && cell[i] == '-') i++;
        var start = i;
        while (i < cell.Length && char.IsAsciiDigit(cell[i])) i++;
        var intDigits = i - start;
        if (intDigits == 0 || (intDigits > 1 && cell[start] == '0' && !allowLeadingZero)) return false;
        if (i < cell.Length && cell[i] == '.')
        {
            i++;
            var fracStart = i;
            while (i < cell.Length && char.IsAsciiDigit(cell[i])) i++;
            if (i == fracStart) return false;
        }
        return SkipExponent(cell, ref i) && i == cell.Length;
    }

    /// <summary>Moves past an exponent (<c>e</c>, an optional sign, digits) if one starts at <paramref name="i"/>; false when it has no digits.</summary>
    private static bool SkipExponent(ReadOnlySpan<char> cell, ref int i)
    {
        if (i >= cell.Length || cell[i] is not ('e' or 'E')) return true;
        i++;
        if (i < cell.Length && (cell[i] is '+' or '-')) i++;
        var expStart = i;
        while (i < cell.Length && char.IsAsciiDigit(cell[i])) i++;
        return i > expStart;
    }

    /// <summary>The words DuckDB casts to a boolean, in any case: true/false, t/f, yes/no, y/n.</summary>
    private static bool TryBoolean(ReadOnlySpan<char> cell, out bool value)
    {
        value = false;
        if (cell.Length > 5) return false;
        if (cell.Equals("true", StringComparison.OrdinalIgnoreCase) || cell.Equals("t", StringComparison.OrdinalIgnoreCase)
            || cell.Equals("yes", StringComparison.OrdinalIgnoreCase) || cell.Equals("y", StringComparison.OrdinalIgnoreCase)) { value = true; return true; }
        return cell.Equals("false", StringComparison.OrdinalIgnoreCase) || cell.Equals("f", StringComparison.OrdinalIgnoreCase)
            || cell.Equals("no", StringComparison.OrdinalIgnoreCase) || cell.Equals("n", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>A cell without the spaces around it.</summary>
    internal static ReadOnlySpan<char> Trim(ReadOnlySpan<char> cell) => cell.Trim(' ');

    /// <summary>
    /// A number DuckDB reads as a DOUBLE that JSON's grammar refuses: a leading zero, a bare <c>.5</c> or <c>1.</c>.
    /// (A leading <c>+</c> is not taken: DuckDB keeps <c>+5</c> text. NaN and the infinities: <see cref="TryNamedDouble"/>.)
    /// </summary>
    private static bool IsLenientNumber(ReadOnlySpan<char> cell)
    {
        var i = 0;
        if (i < cell.Length && cell[i] == '-') i++;
        var intStart = i;
        while (i < cell.Length && char.IsAsciiDigit(cell[i])) i++;
        var digits = i - intStart;
        if (i < cell.Length && cell[i] == '.')
        {
            i++;
            var fracStart = i;
            while (i < cell.Length && char.IsAsciiDigit(cell[i])) i++;
            digits += i - fracStart;
        }
        else if (digits > 1 && cell[intStart] == '0')
        {
            // 007 is a code, not a number: DuckDB keeps it text (and so does integer inference).
            return false;
        }
        if (digits == 0) return false;
        return SkipExponent(cell, ref i) && i == cell.Length;
    }

    /// <summary>
    /// <c>H[H]:MM[:SS[.f…]]</c> with a valid hour, minute and second; digits beyond the microsecond are dropped (as the
    /// engine reads a time's text).
    /// </summary>
    internal static bool TryTime(ReadOnlySpan<char> cell, out TimeOnly time) => TryTime(cell, out time, out _);

    /// <summary><see cref="TryTime(ReadOnlySpan{char}, out TimeOnly)"/>; <paramref name="cutDigits"/>: a non-zero digit past the microsecond was dropped.</summary>
    internal static bool TryTime(ReadOnlySpan<char> cell, out TimeOnly time, out bool cutDigits)
    {
        time = default;
        cutDigits = false;
        var colon = cell.IndexOf(':');
        if (colon is not (1 or 2) || cell.Length < colon + 3) return false;
        if (!Digits(cell[..colon], out var hour) || hour > 23 || !Digits(cell.Slice(colon + 1, 2), out var minute) || minute > 59) return false;
        var second = 0;
        long micros = 0;
        var rest = cell[(colon + 3)..];
        if (!rest.IsEmpty)
        {
            if (rest.Length < 3 || rest[0] != ':' || !Digits(rest.Slice(1, 2), out second) || second > 59) return false;
            rest = rest[3..];
            if (!rest.IsEmpty)
            {
                if (rest[0] != '.' || rest.Length < 2) return false;
                var scale = 100_000L;
                foreach (var c in rest[1..])
                {
                    if (!char.IsAsciiDigit(c)) return false;
                    if (scale == 0 && c != '0') cutDigits = true;
                    micros += (c - '0') * scale;
                    scale /= 10;
                }
            }
        }
        time = new TimeOnly((((hour * 60L) + minute) * 60 + second) * TimeSpan.TicksPerSecond + micros * 10);
        return true;
    }

    internal static bool TryDate(ReadOnlySpan<char> cell, out DateOnly date)
    {
        date = default;
        if (cell.Length != 10 || cell[4] != '-' || cell[7] != '-') return false;
        if (!Digits(cell[..4], out var year) || !Digits(cell.Slice(5, 2), out var month) || !Digits(cell.Slice(8, 2), out var day)) return false;
        if (year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month)) return false;
        date = new DateOnly(year, month, day);
        return true;
    }

    internal static bool Digits(ReadOnlySpan<char> text, out int value)
    {
        value = 0;
        foreach (var c in text)
        {
            if (!char.IsAsciiDigit(c)) return false;
            value = value * 10 + (c - '0');
        }
        return true;
    }

    /// <summary>Writes <c>yyyy-MM-ddTHH:mm:ss.ffffffZ</c> (27 characters) for UTC ticks.</summary>
    internal static void FormatUtc(long ticks, Span<char> text)
    {
        var t = new DateTime(ticks, DateTimeKind.Utc);
        Two(t.Year / 100, text); Two(t.Year % 100, text[2..]); text[4] = '-';
        Two(t.Month, text[5..]); text[7] = '-'; Two(t.Day, text[8..]); text[10] = 'T';
        Two(t.Hour, text[11..]); text[13] = ':'; Two(t.Minute, text[14..]); text[16] = ':'; Two(t.Second, text[17..]);
        text[19] = '.';
        var micros = (int)(ticks % TimeSpan.TicksPerSecond / 10);
        for (var k = 25; k >= 20; k--) { text[k] = (char)('0' + micros % 10); micros /= 10; }
        text[26] = 'Z';

        static void Two(int value, Span<char> at)
        {
            at[0] = (char)('0' + value / 10);
            at[1] = (char)('0' + value % 10);
        }
    }

    /// <summary>
    /// An ISO-8601 date and time (<c>T</c> or space separated), with or without an offset; without one it is taken as UTC.
    /// Read by the one date-time parser every path shares (<see cref="Parquet.TemporalParser"/>), so a file's values
    /// land as a tap's do.
    /// </summary>
    internal static bool TryDateTime(ReadOnlySpan<char> cell, out DateTimeOffset instant) => TryDateTime(cell, out instant, out _);

    /// <summary><see cref="TryDateTime(ReadOnlySpan{char}, out DateTimeOffset)"/>; <paramref name="cutDigits"/>: a non-zero digit past the microsecond was cut.</summary>
    internal static bool TryDateTime(ReadOnlySpan<char> cell, out DateTimeOffset instant, out bool cutDigits)
    {
        instant = default;
        cutDigits = false;
        if (cell.Length < 16 || cell[4] != '-' || cell[7] != '-' || (cell[10] is not ('T' or ' '))) return false;
        Span<byte> ascii = cell.Length <= 64 ? stackalloc byte[cell.Length] : new byte[cell.Length];
        if (System.Text.Ascii.FromUtf16(cell, ascii, out _) != System.Buffers.OperationStatus.Done
            || !Parquet.TemporalParser.TryParseTimestampMicros(ascii, out var micros, out cutDigits)) return false;
        instant = new DateTimeOffset(DateTime.UnixEpoch.Ticks + micros * TimeSpan.TicksPerMicrosecond, TimeSpan.Zero);
        return true;
    }
}
