using System.Text.Json;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;

namespace DataSpoc.Pipe.Transforms;

/// <summary>
/// Compiles a pipeline's declarative <c>transforms:</c> (one map per stream) into record transforms, and checks them
/// for <c>validate</c>. A map may hold <c>select</c>, <c>drop</c>, <c>rename</c>, <c>cast</c>, <c>hash</c>,
/// <c>filter</c> and <c>compute</c>; see <see cref="StreamMap"/> for the order they apply in. What can only be checked
/// against the stream's schema (columns exist, renames do not collide with existing columns) is checked when the
/// tap sends it, failing the run with a <see cref="TransformException"/>.
/// </summary>
public static class TransformCompiler
{
    private static readonly string[] Keys = ["select", "drop", "rename", "cast", "hash", "filter", "compute"];

    /// <summary>The transforms, or a <see cref="ConfigException"/> naming the first invalid stream and key (and how many more there are).</summary>
    internal static IReadOnlyList<IRecordTransform> Compile(PipelineDefinition pipeline)
    {
        var errors = new List<ConfigException>();
        var maps = Parse(pipeline, errors);
        if (errors.Count == 1) throw errors[0];
        if (errors.Count > 1)
            throw new ConfigException($"{errors[0].Reason} (and {errors.Count - 1} more transform error(s); run validate to see all)", pipeline.FilePath, key: errors[0].Key);
        return maps;
    }

    /// <summary>Every problem in the pipeline's transform maps (empty when they are valid), each naming <c>transforms.&lt;stream&gt;.&lt;key&gt;</c>.</summary>
    public static IReadOnlyList<ConfigException> Validate(PipelineDefinition pipeline)
    {
        var errors = new List<ConfigException>();
        Parse(pipeline, errors);
        return errors;
    }

    private static List<IRecordTransform> Parse(PipelineDefinition pipeline, List<ConfigException> errors)
    {
        var maps = new List<IRecordTransform>();
        foreach (var (stream, node) in pipeline.Transforms)
        {
            var found = new Errors(pipeline.FilePath, stream, errors);
            var before = errors.Count;
            if (pipeline.Source.Streams is { Count: > 0 } selected && !selected.Contains(stream))
                found.Add(null, $"stream '{stream}' is not selected in source.streams ({string.Join(", ", selected)})");
            if (node is null) continue;
            if (node is not JsonObject map)
            {
                found.Add(null, $"expected a mapping of {string.Join(", ", Keys)}, got {Describe(node)}");
                continue;
            }
            foreach (var (key, _) in map)
                if (!Keys.Contains(key)) found.Add(key, $"unknown key (expected one of {string.Join(", ", Keys)})");

            var select = map.ContainsKey("select") ? Names(map["select"], "select", found) : null;
            var drop = Names(map["drop"], "drop", found);
            var rename = Pairs(map["rename"], "rename", found);
            var cast = Pairs(map["cast"], "cast", found);
            var (hash, salt) = ParseHash(map["hash"], found);
            var filter = Expression(map["filter"], "filter", found);
            var compute = new List<(string, TransformExpression)>();
            foreach (var (column, text) in Pairs(map["compute"], "compute", found))
                if (Expression(JsonValue.Create(text), "compute." + column, found) is { } e) compute.Add((column, e));

            foreach (var (column, target) in cast)
            {
                if (!ColumnCast.Targets.Contains(target))
                    found.Add("cast." + column, $"unknown type '{target}' (expected one of {string.Join(", ", ColumnCast.Targets)})");
                else if (hash.Contains(column) && target != "string")
                    found.Add("cast." + column, $"column '{column}' is hashed (a string); it cannot be cast to {target}");
            }
            if (select is not null)
                foreach (var column in select.Intersect(drop))
                    found.Add("drop", $"column '{column}' is both selected and dropped");
            foreach (var group in rename.GroupBy(p => p.Value).Where(g => g.Count() > 1))
                found.Add("rename", $"{string.Join(" and ", group.Select(p => $"'{p.Key}'"))} would all be renamed to '{group.Key}'");
            foreach (var (from, to) in rename)
            {
                if (to.Length == 0) found.Add("rename." + from, "the new name is empty");
                else if (!rename.ContainsKey(to) && (select?.Contains(to) == true || compute.Any(c => c.Item1 == to)) && select?.Contains(from) != false)
                    found.Add("rename." + from, $"renaming '{from}' to '{to}' collides with column '{to}'");
            }

            if (errors.Count > before) continue;
            maps.Add(new StreamMap
            {
                Stream = stream,
                Filter = filter,
                Compute = compute,
                Hash = hash,
                HashSalt = salt,
                Cast = cast,
                Drop = drop,
                Select = select,
                Rename = rename,
            });
        }
        return maps;
    }

