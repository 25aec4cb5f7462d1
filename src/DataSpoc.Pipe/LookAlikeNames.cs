using System.Text;

namespace DataSpoc.Pipe;

/// <summary>
/// Names that are one name to a case-insensitive or normalizing reader: they differ only in case (<c>cs</c>, <c>CS</c>)
/// or in Unicode normalization (<c>café</c> written NFC with <c>é</c>, or NFD with <c>e</c> and a combining accent).
/// Glue, Hive and Trino catalogs, DuckDB, Spark and Trino column names, and macOS or Windows file systems take such
/// names as one, so two of them in one schema, stream list or bucket are refused. The one rule for columns, struct
/// fields, a file tap's columns, stream table folders and the tables a bucket already has.
/// Normalization needs globalization data: under InvariantGlobalization (the CLI's build) string.Normalize leaves
/// non-ASCII text as it is, so there only case is compared.
/// </summary>
internal sealed class LookAlikeNames : IEqualityComparer<string>
{
    public static readonly LookAlikeNames Comparer = new();

    private static string Normalized(string name) => name.IsNormalized(NormalizationForm.FormC) ? name : name.Normalize(NormalizationForm.FormC);

    public bool Equals(string? x, string? y) =>
        x is null || y is null ? x == y : string.Equals(Normalized(x), Normalized(y), StringComparison.OrdinalIgnoreCase);

    public int GetHashCode(string name) => StringComparer.OrdinalIgnoreCase.GetHashCode(Normalized(name));

    /// <summary>How two look-alike names differ, for an error: <c>in case</c>, <c>in Unicode normalization (NFC and NFD)</c> or both.</summary>
    public static string HowTheyDiffer(string one, string other) =>
        string.Equals(one, other, StringComparison.OrdinalIgnoreCase) ? "in case"
        : string.Equals(Normalized(one), Normalized(other), StringComparison.Ordinal) ? "in Unicode normalization (one NFC, the other NFD: they print the same)"
        : "in case and Unicode normalization (NFC and NFD)";
}
