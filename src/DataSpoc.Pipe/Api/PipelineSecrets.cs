using DataSpoc.Pipe.Config;

namespace DataSpoc.Pipe.Api;

/// <summary>
/// Every secret a pipeline knows of: the loader's (secret keys, <c>${VAR}</c> values by key), any set in code, and
/// secret-looking values of its inline tap config. Every front end masks what it shows of a pipeline with these.
/// </summary>
public static class PipelineSecrets
{
    /// <summary>The secrets of <paramref name="pipeline"/>, ready to mask text and JSON.</summary>
    public static ConfigSecrets Of(PipelineDefinition pipeline)
    {
        var secrets = new ConfigSecrets();
        foreach (var value in pipeline.Redaction.Values.Concat(pipeline.Secrets)) secrets.AddValue(value);
        foreach (var path in pipeline.Redaction.InterpolatedKeys) secrets.AddInterpolated(path, "");
        secrets.ConsiderJson(pipeline.Source.InlineConfig);
        return secrets;
    }
}
