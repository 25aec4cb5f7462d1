using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// Reads and writes Singer catalogs: <c>{"streams":[{"tap_stream_id","stream","schema","metadata":[...]}]}</c>.
/// Without a catalog every stream is selected; with one, a stream is synced when its top-level metadata says
/// <c>selected: true</c> (or, lacking <c>selected</c>, <c>selected-by-default: true</c>).
/// </summary>
internal sealed class TapCatalog
{
    private readonly Dictionary<string, JsonObject>? _streamMetadata;
    private readonly Dictionary<string, HashSet<string>> _deselected = new(StringComparer.Ordinal);

    public TapCatalog(JsonObject? catalog)
    {
        if (catalog is null) return;
        _streamMetadata = new(StringComparer.Ordinal);
        if (catalog["streams"] is not JsonArray streams) throw new TapException("catalog has no 'streams' array");
        foreach (var entry in streams.OfType<JsonObject>())
        {
            var id = (entry["tap_stream_id"] ?? entry["stream"])?.GetValue<string>()
                     ?? throw new TapException("catalog stream entry has neither 'tap_stream_id' nor 'stream'");
            _streamMetadata[id] = TopLevelMetadata(entry) ?? new JsonObject();
            _deselected[id] = DeselectedProperties(entry);
        }
    }

    public bool HasCatalog => _streamMetadata is not null;

    public bool IsSelected(string streamId)
    {
        if (_streamMetadata is null) return true;
        if (!_streamMetadata.TryGetValue(streamId, out var metadata)) return false;
        if (metadata["selected"] is JsonValue selected) return selected.GetValueKind() == JsonValueKind.True;
        return metadata["selected-by-default"] is JsonValue byDefault && byDefault.GetValueKind() == JsonValueKind.True;
    }

    /// <summary>
    /// Whether the catalog leaves column <paramref name="property"/> of a stream out (<c>source.select</c> marks the
    /// columns it does not list so): its breadcrumb metadata says <c>selected: false</c> (or, lacking <c>selected</c>,
    /// <c>selected-by-default: false</c>) or <c>inclusion: unsupported</c>, and not <c>inclusion: automatic</c>. A
    /// column the catalog does not mention (one added since discovery) is read, as without a catalog. The tap itself
    /// keeps the columns it must send (the key, the replication key) whatever the catalog says.
    /// </summary>
    public bool IsDeselected(string streamId, string property)
        => _deselected.TryGetValue(streamId, out var names) && names.Contains(property);

    /// <summary>
    /// Whether a built-in tap reads column <paramref name="property"/> of a stream: the catalog does not leave it out, or
    /// it is one the tap must send whatever the catalog says (<paramref name="mustSend"/>: the key, the replication key).
    /// </summary>
    public bool Extracts(string streamId, string property, IEnumerable<string> mustSend)
        => !IsDeselected(streamId, property) || mustSend.Contains(property, StringComparer.Ordinal);

    /// <summary>Every column of a stream the catalog leaves out (<see cref="IsDeselected"/>).</summary>
    public IReadOnlySet<string> Deselected(string streamId)
        => _deselected.TryGetValue(streamId, out var names) ? names : EmptyNames;

    private static readonly HashSet<string> EmptyNames = [];

    private static HashSet<string> DeselectedProperties(JsonObject entry)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in (entry["metadata"] as JsonArray ?? []).OfType<JsonObject>())
        {
            if (item["breadcrumb"] is not JsonArray { Count: 2 } crumb || crumb[0]?.ToString() != "properties" || item["metadata"] is not JsonObject m) continue;
            var inclusion = m["inclusion"]?.ToString();
            if (inclusion == "automatic") continue;
            var selected = m["selected"] is JsonValue s ? s.GetValueKind() == JsonValueKind.True
                : m["selected-by-default"] is not JsonValue d || d.GetValueKind() != JsonValueKind.False;
            if (!selected || inclusion == "unsupported") names.Add(crumb[1]?.ToString() ?? "");
        }
        return names;
    }

    /// <summary>A top-level metadata string for a stream (e.g. <c>replication-key</c>), or null.</summary>
    public string? Metadata(string streamId, string key)
        => _streamMetadata is not null && _streamMetadata.TryGetValue(streamId, out var m) && m[key] is JsonValue v && v.GetValueKind() == JsonValueKind.String
            ? v.GetValue<string>()
            : null;

    /// <summary>One catalog entry for discovery output, selected by default.</summary>
    public static JsonObject Entry(string streamId, string streamName, JsonObject schema, IReadOnlyList<string> keyProperties,
        JsonObject? extraStreamMetadata = null, IReadOnlyDictionary<string, JsonObject>? propertyMetadata = null)
    {
        var top = new JsonObject
        {
            ["selected"] = true,
            ["selected-by-default"] = true,
            ["inclusion"] = "available",
            ["table-key-properties"] = new JsonArray(keyProperties.Select(k => (JsonNode?)k).ToArray()),
        };
        if (extraStreamMetadata is not null)
            foreach (var (k, v) in extraStreamMetadata) top[k] = v?.DeepClone();
        var metadata = new JsonArray { (JsonNode)new JsonObject { ["breadcrumb"] = new JsonArray(), ["metadata"] = top } };
        if (schema["properties"] is JsonObject properties)
        {
            foreach (var (name, _) in properties)
            {
                var m = new JsonObject
                {
                    ["inclusion"] = keyProperties.Contains(name) ? "automatic" : "available",
                    ["selected-by-default"] = true,
                };
                if (propertyMetadata is not null && propertyMetadata.TryGetValue(name, out var extra))
                    foreach (var (k, v) in extra) m[k] = v?.DeepClone();
                metadata.Add((JsonNode)new JsonObject { ["breadcrumb"] = new JsonArray("properties", name), ["metadata"] = m });
            }
        }
        return new JsonObject
        {
            ["tap_stream_id"] = streamId,
            ["stream"] = streamName,
            ["schema"] = schema.DeepClone(),
            ["key_properties"] = new JsonArray(keyProperties.Select(k => (JsonNode?)k).ToArray()),
            ["metadata"] = metadata,
        };
    }

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Writes <c>{"streams":[...]}</c> as one JSON document followed by a newline.</summary>
    public static async Task WriteAsync(IEnumerable<JsonObject> entries, Stream output, CancellationToken cancellationToken)
    {
        var catalog = new JsonObject { ["streams"] = new JsonArray(entries.Select(e => (JsonNode?)e).ToArray()) };
        var bytes = Encoding.UTF8.GetBytes(catalog.ToJsonString(Indented));
        await output.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        await output.WriteAsync("\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private static JsonObject? TopLevelMetadata(JsonObject entry)
    {
        if (entry["metadata"] is not JsonArray metadata) return null;
        foreach (var item in metadata.OfType<JsonObject>())
            if (item["breadcrumb"] is JsonArray { Count: 0 } && item["metadata"] is JsonObject m) return m;
        return null;
    }
}
