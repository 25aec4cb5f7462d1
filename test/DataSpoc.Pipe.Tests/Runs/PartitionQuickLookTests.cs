using System.Text;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Runs;

/// <summary>
/// The partition a record's date-time is routed to before its scan (<c>RunIngest.PartitionOfLocatedText</c>: the date, the
/// hour, the minute and the offset only) is the one the full parse gives (<c>RunIngest.PartitionOfText</c>) for every
/// valid value: offsets that move the date back or forward a day, ±14:00 and odd minutes, <c>Z</c>, a space or a
/// lower-case <c>t</c>, with and without seconds' fractions. (A value it got wrong would only cost the general path: the
/// scanned value is checked against the partition.)
/// </summary>
public class PartitionQuickLookTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public void The_quick_look_routes_every_date_time_where_its_full_parse_puts_it()
    {
        var seed = FuzzSeed.FromEnvironment();
        output.WriteLine($"seed {seed} (replay with DATASPOC_FUZZ_SEED={seed})");
        var random = new Random(seed);
        var crossed = 0;
        for (var n = 0; n < 200_000; n++)
        {
            var local = new DateTime(1990, 1, 1).AddMinutes(random.NextInt64(0, 60L * 24 * 365 * 60));
            var seconds = random.Next(60);
            var fraction = random.Next(4) switch { 0 => "", 1 => $".{random.Next(1000):D3}", 2 => $".{random.Next(1_000_000):D6}", _ => $".{random.Next(10)}" };
            var separator = random.Next(10) switch { 0 => " ", 1 => "t", _ => "T" };
            var zone = random.Next(5) == 0
                ? (random.Next(2) == 0 ? "Z" : "+00:00")
                : $"{(random.Next(2) == 0 ? '+' : '-')}{random.Next(15):D2}:{(random.Next(3) == 0 ? random.Next(60) : random.Next(2) * 30):D2}"
                  + (random.Next(10) == 0 ? $":{random.Next(60):D2}" : ""); // local mean time, as Python writes it
            var text = $"{local:yyyy-MM-dd}{separator}{local:HH:mm}:{seconds:D2}{fraction}{zone}";
            var utf8 = Encoding.UTF8.GetBytes(text);
            var full = RunIngest.PartitionOfText(utf8);
            Assert.True(full is not null, $"seed {seed}: {text} did not parse");
            var quick = RunIngest.PartitionOfLocatedText(utf8);
            Assert.True(quick == full, $"seed {seed}: {text}: the quick look says {quick?.Date}, the full parse {full?.Date}");
            if (full!.Value.Date != DateOnly.FromDateTime(local)) crossed++;
        }
        // The offsets moved a good share of the values to the day before or after.
        Assert.True(crossed > 10_000, $"only {crossed} values changed day");
    }

    [Theory]
    [InlineData("2024-03-01T23:30:00-03:00", "2024-03-02")]
    [InlineData("2024-03-01T00:10:00.5+00:30", "2024-02-29")]
    [InlineData("2024-12-31T22:00:00-02:00", "2025-01-01")]
    [InlineData("2024-06-15T12:00:00+14:00", "2024-06-14")]
    [InlineData("2024-06-15T12:00:00Z", "2024-06-15")]
    [InlineData("1890-01-01T23:00:00-03:06:28", "1890-01-02")]
    [InlineData("1900-01-01T05:21:09+05:21:10", "1899-12-31")]
    public void Offsets_that_cross_midnight_move_the_date(string text, string date)
    {
        Assert.Equal(DateOnly.Parse(date, System.Globalization.CultureInfo.InvariantCulture), RunIngest.PartitionOfLocatedText(Encoding.UTF8.GetBytes(text))?.Date);
    }

    [Theory]
    [InlineData("9999-12-31T23:00:00-05:00")]
    [InlineData("0001-01-01T00:30:00+01:00")]
    public void Offsets_that_leave_years_1_to_9999_are_left_to_the_full_parse(string text)
    {
        // No day past DateOnly's range (that threw); the scan then rejects the value, located (ValueLimitTests).
        Assert.Equal(RunIngest.PartitionOfText(Encoding.UTF8.GetBytes(text)), RunIngest.PartitionOfLocatedText(Encoding.UTF8.GetBytes(text)));
    }
}
