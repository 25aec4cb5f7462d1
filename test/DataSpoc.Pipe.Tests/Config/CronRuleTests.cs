using DataSpoc.Pipe.Config;

namespace DataSpoc.Pipe.Tests.Configuration;

/// <summary>
/// One rule for a cron expression, in <see cref="PipelineLoader.CronError"/>: what <c>validate</c> takes, <c>schedule
/// install</c> writes into a crontab line, so a blank other than the space (which install refused) is refused where the
/// expression is written, and the message shows the expression as written, escaped.
/// </summary>
public sealed class CronRuleTests : IDisposable
{
    private const string Shape = "(five fields: minute hour day-of-month month day-of-week)";
    private readonly string _dir = Directory.CreateTempSubdirectory("dsp-cron-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private ConfigException LoadFails(string schedule)
    {
        var file = Path.Combine(_dir, "orders.yaml");
        File.WriteAllText(file, "source:\n  tap: tap-postgres\ndestination:\n  bucket: file:///tmp/lake\nschedule:\n" + schedule);
        return Assert.Throws<ConfigException>(() => new PipelineLoader(null, _dir, _ => null).LoadFile(file));
    }

    [Theory]
    [InlineData("0\t3 * * *", @"0\t3 * * *", @"a tab (\t)")]
    [InlineData("0 3 * * *\n", @"0 3 * * *\n", @"a line break (\n)")]
    [InlineData("0 3\r\n* * *", @"0 3\r\n* * *", @"a carriage return (\r)")]
    [InlineData("0\u00a03 * * *", @"0\u00a03 * * *", "the character U+00A0")]
    public void A_cron_with_a_blank_other_than_the_space_is_refused_and_shown_escaped(string cron, string shown, string what) =>
        Assert.Equal($"invalid cron expression '{shown}' {Shape}: it holds {what}: separate the fields with spaces", PipelineLoader.CronError(cron));

    [Theory]
    [InlineData("0 3 * * *\u200b", @"0 3 * * *\u200b", "U+200B")]
    [InlineData("\ufeff0 3 * * *", @"\ufeff0 3 * * *", "U+FEFF")]
    [InlineData("0 3 * *\u2060 *", @"0 3 * *\u2060 *", "U+2060")]
    public void A_cron_with_an_invisible_character_is_refused_and_shows_it_escaped(string cron, string shown, string code) =>
        Assert.Equal($"invalid cron expression '{shown}' {Shape}: it holds the character {code}: remove it (it shows as nothing)", PipelineLoader.CronError(cron));

    [Fact]
    public void A_cron_with_a_visible_character_cron_does_not_read_is_shown_as_written()
    {
        // An emoji is a surrogate pair: visible, so not escaped; Cronos says what is wrong with it.
        var error = PipelineLoader.CronError("0 3 * * \ud83d\ude00");
        Assert.StartsWith($"invalid cron expression '0 3 * * \ud83d\ude00' {Shape}: ", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("@reboot")]
    [InlineData(" @REBOOT ")]
    public void Reboot_is_refused_saying_a_schedule_needs_a_time(string cron) =>
        Assert.Equal($"invalid cron expression '{cron}' {Shape}: @reboot is not supported: a schedule needs a time (or @hourly, @daily, @weekly, @monthly, @yearly)",
            PipelineLoader.CronError(cron));

    [Theory]
    [InlineData("schedule.cron", "  cron: \"0\\t3 * * *\"\n", 6)]
    [InlineData("schedule.maintain.cron", "  maintain:\n    cron: \"0\\t3 * * *\"\n", 7)]
    [InlineData("schedule.maintain.cron", "  cron: \"*/5 * * * *\"\n  maintain:\n    cron: \"0 3 * *\\n*\"\n", 8)]
    public void Validate_refuses_such_a_cron_in_either_schedule_at_its_line(string key, string schedule, int line)
    {
        var e = LoadFails(schedule);
        Assert.Equal((key, line), (e.Key, e.Line ?? 0));
        Assert.StartsWith("invalid cron expression '0", e.Reason, StringComparison.Ordinal);
        Assert.Contains(": it holds a ", e.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
        Assert.DoesNotContain('\t', e.Message);
    }

    [Theory]
    [InlineData("0  3 * * *")]
    [InlineData(" 0 3 * * * ")]
    [InlineData("@daily")]
    public void Spaces_however_many_stay_a_valid_separator(string cron) => Assert.Null(PipelineLoader.CronError(cron));
}
