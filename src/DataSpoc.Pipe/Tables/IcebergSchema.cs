using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Parquet;

namespace DataSpoc.Pipe.Tables;

/// <summary>
/// A stream's columns as an Iceberg schema (Appendix C's JSON) and the table's partition spec. Every column is
/// optional (the Parquet files write every column optional). Types: integer -> long, number -> double or
/// decimal(38, s), boolean, string (JSON text too), date-time -> timestamptz, date, time.
/// </summary>
internal static class IcebergSchema
{
    public const int FirstPartitionFieldId = 1000;

    public static JsonNode TypeOf(SchemaNode node, bool includeIds = true) => node switch
    {
        LeafNode leaf => JsonValue.Create(PrimitiveType(leaf)),
        StructNode s => new JsonObject
        {
            ["type"] = "struct",
            ["fields"] = new JsonArray([.. s.Children.Select(c => Field(c, includeIds))]),
        },
        ListNode l => new JsonObject
        {
            ["type"] = "list",
            ["element-id"] = includeIds ? l.Element.FieldId : 0,
            ["element"] = TypeOf(l.Element, includeIds),
            ["element-required"] = false,
        },
        _ => throw new InvalidOperationException(node.GetType().Name),
    };

    public static string PrimitiveType(LeafNode leaf) => leaf.Type.IcebergName(leaf);

    private static JsonObject Field(SchemaNode node, bool includeIds) => new()
    {
        ["id"] = includeIds ? node.FieldId : 0,
        ["name"] = node.Name,
        ["required"] = false,
        ["type"] = TypeOf(node, includeIds),
    };

    /// <summary>
    /// The schema object (without <c>schema-id</c>): the columns (top level), plus <c>_extraction_date</c> (date) when the
    /// table is partitioned by extraction date: it is in no data file; readers take its value from each file's
    /// partition tuple (the spec's column projection rule for identity partitions).
    /// </summary>
    public static JsonObject Build(IReadOnlyList<SchemaNode> columns, IcebergFieldIds ids, string partitionBy)
    {
        var fields = new JsonArray([.. columns.Select(c => Field(c, true))]);
        if (partitionBy == PartitionBySettings.ExtractionDate)
        {
            if (columns.Any(c => c.Name == IcebergFieldIds.ExtractionDateColumn))
                throw new InvalidOperationException($"the stream has a column named '{IcebergFieldIds.ExtractionDateColumn}', which Iceberg extraction-date partitioning reserves; rename it with a transform or set partition_by");
            fields.Add((JsonNode)new JsonObject
            {
                ["id"] = ids.IdForColumn(IcebergFieldIds.ExtractionDateColumn, "date"),
                ["name"] = IcebergFieldIds.ExtractionDateColumn,
                ["required"] = false,
                ["type"] = "date",
                ["doc"] = "the run's extraction date (UTC); from the partition tuple, not stored in the data files",
            });
        }
        return new JsonObject { ["type"] = "struct", ["fields"] = fields };
    }

    /// <summary>
    /// The partition field for <c>partition_by</c>: identity on <c>_extraction_date</c> or on a date column, day() on a
    /// date-time column (the same UTC date as the <c>dt=</c> folder), none when unpartitioned.
    /// </summary>
    public static PartitionField? PartitionFieldOf(JsonObject schema, string partitionBy)
    {
        if (partitionBy == PartitionBySettings.None) return null;
        var column = partitionBy == PartitionBySettings.ExtractionDate ? IcebergFieldIds.ExtractionDateColumn : partitionBy;
        var field = schema["fields"]!.AsArray().FirstOrDefault(f => f!["name"]!.GetValue<string>() == column)
            ?? throw new InvalidOperationException($"partition column '{column}' is not in the table's schema");
        var type = field["type"]!.GetValue<string>();
        var transform = type == "date" ? "identity" : "day";
        return new PartitionField(field["id"]!.GetValue<int>(), FirstPartitionFieldId, transform == "identity" ? column : column + "_day", transform);
    }

    public static JsonArray SpecFields(PartitionField? field) => field is null
        ? []
        // The JsonNode constructor, not a collection expression: that would call the generic Add<T>, which is not AOT-safe.
        : new JsonArray(new JsonObject { ["source-id"] = field.SourceId, ["field-id"] = field.FieldId, ["name"] = field.Name, ["transform"] = field.Transform });

    /// <summary>Two schemas are the same when their fields (names, ids, types) are equal.</summary>
    public static bool SameFields(JsonObject a, JsonObject b) => JsonNode.DeepEquals(a["fields"], b["fields"]);
}

/// <summary>One partition field: its source column id, its own id (1000+), name and transform.</summary>
internal sealed record PartitionField(int SourceId, int FieldId, string Name, string Transform);
