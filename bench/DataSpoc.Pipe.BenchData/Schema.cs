using System.Text.Json;

namespace DataSpoc.Pipe.BenchData;

/// <summary>Writes JSON-Schema properties the way Singer taps usually do (<c>["null", type]</c>).</summary>
public static class Schema
{
    public static void Property(Utf8JsonWriter w, string name, string type, bool nullable = true, string? format = null)
    {
        w.WriteStartObject(name);
        TypeAndFormat(w, type, nullable, format);
        w.WriteEndObject();
    }

    public static void TypeAndFormat(Utf8JsonWriter w, string type, bool nullable = true, string? format = null)
    {
        if (nullable)
        {
            w.WriteStartArray("type");
            w.WriteStringValue("null");
            w.WriteStringValue(type);
            w.WriteEndArray();
        }
        else
        {
            w.WriteString("type", type);
        }
        if (format is not null) w.WriteString("format", format);
    }

    public static void Array(Utf8JsonWriter w, string name, string itemType)
    {
        w.WriteStartObject(name);
        TypeAndFormat(w, "array");
        w.WriteStartObject("items");
        w.WriteString("type", itemType);
        w.WriteEndObject();
        w.WriteEndObject();
    }
}
