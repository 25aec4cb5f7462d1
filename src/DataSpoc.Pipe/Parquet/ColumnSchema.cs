using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace DataSpoc.Pipe.Parquet;

/// <summary>The Parquet value type of a leaf column (see the lake contract's type table).</summary>
internal enum LeafKind { Int64, Double, Decimal, Boolean, String, Json, Timestamp, Date, Time }

/// <summary>
/// A stream's JSON Schema mapped to a tree of Parquet nodes: structs, lists and typed leaves.
/// Every node is written optional (a value may always be missing); <see cref="Nullable"/> is what the schema declares.
/// </summary>
internal abstract class SchemaNode(string name, bool nullable)
{
    public string Name { get; } = name;
    /// <summary>
    /// The property that holds this node's value in a record: its name, unless a <c>rename</c> gives the column a new
    /// name (records still spell the tap's name; see <see cref="RecordProjection"/>).
    /// </summary>
    public string RecordKey { get; private set; } = name;
    /// <summary>The record key as UTF-8, as the shredders match it.</summary>
    public byte[] NameUtf8 { get; private set; } = System.Text.Encoding.UTF8.GetBytes(name);
    /// <summary>The record key as a compact JSON key ends: <c>name":</c> (what follows the key's opening quote).</summary>
    public byte[] CompactKeyUtf8 { get; private set; } = System.Text.Encoding.UTF8.GetBytes(name + "\":");

    /// <summary>Records hold this node's value under <paramref name="recordKey"/>; call before the parent struct is built.</summary>
    internal void ReadFrom(string recordKey)
    {
        RecordKey = recordKey;
        NameUtf8 = System.Text.Encoding.UTF8.GetBytes(recordKey);
        CompactKeyUtf8 = System.Text.Encoding.UTF8.GetBytes(recordKey + "\":");
    }
    public bool Nullable { get; } = nullable;
    /// <summary>Dotted path from the record root, for error messages (<c>customer.address.zip</c>, a list's element <c>tags[]</c>).</summary>
    public string Path { get; set; } = name;
    /// <summary>
    /// Where a record holds this node's value, as the run log's <c>dropped_properties</c> names what is undeclared inside
    /// it: the tap's property names, escaped (<see cref="ColumnPaths"/>); null for the record itself (the root).
    /// </summary>
    public string? RecordPath { get; set; }
    /// <summary>Definition level of this node when it is present (its optional ancestors plus itself).</summary>
    public short DefLevel { get; set; }
    /// <summary>Repetition level of the innermost list around (or at) this node.</summary>
    public short RepLevel { get; set; }
    /// <summary>Every leaf at or below this node, in column order.</summary>
    public List<LeafNode> Leaves { get; } = [];
    /// <summary>Arrow-style type name for the manifest.</summary>
    public abstract string ArrowType { get; }
    /// <summary>
    /// The Parquet field id written for this node (Iceberg's column id, stable across a table's schemas), or -1 for
    /// none: set only for tables with Iceberg metadata, before the first file is written.
    /// </summary>
    public int FieldId { get; set; } = -1;
}

internal sealed class LeafNode(string name, bool nullable, LeafKind kind, int scale = 0) : SchemaNode(name, nullable)
{
    public LeafKind Kind { get; } = kind;
    /// <summary>Decimal scale (digits after the point) for <see cref="LeafKind.Decimal"/>.</summary>
    public int Scale { get; } = scale;
    /// <summary>
    /// A <c>["integer", "number"]</c> column, stored as DOUBLE: an integer value that a double cannot hold exactly
    /// (beyond 2^53) is a value error, not silently rounded.
    /// </summary>
    public bool ExactIntegers { get; init; }
    /// <summary>The column's path in the Parquet schema (lists add their <c>list</c> and <c>element</c> levels).</summary>
    public string[] ParquetPath { get; set; } = [name];
    public int ColumnIndex { get; set; }
    public const int DecimalPrecision = 38;

    /// <summary>What the kind is in the manifest, Parquet and Iceberg.</summary>
    public ColumnType Type { get; } = ColumnType.Of(kind);

    public override string ArrowType => Type.ArrowName(this);
}

