namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>Text for table cells that must stay one line per row (the full text is in <c>--output json</c> and <c>logs</c>).</summary>
internal static class TableCells
{
    /// <summary>The first line of <paramref name="text"/>, cut to <paramref name="max"/> characters with an ellipsis when longer or when more lines follow.</summary>
    public static string OneLine(string text, int max = 60)
    {
        var trimmed = text.Trim();
        var newline = trimmed.IndexOfAny(['\n', '\r']);
        var first = (newline < 0 ? trimmed : trimmed[..newline]).TrimEnd();
        if (first.Length <= max && newline < 0) return first;
        return (first.Length < max ? first : first[..(max - 1)].TrimEnd()) + "…";
    }
}
