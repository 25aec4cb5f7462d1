using System.Text;
using System.Text.Json.Nodes;

namespace DataSpoc.Pipe.DuckDbRunner;

/// <summary>Maps a Singer stream's JSON Schema to the DuckDB type <c>read_json</c> should parse each record into.</summary>
public static class DuckDbTypes
{
    public static string ForRecord(JsonObject schema) => Struct((JsonObject)schema["properties"]!);

    private static string Struct(JsonObject properties)
    {
        var sb = new StringBuilder("STRUCT(");
        var first = true;
        foreach (var (name, property) in properties)
        {
            if (!first) sb.Append(", ");
            first = false;
            sb.Append('"').Append(name.Replace("\"", "\"\"")).Append("\" ").Append(For((JsonObject)property!));
        }
        return sb.Append(')').ToString();
    }

    private static string For(JsonObject property)
    {
        var type = MainType(property["type"]);
        return type switch
        {
            "integer" => "BIGINT",
            "number" => "DOUBLE",
            "boolean" => "BOOLEAN",
            "string" => (string?)property["format"] switch
            {
                "date-time" => "TIMESTAMPTZ",
                "date" => "DATE",
                _ => "VARCHAR",
            },
            "object" when property["properties"] is JsonObject nested => Struct(nested),
            "array" when property["items"] is JsonObject items => For(items) + "[]",
            _ => "JSON",
        };
    }

    /// <summary>The non-null type of <c>"type": "x"</c> or <c>"type": ["null", "x"]</c>.</summary>
    private static string? MainType(JsonNode? type) => type switch
    {
        JsonArray types => types.Select(t => (string?)t).FirstOrDefault(t => t != "null"),
        JsonValue single => (string?)single,
        _ => null,
    };
}
