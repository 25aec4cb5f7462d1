using System.Globalization;
using System.Text;
using DataSpoc.Pipe.Parquet;

namespace DataSpoc.Pipe.Tests.Parquet;

/// <summary>The hand-written date arithmetic agrees with the framework's calendar on every day it can meet.</summary>
public class TemporalParserTests
{
    [Fact]
    public void Days_since_the_epoch_match_the_framework_for_every_day_of_years_1_to_9999()
    {
        var epoch = DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber;
        for (var day = DateOnly.MinValue; ; day = day.AddDays(1))
        {
            Assert.Equal(day.DayNumber - epoch, TemporalParser.DaysSinceEpoch(day.Year, day.Month, day.Day));
            if (day == DateOnly.MaxValue) break;
        }
    }

    [Theory]
    [InlineData("2024-02-29", true)]
    [InlineData("2023-02-29", false)]
    [InlineData("1900-02-29", false)]
    [InlineData("2000-02-29", true)]
    [InlineData("2024-04-31", false)]
    [InlineData("2024-12-31", true)]
    [InlineData("2024-09-31", false)]
    [InlineData("0001-01-01", true)]
    [InlineData("9999-12-31", true)]
    public void Dates_past_the_end_of_their_month_are_refused(string text, bool valid)
    {
        Assert.Equal(valid, TemporalParser.TryParseDateDays(Encoding.ASCII.GetBytes(text), out var days));
        if (valid) Assert.Equal(DateOnly.ParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture).DayNumber - DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber, days);
    }

    [Fact]
    public void Random_date_times_with_offsets_match_the_framework_to_the_microsecond()
    {
        var random = new Random(20261127);
        for (var i = 0; i < 20_000; i++)
        {
            var ticks = random.NextInt64(DateTime.MinValue.AddDays(2).Ticks, DateTime.MaxValue.AddDays(-2).Ticks);
            var offset = TimeSpan.FromMinutes(random.Next(-14 * 60, 14 * 60 + 1));
            var value = new DateTimeOffset(new DateTime(ticks - ticks % 10), offset);
            var text = value.ToString(random.Next(3) switch
            {
                0 => "yyyy-MM-dd'T'HH:mm:ss.ffffffzzz",
                1 => "yyyy-MM-dd'T'HH:mm:ss.fffzzz",
                _ => "yyyy-MM-dd HH:mm:sszzz",
            }, CultureInfo.InvariantCulture);
            var expected = DateTimeOffset.Parse(text, CultureInfo.InvariantCulture);
            Assert.True(TemporalParser.TryParseTimestampMicros(Encoding.ASCII.GetBytes(text), out var micros), text);
            Assert.Equal((expected.UtcTicks - DateTime.UnixEpoch.Ticks) / 10, micros);
        }
    }

    [Theory]
    [InlineData("03:04:05")] // a lenient parser took it as that time today: a value that changes with the run's day
    [InlineData("5/6/7")]
    [InlineData("Tuesday, 02 January 2024 10:00")]
    [InlineData("2024-01-02Tgarbage")]
    [InlineData("2024-01-02 not a date")]
    [InlineData(" 2024-01-02T10:00:00Z")]
    [InlineData("2024-01-02T10:00:00Z trailing")]
    [InlineData("20240102T100000Z")]
    public void Text_that_is_not_an_ISO_8601_date_time_is_no_date_time_and_no_date(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        Assert.False(TemporalParser.TryParseTimestampMicros(bytes, out _), text);
        Assert.False(TemporalParser.TryParseDateDays(bytes, out _), text);
    }

    [Theory]
    [InlineData("2024-01-02", 19724L * 86_400_000_000)]
    [InlineData("2024-01-02t10:00:00z", 19724L * 86_400_000_000 + 36_000_000_000)]
    [InlineData("2024-01-02 10:00:00+05:45", 19724L * 86_400_000_000 + 36_000_000_000 - 20_700_000_000)]
    public void A_bare_date_is_midnight_and_ISO_forms_keep_their_instant(string text, long expected)
    {
        Assert.True(TemporalParser.TryParseTimestampMicros(Encoding.UTF8.GetBytes(text), out var micros), text);
        Assert.Equal(expected, micros);
        Assert.True(TemporalParser.TryParseDateDays(Encoding.UTF8.GetBytes(text), out var days), text);
        Assert.Equal(19724, days); // a date column keeps the calendar date as written
    }

    [Theory]
    // DuckDB's '…'::TIMESTAMPTZ of each (the anchor): the offsets Python's isoformat() writes for local mean time.
    [InlineData("1890-01-01T00:00:00-03:06:28", "1890-01-01T03:06:28.000000Z")]
    [InlineData("1900-01-01T08:27:38+05:21:10", "1900-01-01T03:06:28.000000Z")]
    [InlineData("1900-01-01 08:27:38.250001+05:21:10", "1900-01-01T03:06:28.250001Z")]
    [InlineData("1890-01-01T23:00:00-03:06:28", "1890-01-02T02:06:28.000000Z")]
    [InlineData("1890-01-01T00:00:00-23:59:59", "1890-01-01T23:59:59.000000Z")]
    [InlineData("1890-01-01T00:00-03:06:28", "1890-01-01T03:06:28.000000Z")] // as Python reads it
    public void Offsets_with_seconds_are_normalised_to_UTC_exactly(string text, string utc)
    {
        Assert.True(TemporalParser.TryParseTimestampMicros(Encoding.UTF8.GetBytes(text), out var micros), text);
        Assert.Equal(utc, DateTime.UnixEpoch.AddTicks(micros * 10).ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture));
        Assert.True(TemporalParser.TryParseDateDays(Encoding.UTF8.GetBytes(text), out _), text); // a date keeps the date as written
    }

    [Theory]
    [InlineData("1890-01-01T00:00:00-030628")] // Python reads it, DuckDB does not
    [InlineData("1890-01-01T00:00:00-03:0628")]
    [InlineData("1890-01-01T00:00:00-0306:28")]
    [InlineData("1890-01-01T00:00:00-03:06:28.5")] // Python writes it for a zone with microseconds; DuckDB refuses it
    [InlineData("1890-01-01T00:00:00-03:06:28,5")]
    [InlineData("1890-01-01T00:00:00-03:06:2")]
    [InlineData("1890-01-01T00:00:00-03:06:")]
    [InlineData("1890-01-01T00:00:00-03:06:60")]
    [InlineData("1890-01-01T00:00:00-03:06:28Z")]
    public void Other_offset_seconds_forms_are_no_date_time(string text)
    {
        Assert.False(TemporalParser.TryParseTimestampMicros(Encoding.UTF8.GetBytes(text), out _), text);
        Assert.False(TemporalParser.TryParseDateDays(Encoding.UTF8.GetBytes(text), out _), text);
        Assert.False(DataSpoc.Pipe.Sources.BuiltIn.TextColumnTypes.TryDateTime(text, out _), text);
    }

    [Theory]
    [InlineData("1890-01-01T00:00:00-03:06:28", "1890-01-01T03:06:28.0000000+00:00")]
    [InlineData("1900-01-01 08:27:38.5+05:21:10", "1900-01-01T03:06:28.5000000+00:00")]
    [InlineData("2024-01-02T10:00:00+05:45", "2024-01-02T04:15:00.0000000+00:00")]
    public void A_file_s_date_times_are_read_by_the_same_parser(string text, string utc)
    {
        Assert.True(DataSpoc.Pipe.Sources.BuiltIn.TextColumnTypes.TryDateTime(text, out var instant), text);
        Assert.Equal(utc, instant.ToString("O", CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("2024-12-31T23:59:60Z", true)]
    [InlineData("2016-12-31T23:59:60.999999Z", true)]
    [InlineData("2017-01-01T05:29:60+05:30", true)] // 23:59:60 UTC
    [InlineData("2024-06-15T10:30:60Z", false)]
    [InlineData("2024-12-31T23:59:60+01:00", false)] // 22:59:60 UTC
    [InlineData("2024-12-31T23:58:60Z", false)]
    public void Second_60_is_a_leap_second_kept_as_23_59_59_UTC_only_at_23_59_60_UTC(string text, bool valid)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        Assert.Equal(valid, TemporalParser.TryParseTimestampMicros(bytes, out var micros));
        Assert.Equal(valid, TemporalParser.TryParseDateDays(bytes, out _));
        if (!valid) return;
        var instant = DateTimeOffset.Parse(text.Replace(":60", ":59"), System.Globalization.CultureInfo.InvariantCulture).ToUniversalTime();
        Assert.Equal(23 * 3600 + 59 * 60 + 59, (int)instant.TimeOfDay.TotalSeconds);
        Assert.Equal((instant - DateTimeOffset.UnixEpoch).Ticks / 10, micros);
    }

    [Theory]
    [InlineData("03:04:05", 11_045_000_000L)]
    [InlineData("03:04:05.25", 11_045_250_000L)]
    [InlineData("03:04:05Z", 11_045_000_000L)]
    [InlineData("03:04:05+00:00", 11_045_000_000L)]
    [InlineData("03:04:05+01:00", 7_445_000_000L)] // normalised to UTC, as a date-time is
    [InlineData("23:30:00-01:00", 1_800_000_000L)] // within the day
    [InlineData("00:30:00+01:00", 84_600_000_000L)]
    [InlineData("23:59:60", 86_399_000_000L)] // a leap second (UTC): kept as 23:59:59, as a date-time's
    [InlineData("00:59:60.5+01:00", 86_399_500_000L)]
    [InlineData("00:00:00-03:06:28", 11_188_000_000L)] // DuckDB's TIMETZ keeps the same offset
    public void Times_in_RFC_3339_and_Python_forms_land(string text, long expected)
    {
        Assert.True(TemporalParser.TryParseTimeMicros(Encoding.UTF8.GetBytes(text), out var micros), text);
        Assert.Equal(expected, micros);
    }

    [Theory]
    [InlineData("24:00:00")] // no time of day in Iceberg, Spark or Trino, and refused in a date-time too
    [InlineData("24:59:59")]
    [InlineData("10:30:60")] // second 60 that is no leap second (23:59:60 UTC): refused, not moved back a second
    [InlineData("23:59:60+01:00")]
    [InlineData("24:30:00.5")]
    [InlineData("24:00:01")]
    [InlineData("03:04:05+24:00")]
    [InlineData("03:04:05 Z")]
    [InlineData("3:04:05")]
    public void Times_past_the_end_of_the_day_or_malformed_are_refused(string text) =>
        Assert.False(TemporalParser.TryParseTimeMicros(Encoding.UTF8.GetBytes(text), out _), text);
}
