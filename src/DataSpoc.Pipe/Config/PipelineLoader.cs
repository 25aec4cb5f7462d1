using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cronos;
using DataSpoc.Pipe.Scheduling;
using YamlDotNet.RepresentationModel;

namespace DataSpoc.Pipe.Config;

/// <summary>
/// Reads <c>pipelines/&lt;name&gt;.yaml</c> into a <see cref="PipelineDefinition"/>: strict keys and types (errors name
/// file, line and key), <c>${VAR}</c> expansion in the YAML and in the tap's JSON config file, and
/// <c>config.yaml</c> defaults for keys the pipeline omits.
/// </summary>
public sealed class PipelineLoader
{
    private static readonly string[] TopKeys = ["source", "destination", "incremental", "schedule", "run_logs", "on_invalid_record", "transforms"];
    private static readonly string[] SourceKeys = ["tap", "config", "streams", "name", "timeout", "idle_timeout", "max_line_mb", "catalog_flag", "discover", "replication", "select", "split"];
    private static readonly string[] SplitKeys = ["column", "parts", "parallel"];
    private static readonly string[] ReplicationKeys = ["method", "key"];
    private static readonly string[] DestinationKeys = ["bucket", "path", "compression", "partition_by", "max_file_rows", "max_file_mb", "storage_options", "table_format", "write_mode", "merge"];
    private static readonly string[] MergeKeys = ["order_by", "hard_delete"];
    private static readonly string[] ScheduleKeys = ["cron", "maintain"];
    private static readonly string[] MaintainScheduleKeys = ["cron", "expire_older_than", "compact", "target_file_mb"];

    private readonly PipeDefaults _defaults;
    private readonly PipeVariables _variables;
    private readonly bool _allowUnsetVariables;
    private readonly string? _baseDirectory;

    /// <param name="defaults">From <c>config.yaml</c>; null for none.</param>
    /// <param name="baseDirectory">Where relative <c>source.config</c> paths are looked up (the home folder), besides the YAML file's folder.</param>
    /// <param name="environment">Variable lookup for <c>${VAR}</c>; the process environment by default.</param>
    public PipelineLoader(PipeDefaults? defaults = null, string? baseDirectory = null, Func<string, string?>? environment = null)
        : this(defaults, baseDirectory, PipeVariables.Environment(environment), allowUnsetVariables: false)
    {
    }

    private PipelineLoader(PipeDefaults? defaults, string? baseDirectory, PipeVariables variables, bool allowUnsetVariables)
    {
        _defaults = defaults ?? PipeDefaults.None;
        _baseDirectory = baseDirectory;
        _variables = variables;
        _allowUnsetVariables = allowUnsetVariables;
    }

    /// <summary>
    /// A loader for pipelines in <paramref name="home"/>, with its <c>config.yaml</c> defaults and its <c>.env</c> under
    /// <paramref name="environment"/> (the process environment by default). Throws <see cref="ConfigException"/> when
    /// the <c>.env</c> is not private to the user or not valid.
    /// </summary>
    /// <param name="home">The home folder.</param>
    /// <param name="environment">Variable lookup that wins over <c>.env</c>; null for the process environment.</param>
    /// <param name="allowUnsetVariables">
    /// Load to check, not to run: a <c>${VAR}</c> set nowhere and without default expands to nothing and is listed in
    /// <see cref="PipelineDefinition.Variables"/> as <see cref="VariableOrigin.Unset"/> instead of failing the load.
    /// </param>
    public static PipelineLoader ForHome(PipeHome home, Func<string, string?>? environment = null, bool allowUnsetVariables = false)
    {
        var variables = PipeVariables.ForHome(home, environment);
        return new(PipeDefaults.Load(home.ConfigPath, variables), home.Root, variables, allowUnsetVariables);
    }

    /// <summary>Where this loader's <c>${VAR}</c> values come from.</summary>
    public PipeVariables Variables => _variables;

    /// <summary>Reads a pipeline file; its name is the file name without extension.</summary>
    public PipelineDefinition LoadFile(string path)
    {
        string text;
        try
        {
            // Checked before reading: a pipeline path that names a huge file must not be loaded whole to be refused.
            if (new FileInfo(path).Length is var bytes && bytes > YamlNodes.MaxChars * 4L)
                throw new ConfigException($"is {bytes:N0} bytes long; a pipeline file may have at most {YamlNodes.MaxChars:N0} characters", path);
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException("cannot read: " + e.Message, path, inner: e);
        }
        return Parse(text, Path.GetFileNameWithoutExtension(path), path);
    }

