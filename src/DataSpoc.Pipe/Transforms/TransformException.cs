namespace DataSpoc.Pipe.Transforms;

/// <summary>
/// A stream's transform map does not fit the stream it met (a column it names is missing, a rename collides with a
/// column the stream already has, a filter gave something other than true or false). Names the stream and the key.
/// </summary>
public sealed class TransformException(string stream, string key, string reason)
    : PipeException($"transforms.{stream}.{key}: {reason}")
{
    /// <summary>The stream whose map failed.</summary>
    public string Stream { get; } = stream;

    /// <summary>The map key that failed: <c>select</c>, <c>drop</c>, <c>rename</c>, <c>cast</c>, <c>hash</c>, <c>filter</c> or <c>compute</c>.</summary>
    public string Key { get; } = key;

    /// <summary>
    /// An expression failed on this record's values (a whole number that overflows, <c>x % 0</c>): the record is
    /// invalid and <c>on_invalid_record</c> decides, where a map that does not fit the stream fails the run.
    /// </summary>
    public bool OfRecord { get; init; }
}
