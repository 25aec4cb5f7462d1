namespace DataSpoc.Pipe.Parquet;

/// <summary>
/// The rows a run holds in memory, across every stream and partition: each parsing lane may hold its share of
/// <see cref="WriteLimits.BufferBytes"/> in batches that are not full yet. A tap syncing many tables, records
/// interleaved or one table after another, or a stream partitioned by a column, keeps many batches open at once;
/// without a shared budget each would grow to a full row group.
/// <para>
/// The rule, checked every <see cref="CheckRows"/> rows of a lane: when the lane's open batches pass its share, or its
/// quiet ones a quarter of it, batches are flushed early. First the quiet batches, those that have taken no row while
/// the lane took <see cref="WriteLimits.BatchRows"/> others, oldest first, until the lane is under three quarters of its
/// share and its quiet batches under an eighth: Singer has no "stream done" message, and a stream (or a date partition)
/// that quiet is most likely done, so its files are finished and its buffers released
/// (<see cref="TableWriter.FlushEarly"/>); a stream that comes back later starts a new file. Then, when the lane passed
/// its share, the largest, until it is back under three quarters of it: their files stay open for the rows still to
/// come. A run of one stream never reaches the budget: its batch is handed over when full, and the budget is at least
/// two full batches.
/// </para>
/// <para>
/// A batch flushed early leaves the lane's share but not memory until it is encoded: those bytes are counted across
/// lanes (<see cref="HandingOver"/>, <see cref="Encoded"/>), and past a quarter of the budget the lane waits for the
/// encoders instead of queuing more (a tap syncing hundreds of small tables outruns them, one file per table).
/// </para>
/// Each lane touches only its own share, so lanes never contend; <see cref="BufferedBytes"/> is for tests and
/// progress, read when the lanes are quiet.
/// </summary>
internal sealed class BufferBudget
{
    /// <summary>Rows of a lane between two looks at its open batches (a look sums each batch's columns).</summary>
    public const int CheckRows = 1024;

    private readonly Lane[] _lanes;

    /// <summary>The pool the run's column buffers take their arrays from and give them back to.</summary>
    public ColumnArrays Arrays { get; } = new();
    private readonly long _share;
    private readonly long _idleRows;
    /// <summary>
    /// Bytes a lane's quiet batches may hold before they are written whatever the rest holds: a tap syncing tables one
    /// after another would otherwise keep the whole share in tables it is done with.
    /// </summary>
    private readonly long _quietShare;

    public BufferBudget(WriteLimits limits)
    {
        _lanes = Enumerable.Range(0, Math.Max(limits.ParseLanes, 1)).Select(_ => new Lane()).ToArray();
        _share = Math.Max(limits.BufferBytes / _lanes.Length, 1);
        _idleRows = limits.BatchRows;
        _quietShare = _share / 4;
        _handedOverLimit = Math.Max(limits.BufferBytes / 4, 1);
    }

    /// <summary>
    /// Bytes of the batches flushed early that the encoders have not written yet, across lanes. Flushing moves a batch
    /// out of the lane's share but not out of memory: when the encoders are behind (many small files: a tap syncing
    /// hundreds of tables), the lanes wait for them past <see cref="_handedOverLimit"/> instead of queuing without bound.
    /// </summary>
    private long _handedOver;
    private readonly long _handedOverLimit;
    private readonly object _handedOverGate = new();

    /// <summary>Bytes of batches flushed early and not encoded yet (for tests and progress).</summary>
    public long HandedOverBytes => Interlocked.Read(ref _handedOver);

    /// <summary>
    /// Counts a batch of <paramref name="bytes"/> that a lane hands to the encoders early; first waits while the batches
    /// handed over before it and not encoded yet would pass the limit (one batch always goes when none is waiting).
    /// </summary>
    public void HandingOver(long bytes)
    {
        lock (_handedOverGate)
        {
            if (StageTimeline.Enabled && _handedOver > 0 && _handedOver + bytes > _handedOverLimit) StageTimeline.Mark("handover.wait", _handedOver);
            while (_handedOver > 0 && _handedOver + bytes > _handedOverLimit) Monitor.Wait(_handedOverGate);
            _handedOver += bytes;
        }
    }

    /// <summary>The encoders are done with a batch counted by <see cref="HandingOver"/> (written or failed).</summary>
    public void Encoded(long bytes)
    {
        lock (_handedOverGate)
        {
            _handedOver -= bytes;
            Monitor.PulseAll(_handedOverGate);
        }
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

    /// <summary>
    /// Bytes each of <paramref name="lane"/>'s open batches may reach, the share split evenly: about where batches that
    /// fill side by side are flushed.
    /// </summary>
    public long ShareOfEachBatch(int lane) => _share / Math.Max(_lanes[lane].Open.Count, 1);

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

    /// <summary>Rows <paramref name="lane"/> has taken so far: the clock that ages its batches.</summary>
    public long LaneRows(int lane) => _lanes[lane].Rows;

    /// <summary>Rows <paramref name="lane"/> may take before its next look at its open batches.</summary>
    public int RowsBeforeCheck(int lane) => CheckRows - (int)(_lanes[lane].Rows & (CheckRows - 1));

    /// <summary>
    /// <see cref="RowAdded"/> for rows added in bulk (no more than <see cref="RowsBeforeCheck"/>); their batches' clocks
    /// were set by the writer. True when batches were flushed.
    /// </summary>
    public bool RowsAdded(int lane, int rows)
    {
        var l = _lanes[lane];
        var before = l.Rows;
        l.Rows += rows;
        if (before / CheckRows == l.Rows / CheckRows || l.Open.Count < 2) return false;
        return Shed(lane, l);
    }

    private bool Shed(int index, Lane lane)
    {
        long total = 0, quiet = 0;
        var quietBefore = lane.Rows - _idleRows;
        foreach (var open in lane.Open)
        {
            total += open.Batch.EstimatedBytes;
            if (open.Batch.LastRowAt < quietBefore) quiet += open.Batch.EstimatedBytes;
        }
        var overShare = total > _share;
        if (!overShare && quiet <= _quietShare) return false;
        var order = lane.Open
            .OrderBy(o => o.Batch.LastRowAt < quietBefore ? o.Batch.LastRowAt : long.MaxValue)
            .ThenByDescending(o => o.Batch.EstimatedBytes)
            .ToList();
        foreach (var open in order)
        {
            var isQuiet = open.Batch.LastRowAt < quietBefore;
            // Quiet batches go until the lane is down to three quarters of its share and its quiet ones to half their
            // part; busy ones only when the lane passed its share, until it is down to three quarters of it.
            if (isQuiet ? total <= _share / 4 * 3 && quiet <= _quietShare / 2 : !overShare || total <= _share / 4 * 3) break;
            var bytes = open.Batch.EstimatedBytes;
            total -= bytes;
            if (isQuiet) quiet -= bytes;
            open.Writer.FlushEarly(index, open.Partition, retire: isQuiet);
        }
        return true;
    }
}