    /// <summary>Parses pipeline YAML. <paramref name="file"/> names it in errors and anchors relative paths.</summary>
    public PipelineDefinition Parse(string yamlText, string name, string file)
    {
        Lake.LakeNames.Pipeline(name, file);
        var secrets = new ConfigSecrets();
        // Everything in .env is a secret, whether or not this pipeline refers to it (masked in all its output); the values
        // it refers to through ${VAR} are added again below as its own.
        foreach (var value in _variables.DotEnvValues) secrets.AddUnreferenced(value);
        var variables = new VariableScope(_variables, _allowUnsetVariables);
        var yaml = new YamlNodes(file, variables, secrets);
        var root = yaml.ParseDocument(yamlText);

        SourceDefinition? source = null;
        DestinationDefinition? destination = null;
        var incremental = new IncrementalSettings();
        ScheduleSettings? schedule = null;
        var runLogs = new RunLogSettings();
        var onInvalid = InvalidRecordPolicy.Fail;
        var transforms = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);

        foreach (var (key, path, value) in yaml.Entries(root, "", TopKeys))
        {
            switch (key)
            {
                case "source": source = ParseSource(yaml, yaml.Mapping(value, path), file, secrets, variables); break;
                case "destination": destination = ParseDestination(yaml, yaml.Mapping(value, path)); break;
                case "incremental":
                    if (YamlNodes.IsNull(value)) break;
                    foreach (var (_, p, v) in yaml.Entries(yaml.Mapping(value, path), path, ["enabled"]))
                        incremental = new IncrementalSettings { Enabled = yaml.OptionalBool(v, p) ?? false };
                    break;
                case "schedule":
                    if (!YamlNodes.IsNull(value)) schedule = ParseSchedule(yaml, yaml.Mapping(value, path), path);
                    break;
                case "run_logs":
                    if (YamlNodes.IsNull(value)) break;
                    foreach (var (_, p, v) in yaml.Entries(yaml.Mapping(value, path), path, ["keep"]))
                        runLogs = new RunLogSettings { Keep = yaml.OptionalDuration(v, p) };
                    break;
                case "on_invalid_record":
                    onInvalid = yaml.OptionalString(value, path) switch
                    {
                        null or "fail" => InvalidRecordPolicy.Fail,
                        "skip" => InvalidRecordPolicy.Skip,
                        "quarantine" => InvalidRecordPolicy.Quarantine,
                        var other => throw yaml.Error(value, path, $"expected fail, skip or quarantine, got '{other}'"),
                    };
                    break;
                case "transforms":
                    if (YamlNodes.IsNull(value)) break;
                    foreach (var (stream, p, v) in yaml.Entries(yaml.Mapping(value, path), path, null))
                        transforms[stream] = yaml.ToJson(v, p);
                    break;
            }
        }
        if (source is null) throw new ConfigException("is required (source: tap: ...)", file, YamlNodes.LineOf(root), "source");
        if (destination is null) throw new ConfigException("is required (destination: bucket: ...)", file, YamlNodes.LineOf(root), "destination");

