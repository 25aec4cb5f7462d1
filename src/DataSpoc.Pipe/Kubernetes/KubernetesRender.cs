using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using YamlDotNet.RepresentationModel;

namespace DataSpoc.Pipe.Kubernetes;

/// <summary>One rendered pipeline: its object name, schedule and the Secret keys it reads.</summary>
public sealed record RenderedPipeline(string Pipeline, string ObjectName, string? Cron, IReadOnlyList<string> SecretVariables);

/// <summary>The files of a render: paths relative to the output folder, and the pipelines they run.</summary>
public sealed record RenderedManifests(IReadOnlyList<(string Path, string Text)> Files, IReadOnlyList<RenderedPipeline> Pipelines)
{
    /// <summary>What <c>kubectl apply -k</c> would create (every resource of <c>kustomization.yaml</c>), as one YAML stream.</summary>
    public required string ApplyStream { get; init; }

    /// <summary>What renders but will not work as the pipeline expects in a pod (a <c>file://</c> bucket), one sentence each naming the pipeline.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>Writes every file under <paramref name="directory"/> (created when missing; files of an earlier render are replaced).</summary>
    public void WriteTo(string directory)
    {
        foreach (var (path, text) in Files)
        {
            var full = System.IO.Path.Combine(directory, path);
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
            File.WriteAllText(full, text);
        }
    }
}

/// <summary>
/// Kubernetes manifests for the pipelines of a home (<c>dataspoc-pipe k8s render</c>): a Kustomize folder with a
/// ServiceAccount (cloud access by workload identity / IRSA annotations, no keys), per pipeline a ConfigMap carrying its
/// files and a CronJob when it is scheduled, and beside them (not applied) an ad-hoc Job per pipeline. Secrets are never
/// rendered: each <c>${VAR}</c> a pipeline reads (<c>config.yaml</c>'s included) becomes an environment variable from one
/// Secret, and a literal secret in a pipeline, tap config or <c>config.yaml</c> is refused, since a ConfigMap is not secret storage.
/// </summary>
public static class KubernetesRender
{
    /// <summary>ConfigMaps hold at most 1 MiB; the object's own fields need a little of it.</summary>
    public const int ConfigMapDataLimit = 1_000_000;

    /// <summary>Variables the pod sets itself, so they are never read from the Secret.</summary>
    private static readonly string[] PodVariables = ["HOME", PipeHome.EnvironmentVariable];

    public static RenderedManifests Render(PipeHome home, KubernetesRenderOptions options, Func<string, string?>? environment = null)
    {
        var names = home.PipelineNames();
        if (names.Count == 0) throw new ConfigException("has no pipelines to render (create one with: dataspoc-pipe add <name>)", home.PipelinesDirectory);
        var files = new List<(string, string)>();
        var applied = new List<ManifestMap>();
        var pipelines = new List<RenderedPipeline>();
        var resources = new List<object> { "serviceaccount.yaml" };
        var serviceAccount = PipelineWorkloads.ServiceAccount(options);
        files.Add(("serviceaccount.yaml", ManifestYaml.Write([serviceAccount])));
        applied.Add(serviceAccount);
        var taken = new Dictionary<string, string>(StringComparer.Ordinal);
        var warnings = new List<string>();
        foreach (var name in names)
        {
            var file = home.FindPipelineFile(name)!;
            var (pipeline, variables) = PipelineVariables.Load(home, file, environment);
            var objectName = KubernetesNames.ForPipeline(name);
            if (taken.TryGetValue(objectName, out var other))
                throw new ConfigException($"pipelines '{other}' and '{name}' map to the same Kubernetes name '{objectName}': rename one", file);
            taken[objectName] = name;
            var homeFiles = HomeFiles(home, pipeline, file);
            var secretVariables = variables.Where(v => !PodVariables.Contains(v, StringComparer.Ordinal)).ToList();
            var pod = new PipelineWorkloads.PodInputs(objectName, name, homeFiles, secretVariables, options);

            var objects = new List<ManifestMap> { PipelineWorkloads.ConfigMap(objectName, name, options.Namespace, homeFiles) };
            var cron = pipeline.Schedule?.Cron;
            if (cron is not null) objects.Add(PipelineWorkloads.CronJob(pod, cron, pipeline.Source.Timeout));
            files.Add(($"pipelines/{objectName}.yaml", ManifestYaml.Write(objects)));
            resources.Add($"pipelines/{objectName}.yaml");
            applied.AddRange(objects);
            files.Add(($"jobs/{objectName}-run.yaml", ManifestYaml.Write([PipelineWorkloads.AdHocJob(pod, pipeline.Source.Timeout)])));
            if (pipeline.Source.Split is { Parts: var parts })
                files.Add(($"jobs/{objectName}-split.yaml", ManifestYaml.Write([PipelineWorkloads.IndexedJob(pod, parts, pipeline.Source.Timeout)])));
            pipelines.Add(new RenderedPipeline(name, objectName, cron, secretVariables));
            if (LocalBucketWarning(pipeline) is { } warning) warnings.Add(warning);
        }
        var kustomization = new ManifestMap
        {
            ["apiVersion"] = "kustomize.config.k8s.io/v1beta1",
            ["kind"] = "Kustomization",
            ["namespace"] = options.Namespace,
            ["resources"] = resources,
        };
        files.Insert(0, ("kustomization.yaml", ManifestYaml.Write([kustomization])));
        return new RenderedManifests(files, pipelines) { ApplyStream = ManifestYaml.Write(applied), Warnings = warnings };
    }

