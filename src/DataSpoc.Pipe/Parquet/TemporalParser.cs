using System.Runtime.CompilerServices;

namespace DataSpoc.Pipe.Parquet;

/// <summary>
/// ISO-8601 date, time and date-time text (UTF-8) to Parquet's integers: microseconds since the Unix epoch in UTC,
/// days since the epoch, microseconds since midnight. Parsed by hand (this runs once per value on the hot path), and
/// only ISO-8601's extended forms: no guessing of other spellings.
/// </summary>
[SkipLocalsInit] // runs once per value; the stackalloc buffer is written before it is read
internal static class TemporalParser
{
    private const long TicksPerMicro = 10;
    private const long MicrosPerDay = 86_400_000_000;
    private static readonly long EpochTicks = DateTime.UnixEpoch.Ticks;

    /// <summary>Microseconds since the epoch of 0001-01-01T00:00:00Z and of 9999-12-31T23:59:59.999999Z: the range every reader (and a partition date) can hold.</summary>
    private const long MinMicros = -62_135_596_800_000_000;
    private const long MaxMicros = 253_402_300_799_999_999;

    /// <summary>
    /// <c>YYYY-MM-DD[T ]HH:MM[:SS[.f…]][Z|±HH[[:]MM]|±HH:MM:SS]</c>, or a bare <c>YYYY-MM-DD</c> (midnight); no offset means UTC. An
    /// instant outside years 1..9999 once normalised to UTC (<c>0001-01-01T00:30+01:00</c>, <c>9999-12-31T23:00-05:00</c>)
    /// is not a valid value. Nothing else is: a lenient parser would read <c>03:04:05</c> as that time today (a value
    /// that changes with the day of the run) and <c>5/6/7</c> month first.
    /// </summary>
    public static bool TryParseTimestampMicros(ReadOnlySpan<byte> s, out long micros) => TryParseTimestampMicros(s, out micros, out _);

    /// <summary>
    /// <see cref="TryParseTimestampMicros(ReadOnlySpan{byte}, out long)"/>, saying whether digits past the microsecond
    /// were cut (<paramref name="cutDigits"/>: a non-zero 7th or later fractional digit, as in <c>.123456789</c>): the
    /// lake holds microseconds, and the value lands cut, not rounded, as DuckDB casts and reads it.
    /// </summary>
    public static bool TryParseTimestampMicros(ReadOnlySpan<byte> s, out long micros, out bool cutDigits)
    {
        if (TryFast(s, out micros, out cutDigits)) return micros is >= MinMicros and <= MaxMicros;
        if (s.Length == 10 && TryParseDateDays(s, out var days))
        {
            micros = days * MicrosPerDay;
            return true;
        }
        micros = 0;
        return false;
    }

    /// <summary>
    /// <c>YYYY-MM-DD</c>, or a date-time (as <see cref="TryParseTimestampMicros(ReadOnlySpan{byte}, out long)"/> reads it) whose calendar date is kept as
    /// written; anything after the date that is not a valid time makes it no date.
    /// </summary>
    public static bool TryParseDateDays(ReadOnlySpan<byte> s, out int days)
    {
        days = 0;
        if (s.Length < 10 || !TryDate(s, out var year, out var month, out var day)) return false;
        if (s.Length > 10 && !TryFast(s, out _, out _)) return false;
        if (day > DaysInMonth(year, month)) return false;
        days = DaysSinceEpoch(year, month, day);
        return true;
    }

    /// <summary>A date-time (as <see cref="TryParseTimestampMicros(ReadOnlySpan{byte}, out long)"/> reads it) at midnight UTC, as the days of its date: the only date-times a date holds exactly.</summary>
    public static bool TryParseMidnightUtcDays(ReadOnlySpan<byte> s, out int days)
    {
        days = 0;
        if (!TryParseTimestampMicros(s, out var micros) || micros % MicrosPerDay != 0) return false;
        days = (int)(micros / MicrosPerDay);
        return true;
    }

    /// <summary>
    /// <c>HH:MM[:SS[.f…]][Z|±HH[[:]MM]|±HH:MM:SS]</c> (RFC 3339's full-time has the offset, Python's <c>time.isoformat()</c> none): a
    /// time with an offset is normalised to UTC as a date-time is, within the day. Hour 24 (<c>24:00:00</c>) is no time,
    /// as in a date-time: a time of day is below 24 hours in Iceberg, Spark and Trino. Second 60 only as a leap second
    /// (see <see cref="IsLeapSecond"/>).
    /// </summary>
    public static bool TryParseTimeMicros(ReadOnlySpan<byte> s, out long micros) => TryParseTimeMicros(s, out micros, out _);

