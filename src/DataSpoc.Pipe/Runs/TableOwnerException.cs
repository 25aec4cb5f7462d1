namespace DataSpoc.Pipe.Runs;

/// <summary>
/// A run that would take over another pipeline's table: replace one another pipeline of the home wrote last (two
/// pipelines with the same source name, stream and path), or write a source's stream under a second path of a bucket
/// whose manifest lists it under another. It fails before its commit, so nothing is written or deleted.
/// </summary>
public sealed class TableOwnerException(string message) : PipeException(message);
