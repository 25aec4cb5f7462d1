namespace DataSpoc.Pipe.Api;

/// <summary>A run log that is not there: the pipeline has not run yet (<see cref="PipeErrorKind.Failed"/>), or no run has the id asked for (<see cref="PipeErrorKind.Usage"/>).</summary>
public sealed class RunLogNotFoundException(string message, PipeErrorKind kind) : PipeException(message)
{
    public override PipeErrorKind Kind => kind;
}
