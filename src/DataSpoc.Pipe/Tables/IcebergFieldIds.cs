using System.Text.Json.Nodes;
using DataSpoc.Pipe.Parquet;

namespace DataSpoc.Pipe.Tables;

/// <summary>
/// A table's Iceberg column ids by column path (<c>customer.zip</c>, <c>tags[]</c> for a list's element; a name
/// holding '.' or '[' is escaped, see <see cref="Child"/>). A column keeps its id across runs and schemas; a new
/// column, or one whose type changed in a way Iceberg's evolution rules do not allow (anything but int->long,
/// float->double, or the same type), gets a new id above every id the table ever used, so ids are never reused.
/// Loaded from the table's metadata when the run starts, applied to each stream schema before its first Parquet file
/// is written (the files carry the ids), then written as the new schema.
/// </summary>
internal sealed class IcebergFieldIds
{
    /// <summary>The synthetic column that extraction-date partitioning is an identity partition of (absent from the data files).</summary>
    public const string ExtractionDateColumn = "_extraction_date";

    private readonly Dictionary<string, (int Id, string Type)> _byPath = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public int LastColumnId { get; private set; }

    /// <summary>
    /// The table's <c>last-column-id</c> when the ids were loaded (0 for a table without Iceberg metadata yet): every id
    /// above it is one this run gave a column new to the table (or of a new type), which another run may have given
    /// another column meanwhile (<see cref="Collisions"/>).
    /// </summary>
    public int BaseLastColumnId { get; private init; }

    public static IcebergFieldIds Empty() => new();

    /// <summary>From the table's current schema; <paramref name="lastColumnId"/> is the metadata's <c>last-column-id</c>.</summary>
    public static IcebergFieldIds FromSchema(JsonObject? schema, int lastColumnId)
    {
        var ids = new IcebergFieldIds { LastColumnId = lastColumnId, BaseLastColumnId = lastColumnId };
        if (schema?["fields"] is JsonArray fields) ids.Load(fields);
        return ids;
    }

    /// <summary>
    /// The paths are derived from the schema's tree, not stored: a table written when paths were the names joined by '.'
    /// loads the same ids. One that such a version gave a duplicate id (a column <c>a.b</c> beside a struct <c>a</c> with
    /// a field <c>b</c>) keeps it on the first of them only; the other gets a new id when a run writes it again.
    /// </summary>
    private void Load(JsonArray fields)
    {
        var seen = new HashSet<int>();
        foreach (var (path, id, type) in Walk(fields))
            if (seen.Add(id)) _byPath[path] = (id, type);
    }

    /// <summary>Every column of an Iceberg schema's fields, depth first (a struct before its fields, a list before its element): path, id, type.</summary>
    private static IEnumerable<(string Path, int Id, string Type)> Walk(JsonArray fields, string? parent = null)
    {
        foreach (var field in fields)
            foreach (var column in Walk(Child(parent, field!["name"]!.GetValue<string>()), field["id"]!.GetValue<int>(), field["type"]!))
                yield return column;
    }

    private static IEnumerable<(string Path, int Id, string Type)> Walk(string path, int id, JsonNode type)
    {
        yield return (path, id, TypeKey(type));
        if (type is not JsonObject o) yield break;
        var nested = o["type"]!.GetValue<string>() switch
        {
            "struct" => Walk(o["fields"]!.AsArray(), path),
            "list" => Walk(Element(path), o["element-id"]!.GetValue<int>(), o["element"]!),
            _ => [],
        };
        foreach (var column in nested) yield return column;
    }

    /// <summary>The ids above <paramref name="baseLastColumnId"/> of <paramref name="fields"/> (a run's schema), each with its column path and type.</summary>
    public static IEnumerable<(string Path, int Id, string Type)> NewColumns(JsonArray fields, int baseLastColumnId) =>
        Walk(fields).Where(c => c.Id > baseLastColumnId);

