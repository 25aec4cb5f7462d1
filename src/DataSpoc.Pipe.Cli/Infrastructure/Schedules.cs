using Cronos;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>Next run times of cron expressions (evaluated in the machine's time zone, as cron does).</summary>
internal static class Schedules
{
    public static DateTimeOffset? Next(string? cron, DateTimeOffset now)
    {
        if (string.IsNullOrWhiteSpace(cron)) return null;
        try
        {
            return CronExpression.Parse(cron, CronFormat.Standard).GetNextOccurrence(now, TimeZoneInfo.Local)?.ToUniversalTime();
        }
        catch (CronFormatException)
        {
            return null;
        }
    }
}
