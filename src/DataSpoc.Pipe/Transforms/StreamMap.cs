using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Parquet;

namespace DataSpoc.Pipe.Transforms;

/// <summary>
/// One stream's declarative map, applied in a fixed order: <c>filter</c> (rows), <c>compute</c> (new columns, in the
/// order written), <c>hash</c>, <c>cast</c>, <c>drop</c>, <c>select</c>, then <c>rename</c>. Every key names columns as
/// the tap sends them (or computed columns): rename comes last, so nothing else depends on the new names.
/// Only top-level columns are addressed.
/// </summary>
internal sealed class StreamMap : IRecordTransform
{
    public required string Stream { get; init; }
    public TransformExpression? Filter { get; init; }
    public IReadOnlyList<(string Column, TransformExpression Expression)> Compute { get; init; } = [];
    public IReadOnlyList<string> Hash { get; init; } = [];
    public string HashSalt { get; init; } = "";
    public IReadOnlyDictionary<string, string> Cast { get; init; } = new Dictionary<string, string>();
    public IReadOnlyList<string> Drop { get; init; } = [];
    public IReadOnlyList<string>? Select { get; init; }
    public IReadOnlyDictionary<string, string> Rename { get; init; } = new Dictionary<string, string>();

    /// <summary>Output column -> the input (or computed) column it takes its value from, in output order.</summary>
    private List<(string Output, string Input)> _plan = [];
    private HashSet<string> _known = [];
    /// <summary>The stored type of each tap column whose values have more than one spelling (see <see cref="StoredValue"/>).</summary>
    private Dictionary<string, StoredType> _storedTypes = new(StringComparer.Ordinal);
    private string[] _computedTypes = [];
    /// <summary>Per computed column, the array or object column it copies as it is (<c>compute: {v: "arr"}</c>), or null.</summary>
    private string?[] _copiedStructures = [];
    private readonly Dictionary<string, JsonNode?> _values = new(StringComparer.Ordinal);

    public bool AppliesTo(string stream) => stream == Stream;

    /// <summary>
    /// The largest scale a <c>multipleOf</c> column takes (ColumnSchema's mapping of a schema to DECIMAL(38, s)): a
    /// computed decimal of a larger scale is refused at the schema, as DuckDB refuses such a product at bind time.
    /// </summary>
    private const int MaxDecimalScale = Parquet.LeafNode.DecimalPrecision;

    /// <summary>
    /// The map only selects, drops or renames columns: it changes the schema, never a value, so the writer applies it
    /// to the schema (<see cref="ProjectionOf"/>) and records are not rewritten.
    /// </summary>
    internal bool OnlyProjects => Filter is null && Compute.Count == 0 && Hash.Count == 0 && Cast.Count == 0;

    /// <summary>
    /// How records of <paramref name="inputSchema"/> spell the columns of the schema <see cref="TransformSchema"/> made
    /// from it (call after it): each declared property with the column it becomes, or none when the map removes it.
    /// </summary>
    internal Parquet.RecordProjection ProjectionOf(JsonElement inputSchema)
    {
        var properties = new List<(string, string?)>();
        if (inputSchema.ValueKind == JsonValueKind.Object && inputSchema.TryGetProperty("properties", out var input) && input.ValueKind == JsonValueKind.Object)
            foreach (var p in input.EnumerateObject())
                properties.Add((p.Name, _plan.FirstOrDefault(c => c.Input == p.Name).Output));
        return new Parquet.RecordProjection(properties);
    }