internal sealed class StructNode(string name, bool nullable, List<SchemaNode> children) : SchemaNode(name, nullable)
{
    public List<SchemaNode> Children { get; } = children;
    /// <summary>The children as an array, for the canonical scan's hot loop.</summary>
    public SchemaNode[] ChildArray { get; } = [.. children];
    /// <summary>Each child's compact key, in child order (see <see cref="CompactKey"/>).</summary>
    public CompactKey[] CompactKeys { get; } = [.. children.Select(c => new CompactKey(c.CompactKeyUtf8))];
    private Dictionary<string, int>? _index, _keyIndex;
    private HashSet<string> _ignored = [];

    /// <summary>The child named <paramref name="name"/> (its column name), or -1.</summary>
    public int IndexOf(string name)
    {
        _index ??= Children.Select((c, i) => (c.Name, i)).ToDictionary(t => t.Name, t => t.i, StringComparer.Ordinal);
        return _index.TryGetValue(name, out var i) ? i : -1;
    }

    /// <summary>The child a record's property <paramref name="key"/> fills, or -1.</summary>
    public int IndexOfKey(string key) => KeyIndex.TryGetValue(key, out var i) ? i : -1;

    /// <summary>Children by record key, looked up from a span of the key.</summary>
    public Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> Lookup => KeyIndex.GetAlternateLookup<ReadOnlySpan<char>>();

    private Dictionary<string, int> KeyIndex =>
        _keyIndex ??= Children.Select((c, i) => (c.RecordKey, i)).ToDictionary(t => t.RecordKey, t => t.i, StringComparer.Ordinal);

    /// <summary>
    /// Declared properties a transform removes (<c>drop</c>, or left out of <c>select</c>): records still hold them, and
    /// they are skipped without being counted as undeclared.
    /// </summary>
    public IReadOnlySet<string> IgnoredKeys
    {
        get => _ignored;
        init
        {
            _ignored = [.. value];
            IgnoredKeysUtf8 = [.. value.Select(System.Text.Encoding.UTF8.GetBytes)];
        }
    }

    /// <summary><see cref="IgnoredKeys"/> as UTF-8, for the canonical scan.</summary>
    public byte[][] IgnoredKeysUtf8 { get; private init; } = [];

    public override string ArrowType => "struct<" + string.Join(", ", Children.Select(c => c.Name + ": " + c.ArrowType)) + ">";
}

/// <summary>
/// A property's compact key (<c>name":</c>, what follows the opening quote) packed for a two-word comparison: keys of
/// up to 16 bytes are matched with two unaligned 8-byte loads and masks instead of a call per property.
/// </summary>
internal readonly struct CompactKey
{
    private readonly ulong _low, _high, _lowMask, _highMask;

    public CompactKey(byte[] key)
    {
        Bytes = key;
        Length = key.Length;
        Span<byte> padded = stackalloc byte[16];
        Span<byte> mask = stackalloc byte[16];
        padded.Clear();
        mask.Clear();
        if (key.Length <= 16)
        {
            key.CopyTo(padded);
            mask[..key.Length].Fill(0xFF);
        }
        _low = BitConverter.ToUInt64(padded);
        _high = BitConverter.ToUInt64(padded[8..]);
        _lowMask = BitConverter.ToUInt64(mask);
        _highMask = BitConverter.ToUInt64(mask[8..]);
    }

    public byte[] Bytes { get; }
    public int Length { get; }

    /// <summary>Whether the bytes at <paramref name="at"/> start with this key.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsAt(ReadOnlySpan<byte> json, int at)
    {
        if (Length <= 16 && at + 16 <= json.Length)
        {
            ref var start = ref Unsafe.Add(ref MemoryMarshal.GetReference(json), at);
            var low = Unsafe.ReadUnaligned<ulong>(ref start);
            var high = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, 8));
            return (((low ^ _low) & _lowMask) | ((high ^ _high) & _highMask)) == 0;
        }
        return json[at..].StartsWith(Bytes);
    }
}

/// <summary>
/// A top-level property of a flat record as the canonical scan meets it: its key, and the leaf and column it fills
/// (<see cref="Column"/> -1: a property a transform removes, whose value is skipped).
/// </summary>
internal readonly record struct FlatField(CompactKey Key, byte[] KeyUtf8, LeafNode? Leaf, int Column);