    private static List<string> Names(JsonNode? node, string key, Errors found)
    {
        if (node is null) return [];
        if (node is not JsonArray array)
        {
            found.Add(key, $"expected a list of column names, got {Describe(node)}");
            return [];
        }
        var names = new List<string>();
        foreach (var item in array)
        {
            if (item is JsonValue v && v.GetValueKind() == JsonValueKind.String && v.GetValue<string>() is { Length: > 0 } name)
            {
                if (names.Contains(name)) found.Add(key, $"column '{name}' is listed twice");
                else names.Add(name);
            }
            else found.Add(key, $"expected column names, got {Describe(item)}");
        }
        return names;
    }

    private static Dictionary<string, string> Pairs(JsonNode? node, string key, Errors found)
    {
        var pairs = new Dictionary<string, string>(StringComparer.Ordinal);
        if (node is null) return pairs;
        if (node is not JsonObject map)
        {
            found.Add(key, $"expected a mapping of column: value, got {Describe(node)}");
            return pairs;
        }
        foreach (var (column, value) in map)
        {
            if (value is JsonValue v && v.GetValueKind() == JsonValueKind.String) pairs[column] = v.GetValue<string>();
            else if (key == "compute" && value is JsonValue n && n.GetValueKind() is JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False)
                pairs[column] = n.ToJsonString(); // a constant: `flag: true`, `version: 2`
            else found.Add(key + "." + column, $"expected a string, got {Describe(value)}");
        }
        return pairs;
    }

    private static (List<string> Columns, string Salt) ParseHash(JsonNode? node, Errors found)
    {
        if (node is JsonObject options)
        {
            foreach (var (k, _) in options)
                if (k is not "columns" and not "salt") found.Add("hash." + k, "unknown key (expected columns and salt)");
            var salt = options["salt"] switch
            {
                null => "",
                JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
                var other => Fail(found, "hash.salt", $"expected a string, got {Describe(other)}"),
            };
            return (Names(options["columns"], "hash.columns", found), salt);
        }
        return (Names(node, "hash", found), "");
    }

    private static string Fail(Errors found, string key, string reason)
    {
        found.Add(key, reason);
        return "";
    }

    private static TransformExpression? Expression(JsonNode? node, string key, Errors found)
    {
        if (node is null) return null;
        if (node is not JsonValue v || v.GetValueKind() != JsonValueKind.String || v.GetValue<string>().Trim().Length == 0)
        {
            found.Add(key, $"expected an expression (a string), got {Describe(node)}");
            return null;
        }
        var expression = TransformExpression.TryParse(v.GetValue<string>(), out var error);
        if (expression is null) found.Add(key, error!);
        return expression;
    }

    private static string Describe(JsonNode? node) => node switch
    {
        null => "null",
        JsonObject => "a mapping",
        JsonArray => "a list",
        _ => $"'{node.ToJsonString().Trim('"')}'",
    };

    private sealed class Errors(string? file, string stream, List<ConfigException> errors)
    {
        public void Add(string? key, string reason) =>
            errors.Add(new ConfigException(reason, file, key: "transforms." + stream + (key is null ? "" : "." + key)));
    }
}
