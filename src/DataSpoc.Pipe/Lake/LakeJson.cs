using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace DataSpoc.Pipe.Lake;

/// <summary>The one JSON setting for every file the lake holds (manifest, state, logs, locks, journals).</summary>
public static class LakeJson
{
    /// <summary>
    /// Lake files take their contracts from source-generated metadata (<see cref="LakeJsonContext"/>) only: no
    /// reflection, so the native (AOT) binary reads and writes them exactly as the JIT build does.
    /// </summary>
    public static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        TypeInfoResolver = LakeJsonContext.Default,
        // The commit journal holds a table's Iceberg schema (TableMetadataCommit.Schema), which nests ~3 levels per
        // column level: the default 64 would refuse a column deeper than ~20 levels after its run extracted everything.
        MaxDepth = Tables.TableJson.MaxDepth,
    };

    public static byte[] Serialize<T>(T value) => JsonSerializer.SerializeToUtf8Bytes(value, TypeInfo<T>());

    public static T Deserialize<T>(ReadOnlyMemory<byte> json, string what) =>
        JsonSerializer.Deserialize(json.Span, TypeInfo<T>()) ?? throw new JsonException($"{what} is empty (null)");

    private static JsonTypeInfo<T> TypeInfo<T>() =>
        Options.TryGetTypeInfo(typeof(T), out var info)
            ? (JsonTypeInfo<T>)info
            : throw new NotSupportedException($"{typeof(T).Name} is not a lake file type: add it to {nameof(LakeJsonContext)}");
}

/// <summary>Compile-time JSON contracts of the lake's files (the attributes on the types still decide names and nulls).</summary>
[JsonSerializable(typeof(RunLog))]
[JsonSerializable(typeof(Manifest))]
[JsonSerializable(typeof(CommitPlan))]
[JsonSerializable(typeof(SupersededClaim))]
[JsonSerializable(typeof(StateOwner))]
[JsonSerializable(typeof(RunLock.LockInfo))]
[JsonSerializable(typeof(Runs.SplitPlanRecord))]
[JsonSerializable(typeof(Runs.SplitPartRecord))]
[JsonSerializable(typeof(Runs.SplitClaim))]
[JsonSerializable(typeof(Runs.SplitCommitted))]
internal sealed partial class LakeJsonContext : JsonSerializerContext;
