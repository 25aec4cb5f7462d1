using System.Globalization;
using System.Text.RegularExpressions;

namespace DataSpoc.Pipe.Config;

/// <summary>Durations in configuration: a number of seconds (<c>90</c>) or units (<c>30s</c>, <c>5m</c>, <c>1h30m</c>, <c>500ms</c>, <c>1d</c>).</summary>
public static partial class Durations
{
    /// <summary>A duration greater than zero (every option and key taking one means "after" or "older than" a time).</summary>
    public static bool TryParse(string text, out TimeSpan duration) => TryParseAny(text, out duration) && duration > TimeSpan.Zero;

    /// <summary>
    /// Why <paramref name="text"/> is not a duration an option takes, for an error after the option's name, or null when it
    /// is one. A zero (<c>0s</c>) is a duration, just not one taken: said so, not called a syntax error.
    /// </summary>
    public static string? Problem(string text, string examples) =>
        TryParse(text, out _) ? null
        : TryParseAny(text, out var d) && d == TimeSpan.Zero ? $"'{text}' is zero: give a duration greater than zero (e.g. {examples})"
        : $"'{text}' is not a duration (e.g. {examples})";

    private static bool TryParseAny(string text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        text = text.Trim();
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
        {
            if (seconds < 0 || double.IsInfinity(seconds) || double.IsNaN(seconds)) return false;
            duration = TimeSpan.FromSeconds(seconds);
            return true;
        }
        var matches = Part().Matches(text);
        if (matches.Count == 0 || matches.Sum(m => m.Length) != text.Length) return false;
        foreach (Match m in matches)
        {
            var n = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            duration += m.Groups[2].Value switch
            {
                "ms" => TimeSpan.FromMilliseconds(n),
                "s" => TimeSpan.FromSeconds(n),
                "m" => TimeSpan.FromMinutes(n),
                "h" => TimeSpan.FromHours(n),
                _ => TimeSpan.FromDays(n),
            };
        }
        return true;
    }

    /// <summary>A duration the way configuration writes it: <c>90d</c>, <c>1h30m</c>, <c>45s</c>, <c>500ms</c>.</summary>
    public static string Describe(TimeSpan duration)
    {
        var text = new System.Text.StringBuilder();
        void Part(long n, string unit) { if (n > 0) text.Append(n.ToString(CultureInfo.InvariantCulture)).Append(unit); }
        Part((long)duration.TotalDays, "d");
        Part(duration.Hours, "h");
        Part(duration.Minutes, "m");
        Part(duration.Seconds, "s");
        Part(duration.Milliseconds, "ms");
        return text.Length == 0 ? "0s" : text.ToString();
    }

    [GeneratedRegex(@"(\d+(?:\.\d+)?)(ms|s|m|h|d)")]
    private static partial Regex Part();
}
