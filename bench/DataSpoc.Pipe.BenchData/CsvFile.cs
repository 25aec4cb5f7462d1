using System.Globalization;
using System.Text;

namespace DataSpoc.Pipe.BenchData;

/// <summary>
/// The csv benchmark input of issue 23: <c>events</c>, 8 columns (id, user_id, name, email, amount, active, country,
/// created_at: integer, integer, string, string, number, boolean, string, UTC date-time), a header and N rows, about 82
/// bytes a row; same bytes for the same arguments.
/// </summary>
public static class CsvFile
{
    private const ulong Seed = 0x5EED_0003UL;
    private static readonly DateTime Start = new(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    public static void Write(long rows, Stream output)
    {
        var rng = new SplitMix64(Seed);
        using var text = new StreamWriter(output, new UTF8Encoding(false), 1 << 16, leaveOpen: true);
        text.Write("id,user_id,name,email,amount,active,country,created_at\n");
        for (long i = 0; i < rows; i++)
        {
            var first = rng.Pick(Words.FirstNames);
            var last = rng.Pick(Words.LastNames);
            var at = Start.AddSeconds(rng.Next() % (28UL * 24 * 3600));
            text.Write(string.Create(CultureInfo.InvariantCulture,
                $"{i + 1},{1 + rng.Below(10_000)},{first} {last},{first.ToLowerInvariant()}.{last.ToLowerInvariant()}@ex.io,{(long)(rng.NextDouble() * 100_000) / 100.0},{(rng.Chance(0.5) ? "true" : "false")},{rng.Pick(Words.Countries)},{at:yyyy-MM-dd'T'HH:mm:ss'Z'}\n"));
        }
    }
}
