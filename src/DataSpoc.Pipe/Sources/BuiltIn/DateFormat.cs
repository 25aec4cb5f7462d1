namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>The orders a date's day, month and year can be written in.</summary>
[Flags]
internal enum DateOrders : byte
{
    None = 0, DayMonthYear = 1, MonthDayYear = 2, YearMonthDay = 4,
    All = DayMonthYear | MonthDayYear | YearMonthDay,
}

/// <summary>
/// The one format a date or date-time column of a text file is read with, chosen the way DuckDB's sniffer does:
/// every sampled cell must fit it, and when several fit (<c>01/02/2024</c>) day-first wins over month-first, as in
/// DuckDB. <c>yyyy-MM-dd</c> (the default) is ISO 8601, read with <c>T</c> or a space and any offset; the others are
/// <c>d/m/Y</c>, <c>m/d/Y</c> and <c>Y/m/d</c> with <c>/</c>, <c>-</c> or <c>.</c>, followed for a date-time by
/// <c> HH:MM:SS[.f…]</c> (DuckDB has no month-first 24-hour date-time format, so neither do we).
/// A date-time without an offset is taken as UTC.
/// </summary>
internal readonly record struct DateFormat(DateOrders Order, char Separator)
{
    public static DateFormat Iso => default;

    public bool IsIso => Order == DateOrders.None || (Order == DateOrders.YearMonthDay && Separator == '-');

    /// <summary>The preferred format among <paramref name="orders"/>: day-first, then month-first, then year-first.</summary>
    public static DateFormat First(DateOrders orders, char separator) =>
        orders.HasFlag(DateOrders.DayMonthYear) ? new(DateOrders.DayMonthYear, separator)
        : orders.HasFlag(DateOrders.MonthDayYear) ? new(DateOrders.MonthDayYear, separator)
        : orders.HasFlag(DateOrders.YearMonthDay) ? new(DateOrders.YearMonthDay, separator)
        : Iso;

    /// <summary>Reads the date at the start of <paramref name="cell"/> in this format; <paramref name="rest"/> is what follows it.</summary>
    public bool TryDate(ReadOnlySpan<char> cell, out DateOnly date, out ReadOnlySpan<char> rest)
    {
        date = default;
        rest = default;
        if (!TrySplit(cell, Separator, out var a, out var b, out var c, out rest)) return false;
        var (day, month, year) = Order switch
        {
            DateOrders.DayMonthYear => (a, b, c),
            DateOrders.MonthDayYear => (b, a, c),
            _ => (c, b, a),
        };
        return Valid(year, month, day, out date);
    }

    /// <summary>Reads a whole date-time cell in this format (UTC).</summary>
    public bool TryDateTime(ReadOnlySpan<char> cell, out DateTimeOffset instant) => TryDateTime(cell, out instant, out _);

    /// <summary>Reads a whole date-time cell in this format (UTC), to the microsecond; <paramref name="cutDigits"/>: a non-zero digit past it was cut, as DuckDB cuts it.</summary>
    public bool TryDateTime(ReadOnlySpan<char> cell, out DateTimeOffset instant, out bool cutDigits)
    {
        instant = default;
        cutDigits = false;
        if (!TryDate(cell, out var date, out var rest) || !TryClock(rest, out var ticks, out cutDigits)) return false;
        instant = new DateTimeOffset(date.DayNumber * TimeSpan.TicksPerDay + ticks, TimeSpan.Zero);
        return true;
    }

    /// <summary><c> HH:MM:SS[.f…]</c> after a date, as ticks since midnight, to the microsecond.</summary>
    private static bool TryClock(ReadOnlySpan<char> text, out long ticks, out bool cutDigits)
    {
        ticks = 0;
        cutDigits = false;
        if (text.Length < 9 || text[0] != ' ' || text[3] != ':' || text[6] != ':') return false;
        if (!TextColumnTypes.Digits(text.Slice(1, 2), out var hour) || !TextColumnTypes.Digits(text.Slice(4, 2), out var minute)
            || !TextColumnTypes.Digits(text.Slice(7, 2), out var second) || hour > 23 || minute > 59 || second > 59) return false;
        ticks = hour * TimeSpan.TicksPerHour + minute * TimeSpan.TicksPerMinute + second * TimeSpan.TicksPerSecond;
        var fraction = text[9..];
        if (fraction.IsEmpty) return true;
        if (fraction[0] != '.' || fraction.Length < 2) return false;
        var scale = TimeSpan.TicksPerSecond;
        foreach (var c in fraction[1..])
        {
            if (!char.IsAsciiDigit(c)) return false;
            if (scale > TimeSpan.TicksPerMicrosecond) { scale /= 10; ticks += (c - '0') * scale; }
            else if (c != '0') cutDigits = true;
        }
        return true;
    }

    /// <summary>Three groups of digits (1-4 each) joined by one separator, and what follows them.</summary>
    private static bool TrySplit(ReadOnlySpan<char> cell, char separator, out int a, out int b, out int c, out ReadOnlySpan<char> rest)
    {
        a = b = c = 0;
        rest = default;
        var i = 0;
        if (!Group(cell, ref i, out a, out var aDigits) || i >= cell.Length || cell[i++] != separator) return false;
        if (!Group(cell, ref i, out b, out var bDigits) || bDigits > 2 || i >= cell.Length || cell[i++] != separator) return false;
        if (!Group(cell, ref i, out c, out var cDigits)) return false;
        // Year first (4 digits) or last (4 digits); the other groups are one or two digits.
        if (!((aDigits == 4 && cDigits <= 2) || (aDigits <= 2 && cDigits == 4))) return false;
        rest = cell[i..];
        return true;

        static bool Group(ReadOnlySpan<char> s, ref int i, out int value, out int digits)
        {
            value = 0;
            var start = i;
            while (i < s.Length && char.IsAsciiDigit(s[i]) && i - start < 4) value = value * 10 + (s[i++] - '0');
            digits = i - start;
            return digits > 0 && (i >= s.Length || !char.IsAsciiDigit(s[i]));
        }
    }

    private static bool Valid(int year, int month, int day, out DateOnly date)
    {
        date = default;
        if (year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month)) return false;
        date = new DateOnly(year, month, day);
        return true;
    }

    public override string ToString() => IsIso ? "ISO 8601" : Order switch
    {
        DateOrders.DayMonthYear => $"%d{Separator}%m{Separator}%Y",
        DateOrders.MonthDayYear => $"%m{Separator}%d{Separator}%Y",
        _ => $"%Y{Separator}%m{Separator}%d",
    };
}

