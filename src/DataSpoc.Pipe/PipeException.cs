namespace DataSpoc.Pipe;

/// <summary>What a user-facing error means for whoever asked: the CLI turns it into an exit code, the MCP server into a tool error.</summary>
public enum PipeErrorKind
{
    /// <summary>The request or the configuration is wrong: nothing ran (the CLI exits with 2).</summary>
    Usage,

    /// <summary>What was asked for ran and failed, or found nothing (the CLI exits with 1).</summary>
    Failed,
}

/// <summary>
/// The base of every error DataSpoc Pipe reports to its user (configuration, tap, storage, protocol, lock…): its
/// message is complete on one line (file, line, stream or field where known) and never holds a secret, so a front end
/// prints it as it is and maps <see cref="Kind"/> to its own signal.
/// </summary>
public abstract class PipeException(string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>Whether the user must change the request or configuration, or something that ran failed.</summary>
    public virtual PipeErrorKind Kind => PipeErrorKind.Failed;
}
