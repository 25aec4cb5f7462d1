using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Sources.BuiltIn;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Sources;

/// <summary>Turns <c>source.tap</c> into a source: a built-in tap (run in-process) or a tap command (a subprocess).</summary>
public static class SourceFactory
{
    /// <summary>Whether <c>source.tap</c> names a built-in tap (one word, a built-in's name) rather than a command.</summary>
    public static bool IsBuiltIn(string tap) => CommandLine.Split(tap) is [var word] && BuiltInTaps.Names.Contains(word, StringComparer.Ordinal);

    /// <param name="source">The pipeline's source section.</param>
    /// <param name="redactor">Masks secrets in what the source reports.</param>
    /// <param name="stores">Opens buckets for built-in taps that read from them (csv, parquet).</param>
    public static ISource Create(SourceDefinition source, Redactor redactor, ObjectStoreFactory stores)
    {
        var words = CommandLine.Split(source.Tap);
        if (words.Count == 0) throw new TapNotFoundException("", "source.tap is empty");
        if (words.Count == 1 && BuiltInTaps.TryGet(words[0], stores, out var builtIn)) return new BuiltInSource(builtIn);
        return new TapProcess(words, redactor);
    }
}
