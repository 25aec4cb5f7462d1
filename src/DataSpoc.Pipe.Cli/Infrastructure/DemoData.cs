using System.Globalization;
using System.Text;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>Sample CSV files for <c>demo</c>: customers and orders with dates, timestamps, decimals and empty (null) cells. Deterministic.</summary>
internal static class DemoData
{
    public const int Customers = 100;
    public const int Orders = 1000;

    private static readonly string[] Countries = ["BR", "US", "DE", "JP", "PT", "IN", "MX", "FR"];
    private static readonly string[] Names = ["Ana", "Bruno", "Carla", "Diego", "Eva", "Felipe", "Gabriela", "Hugo", "Iris", "João", "Kenji", "Lena"];
    private static readonly string[] Statuses = ["paid", "shipped", "delivered", "cancelled"];

    /// <summary>Writes <c>customers.csv</c> and <c>orders.csv</c> into <paramref name="folder"/> (replacing earlier copies).</summary>
    public static void Write(string folder)
    {
        Directory.CreateDirectory(folder);
        var random = new Random(20250120);
        var start = new DateOnly(2024, 1, 1);
        var inv = CultureInfo.InvariantCulture;

        var customers = new StringBuilder("customer_id,name,email,country,signup_date\n");
        for (var id = 1; id <= Customers; id++)
        {
            var name = Names[random.Next(Names.Length)];
            var country = id % 9 == 0 ? "" : Countries[random.Next(Countries.Length)];
            customers.Append(inv, $"{id},{name} {id},{name.ToLowerInvariant()}{id}@example.com,{country},{start.AddDays(random.Next(365)):yyyy-MM-dd}\n");
        }
        File.WriteAllText(Path.Combine(folder, "customers.csv"), customers.ToString());

        var orders = new StringBuilder("order_id,customer_id,ordered_at,amount,discount,status\n");
        var t0 = new DateTimeOffset(2024, 6, 1, 0, 0, 0, TimeSpan.Zero);
        for (var id = 1; id <= Orders; id++)
        {
            var at = t0.AddMinutes(random.Next(0, 60 * 24 * 180)).AddSeconds(random.Next(60));
            var amount = Math.Round(random.Next(500, 500_000) / 100m, 2);
            var discount = id % 7 == 0 ? Math.Round(amount * 0.1m, 2).ToString("0.00", inv) : "";
            orders.Append(inv, $"{id},{random.Next(1, Customers + 1)},{at:yyyy-MM-dd'T'HH:mm:ss'Z'},{amount.ToString("0.00", inv)},{discount},{Statuses[random.Next(Statuses.Length)]}\n");
        }
        File.WriteAllText(Path.Combine(folder, "orders.csv"), orders.ToString());
    }
}