    /// <summary>
    /// What makes the ids a run numbered on the table as it was (<paramref name="baseLastColumnId"/>) wrong on the table as
    /// it is now (<paramref name="metadata"/>), one sentence per column; empty when they fit. Two runs that take ids at the
    /// same time both number their new columns from the same <c>last-column-id</c>, and their files carry those ids: a
    /// second one that committed anyway would give two columns one id (invalid for Iceberg; readers that project by id
    /// read one column's values as the other's). So a new column of the run (id above the base) collides when the table
    /// now has that id for another column or another type (a promotion int->long or float->double aside), when the id
    /// was taken since but is in no schema, or when the table now has the column under another id taken since the base.
    /// The same column added by both with the same id and type is no collision.
    /// </summary>
    public static List<string> Collisions(JsonArray fields, int baseLastColumnId, JsonObject metadata)
    {
        var byId = new Dictionary<int, (string Path, string Type)>();
        foreach (var schema in metadata["schemas"]!.AsArray())
            foreach (var (path, id, type) in Walk(schema!["fields"]!.AsArray()))
                byId.TryAdd(id, (path, type));
        var currentId = metadata["current-schema-id"]!.GetValue<int>();
        var current = new Dictionary<string, int>(StringComparer.Ordinal);
        if (metadata["schemas"]!.AsArray().FirstOrDefault(s => s!["schema-id"]!.GetValue<int>() == currentId) is { } currentSchema)
            foreach (var (path, id, _) in Walk(currentSchema["fields"]!.AsArray()))
                current.TryAdd(path, id);
        var last = metadata["last-column-id"]!.GetValue<int>();
        var collisions = new List<string>();
        foreach (var (path, id, type) in NewColumns(fields, baseLastColumnId))
        {
            if (byId.TryGetValue(id, out var now))
            {
                if (now.Path != path)
                    collisions.Add($"'{path}' has field id {id} in this run's files, which the table gave column '{now.Path}'");
                else if (now.Type != type && !IsAllowedPromotion(now.Type, type))
                    collisions.Add($"'{path}' has field id {id} as {type} in this run's files, which the table gave it as {now.Type}");
            }
            else if (id <= last)
                collisions.Add($"'{path}' has field id {id} in this run's files, which the table has numbered since (last-column-id {last})");
            if (current.TryGetValue(path, out var theirs) && theirs != id && theirs > baseLastColumnId)
                collisions.Add($"'{path}' has field id {id} in this run's files, and another commit added it with field id {theirs}");
        }
        return collisions;
    }

    /// <summary>
    /// The path of a column <paramref name="name"/> at the top level (<paramref name="parent"/> null) or in a struct,
    /// escaped so that it is unambiguous (<see cref="ColumnPaths"/>): Iceberg ids must be unique in the table.
    /// </summary>
    private static string Child(string? parent, string name) => ColumnPaths.Child(parent, name);

    private static string Element(string list) => ColumnPaths.Element(list);

    private static string TypeKey(JsonNode type) => type is JsonValue v ? v.GetValue<string>() : type["type"]!.GetValue<string>();

    /// <summary>Sets <see cref="SchemaNode.FieldId"/> on every column of <paramref name="schema"/>.</summary>
    public void Assign(ColumnSchema schema)
    {
        lock (_lock)
            foreach (var child in schema.Root.Children) Assign(child, Child(null, child.Name));
    }

    private void Assign(SchemaNode node, string path)
    {
        node.FieldId = IdFor(path, TypeKey(IcebergSchema.TypeOf(node, includeIds: false)));
        switch (node)
        {
            case StructNode s:
                foreach (var c in s.Children) Assign(c, Child(path, c.Name));
                break;
            case ListNode l:
                Assign(l.Element, Element(path));
                break;
        }
    }

    /// <summary>The id of a top-level column with this Iceberg type (a type name, or <c>struct</c> / <c>list</c>).</summary>
    public int IdForColumn(string name, string type) => IdFor(Child(null, name), type);

    /// <summary>The id of a column path (<see cref="Child"/>) with this Iceberg type.</summary>
    private int IdFor(string path, string type)
    {
        lock (_lock)
        {
            if (_byPath.TryGetValue(path, out var known) && (known.Type == type || IsAllowedPromotion(known.Type, type)))
            {
                if (known.Type != type) _byPath[path] = (known.Id, type);
                return known.Id;
            }
            var id = ++LastColumnId;
            _byPath[path] = (id, type);
            return id;
        }
    }

    private static bool IsAllowedPromotion(string from, string to) =>
        (from, to) is ("int", "long") or ("float", "double");
}
