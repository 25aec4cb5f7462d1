using DataSpoc.Pipe.Config;

namespace DataSpoc.Pipe.Api;

/// <summary>Every secret a pipeline knows of: the loader's (secret keys, <c>${VAR}</c> values by key) plus any set in code.</summary>
internal static class PipelineSecrets
{
    public static ConfigSecrets Of(PipelineDefinition pipeline)
    {
        var secrets = new ConfigSecrets();
        foreach (var value in pipeline.Redaction.Values.Concat(pipeline.Secrets)) secrets.AddValue(value);
        foreach (var path in pipeline.Redaction.InterpolatedKeys) secrets.AddInterpolated(path, "");
        secrets.ConsiderJson(pipeline.Source.InlineConfig);
        return secrets;
    }
}
