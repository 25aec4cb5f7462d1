namespace DataSpoc.Pipe.Lake;

/// <summary>
/// Where a configured <c>hash</c> (meant for personal data) left values in clear text; each notice is also a warning that
/// front ends print on stderr. A run that hashes a column which the table already holds and which the table's last
/// committed run did not hash (the manifest entry's <c>hashed_columns</c>): the rows landed before keep that column's
/// values in clear text beside the hashed ones (an entry that does not know, null: written before the field, says
/// nothing). And a <c>transforms:</c> entry whose stream the tap sent no SCHEMA for: a misspelt name maps nothing.
/// </summary>
public static class HashedColumns
{
    private const string Remedy = "run --full to rehash them";
    private const string UnmatchedRemedy = "check the name, which is case-sensitive";

    /// <summary>The notice for the columns of <paramref name="hashed"/> that <paramref name="previous"/> holds unhashed, or null.</summary>
    internal static string? Notice(string stream, string tableKey, ManifestTable? previous, IEnumerable<string> hashed)
    {
        if (previous is not { HashedColumns: { } before, RowCount: > 0 }) return null;
        var newly = hashed.Where(c => !before.Contains(c) && previous.Columns.Any(p => p.Name == c)).Order(StringComparer.Ordinal).ToList();
        if (newly.Count == 0) return null;
        return $"stream '{stream}': column(s) '{string.Join("', '", newly)}' hashed by this run but not by the last run that wrote table {tableKey}: " +
            $"the {previous.RowCount} row(s) the table held before this run keep their values in clear text beside the hashed ones; {Remedy}";
    }

    /// <summary>
    /// The notice for a <c>transforms:</c> entry whose stream the tap did not send in this run. A notice, not an error: a
    /// tap may send a stream only on runs that have data for it.
    /// </summary>
    internal static string UnmatchedMapNotice(string stream, IReadOnlyCollection<string> sent) =>
        $"transforms.{stream}: the tap sent no stream '{stream}' in this run, so this map was applied to nothing " +
        $"(streams sent: {(sent.Count == 0 ? "none" : string.Join(", ", sent.Order(StringComparer.Ordinal)))}); {UnmatchedRemedy}";

    /// <summary>Whether a run log notice is one of these (front ends print it as a warning too).</summary>
    public static bool IsNotice(string notice) =>
        notice.EndsWith(Remedy, StringComparison.Ordinal) || notice.EndsWith(UnmatchedRemedy, StringComparison.Ordinal);
}
