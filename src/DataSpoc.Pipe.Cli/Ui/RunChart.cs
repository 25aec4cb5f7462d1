using System.Globalization;
using System.Text;
using DataSpoc.Pipe.Lake;

namespace DataSpoc.Pipe.Cli.Ui;

/// <summary>An inline SVG chart of one value over a pipeline's recent runs (oldest left): one point per run, no script.</summary>
internal static class RunChart
{
    private const int Width = 560, Height = 140, Pad = 28;

    /// <param name="runs">Oldest first.</param>
    /// <param name="series">CSS class of the points (<c>records</c>, <c>duration</c>).</param>
    /// <param name="note">Said after a point's value in its title (what the value holds besides the obvious), or null.</param>
    public static string Svg(IReadOnlyList<RunLog> runs, string series, string title, Func<RunLog, double> value, Func<double, string> label,
        Func<RunLog, string?>? note = null)
    {
        var inv = CultureInfo.InvariantCulture;
        var max = runs.Count == 0 ? 1 : Math.Max(runs.Max(value), 1e-9);
        double X(int i) => runs.Count == 1 ? Width / 2.0 : Pad + i * (Width - 2.0 * Pad) / (runs.Count - 1);
        double Y(double v) => Height - Pad - v / max * (Height - 2.0 * Pad);
        var svg = new StringBuilder();
        svg.Append(inv, $"<svg class=\"chart {series}\" viewBox=\"0 0 {Width} {Height}\" width=\"{Width}\" height=\"{Height}\" role=\"img\" aria-label=\"{Html.Encode(title)}\">");
        svg.Append(inv, $"<text x=\"{Pad}\" y=\"16\" class=\"title\">{Html.Encode(title)} (max {Html.Encode(label(max))})</text>");
        svg.Append(inv, $"<line x1=\"{Pad}\" y1=\"{Height - Pad}\" x2=\"{Width - Pad}\" y2=\"{Height - Pad}\" class=\"axis\"/>");
        if (runs.Count > 1)
            svg.Append("<polyline class=\"line\" points=\"").AppendJoin(' ', runs.Select((r, i) => string.Create(inv, $"{X(i):0.#},{Y(value(r)):0.#}"))).Append("\"/>");
        for (var i = 0; i < runs.Count; i++)
        {
            var r = runs[i];
            svg.Append(inv, $"<circle class=\"point {series} {Html.Encode(r.Status)}\" cx=\"{X(i):0.#}\" cy=\"{Y(value(r)):0.#}\" r=\"4\">");
            svg.Append(inv, $"<title>{Html.Encode(r.StartedAt.ToString("yyyy-MM-dd HH:mm:ss'Z'", inv))} {Html.Encode(r.Status)}: {Html.Encode(label(value(r)))}{Html.Encode(note?.Invoke(r))}</title></circle>");
        }
        return svg.Append("</svg>").ToString();
    }
}
