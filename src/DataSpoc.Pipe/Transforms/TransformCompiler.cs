using System.Text.Json;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Sources;

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

    /// <summary>
    /// The transforms, or a <see cref="ConfigException"/> naming the first invalid stream and key (and how many more there
    /// are). With the tap's <paramref name="catalog"/> (the run's, selected), each map's stream is checked and resolved
    /// as <see cref="SelectedStreams"/> says.
    /// </summary>
    internal static IReadOnlyList<IRecordTransform> Compile(PipelineDefinition pipeline, JsonObject? catalog = null)
    {
        var errors = new List<ConfigException>();
        var maps = Parse(pipeline, errors, SelectedStreams(pipeline, catalog, errors));
        if (errors.Count == 1) throw errors[0];
        if (errors.Count > 1)
            throw new ConfigException($"{errors[0].Reason} (and {errors.Count - 1} more transform error(s); run validate to see all)", pipeline.FilePath, key: errors[0].Key);
        return maps;
    }

    /// <summary>Every problem in the pipeline's transform maps (empty when they are valid), each naming <c>transforms.&lt;stream&gt;.&lt;key&gt;</c>.</summary>
    public static IReadOnlyList<ConfigException> Validate(PipelineDefinition pipeline)
    {
        var errors = new List<ConfigException>();
        Parse(pipeline, errors, null);
        return errors;
    }

    /// <summary>
    /// The problems of the pipeline's <c>transforms:</c> keys against the tap's selected <paramref name="catalog"/> (empty
    /// when each names a selected stream): what <c>validate</c> checks once the tap has answered, as a run does.
    /// </summary>
    public static IReadOnlyList<ConfigException> ValidateSelection(PipelineDefinition pipeline, JsonObject catalog)
    {
        var errors = new List<ConfigException>();
        SelectedStreams(pipeline, catalog, errors);
        return errors;
    }

    /// <summary>
    /// The stream each <c>transforms:</c> key applies to: the key itself, or, when it is a stream's <c>tap_stream_id</c>
    /// in <paramref name="catalog"/> and no stream's name, that stream's name (a tap's messages carry the name). A key
    /// naming no stream that <c>source.streams</c> selects (by <see cref="StreamCatalog.Selects"/>, the selection's own
    /// rule: names, ids and globs) is an error. Without a catalog nothing is known of ids and globs: nothing is checked.
    /// </summary>
    /// <summary>The stream each <c>transforms:</c> key applies to (<see cref="SelectedStreams"/>; unchecked).</summary>
    internal static IReadOnlyDictionary<string, string> StreamsOf(PipelineDefinition pipeline, JsonObject? catalog) => SelectedStreams(pipeline, catalog, []);

    private static Dictionary<string, string> SelectedStreams(PipelineDefinition pipeline, JsonObject? catalog, List<ConfigException> errors)
    {
        var streams = pipeline.Transforms.Keys.ToDictionary(k => k, k => k, StringComparer.Ordinal);
        if (catalog is null) return streams;
        var entries = StreamCatalog.List(catalog);
        foreach (var key in pipeline.Transforms.Keys)
        {
            var named = entries.Where(e => e.Stream == key).ToList();
            if (named.Count == 0) named = [.. entries.Where(e => e.TapStreamId == key)];
            if (named.Count > 0) streams[key] = named[0].Stream;
            if (pipeline.Source.Streams is { Count: > 0 } selection && !named.Any(e => StreamCatalog.Selects(selection, e.Stream, e.TapStreamId)))
                new Errors(pipeline.FilePath, key, errors).Add(null, $"stream '{key}' is not selected in source.streams ({string.Join(", ", selection)}); " +
                    $"it selects: {string.Join(", ", entries.Where(e => StreamCatalog.Selects(selection, e.Stream, e.TapStreamId)).Select(e => e.Stream).Distinct())}");
        }
        return streams;
    }

    private static List<IRecordTransform> Parse(PipelineDefinition pipeline, List<ConfigException> errors, Dictionary<string, string>? streams)
    {
        var maps = new List<IRecordTransform>();
        foreach (var (stream, node) in pipeline.Transforms)
        {
            var found = new Errors(pipeline.FilePath, stream, errors);
            var before = errors.Count;
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
                Stream = streams?.GetValueOrDefault(stream) ?? stream,
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
