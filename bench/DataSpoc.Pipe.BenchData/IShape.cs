using System.Text.Json;

namespace DataSpoc.Pipe.BenchData;

/// <summary>A generated Singer stream: its JSON schema and its records, deterministic for a given seed and index.</summary>
public interface IShape
{
    string StreamName { get; }

    /// <summary>Writes the stream's JSON schema (the SCHEMA message's <c>schema</c>).</summary>
    void WriteSchema(Utf8JsonWriter writer);

    /// <summary>Writes record number <paramref name="index"/> (the RECORD message's <c>record</c>).</summary>
    void WriteRecord(Utf8JsonWriter writer, ref SplitMix64 rng, long index);
}