internal sealed class ListNode(string name, bool nullable, SchemaNode element) : SchemaNode(name, nullable)
{
    public SchemaNode Element { get; } = element;
    public override string ArrowType => "list<" + Element.ArrowType + ">";
}

/// <summary>A stream's schema: the root struct (one child per top-level property) and its leaves in column order.</summary>
internal sealed class ColumnSchema
{
    public required StructNode Root { get; init; }
    public IReadOnlyList<LeafNode> Leaves => Root.Leaves;
    /// <summary>The schema JSON as mapped (<see cref="JsonSchemaResolver"/>: references and alternatives resolved), to compare later SCHEMA messages with.</summary>
    public required string SchemaJson { get; init; }
    /// <summary>How records spell the columns (empty: by their names); a schema is the same only if this is too.</summary>
    public string RecordLayout { get; init; } = "";

    /// <summary>
    /// These columns as rows read back from the table's own files spell them, by column name: a transform's
    /// projection (a rename, a computed column, an ignored property) is how the tap's records spell them, not those
    /// rows. <paramref name="fileColumns"/> (name, JSON Schema) are columns as earlier files hold them: one the schema
    /// lacks is added after its columns, and a struct's field the schema's same-named struct lacks (at any depth, in
    /// lists of structs too) is added after that struct's fields (<see cref="AddMissingProperties"/>), so rows read
    /// back keep what the schema no longer declares, nested or not. Field ids are kept.
    /// </summary>
    public ColumnSchema ByColumnName(IReadOnlyList<(string Name, System.Text.Json.Nodes.JsonNode Schema)> fileColumns)
    {
        if (RecordLayout.Length == 0 && fileColumns.Count == 0) return this;
        var schema = System.Text.Json.Nodes.JsonNode.Parse(SchemaJson)!.AsObject();
        var properties = schema["properties"]!.AsObject();
        var changed = RecordLayout.Length > 0;
        foreach (var (name, column) in fileColumns)
        {
            if (properties.ContainsKey(name))
            {
                if (properties[name] is System.Text.Json.Nodes.JsonObject declared) changed |= AddMissingProperties(declared, column);
            }
            else
            {
                properties[name] = column.DeepClone();
                changed = true;
            }
        }
        if (!changed) return this;
        var byName = FromJsonSchema(JsonElement.Parse(schema.ToJsonString()));
        for (var i = 0; i < Root.Children.Count; i++) CopyFieldIds(Root.Children[i], byName.Root.Children[i]);
        return byName;
    }

    /// <summary>
    /// Adds to the object schema <paramref name="into"/> the properties of <paramref name="from"/> it lacks, and does
    /// so again inside each property both declare as an object with properties or an array of such (the items): a
    /// struct keeps the fields another version of it had. Nothing else changes (a property of another type stays as
    /// <paramref name="into"/> declares it). Whether anything was added.
    /// </summary>
    internal static bool AddMissingProperties(System.Text.Json.Nodes.JsonObject into, System.Text.Json.Nodes.JsonNode from)
    {
        if (from is not System.Text.Json.Nodes.JsonObject other) return false;
        if (into["items"] is System.Text.Json.Nodes.JsonObject items && other["items"] is { } otherItems) return AddMissingProperties(items, otherItems);
        if (into["properties"] is not System.Text.Json.Nodes.JsonObject properties || other["properties"] is not System.Text.Json.Nodes.JsonObject otherProperties) return false;
        var added = false;
        foreach (var (name, property) in otherProperties)
        {
            if (properties[name] is System.Text.Json.Nodes.JsonObject declared) added |= AddMissingProperties(declared, property!);
            else if (!properties.ContainsKey(name))
            {
                properties[name] = property!.DeepClone();
                added = true;
            }
        }
        return added;
    }

    private static void CopyFieldIds(SchemaNode from, SchemaNode to)
    {
        to.FieldId = from.FieldId;
        switch (from, to)
        {
            case (StructNode f, StructNode t):
                for (var i = 0; i < f.Children.Count; i++) CopyFieldIds(f.Children[i], t.Children[i]);
                break;
            case (ListNode f, ListNode t):
                CopyFieldIds(f.Element, t.Element);
                break;
        }
    }

