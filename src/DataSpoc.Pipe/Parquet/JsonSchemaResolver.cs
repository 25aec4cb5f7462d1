using System.Text.Json;
using System.Text.Json.Nodes;

namespace DataSpoc.Pipe.Parquet;

/// <summary>
/// A SCHEMA's JSON Schema as the column mapping reads it: local <c>$ref</c>s (<c>#/definitions/...</c>,
/// <c>#/$defs/...</c>) replaced by what they point to, <c>allOf</c> merged into one schema (the union of its properties,
/// the narrowest type), and the <c>anyOf</c>/<c>oneOf</c> alternatives of one JSON type merged into one alternative of
/// the widest common type, so that no alternative's <c>format</c>, <c>items</c> or <c>properties</c> decides alone
/// what values of the others become. A reference outside the SCHEMA or one that leads back to itself is mapped as
/// <c>{}</c> (JSON text), with a notice.
/// </summary>
internal static class JsonSchemaResolver
{
    /// <summary>
    /// <paramref name="schema"/> with references, <c>allOf</c> and same-type alternatives resolved (itself when it has
    /// none); what could not be resolved is added to <paramref name="notices"/>.
    /// </summary>
    public static JsonElement Resolve(JsonElement schema, ICollection<string>? notices = null)
    {
        if (schema.ValueKind != JsonValueKind.Object) return schema;
        var text = schema.GetRawText();
        if (!text.Contains("\"$ref\"", StringComparison.Ordinal) && !text.Contains("\"allOf\"", StringComparison.Ordinal)
            && !text.Contains("\"anyOf\"", StringComparison.Ordinal) && !text.Contains("\"oneOf\"", StringComparison.Ordinal))
            return schema;
        var root = JsonNode.Parse(text)!.AsObject();
        var resolved = new Resolver(root, notices).Resolve(root, "", []);
        return JsonElement.Parse(resolved.ToJsonString());
    }

    private sealed class Resolver(JsonObject root, ICollection<string>? notices)
    {
        public JsonNode Resolve(JsonNode? node, string path, IReadOnlyList<string> refs)
        {
            if (node is not JsonObject s) return node?.DeepClone() ?? JsonValue.Create(true);
            if (s["$ref"] is JsonValue refValue && refValue.TryGetValue<string>(out var reference))
            {
                var target = Target(reference, path, refs);
                if (target is null) return new JsonObject();
                var resolvedTarget = Resolve(target, path, [.. refs, reference]);
                var siblings = Without(s, "$ref");
                return siblings.Count == 0 ? resolvedTarget : AllOf([resolvedTarget, Resolve(siblings, path, refs)]);
            }
            var result = new JsonObject();
            foreach (var (key, value) in s)
            {
                switch (key)
                {
                    case "definitions" or "$defs" or "allOf" or "anyOf" or "oneOf":
                        break;
                    case "properties" when value is JsonObject properties:
                        var resolvedProperties = new JsonObject();
                        foreach (var (name, property) in properties)
                            resolvedProperties[name] = Resolve(property, Join(path, name), refs);
                        result[key] = resolvedProperties;
                        break;
                    case "items" when value is JsonObject:
                        result[key] = Resolve(value, path + "[]", refs);
                        break;
                    default:
                        result[key] = value?.DeepClone();
                        break;
                }
            }
            var alternatives = new List<JsonNode>();
            foreach (var key in (ReadOnlySpan<string>)["anyOf", "oneOf"])
                if (s[key] is JsonArray alts)
                    foreach (var alt in alts)
                        if (alt is JsonObject) alternatives.Add(Resolve(alt, path, refs));
            if (alternatives.Count > 0) result["anyOf"] = new JsonArray([.. MergeAlternatives(alternatives)]);
            if (s["allOf"] is JsonArray parts)
                return AllOf([result, .. parts.OfType<JsonObject>().Select(p => Resolve(p, path, refs))]);
            return result;
        }

