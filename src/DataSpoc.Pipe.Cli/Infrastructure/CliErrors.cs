namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>Process exit codes, as documented in the README.</summary>
internal static class ExitCodes
{
    public const int Success = 0;
    /// <summary>A pipeline run or a validation check failed.</summary>
    public const int Failed = 1;
    /// <summary>Wrong usage or invalid configuration: nothing was run.</summary>
    public const int Usage = 2;
}

/// <summary>Wrong usage or an unusable configuration; printed as one line, exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>Something the user asked for ran and failed; printed as one line, exit code 1.</summary>
internal sealed class FailedException(string message) : Exception(message);
