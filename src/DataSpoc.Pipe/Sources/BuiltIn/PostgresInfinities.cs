namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// Counts, per column, the <c>date</c>, <c>timestamp</c> and <c>timestamptz</c> values (top level or array elements) that
/// were PostgreSQL's <c>infinity</c> or <c>-infinity</c>. The lake has no such value: they land as the latest and earliest
/// it holds (<c>9999-12-31T23:59:59.999999Z</c>, <c>0001-01-01T00:00:00Z</c>; the dates <c>9999-12-31</c>,
/// <c>0001-01-01</c>), as Npgsql reads them, and a real value of those dates cannot be told from them in the lake, so
/// the run log says how many each column had (<see cref="WriteNotices"/>). Parts of a split table read in parallel
/// share one tally.
/// </summary>
internal sealed class PostgresInfinities
{
    private readonly Dictionary<PostgresColumn, (long Positive, long Negative)> _counts = [];

    public void Add(PostgresColumn column, long positive, long negative)
    {
        lock (_counts)
        {
            var (p, n) = _counts.GetValueOrDefault(column);
            _counts[column] = (p + positive, n + negative);
        }
    }

    /// <summary>One notice per column that had any, for the run log; the tally is then empty.</summary>
    public void WriteNotices(RecordSink sink, string stream)
    {
        lock (_counts)
        {
            foreach (var (column, (positive, negative)) in _counts)
            {
                var (latest, earliest) = column.InfinityLandsAs;
                var landed = new List<string>(2);
                if (positive > 0) landed.Add($"{positive} value(s) were 'infinity', landed as {latest}");
                if (negative > 0) landed.Add($"{negative} value(s) were '-infinity', landed as {earliest}");
                sink.WriteNotice($"stream '{stream}' column '{column.Name}' ({column.SqlType}): {string.Join("; ", landed)} " +
                    "(the latest and earliest values the lake holds, which a real value of that date lands as too)");
            }
            _counts.Clear();
        }
    }
}