/// <summary>Which date formats one cell fits.</summary>
internal static class DateShape
{
    private static readonly char[] Separators = ['-', '/', '.'];

    /// <summary>
    /// The orders a cell fits as a date (<paramref name="withTime"/> false) or a date-time, and its separator.
    /// ISO cells (<c>yyyy-MM-dd</c>, date-times with <c>T</c> or an offset) are judged by the ISO readers.
    /// </summary>
    public static (DateOrders Orders, char Separator) Of(ReadOnlySpan<char> cell, bool withTime)
    {
        if (cell.Length < 8) return (DateOrders.None, '\0');
        if (cell.Length >= 10 && cell[4] == '-' && cell[7] == '-')
        {
            var iso = withTime ? cell.Length > 10 && TextColumnTypes.TryDateTime(cell, out _) : TextColumnTypes.TryDate(cell, out _);
            return iso ? (DateOrders.YearMonthDay, '-') : (DateOrders.None, '\0');
        }
        var separator = cell[Math.Min(cell.Length - 1, char.IsAsciiDigit(cell[1]) ? (char.IsAsciiDigit(cell[2]) ? 4 : 2) : 1)];
        if (Array.IndexOf(Separators, separator) < 0) return (DateOrders.None, '\0');
        var orders = DateOrders.None;
        foreach (var order in (ReadOnlySpan<DateOrders>)[DateOrders.DayMonthYear, DateOrders.MonthDayYear, DateOrders.YearMonthDay])
        {
            if (withTime && order == DateOrders.MonthDayYear) continue;
            var format = new DateFormat(order, separator);
            var fits = withTime ? format.TryDateTime(cell, out _) : format.TryDate(cell, out _, out var rest) && rest.IsEmpty;
            if (fits) orders |= order;
        }
        return (orders, separator);
    }
}
