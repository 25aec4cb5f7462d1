using Cronos;

namespace DataSpoc.Pipe.Scheduling;

/// <summary>
/// A crontab schedule (five fields or an <c>@</c> keyword) read as cron reads it: the one place that says when a
/// schedule fires, for every front end (<c>status</c>, <c>schedule list</c>, the dashboard, MCP, the API) and for
/// <c>validate</c>'s "never fires" check.
/// </summary>
/// <remarks>
/// Cronos, which parses the fields, always requires both day fields to match. cron does not: when day-of-month AND
/// day-of-week are both restricted it runs on a day matching EITHER (crontab(5): <c>30 4 1,15 * 5</c> runs on the 1st
/// and 15th plus every Friday). So such a schedule is kept as its two halves, <c>m h dom mon *</c> and
/// <c>m h * mon dow</c>, and fires at the earlier of their next occurrences.
/// <para>
/// "Restricted" is cronie's (and Vixie's and Debian's) test, made on the field's text before it is expanded: a field is
/// unrestricted when its first character is <c>*</c> (<c>entry.c</c>: <c>if (ch == '*') e->flags |= DOM_STAR</c>), so
/// <c>*/2</c> and <c>*,10</c> count as <c>*</c> (both fields must match) while <c>1-31</c> and <c>10,*</c> are
/// restricted (either matches). Kubernetes' CronJob controller (robfig/cron) differs only for a step: it counts
/// <c>*/2</c> as restricted. The times promised here are the crontab's, so cronie's rule is the one followed.
/// </para>
/// </remarks>
internal sealed class CronSchedule
{
    private const int DayOfMonth = 2, DayOfWeek = 4;

    /// <summary>Each of these fires on its own; the schedule fires when the first of them does.</summary>
    private readonly CronExpression[] _any;

    private CronSchedule(CronExpression[] any) => _any = any;

    /// <summary>Reads a schedule.</summary>
    /// <exception cref="CronFormatException">It is not a valid cron expression.</exception>
    public static CronSchedule Parse(string cron)
    {
        // The whole expression is parsed first, so its errors are reported as written.
        var whole = CronExpression.Parse(cron, CronFormat.Standard);
        var fields = cron.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length != 5 || fields[DayOfMonth].StartsWith('*') || fields[DayOfWeek].StartsWith('*')) return new([whole]);
        return new([Half(fields, DayOfWeek), Half(fields, DayOfMonth)]);
    }

    /// <summary>The schedule with one day field made <c>*</c>.</summary>
    private static CronExpression Half(string[] fields, int unrestricted)
    {
        var half = (string[])fields.Clone();
        half[unrestricted] = "*";
        return CronExpression.Parse(string.Join(' ', half), CronFormat.Standard);
    }

    /// <summary>When the schedule fires next after <paramref name="from"/>, read in <paramref name="zone"/>; null when it never does.</summary>
    public DateTimeOffset? NextAfter(DateTimeOffset from, TimeZoneInfo zone)
    {
        DateTimeOffset? next = null;
        foreach (var expression in _any)
            if (expression.GetNextOccurrence(from, zone) is { } at && (next is null || at < next))
                next = at;
        return next;
    }

    /// <summary>
    /// Whether the schedule matches no date at all (<c>0 0 31 2 *</c>), which cron accepts and never runs.
    /// Independent of the clock and zone: the calendar repeats every 400 years, well within what Cronos searches, so a
    /// fixed start finds the 29th of February as it finds every other date.
    /// </summary>
    public bool NeverFires => NextAfter(new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero), TimeZoneInfo.Utc) is null;
}