    /// <summary><see cref="TryParseTimeMicros(ReadOnlySpan{byte}, out long)"/>, saying whether digits past the microsecond were cut (as <see cref="TryParseTimestampMicros(ReadOnlySpan{byte}, out long, out bool)"/>).</summary>
    public static bool TryParseTimeMicros(ReadOnlySpan<byte> s, out long micros, out bool cutDigits)
    {
        micros = 0;
        cutDigits = false;
        if (s.Length < 5 || !TryClock(s, 0, out var h, out var m, out var sec, out var frac, out var end, out cutDigits) || h > 23) return false;
        var offsetSeconds = 0;
        if (end != s.Length && (!TryOffset(s, ref end, out offsetSeconds) || end != s.Length)) return false;
        if (sec == 60 && !IsLeapSecond(h, m, offsetSeconds, ref sec)) return false;
        micros = ((h * 60L + m) * 60 + sec) * 1_000_000 + frac;
        if (offsetSeconds != 0) micros = ((micros - offsetSeconds * 1_000_000L) % MicrosPerDay + MicrosPerDay) % MicrosPerDay;
        return true;
    }

    /// <summary>
    /// The run log's words for <paramref name="count"/> values of a column whose digits past the microsecond were cut
    /// (a Parquet file's nanosecond timestamps, a text date-time such as <c>.123456789</c>); the caller names the stream and column.
    /// </summary>
    public static string CutToMicrosecondNotice(long count) =>
        $"{count} value(s) with nanoseconds landed cut to the microsecond (the lake's timestamps and times hold microseconds)";

    /// <summary>
    /// The run log's notice of <paramref name="count"/> values of <paramref name="column"/> cut to the microsecond, naming
    /// the <paramref name="file"/> they were read from when a built-in file tap read them (null: a tap's output).
    /// </summary>
    public static string CutToMicrosecondNotice(string stream, string? file, string column, long count) =>
        $"stream '{stream}'{(file is null ? "" : $": {file}")} column '{column}': {CutToMicrosecondNotice(count)}";

    public static DateOnly DateFromMicros(long micros) => DateOnly.FromDateTime(new DateTime(EpochTicks + micros * TicksPerMicro, DateTimeKind.Utc));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryFast(ReadOnlySpan<byte> s, out long micros, out bool cutDigits)
    {
        micros = 0;
        cutDigits = false;
        if (s.Length < 16 || !TryDate(s, out var year, out var month, out var day)) return false;
        if (s[10] is not ((byte)'T' or (byte)'t' or (byte)' ')) return false;
        if (!TryClock(s, 11, out var h, out var mi, out var sec, out var frac, out var i, out cutDigits) || h > 23) return false;
        var offsetSeconds = 0;
        if (i < s.Length && !TryOffset(s, ref i, out offsetSeconds)) return false;
        if (i != s.Length || day > DaysInMonth(year, month)) return false;
        if (sec == 60 && !IsLeapSecond(h, mi, offsetSeconds, ref sec)) return false;
        micros = (((DaysSinceEpoch(year, month, day) * 24L + h) * 60 + mi) * 60 + sec - offsetSeconds) * 1_000_000 + frac;
        return true;
    }

    /// <summary>
    /// Whether second 60 of <paramref name="h"/>:<paramref name="m"/> (at <paramref name="offsetSeconds"/> east of UTC) can
    /// be a leap second: only 23:59:60 UTC can (UTC inserts them at the end of a day). Kept as 23:59:59 of that day
    /// (<paramref name="sec"/> becomes 59): no reader's timestamp or time holds second 60. Any other second 60 is an invalid
    /// value, as <c>2024-02-30</c> is: moving it back a second would change it silently.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)] // rare: keeps the hot paths small
    private static bool IsLeapSecond(int h, int m, int offsetSeconds, ref int sec)
    {
        // Second 59 of the minute is 23:59:59 UTC exactly when second 60 is 23:59:60 UTC.
        if (((h * 3600 + m * 60 + 59 - offsetSeconds) % 86400 + 86400) % 86400 != 86399) return false;
        sec = 59;
        return true;
    }

