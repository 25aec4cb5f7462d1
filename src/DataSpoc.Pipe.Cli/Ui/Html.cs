using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;

namespace DataSpoc.Pipe.Cli.Ui;

/// <summary>HTML text helpers and the page frame: every value is encoded; no script, no external resource.</summary>
internal static class Html
{
    public static string Encode(string? text) => HtmlEncoder.Default.Encode(text ?? "");

    public static string Time(DateTimeOffset? t) => t is { } v ? v.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture) : "-";

    public static string Ago(DateTimeOffset? t, DateTimeOffset now)
    {
        if (t is not { } v) return "-";
        var d = now - v;
        return d.TotalMinutes < 1 ? "just now" : d.TotalHours < 1 ? $"{(int)d.TotalMinutes} min ago" : d.TotalDays < 1 ? $"{(int)d.TotalHours} h ago" : $"{(int)d.TotalDays} d ago";
    }

    public static string Page(string title, string body)
    {
        var page = new StringBuilder();
        page.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">");
        page.Append("<link rel=\"icon\" href=\"data:,\"><title>").Append(Encode(title)).Append(" - dataspoc-pipe</title><style>").Append(Style).Append("</style></head><body>");
        page.Append("<header><a href=\"/\">dataspoc-pipe</a> <span>").Append(Encode(title)).Append("</span></header><main>").Append(body).Append("</main></body></html>");
        return page.ToString();
    }

    private const string Style = """
        body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
        header{background:#1d3557;color:#fff;padding:10px 20px;font-size:16px}header a{color:#fff;font-weight:600;text-decoration:none;margin-right:12px}
        main{padding:16px 20px}h2{font-size:16px;margin:20px 0 8px}
        table{border-collapse:collapse;background:#fff;margin-bottom:12px}th,td{border:1px solid #dde1e6;padding:4px 8px;text-align:left;vertical-align:top}
        th{background:#eef1f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
        .success{color:#1b7f3b}.failure,.invalid,.unknown{color:#b3261e}.never{color:#777}
        svg.chart{background:#fff;border:1px solid #dde1e6;margin:4px 12px 8px 0}svg .title{font-size:12px;fill:#444}
        svg .axis{stroke:#bbb}svg .line{fill:none;stroke:#457b9d;stroke-width:1.5}svg circle.point{fill:#457b9d}svg circle.failure{fill:#b3261e}
        pre{background:#fff;border:1px solid #dde1e6;padding:8px;overflow:auto;max-height:360px}details{margin:4px 0}
        """;
}
