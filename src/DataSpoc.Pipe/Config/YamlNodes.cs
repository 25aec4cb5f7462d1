using System.Globalization;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace DataSpoc.Pipe.Config;

/// <summary>
/// Reads YAML representation nodes with errors that name the file, line and dotted key, and expands
/// <c>${VAR}</c> in every scalar value (recording which values were substituted, for redaction).
/// </summary>
internal sealed class YamlNodes(string file, VariableScope variables, ConfigSecrets secrets)
{
    public string File { get; } = file;

    public static int LineOf(YamlNode node) => checked((int)node.Start.Line);

    public ConfigException Error(YamlNode node, string key, string reason) => new(reason, File, LineOf(node), key);

    private readonly Dictionary<string, int> _valueLines = new(StringComparer.Ordinal);

    /// <summary>The line of the value of a dotted key read through <see cref="Entries"/>; null when the file does not set it (a default).</summary>
    public int? LineOfValue(string key) => _valueLines.TryGetValue(key, out var line) ? line : null;

    /// <summary>Largest pipeline or settings file read (characters); a pipeline is a page of YAML.</summary>
    public const int MaxChars = 1 << 20;
    /// <summary>Deepest nesting of mappings and lists.</summary>
    public const int MaxDepth = 64;
    /// <summary>Most values a document may stand for once its aliases (<c>*name</c>) are expanded.</summary>
    public const long MaxExpandedValues = 100_000;

    /// <summary>Parses a YAML document; an empty document is an empty mapping.</summary>
    /// <exception cref="ConfigException">Invalid YAML, or beyond the bounds (size, depth, values after alias expansion).</exception>
    public YamlMappingNode ParseDocument(string text)
    {
        var stream = new YamlStream();
        var scanner = new Scanner(new StringReader(text));
        try
        {
            CheckBounds(text, scanner);
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            var reason = (e.InnerException?.Message ?? e.Message).Trim();
            throw new ConfigException("invalid YAML: " + reason, File, checked((int)e.Start.Line), inner: e);
        }
        catch (Exception e) when (e is not ConfigException and not OutOfMemoryException)
        {
            // YamlDotNet's scanner throws other exceptions on some malformed input (an InvalidOperationException for a
            // plain scalar after an unclosed '{' that runs into the next key): still the file's error, not a crash, and
            // one bad pipeline file must fail like any other invalid YAML. The scanner's position is where it stopped.
            throw new ConfigException("invalid YAML: the parser cannot read on from here (a '{' or '[' above left unclosed?)", File,
                checked((int)scanner.CurrentPosition.Line), inner: e);
        }
        if (stream.Documents.Count == 0) return new YamlMappingNode();
        if (stream.Documents.Count > 1)
            throw new ConfigException("holds more than one YAML document ('---'); one pipeline per file", File, LineOf(stream.Documents[1].RootNode));
        var root = stream.Documents[0].RootNode;
        if (IsNull(root)) return new YamlMappingNode();
        return root as YamlMappingNode ?? throw new ConfigException($"expected a mapping of keys at the top, got {Describe(root)}", File, LineOf(root));
    }

