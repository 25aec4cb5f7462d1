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

    /// <summary>
    /// Whether the tap stopped on a config it cannot use (<see cref="TapException.Configuration(string)"/>), found before it read
    /// any data: a usage error (exit 2) for <c>run</c> and <c>tap</c> alike, not a failed extraction.
    /// </summary>
    public static bool StoppedOnConfiguration(Exception e) => e is TapException { IsConfiguration: true };
}
