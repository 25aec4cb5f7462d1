using DataSpoc.Pipe.Config;

namespace DataSpoc.Pipe.Tests.Configuration;

/// <summary>
/// A duration under 1ms, the smallest unit one is written in, is refused as zero is: a <c>schedule.maintain</c> line
/// would pass it on as <c>0s</c>, and no age or timeout that short means anything.
/// </summary>
public sealed class DurationsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dsp-durations-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("0.00001")]
    [InlineData("0.0009")]
    [InlineData("0.5ms")]
    [InlineData("1e-9")]
    public void A_duration_under_a_millisecond_is_refused_as_too_short(string text)
    {
        Assert.False(Durations.TryParse(text, out _));
        Assert.Equal($"'{text}' is shorter than 1ms, the shortest duration taken (e.g. 7d)", Durations.Problem(text, "7d"));
    }

    [Theory]
    [InlineData("1ms", 0.001)]
    [InlineData("0.001", 0.001)]
    [InlineData("1.5ms", 0.0015)]
    public void A_millisecond_and_more_is_taken(string text, double seconds)
    {
        Assert.True(Durations.TryParse(text, out var duration));
        Assert.Equal(TimeSpan.FromSeconds(seconds), duration);
        Assert.Null(Durations.Problem(text, "7d"));
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(9_999, false)]
    [InlineData(10_000, true)]
    public void The_api_takes_the_same_ages_as_the_parser(long ticks, bool taken) =>
        Assert.Equal(taken, Durations.IsTaken(TimeSpan.FromTicks(ticks)));

    [Theory]
    [InlineData("0.00001")]
    [InlineData("0.5ms")]
    public void A_tiny_expire_older_than_in_schedule_maintain_is_refused_at_its_line(string age)
    {
        var file = Path.Combine(_dir, "orders.yaml");
        File.WriteAllText(file, "source:\n  tap: tap-postgres\ndestination:\n  bucket: file:///tmp/lake\n" +
            $"schedule:\n  maintain:\n    cron: \"0 3 * * *\"\n    expire_older_than: {age}\n");
        var e = Assert.Throws<ConfigException>(() => new PipelineLoader(null, _dir, _ => null).LoadFile(file));
        Assert.Equal(("schedule.maintain.expire_older_than", 8), (e.Key, e.Line ?? 0));
        Assert.Equal($"expected a duration of at least 1ms and at most 100 years, such as 30s, 5m, 1h30m or a number of seconds, got '{age}'", e.Reason);
    }
}
