using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>Typed access to a built-in tap's JSON config, with errors that name the tap and the key (never the value).</summary>
internal sealed partial class TapConfig(string tap, JsonObject config)
{
    public JsonObject Json => config;

    public string? String(string key)
    {
        var node = config[key];
        if (node is null) return null;
        if (node.GetValueKind() != JsonValueKind.String) throw Wrong(key, "a string");
        return Interpolate(key, node.GetValue<string>());
    }

    public string RequiredString(string key) => String(key) ?? throw TapException.Configuration($"{tap} tap: config key '{key}' is required");

    public int? Int(string key)
    {
        var node = config[key];
        if (node is null) return null;
        if (node.GetValueKind() == JsonValueKind.Number && node.AsValue().TryGetValue(out int number)) return number;
        if (node.GetValueKind() == JsonValueKind.String && int.TryParse(Interpolate(key, node.GetValue<string>()), out number)) return number;
        throw Wrong(key, "an integer");
    }

    public bool? Bool(string key)
    {
        var node = config[key];
        if (node is null) return null;
        return node.GetValueKind() switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.String when bool.TryParse(node.GetValue<string>(), out var b) => b,
            _ => throw Wrong(key, "true or false"),
        };
    }

    /// <summary>A string or an array of strings, as a list.</summary>
    public List<string> Strings(string key)
    {
        var node = config[key];
        if (node is null) return [];
        if (node.GetValueKind() == JsonValueKind.String) return [Interpolate(key, node.GetValue<string>())];
        if (node is not JsonArray array) throw Wrong(key, "a string or an array of strings");
        var list = new List<string>(array.Count);
        for (var i = 0; i < array.Count; i++)
        {
            if (array[i] is not JsonValue v || v.GetValueKind() != JsonValueKind.String) throw Wrong($"{key}[{i}]", "a string");
            list.Add(Interpolate(key, v.GetValue<string>()));
        }
        return list;
    }

    public JsonObject? Object(string key) => config[key] switch
    {
        null => null,
        JsonObject o => o,
        _ => throw Wrong(key, "an object"),
    };

    public JsonArray? Array(string key) => config[key] switch
    {
        null => null,
        JsonArray a => a,
        _ => throw Wrong(key, "an array"),
    };

    /// <summary>Values of an object of strings (e.g. <c>storage_options</c>).</summary>
    public Dictionary<string, string> StringMap(string key)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        if (Object(key) is not { } o) return map;
        foreach (var (k, v) in o)
        {
            if (v is null) continue;
            map[k] = v.GetValueKind() == JsonValueKind.String ? Interpolate($"{key}.{k}", v.GetValue<string>()) : v.ToJsonString();
        }
        return map;
    }

    /// <summary>
    /// Refuses a key outside <paramref name="known"/> (the keys the tap reads at <paramref name="where"/>: the top level,
    /// or a <c>streams[i]</c> entry): a typo such as <c>delimeter</c> would otherwise be ignored, and the data read as if
    /// the key were absent. The error names the key and the closest known one. <paramref name="runnerKey"/>: a key the
    /// runner itself adds (not the user's, so not offered).
    /// </summary>
    public TapConfig OnlyKeys(IReadOnlyCollection<string> known, string? where = null, string? runnerKey = null)
    {
        foreach (var (key, _) in config)
        {
            if (known.Contains(key) || key == runnerKey) continue;
            var shown = where is null ? key : $"{where}.{key}";
            var closest = known.MinBy(k => EditDistance(key, k));
            var hint = closest is not null && EditDistance(key, closest) <= Math.Max(2, key.Length / 3)
                ? $"did you mean '{closest}'?"
                : $"the {tap} tap reads {string.Join(", ", known)}";
            throw TapException.Configuration($"{tap} tap: unknown config key '{shown}' ({hint})");
        }
        return this;
    }

    /// <summary>Levenshtein distance, ignoring case and taking <c>-</c> for <c>_</c>, so <c>Sample-Rows</c> points to <c>sample_rows</c>.</summary>
    private static int EditDistance(string a, string b)
    {
        static char Fold(char c) => c == '-' ? '_' : char.ToLowerInvariant(c);
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++) previous[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1], previous[j]) + 1, previous[j - 1] + (Fold(a[i - 1]) == Fold(b[j - 1]) ? 0 : 1));
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }

    public TapException Wrong(string key, string expected) => TapException.Configuration($"{tap} tap: config key '{key}' must be {expected}");

    /// <summary>Replaces <c>${VAR}</c> with the environment variable, so secrets can stay out of config files.</summary>
    private string Interpolate(string key, string value)
    {
        if (!value.Contains("${", StringComparison.Ordinal)) return value;
        return VariablePattern().Replace(value, m =>
            Environment.GetEnvironmentVariable(m.Groups[1].Value)
            ?? throw TapException.Configuration($"{tap} tap: config key '{key}' refers to environment variable '{m.Groups[1].Value}', which is not set"));
    }

    [GeneratedRegex(@"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")]
    private static partial Regex VariablePattern();
}
