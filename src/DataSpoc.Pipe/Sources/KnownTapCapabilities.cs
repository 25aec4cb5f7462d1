using System.Collections.Concurrent;

namespace DataSpoc.Pipe.Sources;

/// <summary>
/// What tap commands said of themselves in this process (<see cref="TapCapabilities"/>), so that a pipeline without a
/// file (built in code, where nothing is cached beside a pipeline file) asks its tap <c>--help</c> and <c>--about</c>
/// once per process instead of before every run. An answer is kept for the command as resolved (the executable's full
/// path and its arguments) and is only reused while the executable and every argument that names a file (the script
/// an interpreter runs) keep their modification time and size: an edited or reinstalled tap is asked again.
/// </summary>
internal static class KnownTapCapabilities
{
    private static readonly ConcurrentDictionary<string, (string Stamp, TapCapabilities Answer)> Answers = new(StringComparer.Ordinal);

    /// <summary>The answer given for this command while its files are unchanged; null when not asked yet (or changed since).</summary>
    public static TapCapabilities? Find(string tap)
    {
        if (Identify(tap) is not { } asked) return null;
        return Answers.TryGetValue(asked.Command, out var known) && known.Stamp == asked.Stamp ? known.Answer with { Tap = tap } : null;
    }

    public static void Remember(string tap, TapCapabilities answer)
    {
        if (Identify(tap) is { } asked) Answers[asked.Command] = (asked.Stamp, answer);
    }

    /// <summary>
    /// The resolved command line and the stamp of the files it runs; null for a command that cannot be resolved (asking
    /// it reports why).
    /// </summary>
    private static (string Command, string Stamp)? Identify(string tap)
    {
        try
        {
            var words = CommandLine.Split(tap);
            if (words.Count == 0) return null;
            var resolved = new List<string>(words.Count) { TapProcess.Resolve(words[0]) };
            resolved.AddRange(words.Skip(1));
            var stamp = string.Join('|', resolved.Where(File.Exists).Select(path =>
            {
                var file = new FileInfo(path);
                return $"{file.LastWriteTimeUtc.Ticks}:{file.Length}";
            }));
            return (string.Join('\0', resolved), stamp);
        }
        catch (Exception e) when (e is TapNotFoundException or Config.ConfigException or FormatException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
