using System.Text.Json;
using System.Text.Json.Serialization;

namespace DataSpoc.Pipe.Singer;

/// <summary>
/// The value of a Singer STATE message: what the pipeline saves as its state and hands back to the tap (<c>--state</c>)
/// on the next run. Held as the tap's own JSON text, because the tap must read back what it wrote: Python's
/// <c>json.dumps</c> writes a float bookmark that is NaN or infinite as the bare words <c>NaN</c>, <c>Infinity</c>,
/// <c>-Infinity</c> (<see cref="HasNamedFloats"/>), which no JSON reader or writer of .NET keeps; saved as the strings
/// <c>"NaN"</c>, a Python tap would compare its float key with a str and fail.
/// </summary>
[JsonConverter(typeof(SingerStateJsonConverter))]
public sealed class SingerState
{
    private SingerState(string text, bool hasNamedFloats)
    {
        Text = text;
        HasNamedFloats = hasNamedFloats;
    }

    /// <summary>The value's JSON text as the tap wrote it.</summary>
    public string Text { get; }

    /// <summary>Whether <see cref="Text"/> holds a bare NaN, Infinity or -Infinity (so it is not strict JSON).</summary>
    public bool HasNamedFloats { get; }

    /// <summary>
    /// Whether the value is JSON <c>null</c>: the tap says it has no state (a tap that prints the state it was given, and was
    /// given none). Singer targets emit no state for it; a run does not save it (<see cref="Runs.RunIngest.OnState"/>).
    /// </summary>
    public bool IsNull => Text == "null";

    /// <summary>A state that is strict JSON text.</summary>
    public static SingerState FromJson(string text) => new(text, hasNamedFloats: false);

    /// <summary>A state as the tap wrote it, with bare NaN/Infinity/-Infinity where it has them.</summary>
    internal static SingerState FromTapText(string text, bool hasNamedFloats) => new(text, hasNamedFloats);
}

/// <summary>
/// A <see cref="SingerState"/> in a lake file (a commit journal, a split part's record): strict JSON as itself, as
/// before; text with named floats, which JSON cannot hold, as <c>{"singer_state_text": "&lt;its text&gt;"}</c>.
/// </summary>
internal sealed class SingerStateJsonConverter : JsonConverter<SingerState>
{
    private const string TextKey = "singer_state_text";

    public override SingerState Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        var root = document.RootElement;
        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty(TextKey, out var text) && text.ValueKind == JsonValueKind.String
            && root.EnumerateObject().Count() == 1)
            return SingerState.FromTapText(text.GetString()!, hasNamedFloats: true);
        return SingerState.FromJson(root.GetRawText());
    }

    public override void Write(Utf8JsonWriter writer, SingerState value, JsonSerializerOptions options)
    {
        if (!value.HasNamedFloats)
        {
            writer.WriteRawValue(value.Text);
            return;
        }
        writer.WriteStartObject();
        writer.WriteString(TextKey, value.Text);
        writer.WriteEndObject();
    }
}
