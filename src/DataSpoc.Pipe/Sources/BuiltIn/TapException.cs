namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>A built-in tap failed for a reason the user can fix (bad config, unreadable file, bad value); the message says where.</summary>
public sealed class TapException(string message, Exception? inner = null) : PipeException(message, inner);