        /// <summary>What <paramref name="reference"/> points to in this SCHEMA, or null (with a notice) when it cannot be followed.</summary>
        private JsonNode? Target(string reference, string path, IReadOnlyList<string> refs)
        {
            var column = path.Length == 0 ? "the schema" : $"property '{path}'";
            if (!reference.StartsWith('#'))
            {
                notices?.Add($"{column}: \"$ref\": \"{reference}\" points outside the SCHEMA message (only \"#/...\" references within it are followed); it lands as JSON text");
                return null;
            }
            if (refs.Contains(reference))
            {
                notices?.Add($"{column}: \"$ref\": \"{reference}\" refers back to itself (a recursive type); from there on it lands as JSON text");
                return null;
            }
            JsonNode? target = root;
            foreach (var token in reference.TrimStart('#').Split('/', StringSplitOptions.RemoveEmptyEntries))
            {
                var name = Uri.UnescapeDataString(token).Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
                target = target switch
                {
                    JsonObject o => o[name],
                    JsonArray a when int.TryParse(name, out var i) && i >= 0 && i < a.Count => a[i],
                    _ => null,
                };
            }
            if (target is JsonObject or JsonValue) return target;
            notices?.Add($"{column}: \"$ref\": \"{reference}\" points to nothing in the SCHEMA message; it lands as JSON text");
            return null;
        }
    }

    private static string Join(string a, string b) => a.Length == 0 ? b : a + "." + b;

    private static JsonObject Without(JsonObject s, string key)
    {
        var copy = new JsonObject();
        foreach (var (k, v) in s)
            if (k != key) copy[k] = v?.DeepClone();
        return copy;
    }

    /// <summary>The JSON types a schema allows (<c>type</c>, or <c>object</c> for properties without a type), null among them.</summary>
    private static List<string> TypesOf(JsonObject s)
    {
        return s["type"] switch
        {
            JsonValue v when v.TryGetValue<string>(out var one) => [one],
            JsonArray a => [.. a.OfType<JsonValue>().Select(v => v.TryGetValue<string>(out var t) ? t : null).OfType<string>().Distinct()],
            _ when s["properties"] is not null => ["object"],
            _ => [],
        };
    }

    /// <summary>
    /// Alternatives merged per JSON type: one alternative per type (its widest common form), then <c>{"type": "null"}</c>
    /// when any allows null. An alternative without a type (and without alternatives of its own) is left as it is.
    /// </summary>
    private static List<JsonNode> MergeAlternatives(List<JsonNode> alternatives)
    {
        var byType = new List<(string Type, List<JsonObject> Schemas)>();
        var untyped = new List<JsonNode>();
        var nullable = false;
        foreach (var alt in Flatten(alternatives))
        {
            var types = TypesOf(alt);
            if (types.Count == 0)
            {
                untyped.Add(alt);
                continue;
            }
            foreach (var type in types)
            {
                if (type == "null") { nullable = true; continue; }
                var single = alt.DeepClone().AsObject();
                single["type"] = type;
                if (byType.FindIndex(t => t.Type == type) is var i and >= 0) byType[i].Schemas.Add(single);
                else byType.Add((type, [single]));
            }
        }
        List<JsonNode> merged = [.. byType.Select(t => (JsonNode)MergeSameType(t.Type, t.Schemas)), .. untyped];
        if (nullable) merged.Add(new JsonObject { ["type"] = "null" });
        return merged;
    }

    /// <summary>The alternatives, with an alternative that is itself only <c>anyOf</c> alternatives replaced by them.</summary>
    private static IEnumerable<JsonObject> Flatten(IEnumerable<JsonNode> alternatives)
    {
        foreach (var alt in alternatives.OfType<JsonObject>())
        {
            if (alt["anyOf"] is JsonArray inner && alt["type"] is null && alt["properties"] is null)
                foreach (var nested in Flatten(inner.OfType<JsonNode>())) yield return nested;
            else yield return alt;
        }
    }