    /// <summary>The top-level columns as the manifest lists them.</summary>
    public List<Lake.ManifestColumn> ManifestColumns() => [.. Root.Children.Select(c => new Lake.ManifestColumn(c.Name, c.ArrowType, c.Nullable))];

    /// <summary>
    /// The columns of files written under <paramref name="oldestFirst"/> (a stream's schemas in a run, the latest last),
    /// as the manifest lists them: the latest schema's, then those only earlier ones have (a SCHEMA may add a column and
    /// drop it again mid-run; the file written in between still holds it), nullable where some files lack them.
    /// </summary>
    public static List<Lake.ManifestColumn> ManifestColumnsOf(IEnumerable<ColumnSchema> oldestFirst) =>
        oldestFirst.Aggregate((List<Lake.ManifestColumn>?)null, (columns, schema) => Lake.ManifestColumn.AfterAdding(columns, schema.ManifestColumns()))
        ?? throw new ArgumentException("no schema", nameof(oldestFirst));

    /// <summary>The top-level column <paramref name="name"/> as the latest of <paramref name="oldestFirst"/> that has it declares it.</summary>
    public static SchemaNode LatestColumn(IReadOnlyList<ColumnSchema> oldestFirst, string name)
    {
        for (var i = oldestFirst.Count - 1; i >= 0; i--)
            if (oldestFirst[i].Root.IndexOf(name) is var index and >= 0) return oldestFirst[i].Root.Children[index];
        throw new ArgumentException($"no schema has column '{name}'", nameof(name));
    }

    /// <summary>
    /// The root's properties in the order records usually write them, when every one is a scalar the canonical scan
    /// reads itself (no nested object, list, JSON or decimal value) or one a transform removes; else null.
    /// </summary>
    public FlatField[]? FlatFields { get; init; }

    /// <summary>
    /// No property name at any depth holds a quote, a backslash or a control character, so a key's raw bytes in a
    /// record equal the name exactly when they denote it (what the canonical fast path relies on).
    /// </summary>
    public bool HasPlainNames => _hasPlainNames ??= AllPlain(Root);
    private bool? _hasPlainNames;

    private static bool AllPlain(SchemaNode node) => node switch
    {
        StructNode s => s.Children.All(c => IsPlain(c.NameUtf8) && AllPlain(c)),
        ListNode l => AllPlain(l.Element),
        _ => true,
    };

    private static bool IsPlain(byte[] name) => !name.AsSpan().ContainsAny((byte)'"', (byte)'\\') && !name.AsSpan().ContainsAnyInRange((byte)0, (byte)0x1F);

    /// <summary>The manifest's (Arrow-style) type of a column <paramref name="name"/> of JSON Schema <paramref name="property"/>.</summary>
    public static string ArrowTypeOf(string name, System.Text.Json.Nodes.JsonNode property) =>
        FromJsonSchema(JsonElement.Parse(new System.Text.Json.Nodes.JsonObject
        {
            ["type"] = "object",
            ["properties"] = new System.Text.Json.Nodes.JsonObject { [name] = property.DeepClone() },
        }.ToJsonString())).Root.Children[0].ArrowType;

    /// <summary>Maps a SCHEMA message's JSON Schema; throws <see cref="SchemaException"/> naming the property at fault.</summary>
    /// <param name="schema">The JSON Schema of the columns to write.</param>
    /// <param name="projection">How records spell those columns, when a transform selects, drops or renames them.</param>
    public static ColumnSchema FromJsonSchema(JsonElement schema, RecordProjection? projection = null)
    {
        if (schema.ValueKind != JsonValueKind.Object)
            throw new SchemaException("", $"the schema is a JSON {Describe(schema.ValueKind)}, not an object");
        schema = JsonSchemaResolver.Resolve(schema);
        if (!schema.TryGetProperty("properties", out var props) || props.ValueKind != JsonValueKind.Object)
            throw new SchemaException("", "the schema has no \"properties\" object, so it defines no columns");
        var root = MapStruct("", "", props, nullable: false, depth: 0);
        if (root.Children.Count == 0)
            throw new SchemaException("", "the schema's \"properties\" is empty, so it defines no columns");
        if (projection is not null) root = Project(root, projection);
        Number(root, parentDef: 0, parentRep: 0, path: "");
        if (root.Leaves.Count is var columns && columns > MaxColumns)
            throw new SchemaException("", $"the schema declares {columns} columns; a table takes at most {MaxColumns} (as BigQuery's): each column keeps " +
                "its own buffers and Parquet writer (100,000 took 4.6 GB). Declare a wide free-form part as {\"type\": \"object\"} without " +
                "properties to land it as one JSON text column, or select the columns you need (source.select)");
        var index = 0;
        foreach (var leaf in root.Leaves) leaf.ColumnIndex = index++;
        return new ColumnSchema
        {
            Root = root,
            SchemaJson = schema.GetRawText(),
            RecordLayout = projection?.Layout ?? "",
            FlatFields = FlatFieldsOf(root, projection),
        };
    }

