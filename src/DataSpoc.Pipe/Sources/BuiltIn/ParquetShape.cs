using System.Text.Json;
using System.Text.Json.Nodes;
using ParquetSharp;
using ParquetSharp.Schema;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// A Parquet file's schema as a tree that knows, per node, the definition level at which it is present and the
/// repetition level of its lists. It gives the JSON Schema (timestamps -> date-time, dates -> date, decimals ->
/// number with multipleOf, structs -> object, lists and maps -> array) and assembles each row back from the leaf
/// columns (Dremel record assembly): a top-level leaf as a typed value, a struct or list as its JSON text.
/// </summary>
internal abstract class ParquetShape
{
    protected ParquetShape(string name, short def, bool optional)
    {
        Name = name;
        Property = JsonEncodedText.Encode(name);
        Def = def;
        Optional = optional;
    }

    public string Name { get; }
    public JsonEncodedText Property { get; }
    /// <summary>The definition level at which this node holds a value (not null).</summary>
    public short Def { get; }
    public bool Optional { get; }
    /// <summary>Indexes of the leaf columns under this node, in column order.</summary>
    public List<int> Leaves { get; } = [];

    public abstract JsonObject Schema();

    /// <summary>Writes this node's value for the current row as JSON, consuming exactly its entries from the leaf cursors.</summary>
    public abstract void Write(JsonValueWriter json, ParquetLeafCursor[] cursors);

    /// <summary>
    /// Writes this node's value for the current row as <paramref name="property"/> of <paramref name="row"/>: a
    /// nested value (struct, list) as its JSON text, built in <paramref name="scratch"/>.
    /// </summary>
    public virtual void Write(RowWriter row, int property, ParquetLeafCursor[] cursors, JsonValueWriter scratch)
    {
        scratch.Reset();
        Write(scratch, cursors);
        var text = scratch.Written;
        if (text.SequenceEqual("null"u8)) row.Null(property);
        else row.Json(property, text);
    }

    /// <summary>A null (or empty) value here left one entry in each leaf below.</summary>
    protected void SkipOne(ParquetLeafCursor[] cursors)
    {
        foreach (var leaf in Leaves) cursors[leaf].Skip();
    }

    protected JsonArray Types(string type) => Optional ? new JsonArray("null", type) : new JsonArray(type);

    /// <summary>The tree of a file's schema: one shape per top-level field.</summary>
    public static List<ParquetShape> Of(SchemaDescriptor schema)
    {
        var leafIndex = 0;
        var fields = new List<ParquetShape>();
        foreach (var field in schema.GroupNode.Fields) fields.Add(Build(field, 0, 0, schema, ref leafIndex));
        return fields;
    }

    private static ParquetShape Build(Node node, short parentDef, short parentRep, SchemaDescriptor schema, ref int leafIndex)
    {
        var optional = node.Repetition == Repetition.Optional;
        var def = (short)(parentDef + (node.Repetition == Repetition.Required ? 0 : 1));
        if (node.Repetition == Repetition.Repeated)
        {
            // A repeated field outside a LIST group (legacy layout): a required list whose elements are the field.
            var rep = (short)(parentRep + 1);
            var element = BuildElement(node, def, rep, schema, ref leafIndex);
            var bare = new ListShape(node.Name, parentDef, optional: false, def, rep, element);
            bare.Leaves.AddRange(element.Leaves);
            return bare;
        }
        if (node is GroupNode group)
        {
            var isList = group.LogicalType is ListLogicalType || group.ConvertedType == ConvertedType.List;
            var isMap = group.LogicalType is MapLogicalType || group.ConvertedType is ConvertedType.Map or ConvertedType.MapKeyValue;
            if ((isList || isMap) && group.FieldCount == 1 && group.Field(0).Repetition == Repetition.Repeated)
            {
                var repeated = group.Field(0);
                var repeatedDef = (short)(def + 1);
                var rep = (short)(parentRep + 1);
                // Three-level lists wrap the element in a one-field group; maps keep the key_value group as the element.
                var elementNode = isList && repeated is GroupNode { FieldCount: 1 } g && repeated.Name != "array" && !repeated.Name.EndsWith("_tuple", StringComparison.Ordinal)
                    ? g.Field(0)
                    : repeated;
                var element = elementNode == repeated
                    ? BuildElement(repeated, repeatedDef, rep, schema, ref leafIndex)
                    : Build(elementNode, repeatedDef, rep, schema, ref leafIndex);
                var list = new ListShape(node.Name, def, optional, repeatedDef, rep, element);
                list.Leaves.AddRange(element.Leaves);
                return list;
            }
            var children = new List<ParquetShape>();
            foreach (var child in group.Fields) children.Add(Build(child, def, parentRep, schema, ref leafIndex));
            var structShape = new StructShape(node.Name, def, optional, children);
            foreach (var c in children) structShape.Leaves.AddRange(c.Leaves);
            return structShape;
        }
        var leaf = new LeafShape(node.Name, def, optional, schema.Column(leafIndex));
        leaf.Leaves.Add(leafIndex++);
        return leaf;
    }

