using Spectre.Console;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>
/// Text for table cells that must stay one line per row, such as errors (the full text is in <c>--output json</c> and
/// <c>logs</c>): Spectre wraps a cell wider than the room it gets, so the cell is cut to that room first.
/// </summary>
internal static class TableCells
{
    /// <summary>The first line of <paramref name="text"/>, cut to <paramref name="max"/> characters with an ellipsis when longer or when more lines follow.</summary>
    public static string OneLine(string text, int max)
    {
        var trimmed = text.Trim();
        var newline = trimmed.IndexOfAny(['\n', '\r']);
        var first = (newline < 0 ? trimmed : trimmed[..newline]).TrimEnd();
        if (first.Length <= max && newline < 0) return first;
        return (first.Length < max ? first : first[..Math.Max(0, max - 1)].TrimEnd()) + "…";
    }

    /// <summary>
    /// How wide one column may be so that a table of <paramref name="columns"/> columns fits the console, given the
    /// total width of the other columns' text (each cell has a space either side and a border).
    /// </summary>
    public static int Room(int columns, int otherColumnsWidth) => Math.Max(10, AnsiConsole.Profile.Width - otherColumnsWidth - (3 * columns + 1));

    /// <summary>The width a column needs: its header or its widest cell.</summary>
    public static int Widest(string header, IEnumerable<string> cells) => cells.Select(c => c.Length).Append(header.Length).Max();

    /// <summary>
    /// A run status as a coloured cell, the same in every table (<c>status</c>, <c>logs --list</c>): the word is the
    /// run log's own (<c>success</c>, <c>failure</c>, <c>cancelled</c>, ...), never folded into another.
    /// </summary>
    public static string Status(string status) => status switch
    {
        "success" => "[green]success[/]",
        "failure" => "[red]failure[/]",
        "invalid" or "unknown" => $"[red]{status}[/]",
        _ => Markup.Escape(status),
    };

    /// <summary>The status word of a pipeline with a run or maintain in progress (<c>status</c>, the dashboard).</summary>
    public static string Activity(Api.RunInProgress running) => running.Kind == "maintain" ? "maintaining" : "running";

    /// <summary>
    /// Who is running (<c>status</c>'s line under the table, the dashboard's title): <c>run ID, pid P on HOST</c>, or for
    /// a split run's part workers <c>split run ID: part I (run ID, pid P on HOST), ...</c>; a process this one cannot look at
    /// (another host's, another PID namespace's) as a run refused for its lock names it, with when its lease runs out.
    /// Plain text: escape it to show it.
    /// </summary>
    public static string Runner(Api.RunInProgress running) => (running.Parts is { } parts
        ? $"split run {running.RunId}: " + string.Join(", ", parts.Select(p => $"part {p.Part} (run {p.RunId}, {p.Process})"))
        : $"run {running.RunId}, {running.Process}") + (running.Unchecked is { } @unchecked ? $", which {@unchecked}" : "");
}
