using System.Globalization;
using System.Text.Json.Nodes;

namespace DataSpoc.Pipe.Config;

/// <summary>
/// A pipeline's configuration as JSON with the YAML's key names, secrets masked: what <c>pipeline_config</c>
/// (MCP, the .NET API) shows. Values under secret-looking keys and values that came from <c>${VAR}</c> are <c>***</c>.
/// </summary>
public static class PipelineConfigView
{
    public static JsonObject ToJson(PipelineDefinition p)
    {
        var source = new JsonObject { ["tap"] = p.Source.Tap };
        if (p.Source.InlineConfig is { } inline) source["config"] = inline.DeepClone();
        else if ((p.Source.ConfigFile ?? p.Source.ConfigPath) is { } file) source["config"] = file;
        if (p.Source.Streams is { } streams) source["streams"] = new JsonArray(streams.Select(s => (JsonNode)JsonValue.Create(s)).ToArray());
        if (p.Source.Name is { } name) source["name"] = name;
        if (p.Source.Timeout is { } t) source["timeout"] = Seconds(t);
        if (p.Source.IdleTimeout is { } i) source["idle_timeout"] = Seconds(i);

        var d = p.Destination;
        var destination = new JsonObject
        {
            ["bucket"] = d.Bucket,
            ["path"] = d.Path,
            ["compression"] = d.Compression.ToString().ToLowerInvariant(),
            ["partition_by"] = d.PartitionBy,
        };
        if (d.MaxFileRows is { } rows) destination["max_file_rows"] = rows;
        if (d.MaxFileMb is { } mb) destination["max_file_mb"] = mb;
        if (d.StorageOptions.Count > 0)
            destination["storage_options"] = new JsonObject(d.StorageOptions.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value))));

        var view = new JsonObject
        {
            ["source"] = source,
            ["destination"] = destination,
            ["incremental"] = new JsonObject { ["enabled"] = p.Incremental.Enabled },
            ["on_invalid_record"] = p.OnInvalidRecord.ToString().ToLowerInvariant(),
        };
        if (p.Schedule is { } schedule && (schedule.Cron is not null || schedule.Maintain is not null))
        {
            var scheduleView = new JsonObject();
            if (schedule.Cron is { } cron) scheduleView["cron"] = cron;
            if (schedule.Maintain is { } m)
            {
                var maintain = new JsonObject { ["cron"] = m.Cron, ["expire_older_than"] = Durations.Describe(m.ExpireOlderThan), ["compact"] = m.Compact };
                if (m.TargetFileMb is { } target) maintain["target_file_mb"] = target;
                scheduleView["maintain"] = maintain;
            }
            view["schedule"] = scheduleView;
        }
        if (p.RunLogs.Keep is { } keep) view["run_logs"] = new JsonObject { ["keep"] = Durations.Describe(keep) };
        if (p.Transforms.Count > 0)
            view["transforms"] = new JsonObject(p.Transforms.Select(kv => KeyValuePair.Create(kv.Key, kv.Value?.DeepClone())));
        return (JsonObject)p.Redaction.Redact(view)!;
    }

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + "s";
}