    /// <summary>The element of a list whose repeated node is itself the element (a repeated primitive or group).</summary>
    private static ParquetShape BuildElement(Node repeated, short def, short rep, SchemaDescriptor schema, ref int leafIndex)
    {
        if (repeated is GroupNode group)
        {
            var children = new List<ParquetShape>();
            foreach (var child in group.Fields) children.Add(Build(child, def, rep, schema, ref leafIndex));
            var s = new StructShape(repeated.Name, def, optional: false, children);
            foreach (var c in children) s.Leaves.AddRange(c.Leaves);
            return s;
        }
        var leaf = new LeafShape(repeated.Name, def, optional: false, schema.Column(leafIndex));
        leaf.Leaves.Add(leafIndex++);
        return leaf;
    }

    private sealed class LeafShape(string name, short def, bool optional, ColumnDescriptor column) : ParquetShape(name, def, optional)
    {
        public override JsonObject Schema()
        {
            var logical = column.LogicalType;
            var converted = column.SchemaNode.ConvertedType;
            JsonObject Of(string type) => new() { ["type"] = Types(type) };
            JsonObject Formatted(string format) => new() { ["type"] = Types("string"), ["format"] = format };
            switch (logical)
            {
                case DecimalLogicalType d:
                    var number = Of("number");
                    number["multipleOf"] = Parquet.DecimalWriter.StepValue(d.Scale);
                    return number;
                case TimestampLogicalType: return Formatted("date-time");
                case DateLogicalType: return Formatted("date");
                case TimeLogicalType: return Formatted("time");
                case UuidLogicalType: return Formatted("uuid");
                case JsonLogicalType: return new JsonObject();
                case StringLogicalType or EnumLogicalType: return Of("string");
                case IntLogicalType: return Of("integer");
            }
            switch (converted)
            {
                case ConvertedType.TimestampMicros or ConvertedType.TimestampMillis: return Formatted("date-time");
                case ConvertedType.Date: return Formatted("date");
                case ConvertedType.UTF8 or ConvertedType.Enum or ConvertedType.Interval: return Of("string");
                case ConvertedType.Json: return new JsonObject();
            }
            switch (column.PhysicalType)
            {
                case PhysicalType.Boolean: return Of("boolean");
                case PhysicalType.Int32 or PhysicalType.Int64: return Of("integer");
                case PhysicalType.Int96: return Formatted("date-time");
                case PhysicalType.Float or PhysicalType.Double: return Of("number");
            }
            if (logical is Float16LogicalType) return Of("number");
            var bytes = Of("string");
            bytes["contentEncoding"] = "base64";
            return bytes;
        }

        public override void Write(JsonValueWriter json, ParquetLeafCursor[] cursors) => Write(json, 0, cursors, json);

        public override void Write(RowWriter row, int property, ParquetLeafCursor[] cursors, JsonValueWriter scratch)
        {
            var cursor = cursors[Leaves[0]];
            if (cursor.PeekDef() < cursor.MaxDef)
            {
                row.Null(property);
                cursor.Skip();
            }
            else
            {
                cursor.WriteAndAdvance(row, property);
            }
        }
    }

    private sealed class StructShape(string name, short def, bool optional, List<ParquetShape> children) : ParquetShape(name, def, optional)
    {
        public override JsonObject Schema()
        {
            var properties = new JsonObject();
            foreach (var c in children) properties[c.Name] = c.Schema();
            return new JsonObject { ["type"] = Types("object"), ["properties"] = properties };
        }

        public override void Write(JsonValueWriter json, ParquetLeafCursor[] cursors)
        {
            if (Optional && cursors[Leaves[0]].PeekDef() < Def)
            {
                json.Writer.WriteNullValue();
                SkipOne(cursors);
                return;
            }
            json.Writer.WriteStartObject();
            foreach (var c in children)
            {
                json.Writer.WritePropertyName(c.Property);
                c.Write(json, cursors);
            }
            json.Writer.WriteEndObject();
        }
    }

    private sealed class ListShape(string name, short def, bool optional, short repeatedDef, short rep, ParquetShape element) : ParquetShape(name, def, optional)
    {
        public override JsonObject Schema() => new() { ["type"] = Types("array"), ["items"] = element.Schema() };

        public override void Write(JsonValueWriter json, ParquetLeafCursor[] cursors)
        {
            var first = cursors[Leaves[0]];
            var level = first.PeekDef();
            if (Optional && level < Def)
            {
                json.Writer.WriteNullValue();
                SkipOne(cursors);
                return;
            }
            json.Writer.WriteStartArray();
            if (level < repeatedDef)
            {
                SkipOne(cursors);
            }
            else
            {
                do element.Write(json, cursors);
                while (first.PeekRep() == rep);
            }
            json.Writer.WriteEndArray();
        }
    }
}
