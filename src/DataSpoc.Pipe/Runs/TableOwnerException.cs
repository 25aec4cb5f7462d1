namespace DataSpoc.Pipe.Runs;

/// <summary>
/// A run that would replace a table another pipeline of the home wrote last (two pipelines with the same source name,
/// stream and path): it fails before its commit, so nothing is written or deleted.
/// </summary>
public sealed class TableOwnerException(string message) : PipeException(message);