    /// <summary>
    /// One schema of type <paramref name="type"/> that takes every value the <paramref name="schemas"/> take: strings of
    /// different formats widen (<c>date</c> and <c>date-time</c> to <c>date-time</c>, anything else to a plain string),
    /// numbers of different steps to a plain number, arrays merge their items, objects take the union of their
    /// properties (one only some declare may be null), and an object without properties makes the merge one too (JSON text).
    /// </summary>
    private static JsonObject MergeSameType(string type, List<JsonObject> schemas)
    {
        if (schemas.Count == 1) return schemas[0];
        var merged = schemas[0].DeepClone().AsObject();
        switch (type)
        {
            case "string":
                var formats = schemas.Select(s => s["format"] is JsonValue f && f.TryGetValue<string>(out var format) ? format : null).Distinct().ToList();
                merged.Remove("format");
                if (formats is [var one]) { if (one is not null) merged["format"] = one; }
                else if (formats.All(f => f is "date" or "date-time")) merged["format"] = "date-time";
                break;
            case "number":
                if (schemas.Select(s => s["multipleOf"]?.ToJsonString()).Distinct().Count() > 1) merged.Remove("multipleOf");
                break;
            case "array":
                merged.Remove("items");
                if (schemas.All(s => s["items"] is JsonObject))
                    merged["items"] = Single(MergeAlternatives([.. schemas.Select(s => s["items"]!)]));
                break;
            case "object":
                merged.Remove("properties");
                merged.Remove("required");
                if (schemas.All(s => s["properties"] is JsonObject { Count: > 0 }))
                {
                    var names = schemas.SelectMany(s => s["properties"]!.AsObject().Select(p => p.Key)).Distinct().ToList();
                    var properties = new JsonObject();
                    foreach (var name in names)
                    {
                        var declared = schemas.Select(s => s["properties"]![name]).OfType<JsonNode>().ToList();
                        List<JsonNode> alternatives = [.. declared.Select(d => d.DeepClone())];
                        if (declared.Count < schemas.Count) alternatives.Add(new JsonObject { ["type"] = "null" });
                        properties[name] = alternatives.Count == 1 ? alternatives[0] : Single(MergeAlternatives(alternatives));
                    }
                    merged["properties"] = properties;
                }
                break;
        }
        return merged;
    }

    /// <summary>Merged alternatives as one schema: the only one itself, else <c>anyOf</c> of them.</summary>
    private static JsonObject Single(List<JsonNode> alternatives) =>
        alternatives is [JsonObject one] ? one : new JsonObject { ["anyOf"] = new JsonArray([.. alternatives]) };

    /// <summary>
    /// The <c>allOf</c> of resolved <paramref name="parts"/> as one schema: the types all allow (the narrowest),
    /// properties of every part (one that several declare merged the same way), <c>items</c> merged; any other keyword
    /// as the first part that has it.
    /// </summary>
    private static JsonObject AllOf(List<JsonNode> parts)
    {
        var merged = new JsonObject();
        foreach (var part in parts.OfType<JsonObject>())
        {
            foreach (var (key, value) in part)
            {
                switch (key)
                {
                    case "type" when merged["type"] is not null:
                        var allowed = TypesOf(new JsonObject { ["type"] = value?.DeepClone() });
                        var common = TypesOf(merged).Where(allowed.Contains).ToList();
                        // Types no value can satisfy: the first part's are kept rather than a column of no type.
                        if (common.Count > 0) merged["type"] = common is [var only] ? only : new JsonArray([.. common.Select(t => (JsonNode)t)]);
                        break;
                    case "properties" when merged["properties"] is JsonObject properties && value is JsonObject more:
                        foreach (var (name, property) in more)
                            properties[name] = properties[name] is JsonObject earlier && property is JsonObject
                                ? AllOf([earlier, property.DeepClone()])
                                : property?.DeepClone();
                        break;
                    case "items" when merged["items"] is JsonObject items && value is JsonObject:
                        merged["items"] = AllOf([items.DeepClone(), value.DeepClone()]);
                        break;
                    default:
                        if (!merged.ContainsKey(key)) merged[key] = value?.DeepClone();
                        break;
                }
            }
        }
        return merged;
    }
}