    /// <summary>The root with each column reading its record property, and the removed properties ignored.</summary>
    private static StructNode Project(StructNode root, RecordProjection projection)
    {
        foreach (var child in root.Children)
            if (projection.PropertyOf(child.Name) is { } key) child.ReadFrom(key);
        return new StructNode("", false, root.Children) { IgnoredKeys = projection.Removed };
    }

    private static FlatField[]? FlatFieldsOf(StructNode root, RecordProjection? projection)
    {
        if (!root.Children.All(c => c is LeafNode { Kind: not (LeafKind.Json or LeafKind.Decimal) })) return null;
        var keys = projection?.Properties.Select(p => p.Property) ?? root.Children.Select(c => c.RecordKey);
        return
        [
            .. keys.Select(key => root.IndexOfKey(key) is var i and >= 0
                ? new FlatField(root.CompactKeys[i], root.ChildArray[i].NameUtf8, (LeafNode)root.ChildArray[i], i)
                : new FlatField(new CompactKey(System.Text.Encoding.UTF8.GetBytes(key + "\":")), System.Text.Encoding.UTF8.GetBytes(key), null, -1)),
        ];
    }

    /// <summary>The most levels a column nests: its own (1), then one per object property or list element inside it.</summary>
    public const int MaxDepth = 64;

    /// <summary>The most columns (leaves) one table's schema may have; ~60 KB of buffers and writer each while a file is written (a 9,999-column table of 300 rows peaked at 590 MB).</summary>
    public const int MaxColumns = 10_000;

    /// <summary>
    /// Why two property names of one object that differ only in case or Unicode normalization (<see cref="LookAlikeNames"/>)
    /// are refused: one rule for a SCHEMA's properties, a file tap's files of one stream, and a run's columns against those
    /// the table already keeps (<see cref="Runs.PipelineRunner"/>).
    /// </summary>
    public static string CaseOnlyDifference(string one, string other) =>
        $"properties '{one}' and '{other}' differ only {LookAlikeNames.HowTheyDiffer(one, other)}; " + (string.Equals(one, other, StringComparison.OrdinalIgnoreCase)
            ? "Parquet readers such as DuckDB, Spark and Trino would treat them as one column"
            : "readers print them alike, and catalogs and file systems that normalize names (macOS) take them as one");

    private static StructNode MapStruct(string name, string path, JsonElement props, bool nullable, int depth)
    {
        var children = new List<SchemaNode>();
        var seen = new Dictionary<string, string>(LookAlikeNames.Comparer);
        foreach (var p in props.EnumerateObject())
        {
            if (seen.TryGetValue(p.Name, out var other))
                throw new SchemaException(Join(path, p.Name), CaseOnlyDifference(other, p.Name));
            seen[p.Name] = p.Name;
            if (p.Name.Length == 0) throw new SchemaException(path, "a property has an empty name");
            // The full path, so that an error deep inside names the property from the top-level column down.
            children.Add(Map(p.Name, p.Value, Join(path, p.Name), depth + 1));
        }
        return new StructNode(name, nullable, children);
    }

    private static string Join(string a, string b) => a.Length == 0 ? b : a + "." + b;

