using System.Text.Json;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Parquet;

namespace DataSpoc.Pipe.Tables;

/// <summary>
/// How deep the JSON documents that hold a table's schema nest, and the settings that read and write them: Iceberg
/// table metadata, Delta's <c>schemaString</c>, the commit journal (<see cref="TableMetadataCommit.Schema"/>).
/// System.Text.Json stops at 64 levels by default, which a schema reaches at a column of ~21 levels; every reader and
/// writer of these documents takes <see cref="MaxDepth"/> from here, so a column as deep as
/// <see cref="ColumnSchema.MaxDepth"/> allows lands in a table format as it does in plain Parquet.
/// </summary>
internal static class TableJson
{
    /// <summary>
    /// JSON levels one column level takes in a schema, at most: a struct field's object, its type object and the type's
    /// <c>fields</c> array (Iceberg and Delta alike; a list element takes one or two).
    /// </summary>
    private const int LevelsPerColumnLevel = 3;

    /// <summary>
    /// Levels above the top-level fields' objects, at most: the commit journal's root, its <c>table_metadata</c> array,
    /// one commit, its <c>schema</c> and the schema's <c>fields</c> (Iceberg metadata has four: root, <c>schemas</c>,
    /// one schema, <c>fields</c>; a <c>schemaString</c> two).
    /// </summary>
    private const int Envelope = 5;

    /// <summary>
    /// The deepest these documents nest: a field of the deepest column level sits at <c>Envelope + 3 * level - 2</c>
    /// and is a leaf (a primitive type's name is a string, a list of primitives adds its type object); 197 for 64 levels.
    /// </summary>
    public const int MaxDepth = Envelope + LevelsPerColumnLevel * ColumnSchema.MaxDepth;

    public static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = MaxDepth };

    /// <summary>
    /// Iceberg metadata is written indented, as other writers do. (<c>ToJsonString()</c> without options, which the
    /// compact documents use, writes up to 1,000 levels; with options it takes theirs, 64 unless set.)
    /// </summary>
    public static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, MaxDepth = MaxDepth };

    public static JsonNode? Parse(ReadOnlySpan<byte> utf8) => JsonNode.Parse(utf8, documentOptions: DocumentOptions);

    public static JsonNode? Parse(string json) => JsonNode.Parse(json, documentOptions: DocumentOptions);
}