        var pipeline = new PipelineDefinition
        {
            Name = name,
            Source = source,
            Destination = destination,
            Incremental = incremental,
            Schedule = schedule,
            RunLogs = runLogs,
            OnInvalidRecord = onInvalid,
            Transforms = transforms,
            FilePath = file,
            Secrets = secrets.Values.ToList(),
            Redaction = secrets,
            // config.yaml's too: a run of this pipeline reads them (its defaults, the OpenLineage block).
            Variables = [.. variables.Uses, .. _defaults.Variables],
        };
        // The rules a definition made in code is checked by too (one copy of them), here with the line of the key's value.
        if (PipelineRules.Of(pipeline) is [var problem, ..])
            throw new ConfigException(problem.Reason, file, LineOfNearest(yaml, problem.Key), problem.Key);
        return pipeline;
    }

    /// <summary>
    /// The line of <paramref name="key"/>'s value, else of the nearest enclosing key the file sets: a rule may be broken by
    /// a key left out (<c>source.replication.orders.key</c>), which points at its stream's entry.
    /// </summary>
    private static int? LineOfNearest(YamlNodes yaml, string key)
    {
        for (var k = key; k.Length > 0; k = k[..Math.Max(k.LastIndexOf('.'), 0)])
            if (yaml.LineOfValue(k) is { } line) return line;
        return null;
    }

    private SourceDefinition ParseSource(YamlNodes yaml, YamlMappingNode map, string file, ConfigSecrets secrets, VariableScope variables)
    {
        YamlNode? tapNode = null;
        string? configPath = null, configFile = null, name = null;
        JsonObject? inline = null;
        List<string>? streams = null;
        TimeSpan? timeout = null, idle = null;
        long? maxLineMb = null;
        var catalogFlag = CatalogFlags.Auto;
        var discover = DiscoverModes.Always;
        var replication = new Dictionary<string, StreamReplication>(StringComparer.Ordinal);
        var select = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        SplitSettings? split = null;
        foreach (var (key, path, value) in yaml.Entries(map, "source", SourceKeys))
        {
            switch (key)
            {
                case "tap": tapNode = value; break;
                case "config":
                    if (YamlNodes.IsNull(value)) break;
                    if (value is YamlMappingNode)
                    {
                        inline = (JsonObject)yaml.ToJson(value, path)!;
                        break;
                    }
                    var named = yaml.OptionalString(value, path)!;
                    configFile = ResolveConfigPath(named, file);
                    if (!File.Exists(configFile)) throw yaml.Error(value, path, $"tap config file '{configFile}' does not exist");
                    var loaded = LoadTapConfig(configFile, variables, secrets, out var substituted);
                    if (substituted) inline = loaded;
                    else configPath = configFile;
                    break;
                case "streams": streams = yaml.OptionalStringList(value, path); break;
                case "name":
                    name = yaml.OptionalString(value, path);
                    if (name is not null && Lake.LakeNames.SourceNameError(name) is { } badName) throw yaml.Error(value, path, badName);
                    break;
                case "timeout": timeout = yaml.OptionalDuration(value, path); break;
                case "idle_timeout": idle = yaml.OptionalDuration(value, path); break;
                case "max_line_mb": maxLineMb = yaml.OptionalInteger(value, path); break;
                case "catalog_flag": catalogFlag = yaml.OptionalString(value, path) ?? CatalogFlags.Auto; break;
                case "discover": discover = yaml.OptionalString(value, path) ?? DiscoverModes.Always; break;
                case "replication":
                    if (YamlNodes.IsNull(value)) break;
                    foreach (var (stream, streamPath, entry) in yaml.Entries(yaml.Mapping(value, path), path, null))
                        replication[stream] = ParseReplication(yaml, yaml.Mapping(entry, streamPath), streamPath);
                    break;
                case "select":
                    if (YamlNodes.IsNull(value)) break;
                    foreach (var (stream, streamPath, entry) in yaml.Entries(yaml.Mapping(value, path), path, null))
                    {
                        // None listed is refused by PipelineRules, as it is for a definition made in code.
                        select[stream] = yaml.OptionalStringList(entry, streamPath) ?? [];
                    }
                    break;
                case "split":
                    if (!YamlNodes.IsNull(value)) split = ParseSplit(yaml, yaml.Mapping(value, path), path);
                    break;
            }
        }
        var tap = yaml.RequiredString(map, tapNode, "source.tap");
        var keyLines = map.Children.Keys.OfType<YamlScalarNode>().Where(k => k.Value is not null)
            .ToDictionary(k => "source." + k.Value, YamlNodes.LineOf, StringComparer.Ordinal);
        return new SourceDefinition
        {
            KeyLines = keyLines,
            Tap = tap,
            ConfigPath = configPath,
            InlineConfig = inline,
            ConfigFile = configFile,
            Streams = streams,
            Name = name,
            Timeout = timeout,
            IdleTimeout = idle,
            MaxLineMb = maxLineMb,
            CatalogFlag = catalogFlag,
            Discover = discover,
            Replication = replication,
            Select = select,
            Split = split,
        };
    }

    private static ScheduleSettings ParseSchedule(YamlNodes yaml, YamlMappingNode map, string path)
    {
        var schedule = new ScheduleSettings();
        foreach (var (key, keyPath, value) in yaml.Entries(map, path, ScheduleKeys))
        {
            // The cron expressions are checked by PipelineRules (CronError), as in a definition made in code.
            if (key == "cron") schedule = schedule with { Cron = yaml.OptionalString(value, keyPath) };
            else if (!YamlNodes.IsNull(value)) schedule = schedule with { Maintain = ParseMaintainSchedule(yaml, yaml.Mapping(value, keyPath), keyPath) };
        }
        return schedule;
    }

    /// <summary><c>schedule.maintain</c>: the options of <c>maintain</c>, under the same names, checked as the command checks them.</summary>
    private static MaintainSchedule ParseMaintainSchedule(YamlNodes yaml, YamlMappingNode map, string path)
    {
        YamlNode? cronNode = null;
        string? cron = null;
        var expire = MaintainSchedule.DefaultExpireOlderThan;
        var compact = false;
        long? target = null;
        foreach (var (key, keyPath, value) in yaml.Entries(map, path, MaintainScheduleKeys))
        {
            switch (key)
            {
                case "cron": cronNode = value; cron = yaml.OptionalString(value, keyPath); break;
                case "expire_older_than": expire = yaml.OptionalDuration(value, keyPath) ?? expire; break;
                case "compact": compact = yaml.OptionalBool(value, keyPath) ?? false; break;
                case "target_file_mb":
                    // Any whole number that fits TargetFileMb: PipelineRules refuses one below 1, or one without compact.
                    target = yaml.OptionalInteger(value, keyPath);
                    if (target > int.MaxValue) throw yaml.Error(value, keyPath, $"at most {int.MaxValue} (MB)");
                    if (target < int.MinValue) throw yaml.Error(value, keyPath, PipelineRules.PositiveProblem(target)!);
                    break;
            }
        }
        if (cronNode is null) throw new ConfigException("is required: when to run maintain (cron: \"0 3 * * *\")", yaml.File, YamlNodes.LineOf(map), path + ".cron");
        return new MaintainSchedule { Cron = cron ?? "", ExpireOlderThan = expire, Compact = compact, TargetFileMb = (int?)target };
    }

    private static SplitSettings ParseSplit(YamlNodes yaml, YamlMappingNode map, string path)
    {
        YamlNode? columnNode = null;
        long? parts = null, parallel = null;
        foreach (var (key, keyPath, value) in yaml.Entries(map, path, SplitKeys))
        {
            // Any whole number: PipelineRules refuses parts or parallel below 1, and too many parts, as it does in code.
            // SplitSettings holds ints, so a number beyond them is refused here, by the same rule, before it is cut to fit.
            switch (key)
            {
                case "column": columnNode = value; break;
                case "parts":
                    parts = yaml.OptionalInteger(value, keyPath);
                    if (parts is < int.MinValue or > int.MaxValue) throw yaml.Error(value, keyPath, PipelineRules.SplitPartsProblem(parts.Value)!);
                    break;
                case "parallel":
                    parallel = yaml.OptionalInteger(value, keyPath);
                    if (parallel < int.MinValue) throw yaml.Error(value, keyPath, PipelineRules.PositiveProblem(parallel)!);
                    break;
            }
        }
        var column = yaml.RequiredString(map, columnNode, path + ".column");
        if (parts is null) throw yaml.Error(map, path + ".parts", "say how many key ranges to read (parts: 4)");
        return new SplitSettings(column, (int)parts.Value, (int)Math.Min(parallel ?? parts.Value, parts.Value));
    }

    private static StreamReplication ParseReplication(YamlNodes yaml, YamlMappingNode map, string path)
    {
        string? replicationKey = null;
        YamlNode? methodNode = null;
        foreach (var (key, keyPath, value) in yaml.Entries(map, path, ReplicationKeys))
        {
            if (key == "method") methodNode = value;
            else replicationKey = yaml.OptionalString(value, keyPath);
        }
        // The method's name and the key it needs are PipelineRules', as for a definition made in code.
        return new StreamReplication(yaml.RequiredString(map, methodNode, path + ".method").ToUpperInvariant(), replicationKey);
    }

    private DestinationDefinition ParseDestination(YamlNodes yaml, YamlMappingNode map)
    {
        YamlNode? bucketNode = null, pathNode = null;
        string? path = null, partition = null;
        Compression? compression = null;
        TableFormats? tableFormat = null;
        WriteMode? writeMode = null;
        var merge = new MergeSettings();
        YamlNode? mergeNode = null;
        long? maxRows = null, maxMb = null;
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, keyPath, value) in yaml.Entries(map, "destination", DestinationKeys))
        {
            switch (key)
            {
                case "bucket": bucketNode = value; break;
                case "path": path = yaml.OptionalString(value, keyPath) ?? ""; pathNode = value; break;
                case "compression": compression = ParseCompression(yaml, value, keyPath); break;
                case "partition_by": partition = yaml.OptionalString(value, keyPath); break;
                // Any whole number: PipelineRules says why one below 1 is refused (a definition made in code can hold one).
                case "max_file_rows": maxRows = yaml.OptionalInteger(value, keyPath); break;
                case "max_file_mb": maxMb = yaml.OptionalInteger(value, keyPath); break;
                case "table_format": tableFormat = ParseTableFormat(yaml, value, keyPath); break;
                case "write_mode":
                    try { writeMode = WriteModes.Parse(yaml.OptionalString(value, keyPath)); }
                    catch (FormatException e) { throw yaml.Error(value, keyPath, e.Message); }
                    break;
                case "merge":
                    if (YamlNodes.IsNull(value)) break;
                    mergeNode = value;
                    foreach (var (k, p, v) in yaml.Entries(yaml.Mapping(value, keyPath), keyPath, MergeKeys))
                        merge = k == "order_by" ? merge with { OrderBy = yaml.OptionalString(v, p) } : merge with { HardDelete = yaml.OptionalBool(v, p) ?? true };
                    break;
                case "storage_options":
                    if (YamlNodes.IsNull(value)) break;
                    foreach (var (k, p, v) in yaml.Entries(yaml.Mapping(value, keyPath), keyPath, null))
                    {
                        var text = yaml.OptionalString(v, p);
                        if (text is null) continue;
                        options[k] = text;
                        if (ConfigSecrets.IsSecretKey(k)) yaml.ConsiderSecret(k, text);
                    }
                    break;
            }
        }
        // Here, not only through PipelineRules.Of: a merge: key whose values are the defaults is still one nothing would use.
        if (PipelineRules.MergeProblem(mergeNode is not null, writeMode) is { } mergeProblem)
            throw yaml.Error(mergeNode!, "destination.merge", mergeProblem);
        var bucket = yaml.RequiredString(map, bucketNode, "destination.bucket");
        if (PipelineLocation.BucketProblem(bucket) is { } badBucket) throw yaml.Error(bucketNode!, "destination.bucket", badBucket);
        var basePath = path ?? _defaults.Path ?? "raw";
        if (PipelineLocation.PathProblem(basePath) is { } badPath)
            throw new ConfigException(badPath, yaml.File, YamlNodes.LineOf(pathNode ?? map), "destination.path");
        return new DestinationDefinition
        {
            Bucket = bucket,
            Path = basePath,
            Compression = compression ?? _defaults.Compression ?? Compression.Zstd,
            PartitionBy = partition ?? _defaults.PartitionBy ?? PartitionBySettings.ExtractionDate,
            MaxFileRows = maxRows,
            MaxFileMb = maxMb,
            TableFormat = tableFormat ?? _defaults.TableFormat ?? TableFormats.Parquet,
            WriteMode = writeMode,
            Merge = merge,
            StorageOptions = options,
        };
    }

    internal static Compression ParseCompression(YamlNodes yaml, YamlNode value, string path) =>
        yaml.OptionalString(value, path)?.ToLowerInvariant() switch
        {
            null or "zstd" => Compression.Zstd,
            "snappy" => Compression.Snappy,
            "gzip" => Compression.Gzip,
            "none" or "uncompressed" => Compression.None,
            var other => throw yaml.Error(value, path, $"expected zstd, snappy, gzip or none, got '{other}'"),
        };

    /// <summary><c>parquet</c>, <c>iceberg</c>, <c>delta</c>, or a list of <c>iceberg</c> and <c>delta</c> (both metadata over the same files).</summary>
    internal static TableFormats ParseTableFormat(YamlNodes yaml, YamlNode value, string path)
    {
        var names = yaml.OptionalStringList(value, path);
        if (names is null) return TableFormats.Parquet;
        if (names.Count == 0) throw yaml.Error(value, path, "expected parquet, iceberg, delta or [iceberg, delta], got an empty list");
        var formats = TableFormats.Parquet;
        foreach (var name in names)
        {
            var format = name.ToLowerInvariant() switch
            {
                "parquet" when names.Count == 1 => TableFormats.Parquet,
                "parquet" => throw yaml.Error(value, path, "parquet (no table metadata) cannot be combined with iceberg or delta; list only those (the data files are Parquet either way)"),
                "iceberg" => TableFormats.Iceberg,
                "delta" => TableFormats.Delta,
                _ => throw yaml.Error(value, path, $"expected parquet, iceberg, delta or [iceberg, delta], got '{name}'"),
            };
            if (format != TableFormats.Parquet && formats.HasFlag(format)) throw yaml.Error(value, path, $"'{name}' is listed twice");
            formats |= format;
        }
        return formats;
    }

    private string ResolveConfigPath(string named, string pipelineFile)
    {
        var expanded = PipeHome.ExpandHome(named);
        if (Path.IsPathRooted(expanded)) return expanded;
        var besideYaml = Path.GetFullPath(expanded, Path.GetDirectoryName(Path.GetFullPath(pipelineFile))!);
        if (File.Exists(besideYaml) || _baseDirectory is null) return besideYaml;
        return Path.GetFullPath(expanded, _baseDirectory);
    }

    /// <summary>
    /// Reads a tap's JSON config file, expanding <c>${VAR}</c> in its string values and recording secrets.
    /// Errors name the file and the line (invalid JSON) or the JSON path (missing variable); never a value.
    /// </summary>
    public static JsonObject LoadTapConfig(string path, Func<string, string?> environment, ConfigSecrets secrets, out bool substituted) =>
        LoadTapConfig(path, new VariableScope(PipeVariables.Environment(environment), allowUnset: false), secrets, out substituted);

    private static JsonObject LoadTapConfig(string path, VariableScope variables, ConfigSecrets secrets, out bool substituted)
    {
        JsonNode? node;
        try
        {
            using var stream = File.OpenRead(path);
            node = JsonNode.Parse(stream, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new ConfigException("invalid JSON: " + FirstSentence(e.Message), path, (int?)(e.LineNumber + 1), inner: e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException("cannot read: " + e.Message, path, inner: e);
        }
        if (node is not JsonObject obj) throw new ConfigException("a tap config must be a JSON object ({...})", path, 1);
        var any = false;
        ExpandJson(obj, "$", path, variables, secrets, ref any);
        secrets.ConsiderJson(obj);
        substituted = any;
        return obj;
    }

    private static void ExpandJson(JsonNode node, string jsonPath, string file, VariableScope variables, ConfigSecrets secrets, ref bool any)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (k, v) in o.ToList())
                {
                    if (v is null) continue;
                    if (v is JsonValue value && value.TryGetValue<string>(out var s))
                        o[k] = ExpandString(s, jsonPath + "." + k, file, variables, secrets, ref any);
                    else ExpandJson(v, jsonPath + "." + k, file, variables, secrets, ref any);
                }
                break;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++)
                {
                    if (a[i] is JsonValue value && value.TryGetValue<string>(out var s))
                        a[i] = ExpandString(s, $"{jsonPath}[{i}]", file, variables, secrets, ref any);
                    else if (a[i] is { } child) ExpandJson(child, $"{jsonPath}[{i}]", file, variables, secrets, ref any);
                }
                break;
        }
    }

    private static JsonValue ExpandString(string s, string jsonPath, string file, VariableScope variables, ConfigSecrets secrets, ref bool any)
    {
        try
        {
            var expanded = variables.Expand(s, file, jsonPath, out var did, out var secret);
            any |= did;
            if (secret) secrets.AddInterpolated("source.config" + jsonPath[1..], expanded, variables.LastOrigin);
            secrets.AddReferenced("source.config" + jsonPath[1..], variables.LastDotEnv);
            return JsonValue.Create(expanded);
        }
        catch (Exception e) when (e is MissingVariableException or FormatException)
        {
            throw new ConfigException(e.Message, file, key: jsonPath);
        }
    }

    /// <summary>
    /// Why a cron expression is invalid, or null when it is a valid five-field expression that cron (the crontab
    /// <c>schedule install</c> writes) and a Kubernetes CronJob (<c>k8s render</c>) both accept.
    /// </summary>
    /// <remarks>
    /// The one rule for every front end and for <c>schedule install</c>, which writes the expression into a crontab line
    /// as it is: its fields are separated by spaces only. A line break would end the crontab entry there (the rest would
    /// be an entry of its own), and a tab or another blank (a no-break space) is refused with it, rather than accepted
    /// here and refused by install. The expression is shown escaped (<c>\n</c>, <c>\t</c>), so what is wrong can be seen.
    /// </remarks>
    public static string? CronError(string cron)
    {
        const string shape = "(five fields: minute hour day-of-month month day-of-week)";
        var shown = Escaped(cron);
        if (cron.Where(IsEscaped).Select(c => (char?)c).FirstOrDefault() is { } odd)
            return $"invalid cron expression '{shown}' {shape}: it holds {CharacterName(odd)}: " +
                (char.IsWhiteSpace(odd) ? "separate the fields with spaces" : "remove it (it shows as nothing)");
        // Cronos refuses it as "Macro: Unexpected character 'r'": say what cron would do with it instead.
        if (cron.Trim().Equals("@reboot", StringComparison.OrdinalIgnoreCase))
            return $"invalid cron expression '{shown}' {shape}: @reboot is not supported: a schedule needs a time (or @hourly, @daily, @weekly, @monthly, @yearly)";
        try
        {
            CronSchedule.Parse(cron);
        }
        catch (CronFormatException e)
        {
            return $"invalid cron expression '{shown}' {shape}: {e.Message}";
        }
        return QuartzOnly(cron) is { } what
            ? $"invalid cron expression '{shown}' {shape}: {what} is Quartz syntax, which cron and Kubernetes CronJobs do not accept (one such line makes crontab refuse the whole file)"
            : null;
    }

    /// <summary>
    /// <paramref name="text"/> with each character that does not show as itself written as an escape (<c>\t</c>, <c>\n</c>,
    /// <c>\u00a0</c>, <c>\u200b</c>): control and format characters and every blank but the space.
    /// </summary>
    private static string Escaped(string text)
    {
        if (!text.Any(IsEscaped)) return text;
        var shown = new System.Text.StringBuilder(text.Length + 8);
        foreach (var c in text)
            shown.Append(c switch
            {
                '\t' => "\\t",
                '\n' => "\\n",
                '\r' => "\\r",
                _ when IsEscaped(c) => $"\\u{(int)c:x4}",
                _ => c.ToString(),
            });
        return shown.ToString();
    }

    // Not the surrogates (Cs): a pair is one visible character, an emoji say.
    private static bool IsEscaped(char c) => c != ' ' && char.GetUnicodeCategory(c) is UnicodeCategory.Control or UnicodeCategory.Format
        or UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator;

    private static string CharacterName(char c) => c switch
    {
        '\t' => "a tab (\\t)",
        '\n' => "a line break (\\n)",
        '\r' => "a carriage return (\\r)",
        _ => $"the character U+{(int)c:X4}",
    };

    /// <summary>
    /// The Quartz extension Cronos accepts even in its standard format (<c>L</c>, <c>W</c>, <c>#</c>, <c>?</c>), or null.
    /// Month and weekday names (JUL, WED) hold the same letters, so each is looked for only in the field where it means
    /// something: names are allowed in month and day-of-week only, and no weekday name has an L.
    /// </summary>
    private static string? QuartzOnly(string cron)
    {
        if (cron.TrimStart().StartsWith('@')) return null;
        var fields = cron.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length != 5) return null;
        if (cron.Contains('?')) return "'?' (no specific value)";
        if (fields[4].Contains('#')) return "'#' (the nth weekday of the month)";
        if (fields[2].Contains('W', StringComparison.OrdinalIgnoreCase)) return "'W' (the nearest weekday) in day-of-month";
        if (fields[2].Contains('L', StringComparison.OrdinalIgnoreCase)) return "'L' (the last day) in day-of-month";
        if (fields[4].Contains('L', StringComparison.OrdinalIgnoreCase)) return "'L' (the last weekday of the month) in day-of-week";
        return null;
    }

    /// <summary>
    /// Whether a valid cron expression never fires (<c>0 0 31 2 *</c>: no date matches its day-of-month and month),
    /// by cron's rule for the two day fields (<see cref="CronSchedule"/>).
    /// </summary>
    public static bool CronNeverFires(string cron) => CronSchedule.Parse(cron).NeverFires;

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }
}
