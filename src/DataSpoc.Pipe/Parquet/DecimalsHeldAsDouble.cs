using System.Text.Json;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Lake;

namespace DataSpoc.Pipe.Parquet;

/// <summary>
/// Decimals of more than 18 places (<c>multipleOf: 1e-20</c>, the postgres tap's <c>numeric(38,20)</c>, the parquet tap's
/// DECIMAL(38,19)) landed as DOUBLE before they landed as DECIMAL(38, s), so a table written then holds such a column as
/// DOUBLE. On a run that adds to the table, the new type would contradict its files: Delta refuses the commit, Iceberg
/// gives the column a new field id (readers then see its earlier rows as null) and plain Parquet readers meet two types
/// under one name. So a run that keeps the table's files lands a column the table holds as DOUBLE as DOUBLE when the
/// schema's decimals of more than 18 places are all that differ: its values are converted (one a double does not hold is
/// counted as landed rounded) and the run log says so per column (<see cref="RoundedNumbers.Notices"/>). A run that
/// replaces the table (<c>run --full</c>, <c>write_mode: replace</c>) is not asked: it lands the DECIMAL.
/// A computed column that gives a decimal (<c>compute: {total: "amount * 2"}</c> of a DECIMAL(38,2) amount) computed in
/// doubles and landed as DOUBLE before decimals computed exactly: it keeps the table's DOUBLE the same way, at any scale.
/// </summary>
internal static class DecimalsHeldAsDouble
{
    /// <summary>
    /// <paramref name="schema"/> (the stream's JSON Schema after transforms, from which <paramref name="decided"/> was
    /// decided) with the <c>multipleOf</c> of more than 18 places dropped from each top-level column that the table's
    /// <paramref name="tableColumns"/> hold in the type this gives it (a struct or list column only when that is so for
    /// the whole column), and every <c>multipleOf</c> dropped from each of the <paramref name="computed"/> columns that the
    /// table holds so; null when no column is such.
    /// </summary>
    public static JsonElement? Schema(JsonElement schema, ColumnSchema decided, IReadOnlyList<ManifestColumn> tableColumns, IReadOnlySet<string> computed)
    {
        int HeldAboveScale(string column) => computed.Contains(column) ? -1 : MaxDoubleScale;
        if (!decided.Root.Children.Any(c => c.Leaves.Any(l => IsDecimalAbove(l, HeldAboveScale(c.Name))))) return null;
        var held = tableColumns.GroupBy(c => c.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().Type, StringComparer.Ordinal);
        JsonObject? changed = null;
        var any = false;
        foreach (var column in decided.Root.Children)
        {
            var above = HeldAboveScale(column.Name);
            if (!column.Leaves.Any(l => IsDecimalAbove(l, above)) || !held.TryGetValue(column.Name, out var type) || type == column.ArrowType) continue;
            changed ??= JsonNode.Parse(schema.GetRawText())!.AsObject();
            var properties = changed["properties"]!.AsObject();
            var asDouble = properties[column.Name]!.DeepClone();
            DropStepsAbove(asDouble, above);
            if (ColumnSchema.ArrowTypeOf(column.Name, asDouble) != type) continue;
            properties[column.Name] = asDouble;
            any = true;
        }
        return any ? JsonElement.Parse(changed!.ToJsonString()) : null;
    }

    /// <summary>The leaves (by path) <paramref name="held"/> lands as DOUBLE where <paramref name="decided"/> had a decimal, with its scale.</summary>
    public static Dictionary<string, int> Leaves(ColumnSchema decided, ColumnSchema held)
    {
        var leaves = new Dictionary<string, int>(StringComparer.Ordinal);
        // Only kinds differ between the two (same columns, same shape): their leaves pair up in column order.
        foreach (var (before, now) in decided.Leaves.Zip(held.Leaves))
            if (before.Kind == LeafKind.Decimal && now.Kind == LeafKind.Double) leaves[now.Path] = before.Scale;
        return leaves;
    }

    /// <summary>The most decimal places a decimal column of the schema had while the ones beyond it landed as DOUBLE.</summary>
    private const int MaxDoubleScale = 18;

    private static bool IsDecimalAbove(LeafNode leaf, int scale) => leaf.Kind == LeafKind.Decimal && leaf.Scale > scale;

    /// <summary>Removes every <c>multipleOf</c> of more than <paramref name="scale"/> places in a property's schema, at any depth.</summary>
    private static void DropStepsAbove(JsonNode? node, int scale)
    {
        switch (node)
        {
            case JsonObject o:
                if (o["multipleOf"] is JsonValue step && ColumnSchema.StepScale(JsonElement.Parse(step.ToJsonString())) > scale) o.Remove("multipleOf");
                foreach (var (key, value) in o.ToList())
                    if (key is "properties" && value is JsonObject properties) foreach (var (_, property) in properties) DropStepsAbove(property, scale);
                    else if (key is "items" or "anyOf" or "oneOf") DropStepsAbove(value, scale);
                break;
            case JsonArray a:
                foreach (var item in a) DropStepsAbove(item, scale);
                break;
        }
    }
}
