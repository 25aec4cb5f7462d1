using DataSpoc.Pipe.Config;
using YamlDotNet.RepresentationModel;

namespace DataSpoc.Pipe.Lineage;

/// <summary>
/// Where OpenLineage events go, configured the standard way: the <c>OPENLINEAGE_URL</c>, <c>OPENLINEAGE_ENDPOINT</c>,
/// <c>OPENLINEAGE_API_KEY</c> and <c>OPENLINEAGE_NAMESPACE</c> variables, or an <c>openlineage:</c> block in
/// <c>config.yaml</c> (<c>transport: {type: http, url, endpoint, api_key, timeout}</c> or <c>{type: file, path}</c>).
/// Variables win over the file; <c>OPENLINEAGE_DISABLED=true</c> turns it off. Unconfigured means off.
/// </summary>
public sealed record OpenLineageSettings
{
    public const string DefaultNamespace = "dataspoc-pipe";
    public const string DefaultEndpoint = "api/v1/lineage";
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(5);

    /// <summary>The jobs' namespace.</summary>
    public string Namespace { get; init; } = DefaultNamespace;
    /// <summary><c>http</c> (POST each event to <see cref="Url"/> + <see cref="Endpoint"/>) or <c>file</c> (append a JSON line to <see cref="FilePath"/>).</summary>
    public string Transport { get; init; } = "http";
    public Uri? Url { get; init; }
    public string Endpoint { get; init; } = DefaultEndpoint;
    /// <summary>Sent as <c>Authorization: Bearer &lt;key&gt;</c>.</summary>
    public string? ApiKey { get; init; }
    /// <summary>How long one event may take to deliver (the file transport: to get the file's lock) before the run goes on without it.</summary>
    public TimeSpan Timeout { get; init; } = DefaultTimeout;
    public string? FilePath { get; init; }

    /// <summary>Where an http transport POSTs events: the endpoint below the URL.</summary>
    public Uri? EventsUrl => Url is null ? null : new Uri(Url, Endpoint.TrimStart('/'));

    /// <summary>Where events go, without any user info or query (safe to show in a run log).</summary>
    public string ShownTarget => Transport == "file" ? FilePath ?? "" :
        new UriBuilder(EventsUrl!) { UserName = "", Password = "", Query = "" }.Uri.ToString();

    /// <summary>The settings of a home folder's <c>config.yaml</c> and the environment; null when lineage is off.</summary>
    /// <exception cref="ConfigException">The <c>openlineage</c> block or a variable is invalid (names file, line and key).</exception>
    public static OpenLineageSettings? Load(string configYamlPath, Func<string, string?>? environment = null)
    {
        environment ??= VariableInterpolation.ProcessEnvironment;
        if (environment("OPENLINEAGE_DISABLED") is { } disabled && disabled.Trim().ToLowerInvariant() is "true" or "1" or "yes") return null;
        var settings = File.Exists(configYamlPath) ? FromConfigYaml(configYamlPath, environment) : null;
        if (environment("OPENLINEAGE_URL") is { Length: > 0 } url)
            settings = (settings ?? new OpenLineageSettings()) with { Transport = "http", Url = ParseUrl(url, null, "OPENLINEAGE_URL") };
        if (settings is null) return null;
        if (environment("OPENLINEAGE_ENDPOINT") is { Length: > 0 } endpoint) settings = settings with { Endpoint = endpoint };
        if (environment("OPENLINEAGE_API_KEY") is { Length: > 0 } key) settings = settings with { ApiKey = key };
        if (environment("OPENLINEAGE_NAMESPACE") is { Length: > 0 } ns) settings = settings with { Namespace = ns };
        return settings;
    }

    private static OpenLineageSettings? FromConfigYaml(string path, Func<string, string?> environment)
    {
        var yaml = new YamlNodes(path, new VariableScope(PipeVariables.Environment(environment), allowUnset: false), new ConfigSecrets());
        var root = yaml.ParseDocument(File.ReadAllText(path));
        OpenLineageSettings? result = null;
        foreach (var (key, keyPath, value) in yaml.Entries(root, "", null))
        {
            if (key != "openlineage" || YamlNodes.IsNull(value)) continue;
            var block = yaml.Mapping(value, keyPath);
            result = new OpenLineageSettings();
            YamlNode? transport = null;
            foreach (var (k, p, v) in yaml.Entries(block, keyPath, ["namespace", "transport"]))
            {
                if (k == "namespace") result = result with { Namespace = yaml.OptionalString(v, p) ?? DefaultNamespace };
                else transport = v;
            }
            if (transport is null || YamlNodes.IsNull(transport))
                throw new ConfigException("is required (transport: {type: http, url: ...} or {type: file, path: ...})", path, YamlNodes.LineOf(block), keyPath + ".transport");
            result = ReadTransport(yaml, yaml.Mapping(transport, keyPath + ".transport"), keyPath + ".transport", result);
        }
        return result;
    }

    private static OpenLineageSettings ReadTransport(YamlNodes yaml, YamlMappingNode map, string path, OpenLineageSettings result)
    {
        var type = map.Children.FirstOrDefault(c => c.Key is YamlScalarNode { Value: "type" }).Value is { } t ? yaml.OptionalString(t, path + ".type") : null;
        string[] allowed = type switch
        {
            "http" => ["type", "url", "endpoint", "api_key", "timeout"],
            "file" => ["type", "path"],
            _ => throw new ConfigException($"expected http or file, got '{type}'", yaml.File, YamlNodes.LineOf(map), path + ".type"),
        };
        result = result with { Transport = type };
        foreach (var (k, p, v) in yaml.Entries(map, path, allowed))
        {
            result = k switch
            {
                "url" => result with { Url = ParseUrl(yaml.OptionalString(v, p) ?? "", yaml, p, v) },
                "endpoint" => result with { Endpoint = yaml.OptionalString(v, p) ?? DefaultEndpoint },
                "api_key" => result with { ApiKey = yaml.OptionalString(v, p) },
                "timeout" => result with { Timeout = yaml.OptionalDuration(v, p) ?? DefaultTimeout },
                "path" => result with { FilePath = yaml.OptionalString(v, p) is { Length: > 0 } f ? PipeHome.ExpandHome(f) : null },
                _ => result,
            };
        }
        if (type == "http" && result.Url is null) throw new ConfigException("is required for the http transport", yaml.File, YamlNodes.LineOf(map), path + ".url");
        if (type == "file" && result.FilePath is null) throw new ConfigException("is required for the file transport", yaml.File, YamlNodes.LineOf(map), path + ".path");
        return result;
    }

    private static Uri ParseUrl(string text, YamlNodes? yaml, string key, YamlNode? node = null)
    {
        if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
            // A trailing slash makes the endpoint resolve below the URL's path, not beside its last segment.
            return uri.AbsolutePath.EndsWith('/') ? uri : new Uri(uri + "/");
        var reason = "expected an http:// or https:// URL";
        throw yaml is null || node is null ? new ConfigException(reason, null, null, key) : yaml.Error(node, key, reason);
    }
}
