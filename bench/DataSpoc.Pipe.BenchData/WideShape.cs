using System.Globalization;
using System.Text.Json;

namespace DataSpoc.Pipe.BenchData;

/// <summary>
/// The "wide" shape of issue #5: 60 top-level columns — integers, doubles, booleans, strings (some nullable),
/// date-times and a date, four nested objects (one nesting another) and four arrays of integers/strings —
/// about 1.3 KB per RECORD line.
/// </summary>
public sealed class WideShape : IShape
{
    public const string Stream = "events";

    private static readonly string[] StringColumns =
    [
        "first_name", "last_name", "email", "phone", "status", "currency", "channel", "referrer", "utm_source",
        "utm_campaign", "locale", "timezone", "sku", "product_name", "category", "comment", "coupon", "ip_address",
        "user_agent", "description",
    ];

    private static readonly string[] IntegerColumns =
        ["qty", "page_views", "clicks", "cart_items", "age", "score", "rank", "visits", "duration_ms", "retries"];

    private static readonly string[] DoubleColumns =
        ["amount", "tax", "discount", "shipping", "weight_kg", "rating", "latitude", "longitude"];

    private static readonly string[] BooleanColumns = ["is_active", "is_verified", "has_coupon", "is_gift", "newsletter"];

    private static readonly string[] DateTimeColumns = ["created_at", "updated_at", "shipped_at", "session_start", "session_end"];

    private static readonly string[] Channels = ["web", "app", "store", "phone", "partner"];
    private static readonly string[] Locales = ["pt-BR", "pt-PT", "en-GB", "en-US", "de-DE", "es-ES", "fr-FR"];
    private static readonly string[] Zones = ["America/Sao_Paulo", "Europe/Lisbon", "Europe/London", "America/New_York", "Europe/Berlin"];
    private static readonly string[] Categories = ["books", "electronics", "garden", "toys", "fashion", "grocery", "sports"];
    private static readonly string[] Agents =
    [
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    ];

    public string StreamName => Stream;

