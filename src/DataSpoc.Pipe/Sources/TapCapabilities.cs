using System.Text.Json;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;

namespace DataSpoc.Pipe.Sources;

/// <summary>
/// What a tap command accepts, as it says itself: whether it can <c>--discover</c> a catalog, and the flag(s) it reads a
/// catalog from. Taps of the singer-python family list both <c>--catalog</c> and <c>--properties</c> but each reads only
/// one of them (singer-io tap-postgres reads <c>--properties</c>, most newer taps <c>--catalog</c>), so such a tap gets
/// the catalog under both; a Meltano SDK tap knows only <c>--catalog</c> and refuses an unknown flag.
/// </summary>
/// <param name="Tap">The tap command the answer is for (a changed command asks again).</param>
/// <param name="CanDiscover">Whether the tap lists <c>--discover</c> (or the <c>discover</c> capability).</param>
/// <param name="CatalogFlags">The flags the catalog file is passed with, in this order.</param>
/// <param name="Origin">How it was found out: <c>--help</c>, <c>--about</c>, <c>source.catalog_flag</c>, <c>built-in</c> or <c>none</c>.</param>
public sealed record TapCapabilities(string Tap, bool CanDiscover, IReadOnlyList<string> CatalogFlags, string Origin)
{
    /// <summary>
    /// How long a tap may take to answer <c>--help</c> or <c>--about</c> before it counts as not answering: a tap prints
    /// its usage in a second or two (a Python tap's imports on a cold disk take a few more), so one still busy after 15 s
    /// ignores the flag (it blocks, or extracts); a slow tap taken for one that cannot discover would be cached so. Never
    /// longer than the pipeline's own <c>source.idle_timeout</c> or <c>source.timeout</c>: the question must not cost a
    /// run more than its tap would be allowed to sit silent.
    /// </summary>
    public static TimeSpan AnswerTimeoutFor(SourceDefinition source) =>
        new[] { TimeSpan.FromSeconds(15), source.IdleTimeout ?? TimeSpan.MaxValue, source.Timeout ?? TimeSpan.MaxValue }.Min();

    /// <summary>What validate and <c>streams</c> say of a tap that cannot discover.</summary>
    public const string RunsWithoutCatalog = "the tap does not list --discover, so it runs without a catalog and sends what it sends";

    /// <summary>
    /// Set only on a fresh answer that the run log should mention (the tap did not answer in time); neither cached nor
    /// remembered, so only the run that paid for the question says so.
    /// </summary>
    public string? Notice { get; init; }

    /// <summary>
    /// The most of a tap's answer to <c>--help</c> or <c>--about</c> that is read (1 Mi characters): help texts are a few
    /// KiB; a tap that prints more ignores its arguments and is extracting, which its first line already shows.
    /// </summary>
    public const int AnswerMaxChars = 1 << 20;

    /// <summary>The catalog flags as one word for people: <c>--properties</c>, <c>--catalog</c> or <c>--properties and --catalog</c>.</summary>
    public string FlagsText => string.Join(" and ", CatalogFlags);

    /// <summary>What a tap's <c>--help</c> text says; null when it names none of the Singer flags (not a usage text).</summary>
    public static TapCapabilities? FromHelp(string tap, string text)
    {
        var discover = text.Contains("--discover", StringComparison.Ordinal);
        var catalog = text.Contains("--catalog", StringComparison.Ordinal);
        var properties = text.Contains("--properties", StringComparison.Ordinal);
        if (!discover && !catalog && !properties) return null;
        return new TapCapabilities(tap, discover, Flags(catalog, properties), "--help");
    }

    /// <summary>What a Singer SDK tap's <c>--about --format=json</c> says (its <c>capabilities</c> list); null when it is not that JSON.</summary>
    public static TapCapabilities? FromAbout(string tap, string json)
    {
        JsonNode? about;
        try { about = JsonNode.Parse(json); }
        catch (JsonException) { return null; }
        if (about?["capabilities"] is not JsonArray list) return null;
        var capabilities = list.Select(c => c?.ToString() ?? "").ToHashSet(StringComparer.Ordinal);
        return new TapCapabilities(tap, capabilities.Contains("discover"), Flags(capabilities.Contains("catalog"), capabilities.Contains("properties")), "--about");
    }

    /// <summary>A tap that answers neither question: it cannot discover, and a catalog (if one is needed) goes by <c>--catalog</c>.</summary>
    public static TapCapabilities Unknown(string tap) => new(tap, false, [Config.CatalogFlags.Catalog], "none");

    /// <summary>The answer with <c>source.catalog_flag</c> applied when it names a flag.</summary>
    public TapCapabilities WithOverride(string catalogFlag) =>
        catalogFlag == Config.CatalogFlags.Auto ? this : this with { CatalogFlags = [catalogFlag], Origin = "source.catalog_flag" };

    private static string[] Flags(bool catalog, bool properties) => (catalog, properties) switch
    {
        (true, true) => [Config.CatalogFlags.Properties, Config.CatalogFlags.Catalog],
        (false, true) => [Config.CatalogFlags.Properties],
        _ => [Config.CatalogFlags.Catalog],
    };

    internal JsonObject ToJson() => new()
    {
        ["tap"] = Tap,
        ["can_discover"] = CanDiscover,
        ["catalog_flags"] = new JsonArray(CatalogFlags.Select(f => (JsonNode)JsonValue.Create(f)).ToArray()),
        ["origin"] = Origin,
    };

    internal static TapCapabilities? FromJson(JsonNode? node)
    {
        if (node is not JsonObject o || o["tap"]?.ToString() is not { } tap || o["catalog_flags"] is not JsonArray flags) return null;
        return new TapCapabilities(tap, o["can_discover"]?.GetValueKind() == JsonValueKind.True,
            flags.Select(f => f?.ToString() ?? "").Where(f => f.Length > 0).ToList(), o["origin"]?.ToString() ?? "cache");
    }
}
