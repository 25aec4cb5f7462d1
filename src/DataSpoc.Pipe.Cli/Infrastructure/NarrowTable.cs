using Spectre.Console;
using Spectre.Console.Rendering;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>
/// A table drawn as a table while its columns get a few characters each, and as one <c>header: value</c> line per cell
/// (a blank line between rows) below that: at a narrow <c>COLUMNS</c> Spectre shrinks every cell to nothing and then
/// prints the table as a lone "…", losing every value.
/// </summary>
internal sealed class NarrowTable(Table table) : IRenderable
{
    /// <summary>The fewest characters a column's cell gets before the table is drawn as lines instead.</summary>
    private const int MinimumCellWidth = 4;

    /// <summary>Whether <paramref name="table"/> is drawn as lines at <paramref name="width"/>: each cell has a space either side and a border.</summary>
    public static bool IsTooNarrow(Table table, int width) => width < table.Columns.Count * (MinimumCellWidth + 3) + 1;

    public Measurement Measure(RenderOptions options, int maxWidth) =>
        IsTooNarrow(table, maxWidth) ? new Measurement(1, maxWidth) : ((IRenderable)table).Measure(options, maxWidth);

    public IEnumerable<Segment> Render(RenderOptions options, int maxWidth)
    {
        if (!IsTooNarrow(table, maxWidth)) return ((IRenderable)table).Render(options, maxWidth);
        var segments = new List<Segment>();
        foreach (var row in table.Rows)
        {
            if (segments.Count > 0) segments.Add(Segment.LineBreak);
            foreach (var (column, cell) in table.Columns.Zip(row))
            {
                var label = string.Concat(column.Header.Render(options, int.MaxValue).Where(s => !s.IsControlCode && !s.IsLineBreak).Select(s => s.Text)) + ": ";
                segments.Add(new Segment(label));
                // The value wraps in the room after its label; a label as wide as the console puts it on the next line.
                var room = maxWidth - label.Length;
                if (room < MinimumCellWidth)
                {
                    segments.Add(Segment.LineBreak);
                    room = maxWidth;
                }
                segments.AddRange(cell.Render(options, room));
                segments.Add(Segment.LineBreak);
            }
        }
        return segments;
    }
}
