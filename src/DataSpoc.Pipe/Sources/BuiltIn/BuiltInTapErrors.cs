namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// Turns a built-in tap's failure into the one-line message users see. Only a bug of ours gets its stack trace, before
/// the message: a run's error quotes the tap's last stderr line, which must be the message, not a frame.
/// </summary>
internal static class BuiltInTapErrors
{
    public static string Describe(string tap, Exception e) => e switch
    {
        TapException => e.Message,
        Storage.StorageException or IOException or UnauthorizedAccessException or InvalidDataException => $"{tap} tap: {e.Message}",
        _ => $"{e.StackTrace}\n{tap} tap failed: {e.GetType().Name}: {e.Message}",
    };
}
