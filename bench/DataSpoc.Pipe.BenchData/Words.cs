namespace DataSpoc.Pipe.BenchData;

/// <summary>Vocabularies the shapes draw from: realistic-looking text with realistic cardinality.</summary>
public static class Words
{
    public static readonly string[] FirstNames =
    [
        "Maria", "Joao", "Ana", "Pedro", "Lucas", "Julia", "Mateus", "Beatriz", "Gabriel", "Larissa",
        "Rafael", "Camila", "Bruno", "Fernanda", "Thiago", "Amanda", "Diego", "Leticia", "Felipe", "Mariana",
        "Carlos", "Patricia", "Andre", "Aline", "Rodrigo", "Juliana", "Marcelo", "Vanessa", "Gustavo", "Renata",
        "Oliver", "Emma", "Liam", "Sophia", "Noah", "Isabella", "James", "Mia", "Henry", "Charlotte",
    ];

    public static readonly string[] LastNames =
    [
        "Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira", "Lima", "Gomes",
        "Costa", "Ribeiro", "Martins", "Carvalho", "Almeida", "Lopes", "Soares", "Fernandes", "Vieira", "Barbosa",
        "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Wilson", "Taylor",
    ];

    public static readonly string[] Text =
    [
        "deliver", "before", "noon", "gift", "wrap", "fragile", "call", "customer", "on", "arrival",
        "leave", "at", "door", "second", "floor", "back", "entrance", "invoice", "attached", "priority",
        "express", "weekend", "please", "ring", "bell", "twice", "office", "hours", "only", "thanks",
    ];

    public static readonly string[] Statuses = ["pending", "paid", "shipped", "delivered", "cancelled"];

    public static readonly string[] Cities =
    [
        "Sao Paulo", "Rio de Janeiro", "Belo Horizonte", "Curitiba", "Porto Alegre", "Recife", "Salvador",
        "Lisbon", "Porto", "London", "Berlin", "New York", "Chicago", "Toronto", "Madrid", "Paris",
    ];

    public static readonly string[] Countries = ["BR", "PT", "GB", "DE", "US", "CA", "ES", "FR"];

    public static readonly string[] Currencies = ["BRL", "EUR", "GBP", "USD", "CAD"];

    public static readonly string[] Tiers = ["free", "basic", "pro", "enterprise"];

    public static readonly string[] OperatingSystems = ["android", "ios", "windows", "macos", "linux"];

    public static readonly string[] Tags =
    [
        "new", "returning", "vip", "promo", "mobile", "desktop", "referral", "organic", "paid-ads", "newsletter",
        "holiday", "clearance", "bundle", "subscription", "trial",
    ];

    /// <summary>The offsets date-times are written with; zero is written as <c>Z</c>.</summary>
    public static readonly TimeSpan[] Offsets =
    [
        TimeSpan.Zero, TimeSpan.FromHours(-3), TimeSpan.FromHours(2), new TimeSpan(5, 30, 0), TimeSpan.FromHours(-8),
    ];

    /// <summary>Space-joined words, <paramref name="min"/> to <paramref name="max"/> of them.</summary>
    public static string Sentence(ref SplitMix64 rng, int min, int max)
    {
        var count = min + rng.Below(max - min + 1);
        var words = new string[count];
        for (var i = 0; i < count; i++) words[i] = rng.Pick(Text);
        return string.Join(' ', words);
    }
}
