namespace DataSpoc.Pipe.Scheduling;

/// <summary>The zones cron reads schedules in: the machine's (not the caller's <c>$TZ</c>), or a crontab's <c>CRON_TZ</c>.</summary>
public static class CronTimeZones
{
    private static readonly Lazy<TimeZoneInfo> MachineZone = new(FindMachineZone);

    /// <summary>
    /// The machine's zone, which the cron daemon reads crontab schedules in. <see cref="TimeZoneInfo.Local"/> follows
    /// the calling shell's <c>$TZ</c>, which cron never sees, so it is read from <c>/etc/localtime</c> (the zone it
    /// links to), else <c>/etc/timezone</c>.
    /// </summary>
    public static TimeZoneInfo Machine => MachineZone.Value;

    /// <summary>A zone by its IANA name, or null when this machine does not know it.</summary>
    public static TimeZoneInfo? Find(string id) => TimeZoneInfo.TryFindSystemTimeZoneById(id, out var zone) ? zone : null;

    private static TimeZoneInfo FindMachineZone()
    {
        if (OperatingSystem.IsWindows()) return TimeZoneInfo.Local; // no $TZ override there
        try
        {
            var localtime = new FileInfo("/etc/localtime");
            const string zoneinfo = "zoneinfo/";
            if (localtime.LinkTarget is { } target && target.LastIndexOf(zoneinfo, StringComparison.Ordinal) is var at and >= 0 &&
                Find(target[(at + zoneinfo.Length)..]) is { } linked)
                return linked;
            if (File.Exists("/etc/timezone") && Find(File.ReadAllText("/etc/timezone").Trim()) is { } named) return named;
            // Without /etc/localtime the C library, and so cron, keeps UTC.
            if (!localtime.Exists) return TimeZoneInfo.Utc;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        // A copied /etc/localtime names no zone: .NET matches it to one itself, unless $TZ is set (then this is $TZ's).
        return TimeZoneInfo.Local;
    }
}
