using System.Globalization;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Tables;

namespace DataSpoc.Pipe.Config;

/// <summary>
/// A pipeline's effective configuration as JSON with the YAML's key names, secrets masked: what <c>config</c>, the MCP
/// tool <c>pipeline_config</c> and <c>PipeClient.Config</c> show. Every key a pipeline file may set is there, with the
/// value a run uses: <c>config.yaml</c> defaults and the built-in defaults applied (the source folder a tap lands in, the
/// write mode <c>incremental</c> implies, the file rotation limits), <c>null</c> for a key that is off (no timeout,
/// every stream). Values under secret-looking keys of the tap config and storage options, values that came from
/// <c>${VAR}</c> and every known secret value are <c>***</c>.
/// </summary>
public static class PipelineConfigView
{
    /// <summary>
    /// Where a key's name says its value is secret: the tap's config and the storage options. Elsewhere the view's keys
    /// are its own settings or names (streams under <c>select</c>, <c>replication</c>, <c>transforms</c>), masked only
    /// where their values are secrets.
    /// </summary>
    private static readonly string[] SecretKeysUnder = ["source.config", "destination.storage_options"];

    /// <param name="p">The pipeline.</param>
    /// <param name="secrets">What to mask; null for <see cref="PipelineDefinition.Redaction"/> (the loader's).</param>
    public static JsonObject ToJson(PipelineDefinition p, ConfigSecrets? secrets = null)
    {
        var s = p.Source;
        var source = new JsonObject
        {
            ["tap"] = s.Tap,
            ["config"] = s.InlineConfig?.DeepClone() ?? (JsonNode?)(s.ConfigFile ?? s.ConfigPath),
            ["streams"] = s.Streams is { } streams ? Strings(streams) : null,
            ["catalog_flag"] = s.CatalogFlag,
            ["discover"] = s.Discover,
            ["replication"] = Map(s.Replication, r => new JsonObject { ["method"] = r.Method, ["key"] = r.Key }),
            ["select"] = Map(s.Select, Strings),
            ["name"] = LakePaths.SourceFolderOf(s),
            ["timeout"] = s.Timeout is { } t ? Seconds(t) : null,
            ["idle_timeout"] = s.IdleTimeout is { } i ? Seconds(i) : null,
            ["max_line_mb"] = s.MaxLineMb ?? SourceDefinition.MaxLineMbLimit,
            ["split"] = s.Split is { } split ? new JsonObject { ["column"] = split.Column, ["parts"] = split.Parts, ["parallel"] = split.Parallel } : null,
        };

        var d = p.Destination;
        var limits = new Parquet.WriteLimits().WithFileLimitsOf(d);
        var writeMode = EffectiveWriteMode(p);
        var destination = new JsonObject
        {
            ["bucket"] = d.Bucket,
            ["path"] = d.Path,
            ["compression"] = d.Compression.ToString().ToLowerInvariant(),
            ["partition_by"] = d.PartitionBy,
            ["max_file_rows"] = limits.MaxFileRows,
            // max_file_mb is whole megabytes, so the default's bytes divide exactly.
            ["max_file_mb"] = d.MaxFileMb ?? limits.MaxFileBytes / (1024 * 1024),
            ["storage_options"] = Map(d.StorageOptions, v => JsonValue.Create(v)),
            ["table_format"] = TableFormat(d.TableFormat),
            ["write_mode"] = writeMode.ToString().ToLowerInvariant(),
        };
        // The loader refuses destination.merge without write_mode: merge, so the view shows it only then.
        if (writeMode == WriteMode.Merge)
            destination["merge"] = new JsonObject { ["order_by"] = d.Merge.OrderBy, ["hard_delete"] = d.Merge.HardDelete };

        var schedule = new JsonObject { ["cron"] = p.Schedule?.Cron, ["maintain"] = null };
        if (p.Schedule?.Maintain is { } m)
        {
            var maintain = new JsonObject { ["cron"] = m.Cron, ["expire_older_than"] = Durations.Describe(m.ExpireOlderThan), ["compact"] = m.Compact };
            // target_file_mb sizes compaction only, and the loader refuses it without compact: true.
            if (m.Compact) maintain["target_file_mb"] = m.TargetFileMb ?? CompactionDefaults.TargetFileMb;
            schedule["maintain"] = maintain;
        }

        var view = new JsonObject
        {
            ["source"] = source,
            ["destination"] = destination,
            ["incremental"] = new JsonObject { ["enabled"] = p.Incremental.Enabled },
            ["on_invalid_record"] = p.OnInvalidRecord.ToString().ToLowerInvariant(),
            ["schedule"] = schedule,
            ["run_logs"] = new JsonObject { ["keep"] = p.RunLogs.Keep is { } keep ? Durations.Describe(keep) : null },
            ["transforms"] = Map(p.Transforms, t => t?.DeepClone()),
        };
        return (JsonObject)(secrets ?? p.Redaction).Redact(view, secretKeysUnder: SecretKeysUnder)!;
    }

    /// <summary>The write mode a run without <c>--full</c> uses: the explicit one, else what <see cref="WriteModes.Replaces"/> decides.</summary>
    private static WriteMode EffectiveWriteMode(PipelineDefinition p) =>
        p.Destination.WriteMode ?? (WriteModes.Replaces(p, fullRefreshRequested: false) ? WriteMode.Replace : WriteMode.Append);

    /// <summary>As the YAML spells it: <c>parquet</c>, <c>iceberg</c>, <c>delta</c>, or <c>[iceberg, delta]</c>.</summary>
    private static JsonNode TableFormat(TableFormats formats) => TableFormatCommitter.NamesOf(formats) switch
    {
        [] => JsonValue.Create("parquet"),
        [var one] => JsonValue.Create(one),
        var several => Strings(several),
    };

    private static JsonArray Strings(IEnumerable<string> values) => new([.. values.Select(v => (JsonNode)JsonValue.Create(v))]);

    private static JsonObject Map<T>(IEnumerable<KeyValuePair<string, T>> entries, Func<T, JsonNode?> value) =>
        new(entries.Select(kv => KeyValuePair.Create(kv.Key, value(kv.Value))));

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + "s";
}
