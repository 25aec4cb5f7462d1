using System.Globalization;
using System.Text;

namespace DataSpoc.Pipe.BenchData;

/// <summary>
/// The 1M x 8 "events" table of issue #23 as a CSV file with a header: <c>id</c> (1..N), <c>user_id</c> integer,
/// <c>name</c>, <c>email</c>, <c>amount</c> (two decimals, as numeric(12,2)), <c>active</c> (true/false),
/// <c>country</c> (8 codes), <c>created_at</c> (<c>yyyy-MM-dd HH:mm:ss</c>, UTC, no offset: DuckDB reads it as a
/// TIMESTAMP, the csv tap as a UTC date-time, PostgreSQL's <c>\copy</c> into timestamptz under timezone UTC). About
/// 79 bytes a row; the same seed gives the same bytes. bench/side-by-side.sh times the csv tap on this file and loads
/// it into PostgreSQL for the postgres part, so both parts read the same values.
/// </summary>
public static class EventsCsv
{
    private const ulong Seed = 0x5EED_0003UL;
    private static readonly DateTime Start = new(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    public static void Write(long rows, Stream output)
    {
        var rng = new SplitMix64(Seed);
        using var writer = new StreamWriter(output, new UTF8Encoding(false), 1 << 20, leaveOpen: true) { NewLine = "\n" };
        writer.WriteLine("id,user_id,name,email,amount,active,country,created_at");
        var line = new StringBuilder(128);
        for (long i = 0; i < rows; i++)
        {
            var first = rng.Pick(Words.FirstNames);
            var last = rng.Pick(Words.LastNames);
            var userId = 1 + rng.Below(200_000);
            line.Clear()
                .Append(i + 1).Append(',')
                .Append(userId).Append(',')
                .Append(first).Append(' ').Append(last).Append(',')
                .Append(first.ToLowerInvariant()).Append('.').Append(last.ToLowerInvariant()).Append(userId).Append("@example.com,")
                .Append(((long)(rng.NextDouble() * 1_000_000) / 100m).ToString("0.00", CultureInfo.InvariantCulture)).Append(',')
                .Append(rng.Chance(0.8) ? "true" : "false").Append(',')
                .Append(rng.Pick(Words.Countries)).Append(',')
                .Append(Start.AddSeconds(rng.Next() % (366UL * 24 * 3600)).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture));
            writer.WriteLine(line);
        }
    }
}