    private static SchemaNode Map(string name, JsonElement s, string path, int depth)
    {
        if (depth > MaxDepth) throw new SchemaException(path, $"nesting deeper than {MaxDepth} levels is not supported");
        if (s.ValueKind == JsonValueKind.True || (s.ValueKind == JsonValueKind.Object && !s.EnumerateObject().Any()))
            return new LeafNode(name, true, LeafKind.Json);
        if (s.ValueKind != JsonValueKind.Object)
            throw new SchemaException(path, $"the property's schema is a JSON {Describe(s.ValueKind)}, not an object");

        var (types, nullable) = TypesOf(s, path);
        if (types.Count == 0) return new LeafNode(name, true, LeafKind.Json);
        if (types.Count == 1)
        {
            var (type, sub) = types[0];
            return type switch
            {
                "object" when sub.TryGetProperty("properties", out var props) && props.ValueKind == JsonValueKind.Object && props.EnumerateObject().Any()
                    => MapStruct(name, path, props, nullable, depth),
                "object" => new LeafNode(name, nullable, LeafKind.Json),
                "array" => new ListNode(name, nullable,
                    sub.TryGetProperty("items", out var items) && items.ValueKind is JsonValueKind.Object or JsonValueKind.True
                        ? Map("element", items, path + "[]", depth + 1)
                        : new LeafNode("element", true, LeafKind.Json)),
                "integer" => new LeafNode(name, nullable, LeafKind.Int64),
                "number" => DecimalScale(sub) is { } scale
                    ? new LeafNode(name, nullable, LeafKind.Decimal, scale)
                    : new LeafNode(name, nullable, LeafKind.Double),
                "boolean" => new LeafNode(name, nullable, LeafKind.Boolean),
                "string" => (sub.TryGetProperty("format", out var f) ? f.GetString() : null) switch
                {
                    "date-time" => new LeafNode(name, nullable, LeafKind.Timestamp),
                    "date" => new LeafNode(name, nullable, LeafKind.Date),
                    "time" => new LeafNode(name, nullable, LeafKind.Time),
                    _ => new LeafNode(name, nullable, LeafKind.String),
                },
                "null" => new LeafNode(name, true, LeafKind.String),
                _ => throw new SchemaException(path, $"unknown JSON Schema type '{type}'"),
            };
        }
        // Mixed types: the widest common type, JSON text as the last resort.
        var names = types.Select(t => t.Type).ToHashSet();
        if (names.SetEquals(["integer", "number"])) return new LeafNode(name, nullable, LeafKind.Double) { ExactIntegers = true };
        if (names.All(n => n is "string" or "integer" or "number" or "boolean")) return new LeafNode(name, nullable, LeafKind.String);
        return new LeafNode(name, nullable, LeafKind.Json);
    }

    /// <summary>The non-null types a property may take (from <c>type</c>, <c>anyOf</c> or <c>oneOf</c>), each with the schema that declares it.</summary>
    private static (List<(string Type, JsonElement Schema)> Types, bool Nullable) TypesOf(JsonElement s, string path)
    {
        var result = new List<(string, JsonElement)>();
        var nullable = false;
        if (s.TryGetProperty("type", out var t))
        {
            if (t.ValueKind == JsonValueKind.String) Add(t.GetString()!, s);
            else if (t.ValueKind == JsonValueKind.Array)
                foreach (var e in t.EnumerateArray())
                {
                    if (e.ValueKind != JsonValueKind.String) throw new SchemaException(path, "\"type\" lists a value that is not a string");
                    Add(e.GetString()!, s);
                }
            else throw new SchemaException(path, "\"type\" must be a string or an array of strings");
        }
        foreach (var key in new[] { "anyOf", "oneOf" })
            if (s.TryGetProperty(key, out var alts) && alts.ValueKind == JsonValueKind.Array)
                foreach (var alt in alts.EnumerateArray())
                {
                    if (alt.ValueKind != JsonValueKind.Object) continue;
                    var (inner, innerNull) = TypesOf(alt, path);
                    nullable |= innerNull;
                    foreach (var (it, isch) in inner)
                        if (!result.Any(r => r.Item1 == it)) result.Add((it, isch));
                }
        if (result.Count == 0 && !s.TryGetProperty("type", out _) && s.TryGetProperty("properties", out _)) result.Add(("object", s));
        return (result, nullable || result.Count == 0);

        void Add(string type, JsonElement schema)
        {
            if (type == "null") { nullable = true; return; }
            if (!result.Any(r => r.Item1 == type)) result.Add((type, schema));
        }
    }

