using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace DataSpoc.Pipe.Config;

/// <summary>
/// What in a pipeline's configuration must never be shown: values under secret-looking keys (password, token, key…)
/// and values that came from <c>${VAR}</c>. <see cref="Redact(string)"/> masks them in free text (tap commands,
/// stderr tails, errors); <see cref="Redact(JsonNode?, string, IReadOnlyCollection{string}?)"/> masks them in a config shown to a user or an agent.
/// </summary>
public sealed partial class ConfigSecrets
{
    public const string Mask = Sources.Redactor.Mask;

    private readonly HashSet<string> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _paths = new(StringComparer.Ordinal);
    private readonly HashSet<string> _unreferenced = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _origins = new(StringComparer.Ordinal);
    private Sources.Redactor? _redactor;

    /// <summary>Secret values collected so far.</summary>
    public IReadOnlyCollection<string> Values => _values;

    /// <summary>Dotted keys whose values came from <c>${VAR}</c> (e.g. <c>source.config.password</c>).</summary>
    public IReadOnlyCollection<string> InterpolatedKeys => _paths;

    /// <summary>
    /// Values of the home's <c>.env</c> the pipeline does not refer to: masked like every secret, but not its own (its tap
    /// is never given them), so a stream's name that holds one is no leak of this pipeline (see <see cref="PipelineSecrets.ForStreamNames"/>).
    /// </summary>
    public IReadOnlyCollection<string> Unreferenced => _unreferenced;

    /// <param name="value">The secret.</param>
    /// <param name="origin">Where it comes from, for errors (a variable's or key's name, never the value); null when unknown.</param>
    public void AddValue(string value, string? origin = null)
    {
        if (string.IsNullOrEmpty(value)) return;
        _unreferenced.Remove(value);
        if (origin is { Length: > 0 }) _origins.TryAdd(value, origin);
        if (_values.Add(value)) _redactor = null;
    }

    /// <summary>Adds a value of the home's <c>.env</c> (<see cref="Unreferenced"/> until added again as the pipeline's own).</summary>
    public void AddUnreferenced(string value)
    {
        if (string.IsNullOrEmpty(value) || _values.Contains(value)) return;
        _unreferenced.Add(value);
        AddValueOnly(value);
    }

    private void AddValueOnly(string value)
    {
        if (_values.Add(value)) _redactor = null;
    }

    /// <summary>Where <paramref name="value"/> came from (e.g. <c>${PG_PW} from /home/.env, in source.config.password</c>), or null.</summary>
    public string? OriginOf(string value) => _origins.GetValueOrDefault(value);

    /// <summary>Masks the values collected so far; built once for them (a redactor works out every form of each), not per text.</summary>
    public Sources.Redactor Redactor => _redactor ??= new Sources.Redactor(_values);

    public void AddInterpolated(string path, string value, string? variables = null)
    {
        _paths.Add(path);
        AddValue(value, variables is { Length: > 0 } ? $"{variables}, in {path}" : null);
    }

    /// <summary>
    /// Records the <c>.env</c> values a <c>${VAR}</c> at <paramref name="path"/> took as the pipeline's own (no longer
    /// <see cref="Unreferenced"/>), also when the value they expanded into is longer (<c>db-${SUFFIX}.internal</c>).
    /// </summary>
    public void AddReferenced(string path, IEnumerable<(string Origin, string Value)> dotEnvValues)
    {
        foreach (var (origin, value) in dotEnvValues) AddValue(value, $"{origin}, in {path}");
    }

    /// <summary>Records a value found under <paramref name="key"/> when the key looks secret.</summary>
    public void Consider(string key, string value)
    {
        if (IsSecretKey(key)) AddValue(value);
    }

    /// <summary>Adds every secret-looking value in a JSON config (e.g. a tap config file), and the secrets embedded in its strings.</summary>
    public void ConsiderJson(JsonNode? node)
    {
        foreach (var value in Sources.Redactor.SecretsIn(node)) AddValue(value, "a value under a secret-looking key of the tap config");
        foreach (var text in Strings(node))
            foreach (var embedded in EmbeddedIn(text)) AddValue(embedded);
    }

    /// <summary>
    /// The secrets a string holds inside it, whatever key it sits under: the password of a
    /// <c>scheme://user:password@host</c> URI, and the value of a <c>name=value</c> pair whose name looks secret
    /// (<see cref="IsSecretKey"/>): <c>-c password=...</c> in libpq options, <c>AccountKey=...;</c> in a connection string,
    /// <c>Authorization=Bearer ...</c> in OTLP headers (the token after the scheme word).
    /// </summary>
    public static IEnumerable<string> EmbeddedIn(string text)
    {
        foreach (Match m in UriPassword().Matches(text)) yield return m.Groups[1].Value;
        foreach (Match m in SecretPair().Matches(text))
            if (IsSecretPair(m)) yield return m.Groups["value"].Value;
    }

