using System.Text.Encodings.Web;
using System.Text.Json;

namespace DataSpoc.Pipe.Lake;

/// <summary>The one JSON setting for every file the lake holds (manifest, state, logs, locks, journals).</summary>
public static class LakeJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static byte[] Serialize<T>(T value) => JsonSerializer.SerializeToUtf8Bytes(value, Options);

    public static T Deserialize<T>(ReadOnlyMemory<byte> json, string what) =>
        JsonSerializer.Deserialize<T>(json.Span, Options) ?? throw new JsonException($"{what} is empty (null)");
}