    /// <summary>
    /// One pass over the parser's events, before any node is built: refuses a document larger than
    /// <see cref="MaxChars"/>, nested deeper than <see cref="MaxDepth"/>, or that would expand to more than
    /// <see cref="MaxExpandedValues"/> values through aliases (a "billion laughs" alias bomb is refused after reading
    /// its few hundred bytes, not after gigabytes of expansion). Each anchor's expanded size is counted once.
    /// </summary>
    private void CheckBounds(string text, Scanner scanner)
    {
        if (text.Length > MaxChars)
            throw new ConfigException($"is {text.Length:N0} characters long; a pipeline file may have at most {MaxChars:N0}", File);
        var parser = new Parser(scanner);
        var anchors = new Dictionary<string, long>(StringComparer.Ordinal);
        var open = new Stack<(string? Anchor, long ValuesBefore)>();
        long values = 0;
        while (parser.MoveNext())
        {
            switch (parser.Current)
            {
                case YamlDotNet.Core.Events.Scalar scalar:
                    values++;
                    if (!scalar.Anchor.IsEmpty) anchors[scalar.Anchor.Value] = 1;
                    break;
                case YamlDotNet.Core.Events.NodeEvent { } start and (YamlDotNet.Core.Events.MappingStart or YamlDotNet.Core.Events.SequenceStart):
                    values++;
                    open.Push((start.Anchor.IsEmpty ? null : start.Anchor.Value, values - 1));
                    if (open.Count > MaxDepth)
                        throw new ConfigException($"nests mappings and lists more than {MaxDepth} levels deep", File, checked((int)start.Start.Line));
                    break;
                case YamlDotNet.Core.Events.MappingEnd or YamlDotNet.Core.Events.SequenceEnd:
                    var (anchor, before) = open.Pop();
                    if (anchor is not null) anchors[anchor] = values - before;
                    break;
                case YamlDotNet.Core.Events.AnchorAlias alias:
                    values += anchors.GetValueOrDefault(alias.Value.Value, 1);
                    if (values > MaxExpandedValues)
                        throw new ConfigException($"expands to more than {MaxExpandedValues:N0} values through aliases (*{alias.Value.Value}); " +
                            "repeat less, or write the values out", File, checked((int)alias.Start.Line));
                    break;
            }
            if (values > MaxExpandedValues)
                throw new ConfigException($"holds more than {MaxExpandedValues:N0} values", File, checked((int)parser.Current!.Start.Line));
        }
    }

