using YamlDotNet.RepresentationModel;

namespace DataSpoc.Pipe.Config;

/// <summary><c>config.yaml</c>'s <c>defaults</c>: applied to pipelines that omit these destination keys.</summary>
public sealed record PipeDefaults
{
    public Compression? Compression { get; init; }
    public string? PartitionBy { get; init; }
    public string? Path { get; init; }
    public TableFormats? TableFormat { get; init; }

    public static readonly PipeDefaults None = new();

    /// <summary>Reads <c>config.yaml</c>; a missing file means no defaults.</summary>
    public static PipeDefaults Load(string configYamlPath, Func<string, string?>? environment = null)
    {
        if (!File.Exists(configYamlPath)) return None;
        var yaml = new YamlNodes(configYamlPath, new VariableScope(PipeVariables.Environment(environment), allowUnset: false), new ConfigSecrets());
        var root = yaml.ParseDocument(File.ReadAllText(configYamlPath));
        var result = None;
        // openlineage: is read by Lineage.OpenLineageSettings.
        foreach (var (section, path, value) in yaml.Entries(root, "", ["defaults", "openlineage"]))
        {
            if (section != "defaults" || YamlNodes.IsNull(value)) continue;
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
        return result;
    }
}
