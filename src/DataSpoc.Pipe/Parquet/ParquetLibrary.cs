using ParquetSharp;

namespace DataSpoc.Pipe.Parquet;

/// <summary>
/// ParquetSharp's native library (<c>ParquetSharpNative.so</c>), which every write loads: a binary installed without it
/// (it must stay next to the binary) starts, validates and extracts, then fails each run at <c>write</c>.
/// </summary>
internal static class ParquetLibrary
{
    /// <summary>
    /// Why the library cannot be loaded (one line, naming where the loader looked), or null when it loads. Cheap: one call
    /// into the library, which maps it as the first write would.
    /// </summary>
    public static string? LoadProblem()
    {
        try
        {
            using var _ = new WriterPropertiesBuilder();
            return null;
        }
        catch (DllNotFoundException e)
        {
            return Describe(e);
        }
        catch (TypeInitializationException e) when (e.InnerException is DllNotFoundException missing)
        {
            return Describe(missing);
        }
    }

    /// <summary>
    /// The loader's failure in one line: its message is a paragraph of advice followed by one line per file it tried
    /// (<c>&lt;path&gt;: cannot open shared object file: ...</c>); the paths it tried and the first reason are what matter.
    /// </summary>
    public static string Describe(DllNotFoundException e)
    {
        var tried = e.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Skip(1)
            .Select(line => line.IndexOf(": ", StringComparison.Ordinal) is var colon and > 0 ? (Path: line[..colon], Reason: line[(colon + 2)..]) : (Path: line, Reason: ""))
            .Where(t => t.Path.EndsWith(".so", StringComparison.Ordinal))
            .ToList();
        var where = tried.Count == 0 ? "" : $": looked for {string.Join(", ", tried.Select(t => t.Path))} ({tried[0].Reason})";
        return $"the Parquet library ParquetSharpNative could not be loaded{where}; it ships next to the program " +
            $"({Path.Join(AppContext.BaseDirectory, "ParquetSharpNative.so")}): install it there";
    }
}