    /// <summary>The entries of a mapping, keys checked against <paramref name="allowed"/>.</summary>
    public IEnumerable<(string Key, string Path, YamlNode Value)> Entries(YamlMappingNode map, string path, IReadOnlyCollection<string>? allowed)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (keyNode, value) in map.Children)
        {
            if (keyNode is not YamlScalarNode { Value: { } key })
                throw new ConfigException("keys must be plain names", File, LineOf(keyNode), path.Length == 0 ? null : path);
            var childPath = path.Length == 0 ? key : path + "." + key;
            if (!seen.Add(key)) throw new ConfigException("key appears twice", File, LineOf(keyNode), childPath);
            if (allowed is not null && !allowed.Contains(key))
                throw new ConfigException($"unknown key (allowed here: {string.Join(", ", allowed)})", File, LineOf(keyNode), childPath);
            _valueLines[childPath] = LineOf(value);
            yield return (key, childPath, value);
        }
    }

    public YamlMappingNode Mapping(YamlNode node, string path) =>
        node as YamlMappingNode ?? throw Error(node, path, $"expected a mapping of keys, got {Describe(node)}");

    /// <summary>A string value with <c>${VAR}</c> expanded; null when the value is null/empty.</summary>
    public string? OptionalString(YamlNode node, string path)
    {
        if (IsNull(node)) return null;
        if (node is not YamlScalarNode scalar) throw Error(node, path, $"expected a text value, got {Describe(node)}");
        return Expand(scalar, path);
    }

    public string RequiredString(YamlMappingNode parent, YamlNode? node, string path)
    {
        if (node is null) throw new ConfigException("is required", File, LineOf(parent), path);
        return OptionalString(node, path) is { Length: > 0 } s ? s : throw Error(node, path, "must not be empty");
    }

    public bool? OptionalBool(YamlNode node, string path)
    {
        var text = OptionalString(node, path);
        if (text is null) return null;
        return text.ToLowerInvariant() switch
        {
            "true" or "yes" or "on" => true,
            "false" or "no" or "off" => false,
            _ => throw Error(node, path, $"expected true or false, got '{Shown(text, path)}'"),
        };
    }

    public long? OptionalPositiveInteger(YamlNode node, string path) => OptionalInteger(node, path, positive: true);

    /// <summary>A whole number (<c>1_000_000</c> allowed); with <paramref name="positive"/>, greater than zero.</summary>
    public long? OptionalInteger(YamlNode node, string path, bool positive = false)
    {
        var text = OptionalString(node, path);
        if (text is null) return null;
        if (!long.TryParse(text.Replace("_", "", StringComparison.Ordinal), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) || (positive && n <= 0))
            throw Error(node, path, $"expected a {(positive ? "positive " : "")}whole number, got '{Shown(text, path)}'");
        return n;
    }

    public TimeSpan? OptionalDuration(YamlNode node, string path)
    {
        var text = OptionalString(node, path);
        if (text is null) return null;
        return Durations.TryParse(text, out var d) ? d : throw Error(node, path, $"expected a duration of at least 1ms and at most 100 years, such as 30s, 5m, 1h30m or a number of seconds, got '{Shown(text, path)}'");
    }

    /// <summary>A list of strings; a single string is a list of one.</summary>
    public List<string>? OptionalStringList(YamlNode node, string path)
    {
        if (IsNull(node)) return null;
        if (node is YamlScalarNode) return [OptionalString(node, path)!];
        if (node is not YamlSequenceNode seq) throw Error(node, path, $"expected a list of names, got {Describe(node)}");
        var list = new List<string>();
        for (var i = 0; i < seq.Children.Count; i++)
        {
            var item = seq.Children[i];
            list.Add(OptionalString(item, $"{path}[{i}]") is { Length: > 0 } s ? s : throw Error(item, $"{path}[{i}]", "must not be empty"));
        }
        return list;
    }

    /// <summary>Converts any YAML value to JSON, typing plain scalars (numbers, booleans, null) as YAML 1.2's core schema does.</summary>
    public JsonNode? ToJson(YamlNode node, string path)
    {
        switch (node)
        {
            case YamlMappingNode map:
            {
                var obj = new JsonObject();
                foreach (var (key, childPath, value) in Entries(map, path, null)) obj[key] = ToJson(value, childPath);
                return obj;
            }
            case YamlSequenceNode seq:
            {
                var arr = new JsonArray();
                for (var i = 0; i < seq.Children.Count; i++) arr.Add(ToJson(seq.Children[i], $"{path}[{i}]"));
                return arr;
            }
            case YamlScalarNode scalar:
            {
                if (IsNull(scalar)) return null;
                var key = path[(path.LastIndexOf('.') + 1)..];
                var text = Expand(scalar, path);
                secrets.Consider(key, text);
                if (scalar.Style != YamlDotNet.Core.ScalarStyle.Plain) return JsonValue.Create(text);
                if (text is "true" or "True" or "TRUE") return JsonValue.Create(true);
                if (text is "false" or "False" or "FALSE") return JsonValue.Create(false);
                if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)) return JsonValue.Create(l);
                if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && !double.IsInfinity(d) && !double.IsNaN(d) &&
                    text.Any(char.IsAsciiDigit))
                    return JsonValue.Create(d);
                return JsonValue.Create(text);
            }
            default:
                throw Error(node, path, $"unsupported YAML value ({Describe(node)})");
        }
    }

    public void ConsiderSecret(string key, string value) => secrets.Consider(key, value);

    public static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any, Value: null or "" or "~" or "null" or "Null" or "NULL" };

    public static string Describe(YamlNode node) => node switch
    {
        YamlMappingNode => "a mapping",
        YamlSequenceNode => "a list",
        YamlScalarNode s => $"'{s.Value}'",
        _ => node.NodeType.ToString(),
    };

    private string Expand(YamlScalarNode scalar, string path)
    {
        var raw = scalar.Value ?? "";
        string value;
        bool secret;
        try
        {
            value = variables.Expand(raw, File, path, out _, out secret);
        }
        catch (MissingVariableException e)
        {
            throw Error(scalar, path, e.Message);
        }
        catch (FormatException e)
        {
            throw Error(scalar, path, e.Message);
        }
        if (secret) secrets.AddInterpolated(path, value, variables.LastOrigin);
        secrets.AddReferenced(path, variables.LastDotEnv);
        return value;
    }

    /// <summary>A value for an error message, or a mask when it came from a variable or a secret key.</summary>
    private string Shown(string value, string path) =>
        secrets.InterpolatedKeys.Contains(path) || ConfigSecrets.IsSecretKey(path[(path.LastIndexOf('.') + 1)..]) ? ConfigSecrets.Mask : value;
}
