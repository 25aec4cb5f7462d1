namespace DataSpoc.Pipe.Parquet;

/// <summary>
/// Unambiguous paths of columns and record properties: a struct's field follows its parent after a '.', a list's element
/// is the list's path and <c>[]</c>. Each name is escaped ('\', '.' and '[' get a '\' before them), so a top-level name
/// <c>a.b</c> is <c>a\.b</c> while a struct <c>a</c>'s field <c>b</c> is <c>a.b</c>; a name <c>tags[]</c> is
/// <c>tags\[]</c> while a list <c>tags</c>' element is <c>tags[]</c>.
/// </summary>
internal static class ColumnPaths
{
    /// <summary>The path of <paramref name="name"/> at the top level (<paramref name="parent"/> null) or in the struct at <paramref name="parent"/>.</summary>
    public static string Child(string? parent, string name)
    {
        var escaped = name.Replace("\\", "\\\\", StringComparison.Ordinal).Replace(".", "\\.", StringComparison.Ordinal).Replace("[", "\\[", StringComparison.Ordinal);
        return parent is null ? escaped : parent + "." + escaped;
    }

    /// <summary>The path of the element of the list at <paramref name="list"/>.</summary>
    public static string Element(string list) => list + "[]";
}
