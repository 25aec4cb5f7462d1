using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Sources;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>The CLI's questions to a pipeline's tap outside a run (<c>--help</c>, <c>--about</c>); discovery is the engine's <see cref="TapCatalogs"/>.</summary>
internal static class TapInvoker
{
    /// <summary>Whether <c>source.tap</c> names a built-in tap rather than a command.</summary>
    public static bool IsBuiltIn(string tap) => BuiltIns.Names.Contains(tap.Trim(), StringComparer.Ordinal);

    /// <summary>Finds the tap's executable: a path as given, or a name on PATH; throws <see cref="TapNotFoundException"/>.</summary>
    public static string ResolveExecutable(string tap)
    {
        var words = CommandLine.Split(tap);
        if (words.Count == 0) throw new UsageException("source.tap is empty");
        return TapProcess.Resolve(words[0]);
    }
}
