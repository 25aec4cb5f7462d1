namespace DataSpoc.Pipe.Runs;

/// <summary>
/// A code source's places, in the words its errors and notices use: a code source has no lines, so a record is named
/// by its number in its stream, from 1 (<c>stream 'events', record 7</c>), as the source names its own errors and the
/// README promises; a Singer tap's keep the line of its output. <see cref="EngineSink"/> still numbers every message
/// as the line it would have had printed (the engine counts by it); this turns such a number back into the record's.
/// </summary>
/// <remarks>
/// Only the messages that are not records are kept (a SCHEMA, a STATE, an ACTIVATE_VERSION: a few per stream); every line
/// after one up to the next is a record of the stream it belongs to. Written by the source's thread, read by it (an
/// error) or after the extraction (a notice).
/// </remarks>
internal sealed class RecordNumbers
{
    /// <summary>A message that is not a record: its line, its stream, and how many of the stream's records came before it.</summary>
    private readonly List<(long Line, string? Stream, long RecordsBefore)> _marks = [];

    public void OnSchema(long line, string stream) => _marks.Add((line, stream, 0));

    /// <summary>A STATE or ACTIVATE_VERSION: the records after it go on counting those of the stream before it.</summary>
    public void OnOtherMessage(long line)
    {
        var (stream, before) = _marks.Count == 0 ? (null, 0) : (_marks[^1].Stream, RecordOf(_marks[^1], line) - 1);
        _marks.Add((line, stream, before));
    }

    /// <summary>The number, in its stream (from 1), of the record on <paramref name="line"/>; null for a line that holds no record.</summary>
    public long? RecordAt(long line)
    {
        var lo = 0;
        var hi = _marks.Count - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) / 2;
            if (_marks[mid].Line <= line) lo = mid + 1;
            else hi = mid - 1;
        }
        if (hi < 0 || _marks[hi].Line == line || _marks[hi].Stream is null) return null;
        return RecordOf(_marks[hi], line);
    }

    /// <summary><c>record 7</c> for a record's line, else null.</summary>
    public string? PlaceOf(long line) => RecordAt(line) is { } record ? $"record {record}" : null;

    private static long RecordOf((long Line, string? Stream, long RecordsBefore) mark, long line) => mark.RecordsBefore + (line - mark.Line);
}