    /// <summary>A value without a letter or digit is a placeholder (<c>password=...</c> in a hint, <c>***</c> already masked), not a secret.</summary>
    private static bool IsSecretPair(Match m) =>
        m.Groups["value"].Value.Any(char.IsLetterOrDigit) && IsSecretKey(m.Groups["name"].Value);

    private static IEnumerable<string> Strings(JsonNode? node) => node switch
    {
        JsonObject o => o.SelectMany(p => Strings(p.Value)),
        JsonArray a => a.SelectMany(Strings),
        JsonValue v when v.TryGetValue<string>(out var s) => [s],
        _ => [],
    };

    /// <summary>Whether a config key names a secret (password, secret, token, key, credentials, …).</summary>
    public static bool IsSecretKey(string key) => Sources.Redactor.IsSecretKey(key);

    /// <summary>Masks every known secret value, and any secret embedded in the text (<see cref="EmbeddedIn"/>).</summary>
    public string Redact(string text)
    {
        if (string.IsNullOrEmpty(text)) return text;
        text = Redactor.Redact(text);
        text = UriPassword().Replace(text, m => m.Value.Replace(m.Groups[1].Value, Mask, StringComparison.Ordinal));
        return SecretPair().Replace(text, m => IsSecretPair(m)
            ? string.Concat(m.Value.AsSpan(0, m.Groups["value"].Index - m.Index), Mask, m.Value.AsSpan(m.Groups["value"].Index + m.Groups["value"].Length - m.Index))
            : m.Value);
    }

    /// <summary>
    /// A copy of <paramref name="node"/> with secret-looking keys, values that came from <c>${VAR}</c> (by dotted
    /// <paramref name="path"/>) and known secret values masked.
    /// </summary>
    /// <param name="node">What to mask.</param>
    /// <param name="path">The dotted key of <paramref name="node"/>.</param>
    /// <param name="secretKeysUnder">
    /// The dotted paths under which a secret-looking key masks its value (a tap config); null: everywhere. Elsewhere a key
    /// may be a name, not a setting (a stream <c>api_tokens</c> under <c>source.select</c>), and only secret values are masked.
    /// </param>
    public JsonNode? Redact(JsonNode? node, string path = "", IReadOnlyCollection<string>? secretKeysUnder = null)
    {
        switch (node)
        {
            case null:
                return null;
            case JsonObject o:
            {
                var copy = new JsonObject();
                var keysCount = secretKeysUnder is null || secretKeysUnder.Any(under => path == under || path.StartsWith(under + ".", StringComparison.Ordinal));
                foreach (var (k, v) in o)
                {
                    var childPath = path.Length == 0 ? k : path + "." + k;
                    copy[k] = keysCount && IsSecretKey(k) ? MaskAll(v)
                        : v is JsonValue && _paths.Contains(childPath) ? JsonValue.Create(Mask)
                        : Redact(v, childPath, secretKeysUnder);
                }
                return copy;
            }
            case JsonArray a:
            {
                var copy = new JsonArray();
                for (var i = 0; i < a.Count; i++) copy.Add(Redact(a[i], path, secretKeysUnder));
                return copy;
            }
            default:
                if (_paths.Contains(path)) return JsonValue.Create(Mask);
                return node.GetValueKind() == System.Text.Json.JsonValueKind.String
                    ? JsonValue.Create(Redact(node.GetValue<string>()))
                    : node.DeepClone();
        }
    }

    /// <summary>Everything under a secret-looking key masked: lists and objects keep their shape, every value becomes <see cref="Mask"/>.</summary>
    private static JsonNode? MaskAll(JsonNode? node) => node switch
    {
        null => null,
        JsonObject o => new JsonObject(o.Select(p => KeyValuePair.Create(p.Key, MaskAll(p.Value)))),
        JsonArray a => new JsonArray(a.Select(MaskAll).ToArray()),
        _ => JsonValue.Create(Mask),
    };

    /// <summary>
    /// <c>scheme://user:password@</c>, the password in group 1. The match starts at <c>://</c> and the scheme is checked
    /// looking back from it: a pattern that starts at the scheme tries every letter of a long word as a scheme's start,
    /// scanning to the word's end each time, quadratic in a megabyte-long value (the dashboard's table page took minutes).
    /// </summary>
    [GeneratedRegex(@"://(?<=[A-Za-z][A-Za-z0-9+.-]*://)[^:/@\s]+:([^@/\s]+)@")]
    private static partial Regex UriPassword();

    /// <summary>
    /// <c>name=value</c>, the value quoted or up to a space, <c>;</c>, <c>,</c> or <c>&amp;</c>; an HTTP auth scheme word before it is not part of it.
    /// The match starts at <c>=</c> and the name is found looking back from it, for the reason <see cref="UriPassword"/> gives
    /// (<c>a-a-a-…</c> would be tried from every letter).
    /// </summary>
    [GeneratedRegex(@"=(?<=(?<![\w.])(?<name>[A-Za-z_][\w.-]*)=)(?:(?i:Bearer|Basic|Token)\s+)?(?:""(?<value>[^""]*)""|'(?<value>[^']*)'|(?<value>[^\s;,&""']+))")]
    private static partial Regex SecretPair();
}
