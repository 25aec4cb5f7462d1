using System.Globalization;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>Human-readable sizes, counts and durations for tables.</summary>
internal static class Units
{
    public static string Bytes(long bytes)
    {
        string[] units = ["B", "KB", "MB", "GB", "TB"];
        double value = bytes;
        var unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        return unit == 0 ? $"{bytes} B" : value.ToString("0.0", CultureInfo.InvariantCulture) + " " + units[unit];
    }

    public static string Count(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    public static string Duration(double seconds) =>
        seconds < 60 ? seconds.ToString("0.0", CultureInfo.InvariantCulture) + "s"
        : seconds < 3600 ? $"{(int)seconds / 60}m{(int)seconds % 60:00}s"
        : $"{(int)seconds / 3600}h{(int)seconds % 3600 / 60:00}m";

    public static string Time(DateTimeOffset? t) => t?.UtcDateTime.ToString("yyyy-MM-dd HH:mm'Z'", CultureInfo.InvariantCulture) ?? "-";
}
