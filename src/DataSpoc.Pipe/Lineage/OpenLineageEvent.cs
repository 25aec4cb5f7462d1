using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace DataSpoc.Pipe.Lineage;

// The OpenLineage run event (spec 2-0-2) and the facets a pipeline run reports, as plain classes for source-generated
// JSON: the CLI is a Native AOT binary, so nothing here may need reflection. Null members are left out.

internal sealed class RunEvent
{
    [JsonPropertyName("eventType")] public required string EventType { get; init; }
    [JsonPropertyName("eventTime")] public required DateTimeOffset EventTime { get; init; }
    [JsonPropertyName("producer")] public required string Producer { get; init; }
    [JsonPropertyName("schemaURL")] public string SchemaUrl { get; init; } = OpenLineageSpec.RunEventSchema;
    [JsonPropertyName("run")] public required LineageRun Run { get; init; }
    [JsonPropertyName("job")] public required LineageJob Job { get; init; }
    [JsonPropertyName("inputs")] public List<LineageDataset> Inputs { get; init; } = [];
    [JsonPropertyName("outputs")] public List<LineageDataset> Outputs { get; init; } = [];
}

internal sealed class LineageRun
{
    [JsonPropertyName("runId")] public required string RunId { get; init; }
    [JsonPropertyName("facets")] public RunFacets Facets { get; init; } = new();
}

internal sealed class RunFacets
{
    [JsonPropertyName("processing_engine")] public ProcessingEngineFacet? ProcessingEngine { get; init; }
    [JsonPropertyName("errorMessage")] public ErrorMessageFacet? ErrorMessage { get; init; }
}

internal sealed class LineageJob
{
    [JsonPropertyName("namespace")] public required string Namespace { get; init; }
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("facets")] public JobFacets Facets { get; init; } = new();
}

internal sealed class JobFacets
{
    [JsonPropertyName("jobType")] public JobTypeFacet? JobType { get; init; }
}

internal sealed class LineageDataset
{
    [JsonPropertyName("namespace")] public required string Namespace { get; init; }
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("facets")] public DatasetFacets Facets { get; init; } = new();
    [JsonPropertyName("outputFacets")] public OutputDatasetFacets? OutputFacets { get; init; }
}

internal sealed class DatasetFacets
{
    [JsonPropertyName("schema")] public SchemaFacet? Schema { get; init; }
    [JsonPropertyName("storage")] public StorageFacet? Storage { get; init; }
}

internal sealed class OutputDatasetFacets
{
    [JsonPropertyName("outputStatistics")] public OutputStatisticsFacet? OutputStatistics { get; init; }
}

/// <summary>What every facet carries: who wrote it and the schema it follows.</summary>
internal abstract class LineageFacet(string producer, string schemaUrl)
{
    [JsonPropertyName("_producer")] public string Producer { get; } = producer;
    [JsonPropertyName("_schemaURL")] public string SchemaUrl { get; } = schemaUrl;
}

internal sealed class ProcessingEngineFacet(string producer) : LineageFacet(producer, OpenLineageSpec.Facet("1-1-1", "ProcessingEngineRunFacet"))
{
    [JsonPropertyName("version")] public required string Version { get; init; }
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("openlineageAdapterVersion")] public required string AdapterVersion { get; init; }
}

internal sealed class ErrorMessageFacet(string producer) : LineageFacet(producer, OpenLineageSpec.Facet("1-0-1", "ErrorMessageRunFacet"))
{
    [JsonPropertyName("message")] public required string Message { get; init; }
    [JsonPropertyName("programmingLanguage")] public string ProgrammingLanguage { get; init; } = "C#";
}

internal sealed class JobTypeFacet(string producer) : LineageFacet(producer, OpenLineageSpec.Facet("2-0-4", "JobTypeJobFacet"))
{
    [JsonPropertyName("processingType")] public string ProcessingType { get; init; } = "BATCH";
    [JsonPropertyName("integration")] public string Integration { get; init; } = "DATASPOC_PIPE";
    [JsonPropertyName("jobType")] public string JobType { get; init; } = "PIPELINE";
}

internal sealed class SchemaFacet(string producer) : LineageFacet(producer, OpenLineageSpec.Facet("1-2-0", "SchemaDatasetFacet"))
{
    [JsonPropertyName("fields")] public required List<SchemaField> Fields { get; init; }
}

internal sealed record SchemaField(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("ordinal_position")] int OrdinalPosition);

internal sealed class StorageFacet(string producer) : LineageFacet(producer, OpenLineageSpec.Facet("1-0-1", "StorageDatasetFacet"))
{
    [JsonPropertyName("storageLayer")] public string StorageLayer { get; init; } = "dataspoc-lake";
    [JsonPropertyName("fileFormat")] public string FileFormat { get; init; } = "parquet";
}

internal sealed class OutputStatisticsFacet(string producer) : LineageFacet(producer, OpenLineageSpec.Facet("1-0-2", "OutputStatisticsOutputDatasetFacet"))
{
    [JsonPropertyName("rowCount")] public required long RowCount { get; init; }
    [JsonPropertyName("size")] public required long Size { get; init; }
    [JsonPropertyName("fileCount")] public required long FileCount { get; init; }
}

internal static class OpenLineageSpec
{
    public const string RunEventSchema = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";

    public static string Facet(string version, string name) => $"https://openlineage.io/spec/facets/{version}/{name}.json#/$defs/{name}";
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(RunEvent))]
[JsonSerializable(typeof(JsonNode))]
internal sealed partial class OpenLineageJsonContext : JsonSerializerContext;
