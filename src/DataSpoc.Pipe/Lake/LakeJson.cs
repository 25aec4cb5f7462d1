using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace DataSpoc.Pipe.Lake;

/// <summary>The one JSON setting for every file the lake holds (manifest, state, logs, locks, journals).</summary>
public static class LakeJson
{
    /// <summary>
    /// Lake files take their contracts from source-generated metadata (<see cref="LakeJsonContext"/>): the reflection
    /// resolver builds its accessors with Reflection.Emit, which cost a short run tens of milliseconds. Other types
    /// still resolve by reflection.
    /// </summary>
    public static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        TypeInfoResolver = JsonTypeInfoResolver.Combine(LakeJsonContext.Default, new DefaultJsonTypeInfoResolver()),
    };

    public static byte[] Serialize<T>(T value) => JsonSerializer.SerializeToUtf8Bytes(value, Options);

    public static T Deserialize<T>(ReadOnlyMemory<byte> json, string what) =>
        JsonSerializer.Deserialize<T>(json.Span, Options) ?? throw new JsonException($"{what} is empty (null)");
}

/// <summary>Compile-time JSON contracts of the lake's files (the attributes on the types still decide names and nulls).</summary>
[JsonSerializable(typeof(RunLog))]
[JsonSerializable(typeof(Manifest))]
[JsonSerializable(typeof(CommitPlan))]
[JsonSerializable(typeof(RunLock.LockInfo))]
internal sealed partial class LakeJsonContext : JsonSerializerContext;
