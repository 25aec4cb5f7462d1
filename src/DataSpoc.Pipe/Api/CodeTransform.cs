using System.Text.Json.Nodes;
using DataSpoc.Pipe.Transforms;

namespace DataSpoc.Pipe.Api;

/// <summary>
/// A record transform written as delegates, for <see cref="PipeClient.RunAsync(Config.PipelineDefinition, Sources.ISource?, IEnumerable{IRecordTransform}?, bool, IProgress{Runs.RunProgress}?, CancellationToken)"/>.
/// It may change, add or remove properties (declare added or changed ones with <c>schema</c>) or drop a record by returning null.
/// </summary>
/// <example>
/// <code>
/// var upper = new CodeTransform("customers", r => { r["name"] = r["name"]?.GetValue&lt;string&gt;().ToUpperInvariant(); return r; });
/// var onlyPaid = new CodeTransform("orders", r => r["paid"]?.GetValue&lt;bool&gt;() == true ? r : null);
/// var pseudonym = new CodeTransform("users", r => { r["email"] = Pseudonym(r["email"]); return r; }) { HashedColumns = ["email"] };
/// </code>
/// </example>
public sealed class CodeTransform : IRecordTransform
{
    private readonly string? _stream;
    private readonly Func<JsonObject, JsonObject?> _record;
    private readonly Func<JsonObject, JsonObject>? _schema;

    /// <summary>A transform of one stream's records (or of every stream's when <paramref name="stream"/> is null).</summary>
    /// <param name="stream">The stream it applies to; null for all.</param>
    /// <param name="record">
    /// Gets each record (which it may change in place) and returns it, a new one, or null to drop it. An exception it throws
    /// fails the run (<see cref="TransformFailedException"/>), the error naming the transform (<paramref name="name"/>, or
    /// its place among the stream's code transforms: <c>transform #2 (CodeTransform)</c>), the record (counted from 1 per stream
    /// for a code source; a tap's line), the stream and the exception's type.
    /// </param>
    /// <param name="schema">Gets the stream's JSON Schema and returns the schema the transformed records follow; null when <paramref name="record"/> keeps the schema.</param>
    /// <param name="name">What the run's error calls this transform when it throws; null names it by its place.</param>
    public CodeTransform(string? stream, Func<JsonObject, JsonObject?> record, Func<JsonObject, JsonObject>? schema = null, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(record);
        _stream = stream;
        _record = record;
        _schema = schema;
        Name = name;
    }

    /// <summary>What the run's error calls this transform when it throws (null: its place among the stream's transforms).</summary>
    public string? Name { get; }

    /// <summary>
    /// The columns whose values this transform hashes, as its schema names them (<c>HashedColumns = ["email"]</c>):
    /// recorded in the manifest entry's <c>hashed_columns</c> like a <c>hash:</c> map's (a column the stream does not
    /// land is left out). Empty by default: the run cannot tell what a delegate does to a value.
    /// </summary>
    public IReadOnlyList<string> HashedColumns { get; init; } = [];

    /// <inheritdoc />
    public bool AppliesTo(string stream) => _stream is null || _stream == stream;

    /// <inheritdoc />
    public JsonObject TransformSchema(string stream, JsonObject schema) => _schema is null ? schema : _schema(schema);

    /// <inheritdoc />
    public JsonObject? TransformRecord(string stream, JsonObject record) => _record(record);

    /// <inheritdoc />
    IReadOnlyList<string> IRecordTransform.HashedColumns(string stream) => HashedColumns;
}