    public void WriteSchema(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("type", "object");
        w.WriteStartObject("properties");
        Schema.Property(w, "id", "integer", nullable: false);
        Schema.Property(w, "account_id", "integer");
        foreach (var c in DateTimeColumns) Schema.Property(w, c, "string", format: "date-time");
        Schema.Property(w, "birth_date", "string", format: "date");
        foreach (var c in StringColumns) Schema.Property(w, c, "string");
        foreach (var c in IntegerColumns) Schema.Property(w, c, "integer");
        foreach (var c in DoubleColumns) Schema.Property(w, c, "number");
        foreach (var c in BooleanColumns) Schema.Property(w, c, "boolean");

        Object(w, "address");
        Schema.Property(w, "street", "string");
        Schema.Property(w, "number", "integer");
        Schema.Property(w, "city", "string");
        Schema.Property(w, "zip", "string");
        Schema.Property(w, "country", "string");
        Object(w, "geo");
        Schema.Property(w, "lat", "number");
        Schema.Property(w, "lon", "number");
        EndObject(w);
        EndObject(w);

        Object(w, "customer");
        Schema.Property(w, "id", "integer");
        Schema.Property(w, "name", "string");
        Schema.Property(w, "email", "string");
        Schema.Property(w, "tier", "string");
        Schema.Property(w, "since", "string", format: "date-time");
        EndObject(w);

        Object(w, "device");
        Schema.Property(w, "os", "string");
        Schema.Property(w, "version", "string");
        Schema.Property(w, "model", "string");
        Object(w, "screen");
        Schema.Property(w, "w", "integer");
        Schema.Property(w, "h", "integer");
        EndObject(w);
        EndObject(w);

        Object(w, "metrics");
        Schema.Property(w, "views", "integer");
        Schema.Property(w, "clicks", "integer");
        Schema.Property(w, "ratio", "number");
        Schema.Property(w, "active", "boolean");
        EndObject(w);

        Schema.Array(w, "tags", "string");
        Schema.Array(w, "scores", "integer");
        Schema.Array(w, "item_ids", "integer");
        Schema.Array(w, "labels", "string");
        Schema.Property(w, "version", "integer");
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void Object(Utf8JsonWriter w, string name)
    {
        w.WriteStartObject(name);
        Schema.TypeAndFormat(w, "object");
        w.WriteStartObject("properties");
    }

    private static void EndObject(Utf8JsonWriter w)
    {
        w.WriteEndObject();
        w.WriteEndObject();
    }

    public void WriteRecord(Utf8JsonWriter w, ref SplitMix64 rng, long index)
    {
        var first = rng.Pick(Words.FirstNames);
        var last = rng.Pick(Words.LastNames);
        w.WriteStartObject();
        w.WriteNumber("id", index + 1);
        w.WriteNumber("account_id", 1000 + rng.Below(50_000));
        foreach (var c in DateTimeColumns)
        {
            if (c == "shipped_at" && rng.Chance(0.3)) w.WriteNull(c);
            else w.WriteString(c, DateTimeText.Format(DateTimeText.Next(ref rng)));
        }
        w.WriteString("birth_date", new DateOnly(1950, 1, 1).AddDays(rng.Below(20_000)).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));

        foreach (var c in StringColumns)
        {
            switch (c)
            {
                case "first_name": w.WriteString(c, first); break;
                case "last_name": w.WriteString(c, last); break;
                case "email": w.WriteString(c, $"{first.ToLowerInvariant()}.{last.ToLowerInvariant()}{rng.Below(1000)}@example.com"); break;
                case "phone": w.WriteString(c, $"+55 11 9{rng.Below(10000):D4}-{rng.Below(10000):D4}"); break;
                case "status": w.WriteString(c, rng.Pick(Words.Statuses)); break;
                case "currency": w.WriteString(c, rng.Pick(Words.Currencies)); break;
                case "channel": w.WriteString(c, rng.Pick(Channels)); break;
                case "referrer": w.WriteString(c, $"https://www.example.org/{rng.Pick(Words.Text)}/{rng.Below(1000)}"); break;
                case "utm_source": w.WriteString(c, rng.Pick(Words.Tags)); break;
                case "utm_campaign": w.WriteString(c, $"{rng.Pick(Words.Text)}-{rng.Pick(Words.Text)}-{2024 + rng.Below(2)}"); break;
                case "locale": w.WriteString(c, rng.Pick(Locales)); break;
                case "timezone": w.WriteString(c, rng.Pick(Zones)); break;
                case "sku": w.WriteString(c, $"SKU-{rng.Below(100_000):D6}"); break;
                case "product_name": w.WriteString(c, Words.Sentence(ref rng, 2, 4)); break;
                case "category": w.WriteString(c, rng.Pick(Categories)); break;
                case "comment": if (rng.Chance(0.3)) w.WriteNull(c); else w.WriteString(c, Words.Sentence(ref rng, 3, 10)); break;
                case "coupon": if (rng.Chance(0.6)) w.WriteNull(c); else w.WriteString(c, $"SAVE{rng.Below(50)}"); break;
                case "ip_address": w.WriteString(c, $"10.{rng.Below(256)}.{rng.Below(256)}.{rng.Below(256)}"); break;
                case "user_agent": w.WriteString(c, rng.Pick(Agents)); break;
                case "description": w.WriteString(c, Words.Sentence(ref rng, 8, 20)); break;
                default: throw new InvalidOperationException(c);
            }
        }
        foreach (var c in IntegerColumns)
        {
            if (rng.Chance(0.05)) w.WriteNull(c);
            else w.WriteNumber(c, c == "duration_ms" ? rng.Below(10_000_000) : rng.Below(1000));
        }
        foreach (var c in DoubleColumns)
        {
            if (rng.Chance(0.05)) w.WriteNull(c);
            else w.WriteNumber(c, (long)(rng.NextDouble() * 10_000_000) / 1000.0);
        }
        foreach (var c in BooleanColumns) w.WriteBoolean(c, rng.Chance(0.5));

        w.WriteStartObject("address");
        w.WriteString("street", $"{rng.Pick(Words.LastNames)} Street");
        w.WriteNumber("number", 1 + rng.Below(3000));
        w.WriteString("city", rng.Pick(Words.Cities));
        w.WriteString("zip", $"{rng.Below(100_000):D5}-{rng.Below(1000):D3}");
        w.WriteString("country", rng.Pick(Words.Countries));
        w.WriteStartObject("geo");
        w.WriteNumber("lat", (long)(rng.NextDouble() * 180_000_000 - 90_000_000) / 1_000_000.0);
        w.WriteNumber("lon", (long)(rng.NextDouble() * 360_000_000 - 180_000_000) / 1_000_000.0);
        w.WriteEndObject();
        w.WriteEndObject();

        if (rng.Chance(0.1)) w.WriteNull("customer");
        else
        {
            w.WriteStartObject("customer");
            w.WriteNumber("id", rng.Below(1_000_000));
            w.WriteString("name", $"{first} {last}");
            w.WriteString("email", $"{first.ToLowerInvariant()}@example.net");
            w.WriteString("tier", rng.Pick(Words.Tiers));
            w.WriteString("since", DateTimeText.Format(DateTimeText.Next(ref rng)));
            w.WriteEndObject();
        }

        w.WriteStartObject("device");
        w.WriteString("os", rng.Pick(Words.OperatingSystems));
        w.WriteString("version", $"{rng.Below(20)}.{rng.Below(10)}.{rng.Below(10)}");
        w.WriteString("model", $"Model-{rng.Below(300)}");
        w.WriteStartObject("screen");
        w.WriteNumber("w", 320 + rng.Below(3500));
        w.WriteNumber("h", 480 + rng.Below(2000));
        w.WriteEndObject();
        w.WriteEndObject();

        w.WriteStartObject("metrics");
        w.WriteNumber("views", rng.Below(100_000));
        w.WriteNumber("clicks", rng.Below(10_000));
        w.WriteNumber("ratio", rng.Below(10_000) / 10_000.0);
        w.WriteBoolean("active", rng.Chance(0.7));
        w.WriteEndObject();

        w.WriteStartArray("tags");
        for (int i = 0, n = rng.Below(6); i < n; i++) w.WriteStringValue(rng.Pick(Words.Tags));
        w.WriteEndArray();
        w.WriteStartArray("scores");
        for (int i = 0, n = rng.Below(9); i < n; i++) w.WriteNumberValue(rng.Below(100));
        w.WriteEndArray();
        w.WriteStartArray("item_ids");
        for (int i = 0, n = 1 + rng.Below(10); i < n; i++) w.WriteNumberValue(rng.Below(10_000_000));
        w.WriteEndArray();
        w.WriteStartArray("labels");
        for (int i = 0, n = rng.Below(5); i < n; i++) w.WriteStringValue(rng.Pick(Words.Text));
        w.WriteEndArray();
        w.WriteNumber("version", 1 + rng.Below(5));
        w.WriteEndObject();
    }
}
