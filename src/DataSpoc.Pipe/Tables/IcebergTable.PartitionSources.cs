using System.Text.Json.Nodes;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Tables;

/// <summary>
/// Keeps every partition spec of the metadata bound to the current schema. Java Iceberg (Spark, Trino, Flink) binds each
/// spec in <c>partition-specs</c> to the current schema when it loads a table and refuses the whole table when a spec's
/// <c>source-id</c> is not there ("Cannot find source column for partition field"), so a spec over a column the table's
/// schema no longer has (its type changed, which gives it a new id, or a replace dropped it) must not stay.
/// </summary>
internal sealed partial class IcebergTable
{
    /// <summary>
    /// Refuses, when the run plans its commit (before anything is written), a commit that would leave live data files
    /// under a partition spec whose source column the table's schema after the commit lacks (an append or merge that
    /// changes the partition column's type while files partitioned by it stay). No valid metadata holds both: the spec
    /// must stay while files use it, and must bind to the current schema. A replace keeps no earlier file and takes it.
    /// </summary>
    public async Task CheckPartitionSourcesAsync(TableMetadataCommit commit, string stream, CancellationToken cancellationToken)
    {
        if (commit.Operation == TableMetadataCommit.Overwrite) return;
        var (_, current) = await LoadCurrentAsync(commit.Prefix, cancellationToken).ConfigureAwait(false);
        if (current is null || CurrentSnapshot(current)?["manifest-list"]?.GetValue<string>() is not { } list) return;
        var currentFields = CurrentSchema(current)["fields"]!.AsArray();
        var after = commit.FieldsKeepingEarlier(commit.Schema["fields"]!.AsArray(), currentFields);
        var unbound = UnboundSpecSources(current, after);
        if (unbound.Count == 0) return;

        var removed = commit.Removed.ToHashSet(StringComparer.Ordinal);
        var listKey = KeyOf(commit, list);
        var stored = await store.GetAsync(listKey, cancellationToken).ConfigureAwait(false)
            ?? throw new StorageException($"{store.Bucket}/{listKey} (the current snapshot's manifest list) is missing");
        var kept = 0;
        var sources = new HashSet<int>();
        foreach (var entry in IcebergManifests.ReadList(stored.Content.Span, $"{store.Bucket}/{listKey}"))
        {
            if (!unbound.TryGetValue(entry.SpecId, out var sourceIds)) continue;
            var manifestKey = KeyOf(commit, entry.Path);
            var manifest = await store.GetAsync(manifestKey, cancellationToken).ConfigureAwait(false)
                ?? throw new StorageException($"{store.Bucket}/{manifestKey} (a manifest of the current snapshot) is missing");
            var files = IcebergManifests.LiveFilePaths(manifest.Content.Span, $"{store.Bucket}/{manifestKey}").Count(p => !removed.Contains(KeyOf(commit, p)));
            if (files == 0) continue;
            kept += files;
            sources.UnionWith(sourceIds);
        }
        if (kept == 0) return;
        var changes = sources.Order().Select(id =>
        {
            var old = currentFields.First(f => f!["id"]!.GetValue<int>() == id)!;
            var name = old["name"]!.GetValue<string>();
            var now = after.FirstOrDefault(f => f!["name"]!.GetValue<string>() == name)?["type"];
            return $"'{name}' {TypeText(old["type"]!)} -> {(now is null ? "dropped" : TypeText(now))}";
        });
        throw new TableChangeException($"stream '{stream}': the Iceberg table {commit.Location} keeps {kept} live data file(s) partitioned by column(s) " +
            $"{string.Join(", ", changes)}: the changed column gets a new field id, and the partition spec of those files would then name a column " +
            "the table's schema no longer has, which Java Iceberg engines (Spark, Trino, Flink) refuse to load. Nothing was written; a full refresh " +
            "(run --full, or write_mode: replace) rewrites the whole table with the column's new type");

        static string TypeText(JsonNode type) => type is JsonValue v ? v.GetValue<string>() : type["type"]?.GetValue<string>() ?? type.ToJsonString();
    }

    /// <summary>
    /// Removes from <paramref name="metadata"/> the partition specs a source column of which <paramref name="schema"/> (the
    /// schema the commit makes current) lacks; the snapshot's manifests (<paramref name="live"/>) must use none of them
    /// (<see cref="CheckPartitionSourcesAsync"/> refused such a run). Iceberg's own writers remove unused specs
    /// (<c>remove-partition-specs</c>) the same way. An earlier snapshot whose manifests use a removed spec can no longer
    /// be read by time travel, but with the spec kept no snapshot of the table could be read by a Java engine.
    /// </summary>
    private static void DropUnboundSpecs(JsonObject metadata, JsonObject schema, IEnumerable<IcebergManifests.ListEntry> live)
    {
        var unbound = UnboundSpecSources(metadata, schema["fields"]!.AsArray());
        if (unbound.Count == 0) return;
        if (live.FirstOrDefault(e => unbound.ContainsKey(e.SpecId)) is { } used)
            throw new StorageException($"Iceberg table {metadata["location"]}: manifest {used.Path} keeps data files under partition spec {used.SpecId}, " +
                $"whose source column(s) {string.Join(", ", unbound[used.SpecId])} the table's schema no longer has; no snapshot was written");
        var specs = metadata["partition-specs"]!.AsArray();
        foreach (var spec in specs.Where(s => unbound.ContainsKey(s!["spec-id"]!.GetValue<int>())).ToList()) specs.Remove(spec);
    }

    /// <summary>The specs of <paramref name="metadata"/> with a source column <paramref name="fields"/> lacks (by id), with those ids.</summary>
    private static Dictionary<int, List<int>> UnboundSpecSources(JsonObject metadata, JsonArray fields)
    {
        var ids = fields.Select(f => f!["id"]!.GetValue<int>()).ToHashSet();
        var unbound = new Dictionary<int, List<int>>();
        foreach (var spec in metadata["partition-specs"]!.AsArray())
        {
            List<int> missing = [.. spec!["fields"]!.AsArray().Select(f => f!["source-id"]!.GetValue<int>()).Where(id => !ids.Contains(id))];
            if (missing.Count > 0) unbound[spec["spec-id"]!.GetValue<int>()] = missing;
        }
        return unbound;
    }

    private static JsonObject CurrentSchema(JsonObject metadata) =>
        metadata["schemas"]!.AsArray().First(s => s!["schema-id"]!.GetValue<int>() == metadata["current-schema-id"]!.GetValue<int>())!.AsObject();
}
