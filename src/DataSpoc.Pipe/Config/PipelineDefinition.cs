using System.Text.Json.Nodes;

namespace DataSpoc.Pipe.Config;

/// <summary>One pipeline, as read from <c>pipelines/&lt;name&gt;.yaml</c> (after <c>${VAR}</c> interpolation and defaults) or built in code.</summary>
public sealed record PipelineDefinition
{
    /// <summary>The pipeline's name (the YAML file name without extension).</summary>
    public required string Name { get; init; }
    public required SourceDefinition Source { get; init; }
    public required DestinationDefinition Destination { get; init; }
    public IncrementalSettings Incremental { get; init; } = new();
    public ScheduleSettings? Schedule { get; init; }
    /// <summary><c>run_logs</c>: how long the bucket keeps this pipeline's run logs.</summary>
    public RunLogSettings RunLogs { get; init; } = new();
    /// <summary>What to do with a record whose value does not fit its declared type.</summary>
    public InvalidRecordPolicy OnInvalidRecord { get; init; } = InvalidRecordPolicy.Fail;
    /// <summary>Per-stream declarative transforms (<c>transforms:</c> in the YAML), keyed by stream name.</summary>
    public IReadOnlyDictionary<string, JsonNode?> Transforms { get; init; } = new Dictionary<string, JsonNode?>();
    /// <summary>Values that must never appear in logs, errors or responses (<c>${VAR}</c> expansions, secret config values).</summary>
    public IReadOnlyList<string> Secrets { get; init; } = [];
    /// <summary>The YAML file this came from, when it came from one.</summary>
    public string? FilePath { get; init; }
    /// <summary>Where <see cref="Secrets"/> came from (secret-looking keys, <c>${VAR}</c> substitutions by key), to mask a config for display.</summary>
    public ConfigSecrets Redaction { get; init; } = new();
    /// <summary>Every <c>${VAR}</c> its files (and the home's <c>config.yaml</c>) refer to and where each value came from (names only, never values).</summary>
    public IReadOnlyList<VariableUse> Variables { get; init; } = [];
}

