namespace DataSpoc.Pipe.Parquet;

/// <summary>
/// Days within about 11 years around the first one seen, as the indexes of a table of <see cref="Size"/> entries: rows of
/// date partitions taking turns (a date-time column over a few weeks, records in no date order) find their partition's
/// entry by one subtraction instead of a hash lookup. A day outside has no index, and goes through a dictionary.
/// </summary>
internal struct DayWindow
{
    public const int Size = 4096;

    private int _first;
    private bool _started;

    /// <summary>The index of <paramref name="day"/> (any day count: the window starts at the first one asked); -1 outside.</summary>
    public int IndexOf(int day)
    {
        if (!_started)
        {
            _first = day - Size / 2;
            _started = true;
        }
        var index = day - _first;
        return (uint)index < Size ? index : -1;
    }
}
