using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Npgsql;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>How a PostgreSQL column is read and written as JSON.</summary>
internal enum PostgresValueKind { Int16, Int32, Int64, Float4, Float8, Numeric, Boolean, Text, Uuid, Date, Timestamp, Time, Bytea, RawJson, TextCast }

/// <summary>
/// One column of a table or view: its JSON Schema (from the PostgreSQL type) and how its values are selected and
/// written. Types with no exact JSON form (interval, inet, money, ranges, …) are selected as text; json/jsonb and
/// arrays are selected as JSON text and written raw.
/// </summary>
internal sealed class PostgresColumn
{
    public PostgresColumn(string name, string sqlType, string typeName, int typeModifier, string? elementTypeName, bool notNull)
    {
        Name = name;
        SqlType = sqlType;
        Property = JsonEncodedText.Encode(name);
        (Schema, Kind) = elementTypeName is not null
            ? (ArraySchema(elementTypeName, notNull), PostgresValueKind.RawJson)
            : Map(typeName, typeModifier, notNull);
        IsArray = elementTypeName is not null;
    }

    public string Name { get; }
    /// <summary>The type as PostgreSQL prints it (<c>numeric(12,2)</c>), for catalog metadata and bookmark casts.</summary>
    public string SqlType { get; }
    public JsonEncodedText Property { get; }
    public JsonObject Schema { get; }
    public PostgresValueKind Kind { get; }
    private bool IsArray { get; }

    public static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>The select-list expression that reads this column in the form <see cref="Write"/> expects.</summary>
    public string SelectExpression => IsArray
        ? $"array_to_json({Quote(Name)})::text"
        : Kind is PostgresValueKind.RawJson or PostgresValueKind.TextCast ? $"{Quote(Name)}::text" : Quote(Name);

    public void Write(Utf8JsonWriter json, NpgsqlDataReader reader, int ordinal)
    {
        if (reader.IsDBNull(ordinal))
        {
            json.WriteNull(Property);
            return;
        }
        switch (Kind)
        {
            case PostgresValueKind.Int16: json.WriteNumber(Property, reader.GetInt16(ordinal)); break;
            case PostgresValueKind.Int32: json.WriteNumber(Property, reader.GetInt32(ordinal)); break;
            case PostgresValueKind.Int64: json.WriteNumber(Property, reader.GetInt64(ordinal)); break;
            case PostgresValueKind.Float4:
                var f = reader.GetFloat(ordinal);
                if (float.IsFinite(f)) json.WriteNumber(Property, f); else json.WriteNull(Property);
                break;
            case PostgresValueKind.Float8:
                var d = reader.GetDouble(ordinal);
                if (double.IsFinite(d)) json.WriteNumber(Property, d); else json.WriteNull(Property);
                break;
            case PostgresValueKind.Numeric: json.WriteNumber(Property, reader.GetDecimal(ordinal)); break;
            case PostgresValueKind.Boolean: json.WriteBoolean(Property, reader.GetBoolean(ordinal)); break;
            case PostgresValueKind.Uuid: json.WriteString(Property, reader.GetGuid(ordinal)); break;
            case PostgresValueKind.Date:
                json.WriteString(Property, reader.GetFieldValue<DateOnly>(ordinal).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
                break;
            case PostgresValueKind.Timestamp:
                // timestamptz arrives as UTC; timestamp (no zone) is taken as UTC, as the lake contract does.
                json.WriteString(Property, reader.GetFieldValue<DateTime>(ordinal).ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture));
                break;
            case PostgresValueKind.Time:
                json.WriteString(Property, reader.GetFieldValue<TimeOnly>(ordinal).ToString("HH:mm:ss.ffffff", CultureInfo.InvariantCulture));
                break;
            case PostgresValueKind.Bytea: json.WriteBase64String(Property, reader.GetFieldValue<byte[]>(ordinal)); break;
            case PostgresValueKind.RawJson:
                json.WritePropertyName(Property);
                json.WriteRawValue(reader.GetString(ordinal));
                break;
            default: json.WriteString(Property, reader.GetString(ordinal)); break;
        }
    }

    private static JsonArray Types(string type, bool notNull) => notNull ? new JsonArray(type) : new JsonArray("null", type);

    private static (JsonObject, PostgresValueKind) Map(string typeName, int typeModifier, bool notNull)
    {
        JsonObject Of(string type) => new() { ["type"] = Types(type, notNull) };
        JsonObject Formatted(string format) => new() { ["type"] = Types("string", notNull), ["format"] = format };
        switch (typeName)
        {
            case "int2": return (Of("integer"), PostgresValueKind.Int16);
            case "int4": return (Of("integer"), PostgresValueKind.Int32);
            case "int8": return (Of("integer"), PostgresValueKind.Int64);
            case "float4": return (Of("number"), PostgresValueKind.Float4);
            case "float8": return (Of("number"), PostgresValueKind.Float8);
            case "numeric":
                var number = Of("number");
                if (typeModifier >= 4)
                {
                    var scale = (short)((typeModifier - 4) & 0xFFFF);
                    if (scale >= 0)
                    {
                        number["multipleOf"] = JsonValue.Create(decimal.Parse(scale == 0 ? "1" : "0." + new string('0', scale - 1) + "1", CultureInfo.InvariantCulture));
                    }
                }
                return (number, PostgresValueKind.Numeric);
            case "bool": return (Of("boolean"), PostgresValueKind.Boolean);
            case "text" or "varchar" or "bpchar" or "char" or "name" or "citext":
                var text = Of("string");
                if (typeName is "varchar" or "bpchar" && typeModifier > 4) text["maxLength"] = typeModifier - 4;
                return (text, typeName == "citext" ? PostgresValueKind.TextCast : PostgresValueKind.Text);
            case "uuid": return (Formatted("uuid"), PostgresValueKind.Uuid);
            case "date": return (Formatted("date"), PostgresValueKind.Date);
            case "timestamp" or "timestamptz": return (Formatted("date-time"), PostgresValueKind.Timestamp);
            case "time": return (Formatted("time"), PostgresValueKind.Time);
            case "json" or "jsonb": return (new JsonObject(), PostgresValueKind.RawJson);
            case "bytea":
                var bytes = Of("string");
                bytes["contentEncoding"] = "base64";
                return (bytes, PostgresValueKind.Bytea);
            default: return (Of("string"), PostgresValueKind.TextCast);
        }
    }

    /// <summary>Arrays are read with <c>array_to_json</c>, so items take the JSON form of their element type.</summary>
    private static JsonObject ArraySchema(string elementTypeName, bool notNull)
    {
        var (items, _) = elementTypeName switch
        {
            // array_to_json prints bytea elements as "\x…" hex text and time-zoned values as text.
            "bytea" => (new JsonObject { ["type"] = new JsonArray("null", "string") }, PostgresValueKind.Text),
            _ => Map(elementTypeName, -1, notNull: false),
        };
        return new JsonObject { ["type"] = Types("array", notNull), ["items"] = items };
    }
}
