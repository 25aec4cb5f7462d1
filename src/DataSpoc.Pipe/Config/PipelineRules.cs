namespace DataSpoc.Pipe.Config;

/// <summary>
/// The rules a <see cref="PipelineDefinition"/>'s values must keep, whether it was read from a pipeline file or built in
/// code: checked by <see cref="PipelineLoader"/> once a file is read (the error then names the file and the key's line)
/// and by <see cref="Api.PipeClient"/> before a definition runs (the error then names the key and the property too).
/// A file can only spell values its parser turns into these types; a definition built in code can hold any value of
/// them (<c>MaxFileRows = 0</c>, <c>(Compression)99</c>), which would otherwise run: one Parquet file per record, say.
/// </summary>
public static class PipelineRules
{
    /// <summary>One broken rule: the pipeline file's dotted key, the definition's property, and what is wrong.</summary>
    public sealed record Problem(string Key, string Property, string Reason);

    /// <summary>Every rule <paramref name="pipeline"/> breaks, in the order of the pipeline file's keys.</summary>
    public static IReadOnlyList<Problem> Of(PipelineDefinition pipeline)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        var problems = new List<Problem>();
        void Add(string key, string property, string? reason)
        {
            if (reason is not null) problems.Add(new Problem(key, property, reason));
        }

        var source = pipeline.Source;
        Add("source.timeout", "Source.Timeout", DurationProblem(source.Timeout));
        Add("source.idle_timeout", "Source.IdleTimeout", DurationProblem(source.IdleTimeout));
        Add("source.max_line_mb", "Source.MaxLineMb", PositiveProblem(source.MaxLineMb)
            ?? (source.MaxLineMb > SourceDefinition.MaxLineMbLimit ? $"at most {SourceDefinition.MaxLineMbLimit} (the longest line the tool reads), got {source.MaxLineMb}" : null));
        Add("source.catalog_flag", "Source.CatalogFlag", OneOf(source.CatalogFlag, CatalogFlags.Allowed));
        Add("source.discover", "Source.Discover", OneOf(source.Discover, DiscoverModes.Allowed));
        if (source.Streams is { Count: 0 })
            Add("source.streams", "Source.Streams", "an empty list selects nothing; remove the key to select every stream");
        foreach (var (stream, replication) in source.Replication)
        {
            var (key, property) = ($"source.replication.{stream}", $"Source.Replication[\"{stream}\"]");
            Add(key + ".method", property + ".Method", replication is null ? "is not set" : ReplicationMethodProblem(replication.Method));
            if (replication is not null && ReplicationMethodProblem(replication.Method) is null)
                Add(key + ".key", property + ".Key", ReplicationKeyProblem(replication));
        }
        foreach (var (stream, columns) in source.Select)
        {
            var (key, property) = ($"source.select.{stream}", $"Source.Select[\"{stream}\"]");
            Add(key, property, columns is not { Count: > 0 } ? "list the columns to extract (at least one)" : null);
            for (var i = 0; i < (columns?.Count ?? 0); i++)
                Add($"{key}[{i}]", $"{property}[{i}]", string.IsNullOrEmpty(columns![i]) ? "must not be empty" : null);
        }
        if (source.Split is { } split)
        {
            Add("source.split.column", "Source.Split.Column", string.IsNullOrEmpty(split.Column) ? "must not be empty" : null);
            Add("source.split.parts", "Source.Split.Parts", SplitPartsProblem(split.Parts));
            Add("source.split.parallel", "Source.Split.Parallel", PositiveProblem(split.Parallel));
        }

        var d = pipeline.Destination;
        Add("destination.bucket", "Destination.Bucket", PipelineLocation.BucketProblem(d.Bucket));
        Add("destination.path", "Destination.Path", d.Path is null ? "is not set" : PipelineLocation.PathProblem(d.Path));
        if (!Enum.IsDefined(d.Compression))
            Add("destination.compression", "Destination.Compression", $"expected zstd, snappy, gzip or none, got {(int)d.Compression}");
        if (string.IsNullOrWhiteSpace(d.PartitionBy))
            Add("destination.partition_by", "Destination.PartitionBy",
                $"must not be empty: {PartitionBySettings.ExtractionDate} (the default), {PartitionBySettings.None}, or a date or date-time column");
        Add("destination.max_file_rows", "Destination.MaxFileRows", PositiveProblem(d.MaxFileRows));
        Add("destination.max_file_mb", "Destination.MaxFileMb", PositiveProblem(d.MaxFileMb));
        if ((d.TableFormat & ~(TableFormats.Iceberg | TableFormats.Delta)) != 0)
            Add("destination.table_format", "Destination.TableFormat", $"expected parquet, iceberg, delta or [iceberg, delta], got {(int)d.TableFormat}");
        if (d.WriteMode is { } mode && !Enum.IsDefined(mode))
            Add("destination.write_mode", "Destination.WriteMode", $"expected append, merge or replace, got {(int)mode}");
        // A file's merge: key counts when it is there at all; in code, MergeSettings other than the defaults.
        Add("destination.merge", "Destination.Merge", MergeProblem(d.Merge != new MergeSettings(), d.WriteMode));

