using System.Text.Json.Nodes;

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
        var redaction = pipeline.Redaction;
        foreach (var value in redaction.Values)
        {
            if (redaction.Unreferenced.Contains(value)) secrets.AddUnreferenced(value);
            else secrets.AddValue(value, redaction.OriginOf(value));
        }
        // The loader's are in Redaction too (with where each comes from); those set in code only here.
        foreach (var value in pipeline.Secrets.Where(v => !redaction.Values.Contains(v))) secrets.AddValue(value, "a value of PipelineDefinition.Secrets");
        foreach (var path in redaction.InterpolatedKeys) secrets.AddInterpolated(path, "");
        secrets.ConsiderJson(pipeline.Source.InlineConfig);
        foreach (var (name, value) in EnvironmentSecrets.Named(Environment.GetEnvironmentVariables()))
            secrets.AddValue(value, $"the environment variable {name}, which the tap inherits");
        return secrets;
    }

    /// <summary>
    /// The secrets a stream's name must not hold (the run refuses such a stream: its name is written to the bucket in
    /// clear, as its table folder, file names, manifest entry and table metadata): <paramref name="secrets"/> but those
    /// the tap config also states in clear under a key that is not secret. Such a value is shown by the pipeline file
    /// and <c>config</c> already, and taps name streams after it: singer-io tap-postgres names its streams
    /// <c>&lt;dbname&gt;-&lt;schema&gt;-&lt;table&gt;</c>, so a <c>dbname: ${PGDATABASE}</c>, or a password equal to the
    /// database's name (<c>postgres</c> in many a development set-up), would otherwise refuse every stream.
    /// Values of the home's <c>.env</c> the pipeline does not refer to do not count either: its tap is never given them,
    /// so a stream named like one (another tool's <c>TOKEN=orders</c>) is a table of that name, not a leak; the run log
    /// still shows that stream's name masked, as it masks every <c>.env</c> value. A refusal names where the secret comes
    /// from (<see cref="ConfigSecrets.OriginOf"/>: a variable's name and file, never the value).
    /// </summary>
    public static Sources.Redactor ForStreamNames(PipelineDefinition pipeline, ConfigSecrets secrets)
    {
        var statedInClear = new HashSet<string>(ClearValuesIn(pipeline.Source.InlineConfig), StringComparer.Ordinal);
        return new Sources.Redactor(secrets.Values.Where(v => !statedInClear.Contains(v) && !secrets.Unreferenced.Contains(v)), secrets.OriginOf);
    }

    /// <summary>
    /// What a name written to the bucket in clear holds, by <paramref name="names"/> (<see cref="ForStreamNames"/>):
    /// "one of the pipeline's secret values (...)" or "a secret of the pipeline: &lt;where it comes from&gt;".
    /// </summary>
    internal static string SecretIn(Sources.Redactor names, string name) =>
        names.OriginOfSecretIn(name) is { } origin
            ? "a secret of the pipeline: " + origin
            : "one of the pipeline's secret values (a tap config secret, a ${VAR} value or a credential of the environment)";

    /// <summary>
    /// <c>destination.path</c> or the source's name (<paramref name="sourceName"/>) holding one of the pipeline's
    /// secrets (by the rule a stream's name is refused by, <see cref="ForStreamNames"/>), as the key and the refusal
    /// naming it masked, or null. Both are folders of every table's location, written to the bucket in clear: its folder
    /// names, manifest and table metadata. (The bucket is the user's to name: a <c>${BUCKET}</c> is common, and it names
    /// no folder in the bucket.)
    /// </summary>
    public static (string Key, string Message)? InTableLocation(PipelineDefinition pipeline, string? sourceName)
    {
        var names = ForStreamNames(pipeline, Of(pipeline));
        foreach (var (key, value) in new[] { ("destination.path", pipeline.Destination.Path), ("source.name", sourceName) })
            if (value is not null && names.MaskedName(value) is { } masked)
                return (key, $"'{masked}' contains {SecretIn(names, value)}; refused, so that the secret is not written to the " +
                    $"bucket in clear in its table folders, manifest and table metadata: change {key}, or the secret");
        return null;
    }

    /// <summary>The string values of a JSON config that sit under no secret-looking key.</summary>
    private static IEnumerable<string> ClearValuesIn(JsonNode? node) => node switch
    {
        JsonObject o => o.Where(p => !ConfigSecrets.IsSecretKey(p.Key)).SelectMany(p => ClearValuesIn(p.Value)),
        JsonArray a => a.SelectMany(ClearValuesIn),
        JsonValue v when v.TryGetValue<string>(out var text) => [text],
        _ => [],
    };
}