    /// <summary>
    /// <c>multipleOf: 0.01</c> -> scale 2 (a DECIMAL(38, s) column, s up to 38, read from the step's exact text: <c>1e-20</c>
    /// and <c>0.00000000000000000001</c> alike); null when the number is not a fixed-point one. A scale beyond 18 whose
    /// schema also declares a <c>maximum</c> or <c>minimum</c> DECIMAL(38, s) cannot reach stays a double, as it always
    /// was: pipelinewise-tap-postgres gives an unconstrained <c>numeric</c> <c>multipleOf: 1e-38</c> and
    /// <c>maximum: 1e62</c>, whose values a DECIMAL(38,38) (below 1) would refuse nearly all.
    /// </summary>
    private static int? DecimalScale(JsonElement s) =>
        s.TryGetProperty("multipleOf", out var m) && StepScale(m) is { } scale && (scale <= 18 || BoundsFit(s, scale)) ? scale : null;

    /// <summary>The scale of a <c>multipleOf</c> that is 10^-s, s from 0 to 38 (<c>0.01</c> -> 2, <c>1e-20</c> -> 20); else null.</summary>
    internal static int? StepScale(JsonElement multipleOf)
    {
        if (multipleOf.ValueKind != JsonValueKind.Number) return null;
        var step = System.Text.Encoding.ASCII.GetBytes(multipleOf.GetRawText());
        for (var scale = 0; scale <= LeafNode.DecimalPrecision; scale++)
        {
            var fit = DecimalWriter.TryParseUnscaled(step, scale, out var unscaled);
            if (fit == DecimalFit.TooPrecise) continue;
            return fit == DecimalFit.Fits && unscaled == 1 ? scale : null;
        }
        return null;
    }

    /// <summary>Whether the schema's <c>maximum</c> and <c>minimum</c>, where given, are within ±10^(38 - scale).</summary>
    private static bool BoundsFit(JsonElement s, int scale)
    {
        var limit = double.Parse("1e" + (LeafNode.DecimalPrecision - scale).ToString(System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture);
        foreach (var key in (ReadOnlySpan<string>)["maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum"])
            if (s.TryGetProperty(key, out var bound) && bound.ValueKind == JsonValueKind.Number && bound.TryGetDouble(out var value) && Math.Abs(value) > limit)
                return false;
        return true;
    }

    private static void Number(SchemaNode node, short parentDef, short parentRep, string path, string[]? parquetPath = null, string? recordPath = null)
    {
        node.DefLevel = (short)(parentDef + 1);
        node.RepLevel = parentRep;
        node.Path = path;
        node.RecordPath = recordPath;
        switch (node)
        {
            case StructNode s when path.Length == 0 && s.Name.Length == 0:
                // The root is required: its children's parent level is 0.
                foreach (var c in s.Children) { Number(c, 0, 0, c.Name, [c.Name], ColumnPaths.Child(null, c.Name)); s.Leaves.AddRange(c.Leaves); }
                break;
            case StructNode s:
                foreach (var c in s.Children) { Number(c, node.DefLevel, parentRep, path + "." + c.Name, [.. parquetPath!, c.Name], ColumnPaths.Child(recordPath, c.Name)); s.Leaves.AddRange(c.Leaves); }
                break;
            case ListNode l:
                // 3-level list: optional group (LIST) { repeated group list { optional element } }.
                Number(l.Element, (short)(node.DefLevel + 1), (short)(parentRep + 1), path + "[]", [.. parquetPath!, "list", l.Element.Name], ColumnPaths.Element(recordPath!));
                l.Leaves.AddRange(l.Element.Leaves);
                break;
            case LeafNode leaf:
                leaf.ParquetPath = parquetPath!;
                leaf.Leaves.Add(leaf);
                break;
        }
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        JsonValueKind.Null => "null",
        _ => kind.ToString().ToLowerInvariant(),
    };
}

/// <summary>A SCHEMA message that cannot be mapped to Parquet.</summary>
internal sealed class SchemaException(string property, string reason)
    : Exception(property.Length > 0 ? $"property '{property}': {reason}" : reason)
{
    public string Property { get; } = property;
}
