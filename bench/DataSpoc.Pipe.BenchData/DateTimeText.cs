using System.Globalization;

namespace DataSpoc.Pipe.BenchData;

/// <summary>Random instants and their ISO-8601 text as taps print them (milliseconds, an offset or Z).</summary>
public static class DateTimeText
{
    private static readonly DateTimeOffset Start = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static DateTimeOffset Next(ref SplitMix64 rng)
    {
        var offset = rng.Pick(Words.Offsets);
        var utc = Start.AddMilliseconds(rng.Next() % (366UL * 24 * 3600 * 1000));
        return utc.ToOffset(offset);
    }

    public static string Format(DateTimeOffset value) => value.Offset == TimeSpan.Zero
        ? value.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture)
        : value.ToString("yyyy-MM-dd'T'HH:mm:ss.fffzzz", CultureInfo.InvariantCulture);
}
