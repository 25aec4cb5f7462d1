namespace DataSpoc.Pipe.Scheduling;

/// <summary>The zones cron reads schedules in: the machine's (not the caller's <c>$TZ</c>), or a crontab's <c>CRON_TZ</c>.</summary>
public static class CronTimeZones
{
    private const string ZoneInfo = "/usr/share/zoneinfo";
    private static readonly Lazy<TimeZoneInfo> MachineZone = new(() => FindMachineZone("/etc", ZoneInfo));

    /// <summary>
    /// The machine's zone, which the cron daemon reads crontab schedules in: the zone <c>/etc/localtime</c> holds (see
    /// <see cref="FindMachineZone"/>). <see cref="TimeZoneInfo.Local"/> follows the calling shell's <c>$TZ</c>, which cron
    /// never sees, so it is not used.
    /// </summary>
    public static TimeZoneInfo Machine => MachineZone.Value;

    /// <summary>A zone by its IANA name, or null when this machine does not know it.</summary>
    public static TimeZoneInfo? Find(string id) => TimeZoneInfo.TryFindSystemTimeZoneById(id, out var zone) ? zone : null;

    /// <summary>
    /// The zone <c>&lt;etc&gt;/localtime</c> holds, as the C library (and so cron) reads it: the zone it links to; else,
    /// for a copied file (Alpine and many images copy it and have no <c>/etc/timezone</c>), the zone of
    /// <paramref name="zoneinfo"/> with the same bytes, by its canonical name (<c>zone1970.tab</c>, then <c>zone.tab</c>:
    /// Europe/Berlin, not one of its aliases such as Atlantic/Jan_Mayen); else the zone <c>&lt;etc&gt;/timezone</c> names;
    /// UTC when there is no <c>localtime</c>. Never <c>$TZ</c>.
    /// </summary>
    /// <param name="etc">The folder holding <c>localtime</c> and <c>timezone</c> (<c>/etc</c>; tests pass another).</param>
    /// <param name="zoneinfo">The zone database the copied file is looked up in (<c>/usr/share/zoneinfo</c>).</param>
    internal static TimeZoneInfo FindMachineZone(string etc, string zoneinfo)
    {
        if (OperatingSystem.IsWindows()) return TimeZoneInfo.Local; // no $TZ override there
        var named = Named(Path.Combine(etc, "timezone"));
        try
        {
            var localtime = new FileInfo(Path.Combine(etc, "localtime"));
            const string linkedInto = "zoneinfo/";
            if (localtime.LinkTarget is { } target && target.LastIndexOf(linkedInto, StringComparison.Ordinal) is var at and >= 0 &&
                Find(target[(at + linkedInto.Length)..]) is { } linked)
                return linked;
            // Without /etc/localtime the C library, and so cron, keeps UTC.
            if (!localtime.Exists) return TimeZoneInfo.Utc;
            if (SameBytes(File.ReadAllBytes(localtime.FullName), zoneinfo, named) is { } copied) return copied;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        if (named is not null && Find(named) is { } zone) return zone;
        // The file matches no zone of the database (none installed, or another version's): .NET builds the zone from
        // /etc/localtime's own bytes when $TZ is unset; with $TZ set that would be $TZ's zone, which cron does not use.
        return Environment.GetEnvironmentVariable("TZ") is { Length: > 0 } ? TimeZoneInfo.Utc : TimeZoneInfo.Local;
    }

    /// <summary>The zone name a file such as <c>/etc/timezone</c> holds, or null.</summary>
    private static string? Named(string file)
    {
        try
        {
            return File.Exists(file) && File.ReadAllText(file).Trim() is { Length: > 0 } name ? name : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// The zone of <paramref name="zoneinfo"/> whose file holds <paramref name="data"/>: first <paramref name="preferred"/>
    /// (<c>/etc/timezone</c>'s name), then the canonical names of <c>zone1970.tab</c> and <c>zone.tab</c>, then every
    /// other file (aliases), by name; null when none does.
    /// </summary>
    private static TimeZoneInfo? SameBytes(byte[] data, string zoneinfo, string? preferred)
    {
        if (!Directory.Exists(zoneinfo)) return null;
        var names = new List<string>();
        if (preferred is not null) names.Add(preferred);
        foreach (var table in new[] { "zone1970.tab", "zone.tab" })
            names.AddRange(TableNames(Path.Combine(zoneinfo, table)));
        var root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(zoneinfo)) + "/";
        // posix/ and right/ are copies of the database (right/ with leap seconds): their names come last.
        names.AddRange(Directory.EnumerateFiles(zoneinfo, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetFullPath(f)[root.Length..])
            .OrderBy(n => n.StartsWith("posix/", StringComparison.Ordinal) || n.StartsWith("right/", StringComparison.Ordinal))
            .ThenBy(n => n, StringComparer.Ordinal));
        foreach (var name in names.Distinct(StringComparer.Ordinal))
        {
            var file = Path.Combine(zoneinfo, name);
            try
            {
                if (new FileInfo(file) is { Exists: true } info && info.Length == data.Length && File.ReadAllBytes(file).AsSpan().SequenceEqual(data) &&
                    Find(name) is { } zone)
                    return zone;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
        return null;
    }

    /// <summary>The zone names (third column) of a <c>zone.tab</c>-style table; none when it cannot be read.</summary>
    private static IEnumerable<string> TableNames(string table)
    {
        string[] lines;
        try
        {
            lines = File.Exists(table) ? File.ReadAllLines(table) : [];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            yield break;
        }
        foreach (var line in lines)
            if (!line.StartsWith('#') && line.Split('\t') is { Length: >= 3 } columns)
                yield return columns[2];
    }
}
