namespace DataSpoc.Pipe.Lake;

/// <summary>
/// A run that hashes a column (<c>transforms: hash</c>) which the table already holds and which the table's last committed
/// run did not hash (the manifest entry's <c>hashed_columns</c>): the rows landed before keep that column's values in clear
/// text beside the hashed ones. <c>hash</c> is for personal data, so the run log's notice is also a warning. An entry that
/// does not know (null: written before the field) says nothing.
/// </summary>
public static class HashedColumns
{
    private const string Remedy = "run --full to rehash them";

    /// <summary>The notice for the columns of <paramref name="hashed"/> that <paramref name="previous"/> holds unhashed, or null.</summary>
    internal static string? Notice(string stream, string tableKey, ManifestTable? previous, IEnumerable<string> hashed)
    {
        if (previous is not { HashedColumns: { } before, RowCount: > 0 }) return null;
        var newly = hashed.Where(c => !before.Contains(c) && previous.Columns.Any(p => p.Name == c)).Order(StringComparer.Ordinal).ToList();
        if (newly.Count == 0) return null;
        return $"stream '{stream}': column(s) '{string.Join("', '", newly)}' hashed by this run but not by the last run that wrote table {tableKey}: " +
            $"the {previous.RowCount} row(s) the table held before this run keep their values in clear text beside the hashed ones; {Remedy}";
    }

    /// <summary>Whether a run log notice is a <see cref="Notice"/> (front ends print it as a warning too).</summary>
    public static bool IsNotice(string notice) => notice.EndsWith(Remedy, StringComparison.Ordinal);
}