    public JsonObject TransformSchema(string stream, JsonObject schema)
    {
        var input = schema["properties"] as JsonObject ?? new JsonObject();
        _storedTypes = StoredValue.TypesOf(schema);
        Filter?.ReadColumnsAs(_storedTypes);
        if (Filter?.UnreadableTemporalLiteral() is { } unreadable) throw new TransformException(Stream, "filter", unreadable);
        foreach (var (name, expression) in Compute)
        {
            expression.ReadColumnsAs(_storedTypes);
            if (expression.UnreadableTemporalLiteral() is { } literal) throw new TransformException(Stream, "compute." + name, literal);
        }
        var columns = new List<string>(input.Select(p => p.Key));
        var types = input.ToDictionary(p => p.Key, p => p.Value?.DeepClone(), StringComparer.Ordinal);

        Require(Filter?.Columns ?? [], columns, "filter");
        _computedTypes = new string[Compute.Count];
        _copiedStructures = new string?[Compute.Count];
        for (var i = 0; i < Compute.Count; i++)
        {
            var (name, expression) = Compute[i];
            Require(expression.Columns, columns, "compute." + name);
            if (types.ContainsKey(name)) throw new TransformException(Stream, "compute." + name, $"column '{name}' is already in the stream; compute a new name");
            // A decimal column (tap or computed) is a decimal to the expression: arithmetic on it is exact (DecimalOps).
            var type = expression.ResultType(c => _storedTypes.TryGetValue(c, out var st) && st.Kind == Parquet.LeafKind.Decimal
                ? ColumnCast.DecimalType(st.Scale) : types.TryGetValue(c, out var t) ? JsonType(t) : null);
            if (ColumnCast.DecimalScale(type) is { } scale)
            {
                if (scale > MaxDecimalScale)
                    throw new TransformException(Stream, "compute." + name,
                        $"'{expression.Text}' gives a decimal with {scale} digits after the point; a decimal column holds at most {MaxDecimalScale} (multipleOf 1e-{MaxDecimalScale}): round it, e.g. Round({expression.Text}, 2)");
                _storedTypes[name] = new StoredType(Parquet.LeafKind.Decimal, scale);
            }
            _computedTypes[i] = type;
            // An array or object column copied whole lands as the column does (its schema, its value): expressions
            // see such a value only as its JSON text.
            _copiedStructures[i] = type is "array" or "object" && expression.Columns is [var source] && IsBareColumn(expression.Text, source) ? source : null;
            types[name] = _copiedStructures[i] is { } copied ? types[copied]?.DeepClone() : ColumnCast.SchemaFor(type);
            columns.Add(name);
        }
        Require(Hash, columns, "hash");
        foreach (var c in Hash) types[c] = new JsonObject { ["type"] = new JsonArray("null", "string") };
        Require(Cast.Keys, columns, "cast");
        foreach (var (c, target) in Cast) types[c] = ColumnCast.SchemaFor(target);
        Require(Drop, columns, "drop");
        columns.RemoveAll(Drop.Contains);
        if (Select is not null)
        {
            Require(Select, columns, "select");
            columns = [.. Select];
        }
        Require(Rename.Keys, columns, "rename");

        var plan = new List<(string, string)>();
        var outputs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var c in columns)
        {
            var output = Rename.GetValueOrDefault(c, c);
            if (outputs.TryGetValue(output, out var other))
            {
                var (renamed, kept) = Rename.ContainsKey(c) ? (c, other) : (other, c);
                throw new TransformException(Stream, "rename", $"renaming '{renamed}' to '{output}' collides with column '{(Rename.ContainsKey(kept) ? kept + "' (also renamed to '" + output + "')" : kept + "'")}");
            }
            outputs[output] = c;
            plan.Add((output, c));
        }
        _plan = plan;
        _known = new HashSet<string>(input.Select(p => p.Key).Concat(Compute.Select(c => c.Column)), StringComparer.Ordinal);