        if (pipeline.Schedule is { } schedule)
        {
            Add("schedule.cron", "Schedule.Cron", schedule.Cron is null ? null : PipelineLoader.CronError(schedule.Cron));
            if (schedule.Maintain is { } maintain)
            {
                Add("schedule.maintain.cron", "Schedule.Maintain.Cron", string.IsNullOrEmpty(maintain.Cron)
                    ? "must not be empty: when to run maintain (cron: \"0 3 * * *\")"
                    : PipelineLoader.CronError(maintain.Cron));
                Add("schedule.maintain.expire_older_than", "Schedule.Maintain.ExpireOlderThan", ExpireOlderThanProblem(maintain.ExpireOlderThan));
                Add("schedule.maintain.target_file_mb", "Schedule.Maintain.TargetFileMb", PositiveProblem(maintain.TargetFileMb)
                    ?? Tables.CompactionDefaults.TargetWithoutCompactionProblem(maintain.TargetFileMb, maintain.Compact, "compact: true"));
            }
        }

        Add("run_logs.keep", "RunLogs.Keep", DurationProblem(pipeline.RunLogs.Keep));
        if (!Enum.IsDefined(pipeline.OnInvalidRecord))
            Add("on_invalid_record", "OnInvalidRecord", $"expected fail, skip or quarantine, got {(int)pipeline.OnInvalidRecord}");
        return problems;
    }

    /// <summary>
    /// Throws a <see cref="ConfigException"/> for the first rule a definition made in code breaks, naming the pipeline
    /// file's key and the property to change (<c>destination.max_file_rows: ... (Destination.MaxFileRows)</c>).
    /// <paramref name="sourceName"/> is <c>source.name</c>, else the name of the source given in code (a tap's own name
    /// is always made safe).
    /// </summary>
    internal static void Check(PipelineDefinition pipeline, string? sourceName)
    {
        if (Of(pipeline) is [var first, ..]) throw new ConfigException($"{first.Reason} ({first.Property})", pipeline.FilePath, key: first.Key);
        if (sourceName is not null && Lake.LakeNames.SourceNameError(sourceName) is { } name)
            throw new ConfigException(name, pipeline.FilePath, key: "source.name");
    }

    internal static string? PositiveProblem(long? value) =>
        value is <= 0 ? $"expected a positive whole number, got {value}" : null;

    /// <summary><c>source.split.parts</c>: each part is one server-side cursor and one staged part record.</summary>
    internal static string? SplitPartsProblem(long parts) =>
        PositiveProblem(parts) ?? (parts > SplitSettings.MaxParts ? $"at most {SplitSettings.MaxParts} parts, got {parts}" : null);

    /// <summary><c>destination.merge</c> set (<paramref name="given"/>) without <c>write_mode: merge</c>: settings nothing would use.</summary>
    internal static string? MergeProblem(bool given, WriteMode? mode) =>
        given && mode != WriteMode.Merge ? "applies only with write_mode: merge" : null;

    private static string? ReplicationMethodProblem(string? method) =>
        StreamReplication.Methods.Contains(method, StringComparer.Ordinal) ? null : $"'{method}' is not one of: {string.Join(", ", StreamReplication.Methods)}";

    private static string? ReplicationKeyProblem(StreamReplication replication) =>
        replication.Method == "INCREMENTAL" && string.IsNullOrEmpty(replication.Key)
            ? "INCREMENTAL replication needs the column that orders the rows (key: updated_at)"
            : null;

    /// <summary>The crontab line passes the age as <c>maintain --expire-older-than &lt;Describe(age)&gt;</c>: it must read back the same.</summary>
    private static string? ExpireOlderThanProblem(TimeSpan age) =>
        DurationProblem(age)
        ?? (Durations.TryParse(Durations.Describe(age), out var back) && back == age
            ? null
            : $"give the age in whole milliseconds or larger units (7d, 12h, 30m), got '{Durations.Describe(age)}'");

    private static string? DurationProblem(TimeSpan? value) =>
        value is { } d && !Durations.IsTaken(d)
            ? $"expected a duration of at least {Durations.Describe(Durations.Shortest)} and at most {Durations.Describe(Durations.Longest)} (100 years), got {d}"
            : null;

    private static string? OneOf(string? value, string[] allowed) =>
        value is not null && allowed.Contains(value, StringComparer.Ordinal) ? null : $"'{value}' is not one of: {string.Join(", ", allowed)}";
}
