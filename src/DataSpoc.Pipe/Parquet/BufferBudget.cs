namespace DataSpoc.Pipe.Parquet;

/// <summary>
/// The rows a run holds in memory, across every stream and partition: each parsing lane may hold its share of
/// <see cref="WriteLimits.BufferBytes"/> in batches that are not full yet. A tap syncing many tables, records
/// interleaved or one table after another, or a stream partitioned by a column, keeps many batches open at once;
/// without a shared budget each would grow to a full row group.
/// <para>
/// The rule, checked every <see cref="CheckRows"/> rows of a lane: when the lane's open batches pass its share, batches
/// are flushed early until the lane is back under three quarters of it. First the batches that have taken no row
/// while the lane took <see cref="WriteLimits.BatchRows"/> others, oldest first: Singer has no "stream done" message,
/// and a stream (or a date partition) that quiet is most likely done, so its files are finished and its buffers
/// released (<see cref="TableWriter.FlushEarly"/>); a stream that comes back later starts a new file. Then the largest,
/// whose files stay open for the rows still to come. A run of one stream never reaches the budget: its batch is
/// handed over when full, and the budget is at least two full batches.
/// </para>
/// Each lane touches only its own share, so lanes never contend; <see cref="BufferedBytes"/> is for tests and
/// progress, read when the lanes are quiet.
/// </summary>
internal sealed class BufferBudget
{
    /// <summary>Rows of a lane between two looks at its open batches (a look sums each batch's columns).</summary>
    public const int CheckRows = 1024;

    private readonly Lane[] _lanes;
    private readonly long _share;
    private readonly long _idleRows;

    public BufferBudget(WriteLimits limits)
    {
        _lanes = Enumerable.Range(0, Math.Max(limits.ParseLanes, 1)).Select(_ => new Lane()).ToArray();
        _share = Math.Max(limits.BufferBytes / _lanes.Length, 1);
        _idleRows = limits.BatchRows;
    }

    private sealed class Lane
    {
        /// <summary>Rows the lane has taken so far, across all streams: the clock that ages batches.</summary>
        public long Rows;
        public readonly List<OpenBatch> Open = [];
    }

    private readonly record struct OpenBatch(TableWriter Writer, Partition Partition, ColumnBatch Batch);

    /// <summary>Estimated bytes of every batch open for rows now (not yet handed to the encoder), across all lanes.</summary>
    public long BufferedBytes
    {
        get
        {
            long total = 0;
            foreach (var lane in _lanes)
                foreach (var open in lane.Open) total += open.Batch.EstimatedBytes;
            return total;
        }
    }

    /// <summary>Batches open for rows now, across all lanes.</summary>
    public int OpenBatches => _lanes.Sum(l => l.Open.Count);

    public void Opened(int lane, TableWriter writer, Partition partition, ColumnBatch batch)
    {
        batch.LastRowAt = _lanes[lane].Rows;
        _lanes[lane].Open.Add(new OpenBatch(writer, partition, batch));
    }

    public void Closed(int lane, ColumnBatch batch)
    {
        var open = _lanes[lane].Open;
        var i = open.FindIndex(o => ReferenceEquals(o.Batch, batch));
        if (i < 0) return;
        open[i] = open[^1];
        open.RemoveAt(open.Count - 1);
    }

    /// <summary>
    /// Counts an accepted row of <paramref name="batch"/> and, every <see cref="CheckRows"/> rows, keeps the lane within
    /// its share. True when batches were flushed: the batches the lane had asked for may no longer be current.
    /// </summary>
    public bool RowAdded(int lane, ColumnBatch batch)
    {
        var l = _lanes[lane];
        batch.LastRowAt = ++l.Rows;
        if ((l.Rows & (CheckRows - 1)) != 0 || l.Open.Count < 2) return false;
        return Shed(lane, l);
    }

    private bool Shed(int index, Lane lane)
    {
        long total = 0;
        foreach (var open in lane.Open) total += open.Batch.EstimatedBytes;
        if (total <= _share) return false;
        var idleBefore = lane.Rows - _idleRows;
        var order = lane.Open
            .OrderBy(o => o.Batch.LastRowAt < idleBefore ? o.Batch.LastRowAt : long.MaxValue)
            .ThenByDescending(o => o.Batch.EstimatedBytes)
            .ToList();
        foreach (var open in order)
        {
            if (total <= _share / 4 * 3) break;
            total -= open.Batch.EstimatedBytes;
            open.Writer.FlushEarly(index, open.Partition, retire: open.Batch.LastRowAt < idleBefore);
        }
        return true;
    }
}