        var properties = new JsonObject();
        foreach (var (output, source) in plan) properties[output] = types[source]?.DeepClone();
        var result = (JsonObject)schema.DeepClone();
        result["properties"] = properties;
        if (schema["required"] is JsonArray required)
        {
            var kept = new JsonArray();
            foreach (var r in required)
                if (r?.GetValueKind() == JsonValueKind.String && plan.FirstOrDefault(p => p.Item2 == r.GetValue<string>()) is { Item1: { } o }) kept.Add((JsonNode)o);
            result["required"] = kept;
        }
        return result;
    }

    /// <summary>Keys follow renames; a key column the map removes is no longer a key.</summary>
    public IReadOnlyList<string> TransformKeyProperties(string stream, IReadOnlyList<string> keyProperties) =>
        keyProperties.Select(k => _plan.FirstOrDefault(p => p.Input == k).Output).OfType<string>().ToList();

    public JsonObject? TransformRecord(string stream, JsonObject record)
    {
        _values.Clear();
        foreach (var (k, v) in record) _values[k] = v;
        // Detaches every value from the record, so each can move to the output object as it is.
        record.Clear();

        if (Filter is not null && !Keeps(Evaluate(Filter, "filter"))) return null;
        for (var i = 0; i < Compute.Count; i++)
        {
            var (name, expression) = Compute[i];
            _values[name] = _copiedStructures[i] is { } copied ? _values.GetValueOrDefault(copied)?.DeepClone()
                : ColumnCast.FromClr(Evaluate(expression, "compute." + name), _computedTypes[i]);
        }
        foreach (var c in Hash)
            if (_values.TryGetValue(c, out var v) && v is not null) _values[c] = JsonValue.Create(Sha256Hex(StoredValue.Text(v, StoredTypeOf(c))));
        foreach (var (c, target) in Cast)
            if (_values.TryGetValue(c, out var v)) _values[c] = ColumnCast.Convert(v, target, Hash.Contains(c) ? null : StoredTypeOf(c));

        foreach (var (output, input) in _plan)
            if (_values.Remove(input, out var v)) record[output] = v;
        // Properties the schema does not declare pass through, so the writer counts them as dropped (never silently).
        foreach (var (k, v) in _values)
            if (!_known.Contains(k) && !record.ContainsKey(k)) record[k] = v;
        return record;
    }

    /// <summary>
    /// The values of the record <see cref="TransformRecord"/> just filtered out that would have landed as the tap sent
    /// them (kept columns the map does not produce), under their output names: the caller shreds them, so that a value
    /// its column does not take makes the record invalid whether or not the filter keeps it.
    /// </summary>
    internal JsonObject FilteredOutLandingValues()
    {
        var landing = new JsonObject();
        foreach (var (output, input) in _plan)
            if (!Produces(input) && _values.Remove(input, out var v)) landing[output] = v;
        return landing;
    }

    private bool Produces(string column) => Compute.Any(c => c.Column == column) || Hash.Contains(column) || Cast.ContainsKey(column);

    /// <summary>
    /// What makes a record invalid before the map reads it, as the shredder reports it without a map (the JSON form
    /// the map works on cannot hold either): a top-level property given twice, or a string of a column the map reads
    /// or keeps holding an escaped lone surrogate. Null when there is none. Reads a copy of <paramref name="record"/>
    /// (on its StartObject).
    /// </summary>
    internal InvalidValueException? DefectOf(Utf8JsonReader record)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var depth = record.CurrentDepth;
        string? property = null;
        while (record.Read() && record.CurrentDepth > depth)
        {
            if (record.TokenType == JsonTokenType.PropertyName && record.CurrentDepth == depth + 1)
            {
                property = record.GetString()!;
                if (!names.Add(property)) return new InvalidValueException(OutputName(property), "the property appears twice in the record");
            }
            else if (record.TokenType == JsonTokenType.String && record.ValueIsEscaped && property is not null && Reads(property))
            {
                try
                {
                    record.GetString();
                }
                catch (InvalidOperationException)
                {
                    var body = record.HasValueSequence ? record.ValueSequence.ToArray() : record.ValueSpan.ToArray();
                    return new InvalidValueException(OutputName(property), JsonString.LoneSurrogateProblem(body));
                }
            }
        }
        return null;
    }

    /// <summary>The column a tap property lands as (its own name when the map removes it).</summary>
    private string OutputName(string property) => _plan.FirstOrDefault(p => p.Input == property).Output ?? property;

    /// <summary>Whether the map reads or keeps tap property <paramref name="property"/>.</summary>
    private bool Reads(string property) =>
        _plan.Any(p => p.Input == property) || !_known.Contains(property) || (Filter?.Columns.Contains(property) ?? false)
        || Compute.Any(c => c.Expression.Columns.Contains(property)) || Hash.Contains(property) || Cast.ContainsKey(property);

    private object? Evaluate(TransformExpression expression, string key)
    {
        try
        {
            return expression.Evaluate(_values, _storedTypes);
        }
        catch (Exception e) when (ExpressionErrors.IsEvaluationError(e))
        {
            throw EvaluationFailed(expression, key, e);
        }
    }

    /// <summary>The error of an expression that failed on a record (both paths throw this one).</summary>
    internal TransformException EvaluationFailed(TransformExpression expression, string key, Exception e) =>
        new(Stream, key, $"'{expression.Text}' failed: {e.Message}") { OfRecord = true };

    /// <summary>
    /// Whether the filter keeps the record: only when it is true, as SQL's <c>WHERE</c> (a null condition, such as a
    /// comparison with a null, drops the record); anything but true, false or null is an error naming the filter.
    /// </summary>
    internal bool Keeps(object? filtered) => filtered is null ? false : filtered as bool? ??
        throw new TransformException(Stream, "filter", $"'{Filter!.Text}' must give true or false, gave '{filtered}'; use a comparison (e.g. x > 0) or x != null");

    /// <summary>
    /// The stored type of tap column <paramref name="column"/> when its values have more than one spelling (after
    /// <see cref="TransformSchema"/>; computed columns have none: their values are already shaped).
    /// </summary>
    internal StoredType? StoredTypeOf(string column) => _storedTypes.TryGetValue(column, out var t) ? t : null;

    /// <summary>Output column -> the input (or computed) column it takes its value from, in output order (after <see cref="TransformSchema"/>).</summary>
    internal IReadOnlyList<(string Output, string Input)> Plan => _plan;

    /// <summary>The output columns that hold a computed value as computed (not hashed or cast), after <see cref="TransformSchema"/>.</summary>
    internal IEnumerable<string> ComputedOutputs =>
        _plan.Where(p => Compute.Any(c => c.Column == p.Input) && !Hash.Contains(p.Input) && !Cast.ContainsKey(p.Input)).Select(p => p.Output);

    /// <summary>The output columns that hold hashed values (<c>hash:</c>, under their renamed names), after <see cref="TransformSchema"/>.</summary>
    public IReadOnlyList<string> HashedColumns(string stream) => [.. _plan.Where(p => Hash.Contains(p.Input)).Select(p => p.Output)];

    /// <summary>Whether a computed column copies an array or object column whole (after <see cref="TransformSchema"/>): only the JSON path does.</summary>
    internal bool CopiesStructures => _copiedStructures.Any(c => c is not null);

    /// <summary>The JSON type of computed column <paramref name="i"/> (after <see cref="TransformSchema"/>).</summary>
    internal string ComputedType(int i) => _computedTypes[i];

    /// <summary>The <c>hash:</c> of a value's text: SHA-256 of the salt and the text, lower-case hex.</summary>
    internal string Sha256Hex(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(HashSalt + text);
        return Convert.ToHexStringLower(SHA256.HashData(bytes));
    }

    private byte[]? _saltUtf8;

    /// <summary>
    /// The <c>hash:</c> of a text given as valid UTF-8: the same as <see cref="Sha256Hex(string)"/> of its string (the
    /// salt's UTF-8 followed by the text's is the UTF-8 of both together), without building the string, through the
    /// caller's <paramref name="sha256"/> (one per thread).
    /// </summary>
    internal string Sha256Hex(ReadOnlySpan<byte> utf8Text, ShortValueSha256 sha256)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        sha256.Hash(_saltUtf8 ??= Encoding.UTF8.GetBytes(HashSalt), utf8Text, hash);
        return Convert.ToHexStringLower(hash);
    }

    private void Require(IEnumerable<string> named, List<string> columns, string key)
    {
        foreach (var c in named)
            if (!columns.Contains(c))
                throw new TransformException(Stream, key, $"column '{c}' is not in the stream (columns: {string.Join(", ", columns)})");
    }

    /// <summary>Whether an expression's text is only a reference to <paramref name="column"/> (<c>arr</c> or <c>[arr]</c>).</summary>
    private static bool IsBareColumn(string text, string column) => text.Trim() is var t && (t == column || t == "[" + column + "]");

    /// <summary>The first non-null JSON type of a column schema.</summary>
    private static string? JsonType(JsonNode? schema) => schema?["type"] switch
    {
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        JsonArray a => a.Select(t => t?.GetValueKind() == JsonValueKind.String ? t.GetValue<string>() : null).FirstOrDefault(t => t is not null and not "null"),
        _ => null,
    };
}
