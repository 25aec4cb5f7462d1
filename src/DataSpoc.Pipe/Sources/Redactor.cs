namespace DataSpoc.Pipe.Sources;

/// <summary>Masks secret values (tap config secrets, <c>${VAR}</c> expansions) in any text bound for logs, errors or responses.</summary>
public sealed class Redactor
{
    public const string Mask = "***";
    private readonly string[] _secrets;

    public Redactor(IEnumerable<string> secrets)
    {
        // Longest first, so a secret containing another is masked whole; very short values would mask noise.
        _secrets = secrets.Where(s => s.Length >= 4).Distinct().OrderByDescending(s => s.Length).ToArray();
    }

    public static Redactor None { get; } = new([]);

    public string Redact(string text)
    {
        foreach (var secret in _secrets)
            if (text.Contains(secret, StringComparison.Ordinal)) text = text.Replace(secret, Mask, StringComparison.Ordinal);
        return text;
    }

    /// <summary>Key names whose values are treated as secrets wherever they appear in a tap config.</summary>
    public static bool IsSecretKey(string key)
    {
        var k = key.ToLowerInvariant();
        return k.Contains("password") || k.Contains("passwd") || k.Contains("secret") || k.Contains("token") || k.EndsWith("key", StringComparison.Ordinal)
            || k.Contains("credential") || k.Contains("private") || k.Contains("auth") || k is "pass" or "pwd" or "connection_string" or "dsn";
    }

    /// <summary>The secret values in a tap config: strings under secret-looking keys, at any depth.</summary>
    public static IEnumerable<string> SecretsIn(System.Text.Json.Nodes.JsonNode? node, bool underSecretKey = false)
    {
        switch (node)
        {
            case System.Text.Json.Nodes.JsonObject o:
                foreach (var (k, v) in o)
                    foreach (var s in SecretsIn(v, underSecretKey || IsSecretKey(k))) yield return s;
                break;
            case System.Text.Json.Nodes.JsonArray a:
                foreach (var v in a)
                    foreach (var s in SecretsIn(v, underSecretKey)) yield return s;
                break;
            case System.Text.Json.Nodes.JsonValue v when underSecretKey:
                yield return v.ToString();
                break;
        }
    }
}
