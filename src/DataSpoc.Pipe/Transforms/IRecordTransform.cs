using System.Text.Json.Nodes;

namespace DataSpoc.Pipe.Transforms;

/// <summary>
/// A transform over one stream's records, given in code through the .NET API. It sees the stream's JSON schema
/// once and then each record; returning null drops the record.
/// </summary>
public interface IRecordTransform
{
    /// <summary>Whether this transform applies to <paramref name="stream"/>.</summary>
    bool AppliesTo(string stream);

    /// <summary>The schema the transformed records follow (may be the input schema unchanged).</summary>
    JsonObject TransformSchema(string stream, JsonObject schema);

    /// <summary>The transformed record, or null to drop it.</summary>
    JsonObject? TransformRecord(string stream, JsonObject record);

    /// <summary>
    /// The stream's key properties after the transform (renamed, or without dropped columns); called after
    /// <see cref="TransformSchema"/>. Unchanged by default.
    /// </summary>
    IReadOnlyList<string> TransformKeyProperties(string stream, IReadOnlyList<string> keyProperties) => keyProperties;

    /// <summary>
    /// The columns of the transformed records whose values this transform hashes (pseudonymises), as the schema it
    /// returns names them; called after <see cref="TransformSchema"/>. The run records them in the manifest entry's
    /// <c>hashed_columns</c>, so that readers know those columns hold no clear text, and warns when a table's earlier rows
    /// hold one of them unhashed. None by default.
    /// </summary>
    IReadOnlyList<string> HashedColumns(string stream) => [];
}
