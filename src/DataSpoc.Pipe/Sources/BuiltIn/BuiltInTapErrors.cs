namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>Turns a built-in tap's failure into the one-line message users see (stack traces only for bugs).</summary>
internal static class BuiltInTapErrors
{
    public static string Describe(string tap, Exception e) => e switch
    {
        TapException => e.Message,
        Storage.StorageException or IOException or UnauthorizedAccessException => $"{tap} tap: {e.Message}",
        _ => $"{tap} tap failed: {e.GetType().Name}: {e.Message}\n{e.StackTrace}",
    };
}
