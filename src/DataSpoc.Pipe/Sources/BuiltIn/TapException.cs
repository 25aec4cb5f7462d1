namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>A built-in tap failed for a reason the user can fix (bad config, unreadable file, bad value); the message says where.</summary>
public sealed class TapException(string message, Exception? inner = null) : PipeException(message, inner)
{
    /// <summary>
    /// A config the tap cannot use (a required key missing, a key of the wrong type, a <c>path</c> that names no file),
    /// found before it reads any data: a usage error, so the run is reported as stopped on its configuration (exit 2).
    /// </summary>
    public static TapException Configuration(string message) => new(message) { IsConfiguration = true };

    /// <inheritdoc cref="Configuration(string)"/>
    public static TapException Configuration(string message, Exception inner) => new(message, inner) { IsConfiguration = true };

    public bool IsConfiguration { get; private init; }

    public override PipeErrorKind Kind => IsConfiguration ? PipeErrorKind.Usage : PipeErrorKind.Failed;
}