/// <summary>Where records come from: a Singer tap command or a built-in tap, and its JSON config.</summary>
public sealed record SourceDefinition
{
    /// <summary>A built-in tap name, a command on PATH, a path, or a command line with arguments.</summary>
    public required string Tap { get; init; }
    /// <summary>Path of the tap's JSON config file, when <c>config</c> is a path.</summary>
    public string? ConfigPath { get; init; }
    /// <summary>
    /// The tap config when given inline in the YAML, or read from a config file that uses <c>${VAR}</c> (then already
    /// expanded, <see cref="ConfigPath"/> is null and <see cref="ConfigFile"/> names the file). Written to a private temp file for the run.
    /// </summary>
    public JsonObject? InlineConfig { get; init; }
    /// <summary>The tap config file the user named (for messages and <c>validate</c>), whether or not it needed expansion.</summary>
    public string? ConfigFile { get; init; }
    /// <summary>
    /// Selected streams, by <c>stream</c> name or <c>tap_stream_id</c>, globs allowed (<c>public-*</c>); null selects every
    /// stream of the tap's catalog (a tap that cannot discover then runs without a catalog).
    /// </summary>
    public IReadOnlyList<string>? Streams { get; init; }
    /// <summary>
    /// How the catalog reaches the tap: <see cref="CatalogFlags.Auto"/> (from what its <c>--help</c>/<c>--about</c> lists),
    /// <c>--catalog</c> or <c>--properties</c>.
    /// </summary>
    public string CatalogFlag { get; init; } = CatalogFlags.Auto;
    /// <summary>
    /// <c>source.discover</c>: <see cref="DiscoverModes.Always"/> asks the tap's <c>--discover</c> on every run, so columns
    /// and tables added at the source are extracted; <see cref="DiscoverModes.Cached"/> reuses the cached catalog (for a tap
    /// whose discovery is slow), renewed by <c>streams NAME --refresh</c>.
    /// </summary>
    public string Discover { get; init; } = DiscoverModes.Always;
    /// <summary><c>source.replication</c>: per stream (name, id or glob), the replication method and key written into the catalog metadata.</summary>
    public IReadOnlyDictionary<string, StreamReplication> Replication { get; init; } = new Dictionary<string, StreamReplication>();
    /// <summary><c>source.select</c>: per stream (name, id or glob), the columns to extract; the stream's other properties are deselected.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Select { get; init; } = new Dictionary<string, IReadOnlyList<string>>();
    /// <summary>The <c>&lt;source&gt;</c> folder name in the lake; null derives it from the tap's executable name.</summary>
    public string? Name { get; init; }
    /// <summary>Kills the tap and fails the run when the tap has run longer than this (counted from its start); bounds its <c>--discover</c> the same way.</summary>
    public TimeSpan? Timeout { get; init; }
    /// <summary>Kills the tap and fails the run when it writes nothing to stdout for this long (stderr does not count).</summary>
    public TimeSpan? IdleTimeout { get; init; }
    /// <summary>
    /// <c>source.max_line_mb</c>: a Singer message line longer than this many megabytes fails the run before it is read
    /// whole; null for the hard limit, <see cref="MaxLineMbLimit"/>.
    /// </summary>
    public long? MaxLineMb { get; init; }
    /// <summary>The longest <c>source.max_line_mb</c>: a line is buffered whole, and landing it takes several times its size.</summary>
    public const int MaxLineMbLimit = Singer.SingerLineReader.DefaultMaxLineBytes / (1024 * 1024);
    /// <summary>The longest Singer message line this source may send, in bytes.</summary>
    internal int MaxLineBytes => (int)(MaxLineMb ?? MaxLineMbLimit) * 1024 * 1024;
    /// <summary><c>source.split</c>: read one table as key ranges (built-in postgres tap), null to read it whole.</summary>
    public SplitSettings? Split { get; init; }
    /// <summary>
    /// The line of each <c>source.*</c> key in the pipeline file (<c>source.streams</c> -> 3), so that an error found only
    /// later (when the tap says what it can do) still points at the line to change; empty for pipelines built in code.
    /// </summary>
    public IReadOnlyDictionary<string, int> KeyLines { get; init; } = new Dictionary<string, int>();

    /// <summary>
    /// Whether two pipelines read one source: the same tap with the same config (one file, or the same inline values), as a
    /// full reload beside an incremental pipeline does; their sharing a table is then on purpose.
    /// </summary>
    public bool ReadsTheSameSourceAs(SourceDefinition? other) =>
        other is not null && other.Tap == Tap && other.ConfigPath == ConfigPath && other.ConfigFile == ConfigFile
        && JsonNode.DeepEquals(other.InlineConfig, InlineConfig);
}

/// <summary>
/// <c>source.split: {column, parts, parallel}</c>: the table is read as <see cref="Parts"/> key ranges of <see cref="Column"/>,
/// <see cref="Parallel"/> at a time in one process, or one per worker with <c>run NAME --part I/N</c>.
/// </summary>
public sealed record SplitSettings(string Column, int Parts, int Parallel)
{
    /// <summary>More parts than this are refused: each is one server-side cursor and one staged part record.</summary>
    public const int MaxParts = 1024;
}

/// <summary>The flags a tap may take its catalog with (<c>source.catalog_flag</c>).</summary>
public static class CatalogFlags
{
    public const string Auto = "auto";
    public const string Catalog = "--catalog";
    public const string Properties = "--properties";
    public static readonly string[] Allowed = [Auto, Catalog, Properties];
}

/// <summary>When a run asks the tap for its catalog (<c>source.discover</c>).</summary>
public static class DiscoverModes
{
    public const string Always = "always";
    public const string Cached = "cached";
    public static readonly string[] Allowed = [Always, Cached];
}

/// <summary>One stream's entry of <c>source.replication</c>: Singer's <c>replication-method</c> and <c>replication-key</c>.</summary>
public sealed record StreamReplication(string Method, string? Key)
{
    public static readonly string[] Methods = ["FULL_TABLE", "INCREMENTAL", "LOG_BASED"];
}

