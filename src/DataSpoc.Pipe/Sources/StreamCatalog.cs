using System.Text.Json;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;

namespace DataSpoc.Pipe.Sources;

/// <summary>
/// Singer catalog handling for <c>source.streams</c>: reads a tap's <c>--discover</c> output, lists its streams, and
/// marks the chosen ones selected (the stream's breadcrumb-<c>[]</c> metadata <c>selected: true</c>, plus the legacy
/// <c>selected</c> flags that <c>--properties</c> taps read). Pure functions: no process, no file.
/// </summary>
public static class StreamCatalog
{
    /// <summary>One stream of a catalog.</summary>
    public sealed record Entry(string Stream, string TapStreamId, bool Selected, IReadOnlyList<string> KeyProperties, string? ReplicationMethod, int PropertyCount);

    /// <summary>Parses catalog JSON (<c>{"streams":[...]}</c>); <paramref name="origin"/> names it in errors.</summary>
    public static JsonObject Parse(string json, string origin)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(json);
        }
        catch (JsonException e)
        {
            throw new ConfigException($"the tap's catalog is not valid JSON: {e.Message}", origin, (int?)(e.LineNumber + 1));
        }
        if (node is not JsonObject obj || obj["streams"] is not JsonArray)
            throw new ConfigException("the tap's catalog has no \"streams\" list", origin);
        return obj;
    }

    /// <summary>The streams of a catalog with their current selection.</summary>
    public static IReadOnlyList<Entry> List(JsonObject catalog)
    {
        var result = new List<Entry>();
        foreach (var stream in Streams(catalog))
        {
            var root = RootMetadata(stream);
            var selected = root?["selected"]?.GetValueKind() == JsonValueKind.True || stream["selected"]?.GetValueKind() == JsonValueKind.True;
            var keys = (stream["key_properties"] as JsonArray ?? root?["table-key-properties"] as JsonArray)?
                .Select(k => k?.ToString() ?? "").ToList() ?? [];
            var method = stream["replication_method"]?.ToString() ?? root?["forced-replication-method"]?.ToString() ?? root?["replication-method"]?.ToString();
            var props = (stream["schema"]?["properties"] as JsonObject)?.Count ?? 0;
            result.Add(new Entry(NameOf(stream), IdOf(stream), selected, keys, method, props));
        }
        return result;
    }

    /// <summary>
    /// A copy of <paramref name="catalog"/> where exactly the streams named in <paramref name="selection"/> (by
    /// <c>stream</c> or <c>tap_stream_id</c>) are selected, with their properties selected unless the tap marks
    /// them unsupported, and every other stream deselected. A name the catalog does not have is an error listing
    /// the streams it has.
    /// </summary>
    public static JsonObject Select(JsonObject catalog, IReadOnlyCollection<string> selection, string? origin = null)
    {
        var copy = (JsonObject)catalog.DeepClone();
        var streams = Streams(copy).ToList();
        var known = new HashSet<string>(StringComparer.Ordinal);
        foreach (var s in streams)
        {
            known.Add(NameOf(s));
            known.Add(IdOf(s));
        }
        var missing = selection.Where(n => !known.Contains(n)).ToList();
        if (missing.Count > 0)
            throw new ConfigException(
                $"stream{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing.Select(m => $"'{m}'"))} not in the tap's catalog; it has: {string.Join(", ", streams.Select(NameOf).Distinct())}",
                origin, key: "source.streams");
        var wanted = new HashSet<string>(selection, StringComparer.Ordinal);
        foreach (var stream in streams)
        {
            var on = wanted.Contains(NameOf(stream)) || wanted.Contains(IdOf(stream));
            SetSelected(stream, on);
        }
        return copy;
    }

    private static void SetSelected(JsonObject stream, bool on)
    {
        stream["selected"] = on;
        if (stream["schema"] is JsonObject schema) schema["selected"] = on;
        if (stream["metadata"] is not JsonArray metadata)
        {
            metadata = [];
            stream["metadata"] = metadata;
        }
        var root = RootMetadata(stream);
        if (root is null)
        {
            root = new JsonObject();
            metadata.Add((JsonNode)new JsonObject { ["breadcrumb"] = new JsonArray(), ["metadata"] = root });
        }
        root["selected"] = on;
        if (!on) return;
        // Taps differ on whether an unmarked property is synced; a selected stream means all its columns.
        var propertyEntries = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in metadata.OfType<JsonObject>())
        {
            if (entry["breadcrumb"] is not JsonArray { Count: 2 } crumb || crumb[0]?.ToString() != "properties") continue;
            propertyEntries.Add(crumb[1]?.ToString() ?? "");
            if (entry["metadata"] is not JsonObject md) entry["metadata"] = md = new JsonObject();
            if (md["inclusion"]?.ToString() != "unsupported" && md["selected"] is null) md["selected"] = true;
        }
        if (stream["schema"]?["properties"] is JsonObject properties)
            foreach (var (name, _) in properties)
                if (!propertyEntries.Contains(name))
                    metadata.Add((JsonNode)new JsonObject
                    {
                        ["breadcrumb"] = new JsonArray("properties", name),
                        ["metadata"] = new JsonObject { ["selected"] = true },
                    });
    }

    private static IEnumerable<JsonObject> Streams(JsonObject catalog) => (catalog["streams"] as JsonArray ?? []).OfType<JsonObject>();

    private static string NameOf(JsonObject stream) => stream["stream"]?.ToString() ?? stream["tap_stream_id"]?.ToString() ?? "";

    private static string IdOf(JsonObject stream) => stream["tap_stream_id"]?.ToString() ?? NameOf(stream);

    private static JsonObject? RootMetadata(JsonObject stream) =>
        (stream["metadata"] as JsonArray)?.OfType<JsonObject>()
            .FirstOrDefault(e => e["breadcrumb"] is JsonArray { Count: 0 })?["metadata"] as JsonObject;
}
