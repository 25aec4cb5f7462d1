using System.Text.Json.Nodes;
using DataSpoc.Pipe.Parquet;

namespace DataSpoc.Pipe.Tables;

/// <summary>Which changes of its schema and partitioning a Delta table (no table features) takes from a run.</summary>
internal sealed partial class DeltaTable
{
    /// <summary>
    /// Refuses, when the run plans its commit (before anything is written), a commit whose log entry would contradict
    /// data files the table keeps. The protocol ("Consistency Between Table Metadata and Data Files") requires every
    /// data file column in the schema to have the schema's type (other types only with the typeWidening feature, which
    /// this writer does not use) and every file to have a value for every partition column. So, on a table that keeps
    /// live files (an append, or a merge that leaves some files as they are), a column of another type than the table
    /// schema's and another partitioning are refused; a replace (<c>--full</c>, <c>write_mode: replace</c>) rewrites
    /// the table and takes both. A nested field added or dropped is no type change: a file without it reads it as null.
    /// The run's own files must agree with each other too (a SCHEMA that changes a column's type mid-run).
    /// </summary>
    public async Task CheckChangeAsync(TableMetadataCommit commit, string stream, IEnumerable<ColumnSchema> fileSchemas, CancellationToken cancellationToken)
    {
        var partitionColumn = PartitionColumn(commit);
        var run = TableJson.Parse(SchemaString(commit, partitionColumn, previousMeta: null))!;
        var inRun = new List<string>();
        foreach (var schema in fileSchemas)
            TypeChanges(new JsonObject { ["type"] = "struct", ["fields"] = new JsonArray([.. schema.Root.Children.Select(c => (JsonNode)new JsonObject
            {
                ["name"] = c.Name,
                ["type"] = TypeOf(IcebergSchema.TypeOf(c, includeIds: false)),
            })]) }, run, null, inRun);
        if (inRun.Count > 0)
            throw new TableChangeException($"stream '{stream}': a SCHEMA message changed column(s) {string.Join(", ", inRun.Distinct())} after files of this run were " +
                $"written, and the Delta table {commit.Location} cannot hold both: the Delta protocol (without table features) requires every file to hold a column " +
                "in the table schema's type. Nothing was written; send each column in one type per run (or use table_format: iceberg, which gives the changed column a new field id)");
        if (commit.Operation == TableMetadataCommit.Overwrite) return;

        var latest = await LatestVersionAsync(commit.Prefix, cancellationToken).ConfigureAwait(false);
        if (latest < 0) return;
        var (_, metaData) = await LatestCommitContextAsync(commit.Prefix, latest, runId: null, cancellationToken).ConfigureAwait(false);
        if (metaData?["schemaString"]?.GetValue<string>() is not { } schemaString) return;
        var changes = new List<string>();
        TypeChanges(TableJson.Parse(schemaString)!, run, null, changes);
        List<string> before = [.. metaData["partitionColumns"]?.AsArray().Select(c => c!.GetValue<string>()) ?? []];
        List<string> after = partitionColumn is null ? [] : [partitionColumn];
        var repartitioned = !before.SequenceEqual(after, StringComparer.Ordinal);
        if (changes.Count == 0 && !repartitioned) return;
        // Only the files the table keeps matter: a merge's commit removes the ones it rewrote.
        var live = await LiveFilesAsync(commit.Prefix, latest, cancellationToken).ConfigureAwait(false);
        var removed = commit.Removed.Select(k => RelativePath(k[commit.Prefix.Length..])).ToHashSet(StringComparer.Ordinal);
        var kept = live.Keys.Count(p => !removed.Contains(p));
        if (kept == 0) return;

        var problems = new List<string>();
        if (changes.Count > 0)
            problems.Add($"the run changes column(s) {string.Join(", ", changes)} (without the typeWidening table feature the Delta protocol requires " +
                "every file to hold a column in the table schema's type)");
        if (repartitioned)
            problems.Add($"the table is {Partitioning(before)} and partition_by: {commit.PartitionBy} would make it {Partitioning(after)}" +
                (after.Count == 0 && commit.PartitionBy is not (Config.PartitionBySettings.None or Config.PartitionBySettings.ExtractionDate) ? " (Delta cannot partition by a date-time column's day)" : "") +
                " (the protocol requires every file to have a value for every partition column)");
        throw new TableChangeException($"stream '{stream}': the Delta table {commit.Location} keeps {kept} live file(s) that this run's commit would contradict: " +
            $"{string.Join("; ", problems)}. Nothing was written; a full refresh (run --full, or write_mode: replace) rewrites the whole table with the run's types and partitioning");

        static string Partitioning(List<string> columns) => columns.Count == 0 ? "unpartitioned" : $"partitioned by '{string.Join("', '", columns)}'";
    }

    /// <summary>
    /// Adds to <paramref name="changes"/> each column of <paramref name="table"/> whose type <paramref name="run"/> (Delta
    /// types) declares otherwise, as <c>'v' long -> string</c> (a struct's fields and a list's element compared in turn,
    /// <c>'v.x'</c>, <c>'tags[]'</c>). A field only one of them has is no change.
    /// </summary>
    private static void TypeChanges(JsonNode table, JsonNode run, string? path, List<string> changes)
    {
        if (table is JsonObject t && run is JsonObject r && Kind(t) == Kind(r))
        {
            if (Kind(t) == "array")
            {
                TypeChanges(t["elementType"]!, r["elementType"]!, path + "[]", changes);
                return;
            }
            var runFields = r["fields"]!.AsArray().ToDictionary(f => f!["name"]!.GetValue<string>(), f => f!["type"]!, StringComparer.Ordinal);
            foreach (var field in t["fields"]!.AsArray())
            {
                var name = field!["name"]!.GetValue<string>();
                if (runFields.TryGetValue(name, out var runType)) TypeChanges(field["type"]!, runType, path is null ? name : path + "." + name, changes);
            }
            return;
        }
        if (!JsonNode.DeepEquals(table, run)) changes.Add($"'{path}' {Text(table)} -> {Text(run)}");

        static string Kind(JsonObject type) => type["type"]!.GetValue<string>();
        static string Text(JsonNode type) => type switch
        {
            JsonValue v => v.GetValue<string>(),
            JsonObject o when Kind(o) == "array" => $"array<{Text(o["elementType"]!)}>",
            JsonObject o => $"struct<{string.Join(", ", o["fields"]!.AsArray().Select(f => f!["name"]!.GetValue<string>() + ": " + Text(f["type"]!)))}>",
            _ => type.ToJsonString(),
        };
    }
}

/// <summary>
/// A run whose commit the table cannot take as it is (a Delta table's column type or partitioning changed while it keeps
/// files written the old way). It fails when the run plans its commit, so nothing is written.
/// </summary>
public sealed class TableChangeException(string message) : PipeException(message);
