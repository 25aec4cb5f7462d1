using System.Text.Json.Nodes;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Tables;

/// <summary>
/// A live file's partition columns of a partitioned Delta table, which the protocol keeps out of the data files: their
/// values are only in the log (<c>add.partitionValues</c>, strings serialized per "Partition Value Serialization"), their
/// types in the table's schema (<c>metaData.schemaString</c>). <see cref="SchemaOrder"/> is the table's top-level column
/// order, so a reader can put each partition column where the table has it.
/// </summary>
internal sealed record DeltaPartitionValues(IReadOnlyList<string> SchemaOrder, IReadOnlyList<DeltaPartitionValue> Values)
{
    /// <summary>
    /// The partition values of each live file of <paramref name="snapshot"/>, by key (as <see cref="DeltaTable.KeyOf"/>
    /// gives it), or null when the table has no partition columns to give. The lake's own <c>_extraction_date</c> is not
    /// given: it is the run's extraction date (the <c>dt=</c> folder of a plain lake table, which a reader of the files
    /// does not land either), and a table that lands it as a column could not be partitioned by extraction date itself
    /// (the name is reserved for that partition column). A partition column the schema lacks, or of a type that cannot
    /// partition, makes the table unreadable: a <see cref="StorageException"/> naming the log's metaData.
    /// </summary>
    public static Dictionary<string, DeltaPartitionValues>? Of(DeltaSnapshot snapshot, string tablePrefix, BucketUri bucket)
    {
        var where = $"{bucket}/{DeltaTable.LogPrefix(tablePrefix)} (version {snapshot.Version}) metaData";
        var partitionColumns = (snapshot.MetaData["partitionColumns"] as JsonArray ?? [])
            .Select(c => c?.GetValue<string>() ?? throw new StorageException($"{where}: partitionColumns holds a null"))
            .Where(c => c != IcebergFieldIds.ExtractionDateColumn).ToList();
        if (partitionColumns.Count == 0) return null;
        JsonArray fields;
        try
        {
            fields = TableJson.Parse(snapshot.MetaData["schemaString"]?.GetValue<string>() ?? "")?["fields"] as JsonArray
                ?? throw new StorageException($"{where}: schemaString has no fields");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new StorageException($"{where}: schemaString is not JSON ({e.Message})", e);
        }
        var order = fields.Select(f => f?["name"]?.GetValue<string>() ?? "").ToList();
        var types = new List<string>();
        foreach (var column in partitionColumns)
        {
            var field = fields.FirstOrDefault(f => f?["name"]?.GetValue<string>() == column)
                ?? throw new StorageException($"{where}: partition column '{column}' is not a column of its schemaString");
            types.Add(field["type"] is JsonValue type ? type.GetValue<string>()
                : throw new StorageException($"{where}: partition column '{column}' is of a nested type ({field["type"]?.ToJsonString()}), which cannot partition a table"));
        }
        var byKey = new Dictionary<string, DeltaPartitionValues>(StringComparer.Ordinal);
        foreach (var (path, add) in snapshot.Adds)
        {
            var values = add["partitionValues"] as JsonObject;
            // Absent, JSON null and "" are all a null partition value (protocol: "An empty string for any type translates to a null").
            byKey[DeltaTable.KeyOf(tablePrefix, path)] = new DeltaPartitionValues(order, [.. partitionColumns.Select((column, i) =>
                new DeltaPartitionValue(column, types[i], Serialized(values?[column])))]);
        }
        return byKey;
    }

    /// <summary>A partitionValues entry: a string (a writer that wrote a bare number or boolean is taken at its text); null when empty or absent.</summary>
    private static string? Serialized(JsonNode? value) => value switch
    {
        JsonValue v when v.TryGetValue<string>(out var text) => text.Length > 0 ? text : null,
        JsonValue v => v.ToJsonString(),
        _ => null,
    };
}

/// <summary>One partition column of a file: its name, its Delta type (<c>string</c>, <c>date</c>, <c>integer</c>, <c>decimal(10,2)</c>, ...) and its serialized value (null for a null).</summary>
internal sealed record DeltaPartitionValue(string Name, string Type, string? Value);
