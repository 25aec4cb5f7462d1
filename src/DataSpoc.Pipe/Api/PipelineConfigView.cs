using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;

namespace DataSpoc.Pipe.Api;

/// <summary>A pipeline's effective configuration as JSON, for people and agents: secrets masked.</summary>
internal static class PipelineConfigView
{
    /// <summary>Every secret the pipeline knows of: the loader's (secret keys, <c>${VAR}</c> values by key) plus any set in code.</summary>
    public static ConfigSecrets Secrets(PipelineDefinition pipeline)
    {
        var secrets = new ConfigSecrets();
        foreach (var value in pipeline.Redaction.Values.Concat(pipeline.Secrets)) secrets.AddValue(value);
        foreach (var path in pipeline.Redaction.InterpolatedKeys) secrets.AddInterpolated(path, "");
        secrets.ConsiderJson(pipeline.Source.InlineConfig);
        return secrets;
    }

    public static JsonObject Redacted(PipelineDefinition pipeline)
    {
        var secrets = Secrets(pipeline);
        var source = pipeline.Source;
        var destination = pipeline.Destination;
        var options = new JsonObject();
        foreach (var (k, v) in destination.StorageOptions) options[k] = v;
        var transforms = new JsonObject();
        foreach (var (stream, map) in pipeline.Transforms) transforms[stream] = map?.DeepClone();
        var view = new JsonObject
        {
            ["name"] = pipeline.Name,
            ["file"] = pipeline.FilePath,
            ["source"] = new JsonObject
            {
                ["tap"] = source.Tap,
                ["name"] = source.Name,
                ["config_file"] = source.ConfigFile ?? source.ConfigPath,
                ["config"] = source.InlineConfig?.DeepClone(),
                ["streams"] = source.Streams is null ? null : new JsonArray(source.Streams.Select(s => (JsonNode?)s).ToArray()),
                ["timeout_seconds"] = source.Timeout?.TotalSeconds,
                ["idle_timeout_seconds"] = source.IdleTimeout?.TotalSeconds,
            },
            ["destination"] = new JsonObject
            {
                ["bucket"] = destination.Bucket,
                ["path"] = destination.Path,
                ["compression"] = destination.Compression.ToString().ToLowerInvariant(),
                ["partition_by"] = destination.PartitionBy,
                ["max_file_rows"] = destination.MaxFileRows,
                ["max_file_mb"] = destination.MaxFileMb,
                ["storage_options"] = options,
            },
            ["incremental"] = new JsonObject { ["enabled"] = pipeline.Incremental.Enabled },
            ["schedule"] = pipeline.Schedule?.Cron is { } cron ? new JsonObject { ["cron"] = cron } : null,
            ["on_invalid_record"] = pipeline.OnInvalidRecord.ToString().ToLowerInvariant(),
            ["transforms"] = transforms,
        };
        return (JsonObject)secrets.Redact(view)!;
    }
}
