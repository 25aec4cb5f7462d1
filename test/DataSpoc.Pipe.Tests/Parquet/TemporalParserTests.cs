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
}
