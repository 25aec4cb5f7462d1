using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// The STATE of a file tap: per stream, the files already read with their modification time and size,
/// <c>{"bookmarks": {"orders": {"files": {"/data/orders_1.csv": {"modified": "…", "size": 123}}}}}</c>.
/// A file is read again only when it is new or its modification time or size changed. Entries of streams
/// this run does not touch are carried forward unchanged.
/// </summary>
internal sealed class FileBookmarks
{
    private readonly JsonObject _state;

    public FileBookmarks(JsonObject? state)
    {
        _state = state?.DeepClone().AsObject() ?? new JsonObject();
        if (_state["bookmarks"] is not JsonObject) _state["bookmarks"] = new JsonObject();
    }

    private JsonObject Bookmarks => _state["bookmarks"]!.AsObject();

    public bool IsUnchanged(string stream, SourceFile file)
        => Bookmarks[stream] is JsonObject s && s["files"] is JsonObject files && files[file.Location] is JsonObject seen
           && seen["modified"] is JsonValue m && m.GetValueKind() == JsonValueKind.String && m.GetValue<string>() == Format(file.Modified)
           && seen["size"] is JsonValue size && size.TryGetValue(out long bytes) && bytes == file.Size;

    /// <summary>Whether an earlier run read the file (whatever it holds now).</summary>
    public bool WasReadBefore(string stream, SourceFile file)
        => Bookmarks[stream] is JsonObject s && s["files"] is JsonObject files && files[file.Location] is JsonObject;

    public void MarkRead(string stream, SourceFile file)
    {
        if (Bookmarks[stream] is not JsonObject s) Bookmarks[stream] = s = new JsonObject();
        if (s["files"] is not JsonObject files) s["files"] = files = new JsonObject();
        files[file.Location] = new JsonObject { ["modified"] = Format(file.Modified), ["size"] = file.Size };
    }

    public JsonObject State => _state;

    private static string Format(DateTimeOffset modified) => modified.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);
}