    /// <summary>
    /// A <c>file://</c> bucket is a folder of the pod: /tmp is an emptyDir that goes with the pod and the rest is read-only,
    /// and the parts of a split Job run in pods that share no folder. It renders (a Kustomize patch may mount a shared
    /// volume there), with a warning.
    /// </summary>
    private static string? LocalBucketWarning(PipelineDefinition pipeline)
    {
        try
        {
            if (Storage.BucketUri.Parse(pipeline.Destination.Bucket).Scheme != "file") return null;
        }
        catch (FormatException)
        {
            return null; // a ${VAR} the Secret sets; the pod's run checks it
        }
        return $"pipeline '{pipeline.Name}' writes to {pipeline.Destination.Bucket}, a folder inside the pod: unless a volume is mounted there, " +
            "what a run writes is lost with its pod (its /tmp is an emptyDir, the rest of its filesystem read-only)" +
            (pipeline.Source.Split is not null ? ", and the pods of its split Job never see each other's staged parts, so none of them commits" : "") +
            "; use an s3://, gs:// or az:// bucket, or mount a volume shared by the pods at that path (a Kustomize patch)";
    }

    /// <summary>
    /// The files a run reads from the home, at the same relative paths: the pipeline, <c>config.yaml</c>, the tap config
    /// file, the cached stream catalog and the cached tap answer (<c>&lt;name&gt;.tap.json</c>): the pod's home is read-only,
    /// so what a pod found out itself could not be cached.
    /// </summary>
    private static List<PipelineWorkloads.HomeFile> HomeFiles(PipeHome home, PipelineDefinition pipeline, string pipelineFile)
    {
        var pipelineText = File.ReadAllText(pipelineFile);
        RefuseLiteralSecrets(YamlRoot(pipelineText, pipelineFile), pipeline.Name, pipelineFile, "");
        var files = new List<PipelineWorkloads.HomeFile> { new("pipeline.yaml", Relative(home, pipelineFile), pipelineText) };
        if (File.Exists(home.ConfigPath))
        {
            // Rendered into the same ConfigMap: an OpenLineage api_key or a password in its URL is refused as in a pipeline.
            var configText = File.ReadAllText(home.ConfigPath);
            RefuseLiteralSecrets(YamlRoot(configText, home.ConfigPath), pipeline.Name, home.ConfigPath, "");
            files.Add(new("config.yaml", "config.yaml", configText));
        }
        if (pipeline.Source.ConfigFile is { } configFile)
        {
            var rawPath = RawSourceConfig(pipelineText, pipelineFile);
            if (rawPath is not null && rawPath.StartsWith('/'))
                throw new ConfigException($"is an absolute path; in a pod the home folder is {PipelineWorkloads.PodPipeHome}: name the file relative to the home (e.g. sources/{Path.GetFileName(configFile)})", pipelineFile, key: "source.config");
            var relative = Relative(home, configFile);
            if (relative.StartsWith("..", StringComparison.Ordinal))
                throw new ConfigException($"'{configFile}' is outside the home folder {home.Root}: move it under sources/ so the pod's ConfigMap can carry it", pipelineFile, key: "source.config");
            var text = File.ReadAllText(configFile);
            RefuseLiteralSecrets(JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }), pipeline.Name, configFile, "");
            files.Add(new("source.json", relative, text));
        }
        // The cached catalog also without source.streams: a pod still discovers, and compares with it (so it names what
        // changed at the source) rather than finding no cache and trying, on its read-only home, to write one every run.
        var catalog = Sources.TapCatalogs.CachePath(pipeline);
        if (pipeline.Source.Streams is { Count: > 0 } && !File.Exists(catalog))
            throw new ConfigException($"selects streams but has no cached catalog: run 'dataspoc-pipe streams {pipeline.Name}' first (a pod's home is read-only and cannot cache one)", pipelineFile, key: "source.streams");
        if (catalog is not null && File.Exists(catalog))
            files.Add(new("catalog.json", Relative(home, catalog), File.ReadAllText(catalog)));
        // What the tap said of itself (--help/--about), when a run, validate or streams cached it here: without it every
        // pod asks the tap again (up to 15 s for one that ignores the question) and cannot keep the answer.
        if (Sources.TapCatalogs.CapabilitiesCachePath(pipeline) is { } capabilities && File.Exists(capabilities))
            files.Add(new("tap.json", Relative(home, capabilities), File.ReadAllText(capabilities)));
        var size = files.Sum(f => Encoding.UTF8.GetByteCount(f.Text));
        if (size > ConfigMapDataLimit)
            throw new ConfigException($"its files come to {size:N0} bytes, more than a ConfigMap holds ({ConfigMapDataLimit:N0})", pipelineFile);
        return files;
    }

    private static string Relative(PipeHome home, string path) => Path.GetRelativePath(home.Root, Path.GetFullPath(path)).Replace('\\', '/');

    private static YamlNode? YamlRoot(string text, string file)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw new ConfigException("invalid YAML: " + e.Message, file, (int)e.Start.Line);
        }
        return stream.Documents.Count > 0 ? stream.Documents[0].RootNode : null;
    }

    private static string? RawSourceConfig(string text, string file) =>
        YamlRoot(text, file) is YamlMappingNode root &&
        root.Children.TryGetValue(new YamlScalarNode("source"), out var source) && source is YamlMappingNode s &&
        s.Children.TryGetValue(new YamlScalarNode("config"), out var config) && config is YamlScalarNode scalar
            ? scalar.Value
            : null;

    /// <summary>Refuses every literal secret of a pipeline file or <c>config.yaml</c> (<see cref="LiteralSecretIn"/>) before it lands in a ConfigMap.</summary>
    private static void RefuseLiteralSecrets(YamlNode? node, string pipeline, string file, string path)
    {
        if (node is YamlMappingNode map)
        {
            foreach (var (k, v) in map.Children)
            {
                var key = (k as YamlScalarNode)?.Value ?? "";
                var keyPath = path.Length == 0 ? key : path + "." + key;
                if (v is YamlScalarNode { Value: { } value } && LiteralSecretIn(key, value) is { } what)
                    throw LiteralSecret(pipeline, file, (int)v.Start.Line, keyPath, what);
                RefuseLiteralSecrets(v, pipeline, file, keyPath);
            }
        }
        else if (node is YamlSequenceNode list)
        {
            var i = 0;
            foreach (var item in list) RefuseLiteralSecrets(item, pipeline, file, $"{path}[{i++}]");
        }
    }

    /// <summary>Refuses every literal secret of a tap config file (<see cref="LiteralSecretIn"/>) before it lands in a ConfigMap.</summary>
    private static void RefuseLiteralSecrets(JsonNode? node, string pipeline, string file, string path)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (k, v) in o)
                {
                    var keyPath = path.Length == 0 ? k : path + "." + k;
                    if (v is JsonValue value && value.TryGetValue<string>(out var s) && LiteralSecretIn(k, s) is { } what)
                        throw LiteralSecret(pipeline, file, null, keyPath, what);
                    RefuseLiteralSecrets(v, pipeline, file, keyPath);
                }
                break;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++) RefuseLiteralSecrets(a[i], pipeline, file, $"{path}[{i}]");
                break;
        }
    }

    /// <summary>
    /// What of a value under <paramref name="key"/> is a literal secret, or null: the whole value when the key looks
    /// secret, or a part of it that <see cref="ConfigSecrets"/> would mask (a URL's password, <c>password=...</c>), unless
    /// it is a <c>${VAR}</c> reference, which the pod reads from the Secret. A <c>${VAR:-default}</c>'s default is the
    /// file's own text (the pod uses it when the Secret lacks the key, which it may: the Secret's keys are optional).
    /// </summary>
    private static string? LiteralSecretIn(string key, string value)
    {
        var ownText = OwnText(value);
        if (ConfigSecrets.IsSecretKey(key))
            return ownText is null ? value.Length > 0 ? "a literal secret" : null
                : ownText.Value.WithDefaults != ownText.Value.Literal ? "a literal secret as the default of a ${VAR:-default}" : null;
        var written = ConfigSecrets.EmbeddedIn(value).Any(secret => !secret.Contains("${", StringComparison.Ordinal));
        // A secret the defaults bring in (password=${PW:-pw}): in the text with them, not in the text without.
        var defaulted = ownText is { } own && own.WithDefaults != own.Literal
            && ConfigSecrets.EmbeddedIn(own.WithDefaults).Except(ConfigSecrets.EmbeddedIn(own.Literal)).Any();
        return written || defaulted
            ? "a literal secret inside its value (a URL's password or a password=... setting, written out or as a ${VAR:-default} default)"
            : null;
    }

    /// <summary>
    /// The text of <paramref name="value"/> that is the file's own, when it holds <c>${VAR}</c> references (null when it
    /// has none): <c>Literal</c> without the variables, <c>WithDefaults</c> with their defaults in their place.
    /// </summary>
    private static (string Literal, string WithDefaults)? OwnText(string value)
    {
        try
        {
            var withDefaults = VariableInterpolation.Expand(value, _ => null, out var substituted, _ => "");
            // Every variable set (to a marker removed after): no default applies.
            return substituted ? (VariableInterpolation.Expand(value, _ => "\0", out _).Replace("\0", "", StringComparison.Ordinal), withDefaults) : null;
        }
        catch (FormatException)
        {
            return null; // not a reference the engine expands: the text is literal
        }
    }

    private static ConfigException LiteralSecret(string pipeline, string file, int? line, string key, string what) =>
        new($"holds {what}, which would be rendered into a ConfigMap (readable by anyone who can read the namespace's " +
            $"ConfigMaps) for pipeline '{pipeline}': write it as ${{VAR}} without a default and put the value under that key in the Secret", file, line, key);
}
