using System.Globalization;
using System.Text.RegularExpressions;

namespace DataSpoc.Pipe.Config;

/// <summary>Durations in configuration: a number of seconds (<c>90</c>) or units (<c>30s</c>, <c>5m</c>, <c>1h30m</c>, <c>500ms</c>, <c>1d</c>).</summary>
public static partial class Durations
{
    /// <summary>
    /// The longest duration taken: 100 years. Every duration here is an age or a timeout, and a longer one would only
    /// overflow (.NET's TimeSpan ends at ~29,000 years) or put "now minus the age" before the calendar's start.
    /// </summary>
    public static readonly TimeSpan Longest = TimeSpan.FromDays(36_500);

    /// <summary>
    /// A duration greater than zero (every option and key taking one means "after" or "older than" a time) and no longer
    /// than <see cref="Longest"/>.
    /// </summary>
    public static bool TryParse(string text, out TimeSpan duration)
    {
        var seconds = SecondsOf(text);
        duration = seconds is > 0 && seconds <= Longest.TotalSeconds ? TimeSpan.FromSeconds(seconds.Value) : TimeSpan.Zero;
        return IsTaken(duration);
    }

    /// <summary>Whether a duration is one a key or option takes: greater than zero and no longer than <see cref="Longest"/>.</summary>
    public static bool IsTaken(TimeSpan duration) => duration > TimeSpan.Zero && duration <= Longest;

    /// <summary>
    /// Why <paramref name="text"/> is not a duration an option takes, for an error after the option's name, or null when it
    /// is one. A zero (<c>0s</c>) or an age beyond <see cref="Longest"/> is a duration, just not one taken: said so, not
    /// called a syntax error.
    /// </summary>
    public static string? Problem(string text, string examples)
    {
        var seconds = SecondsOf(text);
        if (seconds is null) return $"'{text}' is not a duration (e.g. {examples})";
        if (seconds == 0) return $"'{text}' is zero: give a duration greater than zero (e.g. {examples})";
        return seconds > Longest.TotalSeconds ? $"'{text}' is longer than {Describe(Longest)} (100 years), the longest duration taken" : null;
    }

    /// <summary>The seconds <paramref name="text"/> spells (summed in doubles, so no spelling overflows), or null when it spells none.</summary>
    private static double? SecondsOf(string text)
    {
        text = text.Trim();
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
            return seconds < 0 || !double.IsFinite(seconds) ? null : seconds;
        var matches = Part().Matches(text);
        if (matches.Count == 0 || matches.Sum(m => m.Length) != text.Length) return null;
        double total = 0;
        foreach (Match m in matches)
        {
            var n = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            total += n * m.Groups[2].Value switch
            {
                "ms" => 0.001,
                "s" => 1,
                "m" => 60,
                "h" => 3600,
                _ => 86_400,
            };
        }
        return double.IsFinite(total) ? total : null;
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
