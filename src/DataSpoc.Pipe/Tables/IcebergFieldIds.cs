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

    public static IcebergFieldIds Empty() => new();

    /// <summary>From the table's current schema; <paramref name="lastColumnId"/> is the metadata's <c>last-column-id</c>.</summary>
    public static IcebergFieldIds FromSchema(JsonObject? schema, int lastColumnId)
    {
        var ids = new IcebergFieldIds { LastColumnId = lastColumnId };
        if (schema?["fields"] is JsonArray fields) ids.Load(fields, parent: null, seen: []);
        return ids;
    }

    /// <summary>
    /// The paths are derived from the schema's tree, not stored: a table written when paths were the names joined by '.'
    /// loads the same ids. One that such a version gave a duplicate id (a column <c>a.b</c> beside a struct <c>a</c> with
    /// a field <c>b</c>) keeps it on the first of them only; the other gets a new id when a run writes it again.
    /// </summary>
    private void Load(JsonArray fields, string? parent, HashSet<int> seen)
    {
        foreach (var field in fields)
            Load(Child(parent, field!["name"]!.GetValue<string>()), field["id"]!.GetValue<int>(), field["type"]!, seen);
    }

    private void Load(string path, int id, JsonNode type, HashSet<int> seen)
    {
        if (seen.Add(id)) _byPath[path] = (id, TypeKey(type));
        if (type is JsonObject o)
        {
            if (o["type"]!.GetValue<string>() == "struct") Load(o["fields"]!.AsArray(), path, seen);
            else if (o["type"]!.GetValue<string>() == "list") Load(Element(path), o["element-id"]!.GetValue<int>(), o["element"]!, seen);
        }
    }

    /// <summary>
    /// The path of a column <paramref name="name"/> at the top level (<paramref name="parent"/> null) or in a struct. Each
    /// name is escaped ('\', '.' and '[' get a '\' before them), so the path is unambiguous: a top-level column named
    /// <c>a.b</c> is <c>a\.b</c>, a struct <c>a</c>'s field <c>b</c> is <c>a.b</c>; a column named <c>tags[]</c> is
    /// <c>tags\[]</c>, a list <c>tags</c>'s element <c>tags[]</c>. (Iceberg ids must be unique in the table.)
    /// </summary>
    private static string Child(string? parent, string name)
    {
        var escaped = name.Replace("\\", "\\\\", StringComparison.Ordinal).Replace(".", "\\.", StringComparison.Ordinal).Replace("[", "\\[", StringComparison.Ordinal);
        return parent is null ? escaped : parent + "." + escaped;
    }

    private static string Element(string list) => list + "[]";

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
