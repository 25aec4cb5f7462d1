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
    /// <summary>
    /// One stream of a catalog: its <c>stream</c> name (the table folder), <c>tap_stream_id</c>, selection, keys, replication
    /// method and key, column count, and the columns the tap offers to order incremental extraction by (<c>valid-replication-keys</c>).
    /// </summary>
    public sealed record Entry(string Stream, string TapStreamId, bool Selected, IReadOnlyList<string> KeyProperties, string? ReplicationMethod,
        int PropertyCount, string? ReplicationKey = null, IReadOnlyList<string>? ReplicationKeys = null);

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
            var keys = (stream["key_properties"] as JsonArray ?? root?["table-key-properties"] as JsonArray)?
                .Select(k => k?.ToString() ?? "").ToList() ?? [];
            var method = stream["replication_method"]?.ToString() ?? root?["forced-replication-method"]?.ToString() ?? root?["replication-method"]?.ToString();
            var props = (stream["schema"]?["properties"] as JsonObject)?.Count ?? 0;
            var replicationKey = stream["replication_key"]?.ToString() ?? root?["replication-key"]?.ToString();
            var validKeys = (root?["valid-replication-keys"] as JsonArray)?.Select(k => k?.ToString() ?? "").ToList() ?? [];
            result.Add(new Entry(NameOf(stream), IdOf(stream), IsSelected(stream), keys, method, props, replicationKey, validKeys));
        }
        return result;
    }

    /// <summary>
    /// A copy of <paramref name="catalog"/> where exactly the streams named in <paramref name="selection"/> (by
    /// <c>stream</c> or <c>tap_stream_id</c>, or a glob such as <c>public-*</c> matching either) are selected, with their
    /// properties selected unless the tap marks them unsupported, and every other stream deselected. A name or glob
    /// that matches no stream is an error listing the streams the catalog has.
    /// </summary>
    public static JsonObject Select(JsonObject catalog, IReadOnlyCollection<string> selection, string? origin = null)
    {
        var copy = (JsonObject)catalog.DeepClone();
        var streams = Streams(copy).ToList();
        var missing = selection.Where(pattern => !streams.Any(s => Matches(pattern, s))).ToList();
        if (missing.Count > 0)
            throw new ConfigException(
                $"stream{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing.Select(m => $"'{m}'"))} not in the tap's catalog; it has: {Describe(streams)}",
                origin, key: "source.streams");
        foreach (var stream in streams)
            SetSelected(stream, selection.Any(pattern => Matches(pattern, stream)));
        return copy;
    }

    /// <summary>
    /// Writes <c>source.replication</c> (as <c>replication-method</c> / <c>replication-key</c> stream metadata) and
    /// <c>source.select</c> (other properties deselected, except those the tap must send) into a selected catalog, in
    /// place. A full-refresh pipeline's selected streams that name no method get <c>FULL_TABLE</c>: taps of the
    /// singer-io database family refuse to sync a stream without one. Names and columns that match nothing are errors.
    /// </summary>
    public static void Configure(JsonObject catalog, SourceDefinition source, bool fullRefresh, string? origin = null)
    {
        var streams = Streams(catalog).ToList();
        foreach (var (pattern, replication) in source.Replication)
        {
            var matched = streams.Where(s => Matches(pattern, s)).ToList();
            if (matched.Count == 0)
                throw new ConfigException($"stream '{pattern}' not in the tap's catalog; it has: {Describe(streams)}", origin, key: "source.replication." + pattern);
            foreach (var stream in matched)
            {
                if (replication.Key is { } column && !HasProperty(stream, column))
                    throw new ConfigException($"stream '{NameOf(stream)}' has no column '{column}'; it has: {string.Join(", ", PropertyNames(stream))}",
                        origin, key: $"source.replication.{pattern}.key");
                var root = EnsureRootMetadata(stream);
                root["replication-method"] = replication.Method;
                if (replication.Key is { } key) root["replication-key"] = key;
                else root.Remove("replication-key");
            }
        }
        foreach (var (pattern, columns) in source.Select)
        {
            var matched = streams.Where(s => Matches(pattern, s)).ToList();
            if (matched.Count == 0)
                throw new ConfigException($"stream '{pattern}' not in the tap's catalog; it has: {Describe(streams)}", origin, key: "source.select." + pattern);
            foreach (var stream in matched)
            {
                var unknown = columns.Where(c => !HasProperty(stream, c)).ToList();
                if (unknown.Count > 0)
                    throw new ConfigException($"stream '{NameOf(stream)}' has no column{(unknown.Count > 1 ? "s" : "")} {string.Join(", ", unknown.Select(c => $"'{c}'"))}; it has: {string.Join(", ", PropertyNames(stream))}",
                        origin, key: "source.select." + pattern);
                SelectColumns(stream, columns);
            }
        }
        if (!fullRefresh) return;
        foreach (var stream in streams.Where(IsSelected))
        {
            var root = EnsureRootMetadata(stream);
            if (root["replication-method"] is null && root["forced-replication-method"] is null) root["replication-method"] = "FULL_TABLE";
        }
    }

    /// <summary>
    /// The names a tap may put in the <c>stream</c> of its messages for the selected streams: each one's <c>stream</c> and
    /// <c>tap_stream_id</c> (singer-io taps name a stream <c>public-orders</c> in the catalog and <c>orders</c> in messages).
    /// </summary>
    public static IReadOnlySet<string> SelectedMessageNames(JsonObject catalog)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var stream in Streams(catalog).Where(IsSelected))
        {
            names.Add(NameOf(stream));
            names.Add(IdOf(stream));
        }
        return names;
    }

    /// <summary>
    /// The metadata a user writes into a catalog rather than the tap (Singer's non-discoverable keys: <c>selected</c>,
    /// <c>replication-method</c>, <c>replication-key</c>, <c>view-key-properties</c>), and their legacy stream-level forms.
    /// </summary>
    private static readonly string[] UserMetadataKeys = ["selected", "replication-method", "replication-key", "view-key-properties"];
    private static readonly string[] UserStreamKeys = ["selected", "replication_method", "replication_key"];

    /// <summary>
    /// Copies into a freshly discovered catalog, in place, what a user wrote by hand into the <paramref name="cached"/> one
    /// (<see cref="UserMetadataKeys"/>, per stream id and breadcrumb still present): the cache holds the tap's discovery as
    /// it was, so such keys there are either the tap's own (then the same in both) or an edit that must outlive a new
    /// discovery.
    /// </summary>
    public static void KeepUserMetadata(JsonObject fresh, JsonObject cached)
    {
        var before = Streams(cached).GroupBy(IdOf, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        foreach (var stream in Streams(fresh))
        {
            if (!before.TryGetValue(IdOf(stream), out var old)) continue;
            foreach (var key in UserStreamKeys)
                if (old[key] is { } value) stream[key] = value.DeepClone();
            if (old["metadata"] is not JsonArray oldMetadata) continue;
            foreach (var entry in oldMetadata.OfType<JsonObject>())
            {
                if (entry["breadcrumb"] is not JsonArray crumb || entry["metadata"] is not JsonObject md) continue;
                var kept = UserMetadataKeys.Where(k => md[k] is not null).ToList();
                if (kept.Count == 0) continue;
                JsonObject? target;
                if (crumb.Count == 0) target = EnsureRootMetadata(stream);
                else
                {
                    target = (stream["metadata"] as JsonArray)?.OfType<JsonObject>()
                        .FirstOrDefault(e => JsonNode.DeepEquals(e["breadcrumb"], crumb))?["metadata"] as JsonObject;
                    if (target is null && crumb is [_, var column] && !HasProperty(stream, column?.ToString() ?? "")) continue; // a column gone
                    if (target is null)
                    {
                        target = new JsonObject();
                        EnsureRootMetadata(stream);
                        ((JsonArray)stream["metadata"]!).Add((JsonNode)new JsonObject { ["breadcrumb"] = crumb.DeepClone(), ["metadata"] = target });
                    }
                }
                foreach (var key in kept) target[key] = md[key]!.DeepClone();
            }
        }
    }

    /// <summary>
    /// What differs between the catalog a pipeline used before (<paramref name="cached"/>) and a fresh discovery, as run-log
    /// notices: streams added or gone (saying whether the selection takes a new one), and, for each stream selected in
    /// <paramref name="selected"/> (the fresh catalog with the pipeline's selection applied), its columns added, gone or
    /// retyped. Rows landed before a new column existed in the catalog do not have it: an incremental pipeline reads them
    /// again only on a full refresh, which the notice says.
    /// </summary>
    public static List<string> Changes(JsonObject cached, JsonObject fresh, JsonObject selected, string? cachePath)
    {
        const int Shown = 20;
        static string Names(IEnumerable<string> names)
        {
            var list = names.ToList();
            return string.Join(", ", list.Take(Shown)) + (list.Count > Shown ? $" and {list.Count - Shown} more" : "");
        }
        var notices = new List<string>();
        var before = Streams(cached).GroupBy(IdOf, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        var now = Streams(selected).GroupBy(IdOf, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        var raw = Streams(fresh).GroupBy(IdOf, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        var since = cachePath is null ? "since the last discovery" : $"since the catalog cached in {cachePath}";
        var added = now.Keys.Where(id => !before.ContainsKey(id)).ToList();
        var addedSelected = added.Where(id => IsSelected(now[id])).ToList();
        var addedOther = added.Where(id => !IsSelected(now[id])).ToList();
        var gone = before.Keys.Where(id => !now.ContainsKey(id)).ToList();
        if (addedSelected.Count > 0) notices.Add($"the tap's catalog has new stream(s) {since}: {Names(addedSelected)}; selected, extracted from this run on");
        if (addedOther.Count > 0) notices.Add($"the tap's catalog has new stream(s) {since}: {Names(addedOther)}; not selected by source.streams, so not extracted");
        if (gone.Count > 0) notices.Add($"stream(s) no longer in the tap's catalog {since}: {Names(gone)}; their tables in the lake keep what earlier runs landed");
        foreach (var (id, stream) in now)
        {
            if (!IsSelected(stream) || !before.TryGetValue(id, out var old)) continue;
            var oldProps = old["schema"]?["properties"] as JsonObject ?? [];
            var newProps = raw[id]["schema"]?["properties"] as JsonObject ?? [];
            var extracted = stream["schema"]?["properties"] as JsonObject ?? [];
            var newColumns = newProps.Select(p => p.Key).Where(k => !oldProps.ContainsKey(k)).ToList();
            var goneColumns = oldProps.Select(p => p.Key).Where(k => !newProps.ContainsKey(k)).ToList();
            var retyped = newProps.Where(p => oldProps[p.Key] is { } was && !JsonNode.DeepEquals(was, p.Value))
                .Select(p => $"{p.Key} ({Change(oldProps[p.Key], p.Value)})").ToList();
            var parts = new List<string>();
            var taken = newColumns.Where(extracted.ContainsKey).ToList();
            var left = newColumns.Where(c => !extracted.ContainsKey(c)).ToList();
            if (taken.Count > 0)
                parts.Add($"new column(s) {Names(taken)}, extracted from this run on (rows landed by earlier runs do not have them; " +
                    "an incremental pipeline reads those rows again only with run --full)");
            if (left.Count > 0) parts.Add($"new column(s) {Names(left)}, not in source.select, so not extracted");
            if (goneColumns.Count > 0) parts.Add($"column(s) no longer in the catalog: {Names(goneColumns)} (null in the rows landed from now on)");
            if (retyped.Count > 0) parts.Add($"column(s) whose declared schema changed: {Names(retyped)}");
            var label = NameOf(stream) == id ? $"stream '{id}'" : $"stream '{id}' (table {NameOf(stream)})";
            if (parts.Count > 0) notices.Add($"{label}: the tap's catalog changed {since}: {string.Join("; ", parts)}");
        }
        return notices;
    }

    /// <summary>How a property schema changed: its type in a few words, or its JSON when only other keywords changed.</summary>
    private static string Change(JsonNode? before, JsonNode? after)
    {
        var (was, now) = (TypeText(before), TypeText(after));
        if (was == now) (was, now) = (Short(before), Short(after));
        return $"{was} -> {now}";
        static string Short(JsonNode? node)
        {
            var json = node?.ToJsonString() ?? "null";
            return json.Length <= 120 ? json : json[..117] + "...";
        }
    }

    /// <summary>A property schema's type in a few words (<c>["null","string"]</c> with <c>format: date-time</c> -> <c>null|string date-time</c>).</summary>
    private static string TypeText(JsonNode? schema)
    {
        var type = schema?["type"] switch
        {
            JsonArray types => string.Join("|", types.Select(t => t?.ToString())),
            { } one => one.ToString(),
            null => schema?["anyOf"] is not null ? "anyOf" : "any",
        };
        return schema?["format"] is { } format ? $"{type} {format}" : schema?["multipleOf"] is { } step ? $"{type} multipleOf {step.ToJsonString()}" : type;
    }

    /// <summary>
    /// Whether <c>source.streams</c> (<paramref name="selection"/>) selects the stream <paramref name="stream"/> whose
    /// <c>tap_stream_id</c> is <paramref name="tapStreamId"/>: an entry naming either, or a glob matching either.
    /// </summary>
    public static bool Selects(IEnumerable<string> selection, string stream, string tapStreamId) =>
        selection.Any(pattern => Matches(pattern, stream, tapStreamId));

    private static bool Matches(string pattern, JsonObject stream) => Matches(pattern, NameOf(stream), IdOf(stream));

    private static bool Matches(string pattern, string stream, string tapStreamId) =>
        System.IO.Enumeration.FileSystemName.MatchesSimpleExpression(pattern, stream, ignoreCase: false)
        || System.IO.Enumeration.FileSystemName.MatchesSimpleExpression(pattern, tapStreamId, ignoreCase: false);

    private static string Describe(List<JsonObject> streams) =>
        string.Join(", ", streams.Select(s => NameOf(s) == IdOf(s) ? NameOf(s) : $"{IdOf(s)} (stream {NameOf(s)})").Distinct());

    private static bool IsSelected(JsonObject stream) =>
        RootMetadata(stream)?["selected"]?.GetValueKind() == JsonValueKind.True || stream["selected"]?.GetValueKind() == JsonValueKind.True;

    private static IEnumerable<string> PropertyNames(JsonObject stream) =>
        (stream["schema"]?["properties"] as JsonObject)?.Select(p => p.Key) ?? [];

    private static bool HasProperty(JsonObject stream, string column) => PropertyNames(stream).Contains(column, StringComparer.Ordinal);

    /// <summary>
    /// Marks the listed properties selected and every other one unselected, except those the tap always sends
    /// (<c>inclusion: automatic</c>) and the stream's replication key (an incremental sync orders by it and bookmarks its
    /// last value), and removes the unselected ones from the stream's schema: taps of the singer-io family query only
    /// selected columns but send the catalog's schema as their SCHEMA message, which would otherwise declare every
    /// deselected column as an always-null one.
    /// </summary>
    private static void SelectColumns(JsonObject stream, IReadOnlyList<string> columns)
    {
        var wanted = new HashSet<string>(columns, StringComparer.Ordinal);
        if ((stream["replication_key"] ?? RootMetadata(stream)?["replication-key"])?.ToString() is { } replicationKey
            && (stream["replication_method"] ?? RootMetadata(stream)?["replication-method"] ?? RootMetadata(stream)?["forced-replication-method"])?.ToString() != "FULL_TABLE")
            wanted.Add(replicationKey);
        var properties = stream["schema"]?["properties"] as JsonObject;
        foreach (var entry in ((JsonArray)stream["metadata"]!).OfType<JsonObject>())
        {
            if (entry["breadcrumb"] is not JsonArray { Count: 2 } crumb || crumb[0]?.ToString() != "properties") continue;
            if (entry["metadata"] is not JsonObject md) entry["metadata"] = md = new JsonObject();
            var name = crumb[1]?.ToString() ?? "";
            if (md["inclusion"]?.ToString() == "automatic" || wanted.Contains(name))
            {
                md["selected"] = true;
                continue;
            }
            md["selected"] = false;
            properties?.Remove(name);
        }
    }

    /// <summary>
    /// Refuses a selection where two streams send their messages under one <c>stream</c> name (tap-postgres names the
    /// table <c>orders</c> of every database and schema <c>orders</c>): their records could not be told apart and would
    /// land mixed in one table.
    /// </summary>
    public static void CheckDistinctNames(JsonObject catalog, string? origin = null)
    {
        var clash = Streams(catalog).Where(IsSelected).GroupBy(NameOf, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (clash is null) return;
        throw new ConfigException(
            $"the selected streams {string.Join(", ", clash.Select(s => $"'{IdOf(s)}'"))} all send their records as stream '{clash.Key}', so they " +
            "would land mixed in one table; select one of them by its id in source.streams (or narrow the tap's config, e.g. tap-postgres' filter_dbs)",
            origin, key: "source.streams");
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
        EnsureRootMetadata(stream)["selected"] = on;
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

    private static JsonObject EnsureRootMetadata(JsonObject stream)
    {
        if (stream["metadata"] is not JsonArray metadata) stream["metadata"] = metadata = [];
        if (RootMetadata(stream) is { } root) return root;
        root = new JsonObject();
        metadata.Add((JsonNode)new JsonObject { ["breadcrumb"] = new JsonArray(), ["metadata"] = root });
        return root;
    }

    private static IEnumerable<JsonObject> Streams(JsonObject catalog) => (catalog["streams"] as JsonArray ?? []).OfType<JsonObject>();

    private static string NameOf(JsonObject stream) => stream["stream"]?.ToString() ?? stream["tap_stream_id"]?.ToString() ?? "";

    private static string IdOf(JsonObject stream) => stream["tap_stream_id"]?.ToString() ?? NameOf(stream);

    private static JsonObject? RootMetadata(JsonObject stream) =>
        (stream["metadata"] as JsonArray)?.OfType<JsonObject>()
            .FirstOrDefault(e => e["breadcrumb"] is JsonArray { Count: 0 })?["metadata"] as JsonObject;
}