/// <summary>Where and how the Parquet files are written.</summary>
public sealed record DestinationDefinition
{
    /// <summary><c>file:///abs/dir</c>, <c>s3://bucket[/prefix]</c>, <c>gs://…</c> or <c>az://…</c>.</summary>
    public required string Bucket { get; init; }
    public string Path { get; init; } = "raw";
    public Compression Compression { get; init; } = Compression.Zstd;
    /// <summary><c>_extraction_date</c> (default), <c>none</c>, or a date/date-time column name.</summary>
    public string PartitionBy { get; init; } = PartitionBySettings.ExtractionDate;
    /// <summary>Rotate to a new file after this many rows (null: the engine's default).</summary>
    public long? MaxFileRows { get; init; }
    /// <summary>Rotate to a new file after this many megabytes (null: the engine's default).</summary>
    public long? MaxFileMb { get; init; }
    /// <summary>
    /// <c>destination.table_format</c>: which table metadata describes the Parquet files (none, Iceberg, Delta Lake or both).
    /// The data files are the same whatever the format.
    /// </summary>
    public TableFormats TableFormat { get; init; } = TableFormats.Parquet;
    /// <summary><c>destination.write_mode</c>; null: append for incremental pipelines, replace for full ones.</summary>
    public WriteMode? WriteMode { get; init; }
    /// <summary><c>destination.merge</c>: order_by and hard_delete of <see cref="Config.WriteMode.Merge"/>.</summary>
    public MergeSettings Merge { get; init; } = new();
    /// <summary><c>destination.storage_options</c>: endpoint_url, region, path_style, …</summary>
    public IReadOnlyDictionary<string, string> StorageOptions { get; init; } = new Dictionary<string, string>();
}

public static class PartitionBySettings
{
    public const string ExtractionDate = "_extraction_date";
    public const string None = "none";
}

public sealed record IncrementalSettings
{
    public bool Enabled { get; init; }
}

public sealed record ScheduleSettings
{
    /// <summary>A five-field cron expression.</summary>
    public string? Cron { get; init; }
    /// <summary><c>schedule.maintain</c>: when cron runs <c>maintain</c> on the pipeline's tables (null: it does not).</summary>
    public MaintainSchedule? Maintain { get; init; }
}

/// <summary>
/// <c>schedule.maintain</c>: <c>schedule install</c> writes a second crontab line that runs
/// <c>maintain &lt;name&gt; --expire-older-than &lt;age&gt; [--compact [--target-file-mb N]]</c> at <see cref="Cron"/>.
/// </summary>
public sealed record MaintainSchedule
{
    /// <summary>What <c>maintain --expire-older-than</c> defaults to, and so this schedule too.</summary>
    public static readonly TimeSpan DefaultExpireOlderThan = TimeSpan.FromDays(7);

    /// <summary>A five-field cron expression (or an <c>@</c> keyword), checked as <c>schedule.cron</c> is.</summary>
    public required string Cron { get; init; }
    /// <summary><c>expire_older_than</c>: <c>maintain --expire-older-than</c>.</summary>
    public TimeSpan ExpireOlderThan { get; init; } = DefaultExpireOlderThan;
    /// <summary><c>compact</c>: <c>maintain --compact</c> (every table, plain Parquet ones too).</summary>
    public bool Compact { get; init; }
    /// <summary><c>target_file_mb</c>: <c>maintain --target-file-mb</c>, only with <see cref="Compact"/>; null for maintain's default.</summary>
    public int? TargetFileMb { get; init; }
}

public sealed record RunLogSettings
{
    /// <summary>
    /// <c>run_logs.keep</c>: after each run, the logs of runs started longer ago than this are deleted (never the
    /// latest); null keeps every log.
    /// </summary>
    public TimeSpan? Keep { get; init; }
}

/// <summary>Table metadata written over a table's Parquet files; <see cref="Parquet"/> alone is plain Parquet (no metadata).</summary>
[Flags]
public enum TableFormats
{
    Parquet = 0,
    Iceberg = 1,
    Delta = 2,
}

public enum Compression { Zstd, Snappy, Gzip, None }

public enum InvalidRecordPolicy { Fail, Skip, Quarantine }
