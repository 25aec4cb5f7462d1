using System.Collections;

namespace DataSpoc.Pipe.Config;

/// <summary>
/// Credentials in the tool's own environment. A tap inherits that environment, so whatever it prints of them is masked
/// like the pipeline's own secrets; the tool's observability credentials are not passed to a tap at all.
/// </summary>
public static class EnvironmentSecrets
{
    /// <summary>
    /// The values to mask: those of variables whose names look secret (<c>AWS_SECRET_ACCESS_KEY</c>, <c>PGPASSWORD</c>,
    /// <c>AZURE_STORAGE_CONNECTION_STRING</c>, <c>OTEL_EXPORTER_OTLP_HEADERS</c>, see <see cref="ConfigSecrets.IsSecretKey"/>),
    /// and the secrets embedded in any variable's value (<see cref="ConfigSecrets.EmbeddedIn"/>: a connection string's
    /// AccountKey, a header's bearer token, a <c>DATABASE_URL</c>'s password).
    /// </summary>
    public static IEnumerable<string> Values(IDictionary environment) => Named(environment).Select(v => v.Value);

    /// <summary><see cref="Values"/> with the name of the variable each comes from.</summary>
    public static IEnumerable<(string Name, string Value)> Named(IDictionary environment)
    {
        foreach (DictionaryEntry variable in environment)
        {
            if (variable is not { Key: string name, Value: string value }) continue;
            if (ConfigSecrets.IsSecretKey(name) && IsCredential(value)) yield return (name, value);
            foreach (var embedded in ConfigSecrets.EmbeddedIn(value)) yield return (name, embedded);
        }
    }

    /// <summary>
    /// Secret-sounding variables also hold switches (<c>NODE_TLS_REJECT_UNAUTHORIZED=0</c>, <c>..._AUTH=true</c>) and
    /// paths (the shell's <c>PWD</c> and <c>OLDPWD</c> match "pwd"; <c>SSH_AUTH_SOCK</c>, <c>GOOGLE_APPLICATION_CREDENTIALS</c>
    /// name a file whose content is the secret): masking those would turn every "0", "true" or mention of the working
    /// folder of every log line into <c>***</c> while hiding nothing.
    /// </summary>
    private static bool IsCredential(string value)
    {
        var v = value.Trim();
        return v.Length >= Sources.Redactor.ShortSecretLength && !bool.TryParse(v, out _) && !Path.IsPathFullyQualified(v);
    }

    /// <summary>
    /// The tool's own observability credentials: the OpenLineage API key and the OTLP exporter's headers (which carry its
    /// bearer token or API key). A tap has no business with them.
    /// </summary>
    public static bool IsToolCredential(string name) =>
        name is "OPENLINEAGE_API_KEY" or "OTEL_EXPORTER_OTLP_HEADERS"
        || (name.StartsWith("OTEL_EXPORTER_OTLP_", StringComparison.Ordinal) && name.EndsWith("_HEADERS", StringComparison.Ordinal));

    /// <summary>Removes the tool's own credentials (<see cref="IsToolCredential"/>) from a tap's environment; cloud credentials stay, a tap may read its own source with them.</summary>
    public static void RemoveToolCredentials(IDictionary<string, string?> environment)
    {
        foreach (var name in environment.Keys.Where(IsToolCredential).ToList()) environment.Remove(name);
    }
}
