using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// The STATE of a file tap: per stream, the files already read with their modification time and size,
/// <c>{"bookmarks": {"orders": {"files": {"/data/orders_1.csv": {"modified": "…", "size": 123}}}}}</c> (<c>"rows": false</c>
/// added when the file gave no row). The size and time are the file's, through any symlink naming it.
/// A file is read again only when it is new or its modification time or size changed. Entries of streams
/// this run does not touch are carried forward unchanged. A local file is keyed by its resolved path (symlinks
/// followed): a source folder named through another spelling (a symlink to it) holds the same files, already read; an
/// entry an earlier run wrote under another spelling of the same file still counts, and is rewritten under the resolved one.
/// </summary>
internal sealed class FileBookmarks
{
    private readonly JsonObject _state;
    /// <summary>Per stream, the resolved path of each local file entry, to the key it is stored under (built when first needed).</summary>
    private readonly Dictionary<string, Dictionary<string, string>> _resolvedKeys = new(StringComparer.Ordinal);
    private readonly ResolvedPaths _paths = new();

    public FileBookmarks(JsonObject? state)
    {
        _state = state?.DeepClone().AsObject() ?? new JsonObject();
        if (_state["bookmarks"] is not JsonObject) _state["bookmarks"] = new JsonObject();
    }

    private JsonObject Bookmarks => _state["bookmarks"]!.AsObject();

    public bool IsUnchanged(string stream, SourceFile file)
        => Seen(stream, file.Location) is { } seen
           && seen.Entry["modified"] is JsonValue m && m.GetValueKind() == JsonValueKind.String && m.GetValue<string>() == Format(file.Modified)
           && seen.Entry["size"] is JsonValue size && size.TryGetValue(out long bytes) && bytes == file.Size;

    /// <summary>Whether an earlier run read the file (whatever it holds now).</summary>
    public bool WasReadBefore(string stream, SourceFile file) => WasReadBefore(stream, file.Location);

    /// <summary>Whether an earlier run read the file at <paramref name="location"/> (which may be gone now).</summary>
    public bool WasReadBefore(string stream, string location) => Seen(stream, location) is not null;

    /// <summary>
    /// The files an earlier run read that <paramref name="file"/> (not read before) may be under another name: one of
    /// <paramref name="gone"/> (<see cref="GoneSinceRead"/>) with its size and modification time (renamed or moved), or
    /// the file its name without <c>.gz</c> names (compressed, whether or not the original is still there; gzip keeps
    /// the time but not the size).
    /// </summary>
    public List<string> ReadUnderAnotherName(string stream, SourceFile file, IEnumerable<(string Key, JsonObject Entry)> gone)
    {
        var modified = Format(file.Modified);
        var stem = file.Location.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? Seen(stream, file.Location[..^3])?.Key : null;
        return (stem is null ? [] : new List<string> { stem })
            .Concat(gone
                .Where(f => f.Entry["modified"] is JsonValue m && m.GetValueKind() == JsonValueKind.String && m.GetValue<string>() == modified
                    && f.Entry["size"] is JsonValue size && size.TryGetValue(out long bytes) && bytes == file.Size)
                .Select(f => f.Key))
            .Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>The files an earlier run read that are no longer among <paramref name="present"/>, each with its entry.</summary>
    public List<(string Key, JsonObject Entry)> GoneSinceRead(string stream, IReadOnlyCollection<SourceFile> present)
    {
        if (Bookmarks[stream] is not JsonObject s || s["files"] is not JsonObject files) return [];
        var presentKeys = present.Select(f => Seen(stream, f.Location)?.Key ?? Key(f)).ToHashSet(StringComparer.Ordinal);
        return [.. files.Where(f => !presentKeys.Contains(f.Key) && f.Value is JsonObject).Select(f => (f.Key, f.Value!.AsObject()))];
    }

    /// <summary>
    /// Whether an earlier run read the file and landed none of its rows (it was empty or held only a header then): read
    /// again now, it lands nothing twice. An entry written before this was recorded tells it by its size 0.
    /// </summary>
    public bool LandedNoRowsBefore(string stream, SourceFile file)
        => Seen(stream, file.Location) is { } seen
           && (seen.Entry["rows"] is JsonValue rows && rows.TryGetValue(out bool any) && !any
               || seen.Entry["size"] is JsonValue size && size.TryGetValue(out long bytes) && bytes == 0);

    /// <summary>Records the file as read; <paramref name="landedRows"/> false (kept as <c>"rows": false</c>) when it gave no row.</summary>
    public void MarkRead(string stream, SourceFile file, bool landedRows = true)
    {
        if (Bookmarks[stream] is not JsonObject s) Bookmarks[stream] = s = new JsonObject();
        if (s["files"] is not JsonObject files) s["files"] = files = new JsonObject();
        var key = Key(file);
        if (Seen(stream, file.Location) is { } earlier && earlier.Key != key) files.Remove(earlier.Key);
        var entry = new JsonObject { ["modified"] = Format(file.Modified), ["size"] = file.Size };
        if (!landedRows) entry["rows"] = false;
        files[key] = entry;
        if (file.IsLocal && _resolvedKeys.TryGetValue(stream, out var index)) index[key] = key;
    }

    public JsonObject State => _state;

    /// <summary>The entry an earlier run wrote for the file, under its location, its resolved path or another spelling of it.</summary>
    private (string Key, JsonObject Entry)? Seen(string stream, string location)
    {
        if (Bookmarks[stream] is not JsonObject s || s["files"] is not JsonObject files) return null;
        if (files[location] is JsonObject direct) return (location, direct);
        if (location.Contains("://", StringComparison.Ordinal)) return null;
        if (!_resolvedKeys.TryGetValue(stream, out var index))
        {
            index = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (stored, _) in files)
                if (!stored.Contains("://", StringComparison.Ordinal) && Path.IsPathRooted(stored)) index.TryAdd(Resolve(stored), stored);
            _resolvedKeys[stream] = index;
        }
        return index.TryGetValue(Resolve(location), out var key) && files[key] is JsonObject entry ? (key, entry) : null;
    }

    private string Key(SourceFile file) => file.IsLocal && Path.IsPathRooted(file.Location) ? Resolve(file.Location) : file.Location;

    private string Resolve(string path) => _paths.Resolve(path);

    private static string Format(DateTimeOffset modified) => modified.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);
}
