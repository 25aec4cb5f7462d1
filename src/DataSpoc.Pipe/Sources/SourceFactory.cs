using DataSpoc.Pipe.Config;

namespace DataSpoc.Pipe.Sources;

/// <summary>Turns <c>source.tap</c> into a source: a built-in tap (run in-process) or a tap command (a subprocess).</summary>
public static class SourceFactory
{
    public static ISource Create(SourceDefinition source, Redactor redactor)
    {
        var words = CommandLine.Split(source.Tap);
        if (words.Count == 0) throw new TapNotFoundException("", "source.tap is empty");
        return new TapProcess(words, redactor);
    }
}
