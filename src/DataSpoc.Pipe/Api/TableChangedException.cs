namespace DataSpoc.Pipe.Api;

/// <summary>
/// A table whose files runs replaced while <see cref="PipeClient.ReadTableFilesAsync{T}"/> read it, twice over: reading
/// it again later reads it as it is then.
/// </summary>
public sealed class TableChangedException(string message, Exception inner) : PipeException(message, inner);
