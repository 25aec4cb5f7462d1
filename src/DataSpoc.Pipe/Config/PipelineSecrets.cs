namespace DataSpoc.Pipe.Config;

/// <summary>
/// Every secret a pipeline knows of: the loader's (secret keys, <c>${VAR}</c> values by key), any set in code,
/// secret-looking values of its inline tap config, and the credentials of the environment its tap inherits
/// (<see cref="EnvironmentSecrets"/>). A run masks its log, errors and events with these, and every front end masks what
/// it shows of a pipeline with them.
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
        foreach (var value in EnvironmentSecrets.Values(Environment.GetEnvironmentVariables())) secrets.AddValue(value);
        return secrets;
    }
}
