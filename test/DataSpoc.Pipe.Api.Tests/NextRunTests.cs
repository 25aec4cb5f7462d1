using System.Globalization;
using DataSpoc.Pipe.Api;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Api.Tests;

/// <summary>
/// The next run promised is the one cron makes. cron's day rule (crontab(5), cronie's <c>entry.c</c>/<c>cron.c</c>):
/// when day-of-month and day-of-week are both restricted, a day matching EITHER runs; a day field counts as
/// unrestricted when its text starts with <c>*</c> (so <c>*/2</c> does), and then both must match.
/// </summary>
public class NextRunTests
{
    /// <summary>Sunday 6 December 2026, 10:00 UTC.</summary>
    private static readonly DateTimeOffset Now = new(2026, 12, 6, 10, 0, 0, TimeSpan.Zero);

    /// <summary>Expected times worked out by hand on the calendar of December 2026 to February 2027.</summary>
    public static TheoryData<string, string> Cases => new()
    {
        // Both day fields restricted: either matches.
        { "0 12 1 * 1", "2026-12-07T12:00Z" },      // the 1st or a Monday: Monday the 7th (not Monday 1 February 2027)
        { "0 12 13 * 5", "2026-12-11T12:00Z" },     // the 13th or a Friday: Friday the 11th (not Friday 13 August 2027)
        { "0 0 31 2 1", "2027-02-01T00:00Z" },      // no 31 February, but every Monday of February: Monday 1 February 2027
        { "30 4 1,15 * 5", "2026-12-11T04:30Z" },   // crontab(5)'s example: the 1st and 15th plus every Friday
        { "0 12 15 * MON", "2026-12-07T12:00Z" },   // a weekday by name is restricted too
        { "0 12 1-31 * 2", "2026-12-06T12:00Z" },   // '1-31' does not start with '*': restricted, so any day (today)
        // A day field starting with '*' (a step included) is unrestricted: both must match.
        { "0 12 */2 * 2", "2026-12-15T12:00Z" },    // an odd day that is a Tuesday: the 15th (Tuesday the 8th is even)
        { "0 12 10 * */2", "2026-12-10T12:00Z" },   // the 10th on a Sunday, Tuesday, Thursday or Saturday: Thursday the 10th
        { "0 12 */2 * *", "2026-12-07T12:00Z" },    // the odd days
        // One day field restricted: that one decides.
        { "0 12 1 * *", "2027-01-01T12:00Z" },
        { "0 12 * * 1", "2026-12-07T12:00Z" },
        { "@monthly", "2027-01-01T00:00Z" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_next_run_takes_either_day_field_when_both_are_restricted_as_cron_does(string cron, string expected)
    {
        var client = new PipeClient(Path.GetTempPath(), time: new FixedTime(Now), scheduleTimeZone: TimeZoneInfo.Utc);
        Assert.Equal(At(expected), client.NextRun(cron));
    }

    [Fact]
    public async Task Status_promises_the_run_cron_makes_for_a_crontab_line_restricting_both_day_fields()
    {
        using var home = new TempHome();
        var name = home.Name("monthly");
        home.WritePipeline(name, $"source:\n  tap: {TempHome.ReplayTap}\ndestination:\n  bucket: {home.Bucket}\nschedule:\n  cron: \"0 12 1 * 1\"\n");
        var client = new PipeClient(home.Home, time: new FixedTime(Now), crontab: CrontabStandIn.Command(home.CrontabFile));
        // In Asia/Tokyo (UTC+9): Monday 7 December 12:00 there is 03:00 UTC.
        File.WriteAllText(home.CrontabFile, $"CRON_TZ=Asia/Tokyo\n{CrontabStandIn.InstalledLine(client.Home, name, "0 12 1 * 1")}\n");

        var status = Assert.Single(await client.StatusAsync());
        Assert.Equal(("0 12 1 * 1", null, "Asia/Tokyo"), (status.InstalledSchedule, status.ScheduleProblem, status.ScheduleTimeZone));
        Assert.Equal(At("2026-12-07T03:00Z"), status.NextRun);
    }

    private static DateTimeOffset At(string utc) => DateTimeOffset.Parse(utc, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
}
