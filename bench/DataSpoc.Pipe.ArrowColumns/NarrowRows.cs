using System.Runtime.CompilerServices;

namespace DataSpoc.Pipe.ArrowColumns;

/// <summary>Where the generator's rows go: one call a row, every value given (a null as its flag), so both column models get the same input.</summary>
internal interface IRowSink
{
    void Row(long id, long userId, ReadOnlySpan<char> name, ReadOnlySpan<char> email, bool emailIsNull,
             double amount, bool amountIsNull, bool active, string? country, DateTime createdAt);
}

/// <summary>
/// The narrow events shape of issue 23 (id, user_id, name, email, amount, active, country, created_at), deterministic
/// from the row number: email null every 10th row, amount every 20th, country every 33rd.
/// </summary>
internal static class NarrowRows
{
    public static readonly string[] Countries = ["BR", "US", "DE", "JP", "IN", "FR", "GB", "MX"];
    private static readonly DateTime Start = new(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    public const string JsonSchema = """
        {"type": "object", "properties": {
          "id": {"type": "integer"}, "user_id": {"type": "integer"}, "name": {"type": "string"},
          "email": {"type": ["null", "string"]}, "amount": {"type": ["null", "number"]}, "active": {"type": "boolean"},
          "country": {"type": ["null", "string"]}, "created_at": {"type": "string", "format": "date-time"}}}
        """;

    /// <summary>Rows <paramref name="from"/> .. <paramref name="from"/> + <paramref name="count"/> into the sink (a struct: the calls inline).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Fill<TSink>(ref TSink sink, long from, int count) where TSink : struct, IRowSink
    {
        Span<char> name = stackalloc char[32];
        Span<char> email = stackalloc char[40];
        "user ".CopyTo(name);
        "u".CopyTo(email);
        for (var i = from; i < from + count; i++)
        {
            i.TryFormat(name[5..], out var n, provider: System.Globalization.CultureInfo.InvariantCulture);
            var nameLength = 5 + n;
            i.TryFormat(email[1..], out n, provider: System.Globalization.CultureInfo.InvariantCulture);
            "@example.com".CopyTo(email[(1 + n)..]);
            sink.Row(i, i * 7919 % 50_000, name[..nameLength], email[..(13 + n)], i % 10 == 3,
                     i % 100_000 / 100.0, i % 20 == 7, (i & 1) == 0, i % 33 == 5 ? null : Countries[i & 7],
                     Start.AddTicks(i * 24_000_000L));
        }
    }
}
