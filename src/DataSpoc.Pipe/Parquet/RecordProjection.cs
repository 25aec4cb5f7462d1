namespace DataSpoc.Pipe.Parquet;

/// <summary>
/// How a stream's records spell its columns when a transform only selects, drops or renames top-level columns: the
/// record's declared properties in the tap's schema order, each with the column it fills, or none for a property the
/// transform removes. The shredders read records through it as they arrive, so such a transform costs nothing per
/// record (no record is rewritten).
/// </summary>
internal sealed class RecordProjection
{
    private readonly Dictionary<string, string> _propertyOf = new(StringComparer.Ordinal);

    /// <param name="properties">Every declared property in schema order, with its column name (null: removed).</param>
    public RecordProjection(IReadOnlyList<(string Property, string? Column)> properties)
    {
        Properties = properties;
        foreach (var (property, column) in properties)
            if (column is not null) _propertyOf[column] = property;
        Removed = properties.Where(p => p.Column is null).Select(p => p.Property).ToHashSet(StringComparer.Ordinal);
        Layout = string.Join(",", properties.Select(p => p.Column is null ? "-" + p.Property : p.Property + ">" + p.Column));
    }

    public IReadOnlyList<(string Property, string? Column)> Properties { get; }

    /// <summary>Declared properties no column takes.</summary>
    public IReadOnlySet<string> Removed { get; }

    /// <summary>A text that is equal for equal projections.</summary>
    public string Layout { get; }

    /// <summary>The record property that fills <paramref name="column"/>, or null when none does.</summary>
    public string? PropertyOf(string column) => _propertyOf.GetValueOrDefault(column);
}
