using YamlDotNet.RepresentationModel;

namespace DataSpoc.Pipe.Config;

/// <summary><c>config.yaml</c>'s <c>defaults</c>: applied to pipelines that omit these destination keys.</summary>
public sealed record PipeDefaults
{
    public Compression? Compression { get; init; }
    public string? PartitionBy { get; init; }
    public string? Path { get; init; }
    public TableFormats? TableFormat { get; init; }

    /// <summary>
    /// Every <c>${VAR}</c> a run reads from <c>config.yaml</c>: in <c>defaults</c> and in the <c>openlineage</c> block
    /// (which <c>Lineage.OpenLineageSettings</c> expands at run time). The loader adds them to each pipeline's
    /// <see cref="PipelineDefinition.Variables"/>, so what looks for the variables a run needs (<c>validate</c>,
    /// <c>schedule install</c>, <c>k8s render</c>) finds these too.
    /// </summary>
    public IReadOnlyList<VariableUse> Variables { get; init; } = [];

    public static readonly PipeDefaults None = new();

    /// <summary>Reads <c>config.yaml</c>; a missing file means no defaults.</summary>
    public static PipeDefaults Load(string configYamlPath, Func<string, string?>? environment = null) =>
        Load(configYamlPath, PipeVariables.Environment(environment));

    /// <summary>Reads <c>config.yaml</c> with <paramref name="variables"/> (a home's: its <c>.env</c> too); a missing file means no defaults.</summary>
    internal static PipeDefaults Load(string configYamlPath, PipeVariables variables)
    {
        if (!File.Exists(configYamlPath)) return None;
        var scope = new VariableScope(variables, allowUnset: false);
        var yaml = new YamlNodes(configYamlPath, scope, new ConfigSecrets());
        var root = yaml.ParseDocument(File.ReadAllText(configYamlPath));
        var result = None;
        // openlineage: is read by Lineage.OpenLineageSettings; only its variables are looked at here. An unset one must
        // not stop loading the pipelines (a run reports it when it reads the block), so they are expanded leniently.
        var lineageScope = new VariableScope(variables, allowUnset: true);
        foreach (var (section, path, value) in yaml.Entries(root, "", ["defaults", "openlineage"]))
        {
            if (YamlNodes.IsNull(value)) continue;
            if (section == "openlineage")
            {
                RecordVariables(new YamlNodes(configYamlPath, lineageScope, new ConfigSecrets()), value, path);
                continue;
            }
            foreach (var (key, keyPath, v) in yaml.Entries(yaml.Mapping(value, path), path, ["compression", "partition_by", "path", "table_format"]))
            {
                result = key switch
                {
                    "compression" => result with { Compression = PipelineLoader.ParseCompression(yaml, v, keyPath) },
                    "partition_by" => result with { PartitionBy = yaml.OptionalString(v, keyPath) },
                    "table_format" => result with { TableFormat = PipelineLoader.ParseTableFormat(yaml, v, keyPath) },
                    _ => result with { Path = yaml.OptionalString(v, keyPath) },
                };
            }
        }
        return result with { Variables = [.. scope.Uses, .. lineageScope.Uses] };
    }

    /// <summary>Expands every value under <paramref name="node"/> only to record the <c>${VAR}</c>s it refers to.</summary>
    private static void RecordVariables(YamlNodes yaml, YamlNode node, string path)
    {
        switch (node)
        {
            case YamlMappingNode map:
                foreach (var (key, value) in map.Children)
                    RecordVariables(yaml, value, path + "." + ((key as YamlScalarNode)?.Value ?? ""));
                break;
            case YamlSequenceNode list:
                for (var i = 0; i < list.Children.Count; i++) RecordVariables(yaml, list.Children[i], $"{path}[{i}]");
                break;
            case YamlScalarNode scalar:
                // A malformed ${ is the lineage settings' error to report, with its line, when a run reads them.
                try { yaml.OptionalString(scalar, path); }
                catch (ConfigException) { }
                break;
        }
    }
}
