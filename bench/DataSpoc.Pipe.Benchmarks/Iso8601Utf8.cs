namespace DataSpoc.Pipe.Benchmarks;

/// <summary>
/// The hand-rolled candidate: RFC 3339 date-time text (UTF-8) straight to UTC epoch microseconds, no DateTimeOffset,
/// no transcoding. Accepts <c>yyyy-MM-ddTHH:mm:ss[.f…][Z|±HH:mm|±HHmm]</c>; anything else returns false so a
/// caller can fall back to the general parser.
/// </summary>
public static class Iso8601Utf8
{
    public static bool TryParseUtcMicros(ReadOnlySpan<byte> s, out long micros)
    {
        micros = 0;
        if (s.Length < 20
            || !Digits(s, 0, 4, out var year) || s[4] != '-'
            || !Digits(s, 5, 2, out var month) || s[7] != '-'
            || !Digits(s, 8, 2, out var day) || (s[10] | 0x20) != 't'
            || !Digits(s, 11, 2, out var hour) || s[13] != ':'
            || !Digits(s, 14, 2, out var minute) || s[16] != ':'
            || !Digits(s, 17, 2, out var second))
            return false;
        if (month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(Math.Max(year, 1), month)
            || hour > 23 || minute > 59 || second > 59)
            return false;

        var i = 19;
        long fraction = 0;
        if (s[i] == '.')
        {
            var digits = 0;
            for (i++; i < s.Length && (uint)(s[i] - '0') <= 9; i++, digits++)
                if (digits < 6) fraction = fraction * 10 + (s[i] - '0');
            if (digits == 0) return false;
            for (; digits < 6; digits++) fraction *= 10;
        }

        if (i >= s.Length) return false;
        var offsetMinutes = 0;
        if ((s[i] | 0x20) == 'z')
        {
            i++;
        }
        else if (s[i] is (byte)'+' or (byte)'-')
        {
            var sign = s[i] == '-' ? -1 : 1;
            if (!Digits(s, i + 1, 2, out var oh)) return false;
            i += 3;
            if (i < s.Length && s[i] == ':') i++;
            if (!Digits(s, i, 2, out var om) || oh > 23 || om > 59) return false;
            i += 2;
            offsetMinutes = sign * (oh * 60 + om);
        }
        if (i != s.Length) return false;

        var seconds = DaysFromCivil(year, month, day) * 86_400L + hour * 3600 + minute * 60 + second - offsetMinutes * 60L;
        micros = seconds * 1_000_000 + fraction;
        return true;
    }

    private static bool Digits(ReadOnlySpan<byte> s, int start, int count, out int value)
    {
        value = 0;
        if (start + count > s.Length) return false;
        for (var i = start; i < start + count; i++)
        {
            var d = (uint)(s[i] - '0');
            if (d > 9) return false;
            value = value * 10 + (int)d;
        }
        return true;
    }

    /// <summary>Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).</summary>
    private static long DaysFromCivil(int y, int m, int d)
    {
        y -= m <= 2 ? 1 : 0;
        var era = (y >= 0 ? y : y - 399) / 400;
        var yoe = y - era * 400;
        var doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        var doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146_097L + doe - 719_468;
    }
}
