namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>Process exit codes, as documented in the README.</summary>
internal static class ExitCodes
{
    public const int Success = 0;
    /// <summary>A pipeline run or a validation check failed.</summary>
    public const int Failed = 1;
    /// <summary>Wrong usage or invalid configuration: nothing was run.</summary>
    public const int Usage = 2;
    /// <summary>Stopped by Ctrl+C (128 + SIGINT), as shells report it.</summary>
    public const int Cancelled = 130;

    /// <summary>The one mapping from what an error means to the exit code the README documents.</summary>
    public static int For(PipeErrorKind kind) => kind == PipeErrorKind.Usage ? Usage : Failed;
}

/// <summary>Wrong usage of the CLI itself (a flag, a missing argument); printed as one line, exit code 2.</summary>
internal sealed class UsageException(string message) : PipeException(message)
{
    public override PipeErrorKind Kind => PipeErrorKind.Usage;
}

/// <summary>Something the user asked for ran and failed; printed as one line, exit code 1.</summary>
internal sealed class FailedException(string message) : PipeException(message);