    /// <summary>
    /// <c>Z</c>, <c>±HH[[:]MM]</c> or <c>±HH:MM:SS</c> at <paramref name="i"/>, moving past it: seconds east of UTC. The
    /// seconds are what Python's <c>isoformat()</c> writes for a zone's local mean time (<c>-03:06:28</c>, São Paulo
    /// before 1914), as singer-python taps print it, and what DuckDB reads; neither DuckDB nor ISO 8601 reads
    /// <c>±HHMMSS</c> or a fraction of an offset's second, so they stay invalid values.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryOffset(ReadOnlySpan<byte> s, ref int i, out int offsetSeconds)
    {
        offsetSeconds = 0;
        var c = s[i];
        if (c is (byte)'Z' or (byte)'z')
        {
            i++;
            return true;
        }
        if (c is not ((byte)'+' or (byte)'-') || i + 3 > s.Length || !Two(s, i + 1, out var oh)) return false;
        var j = i + 3;
        var om = 0;
        var os = 0;
        if (j < s.Length)
        {
            var extended = s[j] == ':';
            if (extended) j++;
            if (j + 2 > s.Length || !Two(s, j, out om)) return false;
            j += 2;
            if (extended && j < s.Length && s[j] == ':')
            {
                if (!Two(s, j + 1, out os) || os > 59) return false;
                j += 3;
            }
        }
        if (oh > 23 || om > 59) return false;
        offsetSeconds = (oh * 3600 + om * 60 + os) * (c == '-' ? -1 : 1);
        i = j;
        return true;
    }

    /// <summary>Days from 1970-01-01 to a proleptic Gregorian date (year 1..9999), by arithmetic alone: no calendar calls per value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int DaysSinceEpoch(int year, int month, int day)
    {
        // Count years from March, so the leap day ends a year (H. Hinnant's days_from_civil).
        var y = month <= 2 ? year - 1 : year;
        var era = y / 400; // y >= 0 for years 1..9999
        var yearOfEra = y - era * 400;
        var dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
        var dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear;
        return era * 146097 + dayOfEra - 719468;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int DaysInMonth(int year, int month) =>
        month == 2 ? (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28) : 30 + ((month + (month >> 3)) & 1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryDate(ReadOnlySpan<byte> s, out int year, out int month, out int day)
    {
        year = month = day = 0;
        if (s.Length < 10 || s[4] != '-' || s[7] != '-') return false;
        if (!Two(s, 0, out var y1) || !Two(s, 2, out var y2) || !Two(s, 5, out month) || !Two(s, 8, out day)) return false;
        year = y1 * 100 + y2;
        return year >= 1 && month is >= 1 and <= 12 && day >= 1;
    }

    /// <summary>
    /// <c>HH:MM[:SS[.f…]]</c> at <paramref name="start"/>; fractions beyond microseconds are truncated, as DuckDB does,
    /// <paramref name="cutDigits"/> saying whether a non-zero digit was.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryClock(ReadOnlySpan<byte> s, int start, out int h, out int m, out int sec, out long frac, out int end, out bool cutDigits)
    {
        sec = 0; frac = 0; end = start;
        cutDigits = false;
        m = 0;
        if (!Two(s, start, out h) || start + 5 > s.Length || s[start + 2] != ':' || !Two(s, start + 3, out m) || m > 59) return false;
        var i = start + 5;
        if (i < s.Length && s[i] == ':')
        {
            // 60 is left to the caller, which knows the offset (a leap second is 23:59:60 UTC only).
            if (!Two(s, i + 1, out sec) || sec > 60) return false;
            i += 3;
            if (i < s.Length && s[i] is (byte)'.' or (byte)',')
            {
                i++;
                var digits = 0;
                while (i < s.Length && (uint)(s[i] - '0') <= 9)
                {
                    if (digits < 6) { frac = frac * 10 + (s[i] - '0'); digits++; }
                    else if (s[i] != '0') cutDigits = true;
                    i++;
                }
                if (digits == 0) return false;
                for (var d = digits; d < 6; d++) frac *= 10;
            }
        }
        end = i;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Two(ReadOnlySpan<byte> s, int i, out int value)
    {
        value = 0;
        if (i + 2 > s.Length) return false;
        var a = (uint)(s[i] - '0');
        var b = (uint)(s[i + 1] - '0');
        if (a > 9 || b > 9) return false;
        value = (int)(a * 10 + b);
        return true;
    }
}
