namespace DataSpoc.Pipe.Transforms;

/// <summary>
/// A record transform given in code (<see cref="IRecordTransform"/>, such as <see cref="Api.CodeTransform"/>) threw on a
/// record: the run fails, its error naming the transform, the record and its stream, and the exception's type and message
/// (<c>transform 'prices' failed on record 3 of stream 'orders': KeyNotFoundException: no price for sku 42</c>).
/// </summary>
public sealed class TransformFailedException(string transform, string stream, string record, Exception inner)
    : PipeException($"{transform} failed on {record} of stream '{stream}': {inner.GetType().Name}: {inner.Message}", inner)
{
    /// <summary>The stream whose record the transform threw on.</summary>
    public string Stream { get; } = stream;
}
