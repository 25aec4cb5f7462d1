using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using PipeCompression = DataSpoc.Pipe.Config.Compression;

namespace DataSpoc.Pipe.Parquet;

/// <summary>Limits that bound a stream's memory and shape its files.</summary>
public sealed record WriteLimits
{
    /// <summary>Rows per row group (a batch is encoded when it reaches this).</summary>
    public int BatchRows { get; init; } = 64 * 1024;
    /// <summary>Buffered bytes per row group.</summary>
    public long BatchBytes { get; init; } = 32L * 1024 * 1024;
    /// <summary>
    /// Buffered bytes across all streams and partitions of a run (batches not full yet) before some are flushed early
    /// (<see cref="BufferBudget"/>). At least two full batches of narrow rows, so a run of one stream never reaches it.
    /// </summary>
    public long BufferBytes { get; init; } = 32L * 1024 * 1024;
    /// <summary>Rotate to a new file after this many rows.</summary>
    public long MaxFileRows { get; init; } = 50_000_000;
    /// <summary>Rotate to a new file after this many bytes on disk.</summary>
    public long MaxFileBytes { get; init; } = 256L * 1024 * 1024;
    /// <summary>Files a stream keeps open at once (partitioned by a column); the least recently used is finished first.</summary>
    public int MaxOpenFiles { get; init; } = 64;
    /// <summary>
    /// Threads that parse RECORD lines in parallel (each fills batches of its own). One below four cores: the reading
    /// thread then parses its chunks itself, and the encoder and the tap have the other core; on 2 cores a second lane
    /// only added hand-offs (bench/README.md, "Measurements behind the code"). Two from four cores.
    /// </summary>
    public int ParseLanes { get; init; } = Environment.ProcessorCount >= 4 ? 2 : 1;
    /// <summary>
    /// Records of a stream partitioned by a column are scanned into one batch and moved to their partitions in bulk
    /// (<see cref="PartitionStaging"/>); false: each goes straight to its partition's batch, located in its text first
    /// (tests hold both equal).
    /// </summary>
    internal bool StagePartitionedRows { get; init; } = true;

    /// <summary>These limits with a destination's <c>max_file_rows</c> / <c>max_file_mb</c> applied, where it sets them.</summary>
    internal WriteLimits WithFileLimitsOf(Config.DestinationDefinition destination) => this with
    {
        MaxFileRows = destination.MaxFileRows ?? MaxFileRows,
        MaxFileBytes = destination.MaxFileMb is { } mb ? mb * 1024 * 1024 : MaxFileBytes,
    };
}

/// <summary>A finished Parquet file waiting in the spool folder for the lake commit, with the columns it was written with.</summary>
internal sealed record SpooledFile(string LocalPath, Partition Partition, long Rows, long Bytes, ColumnSchema Schema);

/// <summary>A <c>dt=</c> partition: a date, no date (null values: the Hive default partition), or none at all (<c>partition_by: none</c>).</summary>
internal readonly record struct Partition(DateOnly? Date, bool None = false)
{
    public static Partition Unpartitioned => new(null, true);

    // Compared for every record a lane writes: plain field comparisons instead of the generated equality's comparers.
    public bool Equals(Partition other) => Date == other.Date && None == other.None;

    public override int GetHashCode() => HashCode.Combine(Date, None);
}

/// <summary>
/// One stream's writer: buffers shredded rows per partition in <see cref="ColumnBatch"/>es and encodes them on the
/// encoder threads (parsing and encoding overlap on two cores; different partitions' files are encoded at once),
/// rotating files by rows and bytes.
/// Memory is bounded by <see cref="WriteLimits"/>, whatever the input size.
/// </summary>
internal sealed class TableWriter : IAsyncDisposable
{
    private readonly ColumnSchema _schema;
    private readonly PipeCompression _compression;
    /// <summary>
    /// The first file's column encodings, once sampled from a batch large enough to judge: the stream's other files
    /// (its partitions, its next files) take them instead of sampling each (bench/README.md).
    /// </summary>
    private ParquetBatchFile.EncodingChoice? _encodings;
    private readonly WriteLimits _limits;
    private readonly string _spoolDirectory;
    private readonly string _fileStem;
    private readonly bool _flushAsWritten;
    /// <summary>Per parsing lane, the batch each partition's rows go into now (a lane touches only its own).</summary>
    private readonly Dictionary<Partition, ColumnBatch>[] _batches;
    /// <summary>
    /// Per lane, the open batches of dated partitions by day (<see cref="DaySlot"/>, <see cref="DayWindow"/>): rows of partitions taking turns
    /// (a date-time column over a few weeks, records in no date order) find their batch by one index, not a hash lookup.
    /// </summary>
    private readonly ColumnBatch?[]?[] _byDay;
    /// <summary>Per lane, the days <see cref="_byDay"/> covers, around the lane's first dated row.</summary>
    private readonly DayWindow[] _days;
    /// <summary>Per lane, the partitions whose first cut was staggered (<see cref="ReserveSideBySide"/>).</summary>
    private readonly HashSet<Partition>[] _staggered;
    /// <summary>Per lane, the batch it asked for last: rows of one partition in a row skip the dictionary.</summary>
    private readonly (Partition Partition, ColumnBatch? Batch)[] _lastBatch;
    private readonly BufferBudget _budget;
    private readonly Stack<ColumnBatch> _spares = new();
    /// <summary>
    /// Batches handed over and not encoded yet, oldest first. Row groups of one partition's file are encoded one after
    /// another, in the order sent; different partitions' files are encoded at once, on up to <see cref="_maxEncoders"/>
    /// encoder threads (each running <see cref="EncodeQueued"/> while there is work it may take).
    /// </summary>
    private readonly List<Queued> _queued = [];
    /// <summary>Partitions whose row group is being encoded now: their next one waits.</summary>
    private readonly HashSet<Partition> _encodingNow = [];
    private readonly List<Task> _encoders = [];
    private readonly int _maxEncoders;
    /// <summary>Batches sent and not encoded yet (queued or being encoded).</summary>
    private int _unencoded;
    /// <summary>The first encoding failure: later sends and <see cref="CompleteAsync"/> rethrow it.</summary>
    private Exception? _failure;
    /// <summary>Guards the queue, the files' bookkeeping below and the counts above; waits are pulsed on it.</summary>
    private readonly object _gate = new();
    // Files, under _gate: a partition's file is written only by the encoder thread that holds its partition in _encodingNow.
    private readonly Dictionary<Partition, ParquetBatchFile> _open = [];
    private readonly List<Partition> _openOrder = [];
    private readonly List<SpooledFile> _done = [];
    private int _fileSeq;
    private int _batchesSent;
    /// <summary>Set when the input has ended: from then on a row group encoded alone has its columns encoded on two threads.</summary>
    private volatile bool _parsingEnded;

    private readonly record struct Queued(Partition Partition, ColumnBatch Batch, SendReason Reason, long HandedOver);
    /// <summary>
    /// The lanes' first batches are an eighth of the size (no smaller than 4096 rows or 1 MiB unless the limits are):
    /// the encoder starts while parsing is still warming up, instead of idling until full batches arrive together.
    /// </summary>
    private readonly int _firstBatchRows;
    private readonly long _firstBatchBytes;
    /// <summary>
    /// Rows and bytes at which a batch is handed over: the limits' batch size, capped by the file limits, so one row
    /// group always fits in a file and <see cref="WriteLimits.MaxFileRows"/> / <see cref="WriteLimits.MaxFileBytes"/> are limits.
    /// </summary>
    private readonly int _batchRows;
    private readonly long _batchBytes;
    /// <summary>Rows between checks of a batch's bytes: every 16 when files are small, so one batch cannot overshoot its share.</summary>
    private readonly int _bytesCheckMask;

    /// <summary>A writer for one stream; <c>budget</c> is the run's budget of buffered rows, shared by all its writers (null: one of its own).</summary>
    public TableWriter(ColumnSchema schema, PipeCompression compression, WriteLimits limits, string spoolDirectory, string fileStem,
        bool flushAsWritten, BufferBudget? budget = null)
    {
        _budget = budget ?? new BufferBudget(limits);
        _flushAsWritten = flushAsWritten;
        _schema = schema;
        _compression = compression;
        _limits = limits;
        _spoolDirectory = spoolDirectory;
        _fileStem = fileStem;
        Shredders = Enumerable.Range(0, limits.ParseLanes).Select(_ => new RecordShredder()).ToArray();
        _batches = Enumerable.Range(0, limits.ParseLanes).Select(_ => new Dictionary<Partition, ColumnBatch>()).ToArray();
        _lastBatch = new (Partition, ColumnBatch?)[limits.ParseLanes];
        _byDay = new ColumnBatch?[]?[limits.ParseLanes];
        _days = new DayWindow[limits.ParseLanes];
        _staggered = [.. Enumerable.Range(0, limits.ParseLanes).Select(_ => new HashSet<Partition>())];
        _staging = new PartitionStaging?[limits.ParseLanes];
        _stageable = limits.StagePartitionedRows && PartitionStaging.Takes(schema);
        _batchRows = (int)Math.Clamp(limits.MaxFileRows, 1, limits.BatchRows);
        // An eighth of the file limit per row group: a file then fills to about 7/8 of the limit before the next row
        // group (counted at its unencoded size, which bounds its encoded size) would cross it.
        _batchBytes = Math.Clamp(limits.MaxFileBytes / 8, 1, limits.BatchBytes);
        _bytesCheckMask = limits.MaxFileBytes < 64L * 1024 * 1024 ? 15 : 1023;
        _firstBatchRows = Math.Min(_batchRows, Math.Max(limits.BatchRows / 8, Math.Min(limits.BatchRows, 4096)));
        _firstBatchBytes = Math.Min(_batchBytes, Math.Max(limits.BatchBytes / 8, Math.Min(limits.BatchBytes, 1L << 20)));
        // Never more encoders than open files: a file is closed for a new one only when no thread is writing it.
        _maxEncoders = Math.Max(1, Math.Min(EncoderThreads.Shared.MaximumConcurrencyLevel, limits.MaxOpenFiles));
    }

    public ColumnSchema Schema => _schema;
    /// <summary>Where the partition of each row taken is noted, in input order (a merged stream partitioned by a column); null: nowhere.</summary>
    public PartitionArrivals? Arrivals { get; init; }
    /// <summary>One shredder per parsing lane.</summary>
    public RecordShredder[] Shredders { get; }
    public long FilesWritten => Volatile.Read(ref _filesWritten);
    public long BytesWritten => Volatile.Read(ref _bytesWritten);
    private long _filesWritten;
    private long _bytesWritten;

    /// <summary>The batch that <paramref name="lane"/>'s rows of <paramref name="partition"/> go into now.</summary>
    public ColumnBatch BatchFor(int lane, Partition partition)
    {
        ref var last = ref _lastBatch[lane];
        if (last.Batch is not null && last.Partition == partition) return last.Batch;
        var byDay = _byDay[lane];
        var day = DaySlot(lane, partition);
        if (byDay is not null && (uint)day < DaySlots && byDay[day] is { } cached)
        {
            last = (partition, cached);
            return cached;
        }
        var batches = _batches[lane];
        if (!batches.TryGetValue(partition, out var batch))
        {
            batch = Rent();
            batches[partition] = batch;
            _budget.Opened(lane, this, partition, batch);
        }
        // Made once a lane has two partitions open: a stream of one partition (or many streams of one) needs none.
        if (byDay is null && batches.Count > 1) byDay = _byDay[lane] = new ColumnBatch?[DaySlots];
        if (byDay is not null && (uint)day < DaySlots) byDay[day] = batch;
        last = (partition, batch);
        return batch;
    }

    private const int DaySlots = DayWindow.Size;

    /// <summary>The partition's slot in <see cref="_byDay"/>; -1 when it has none (no date, or one outside the lane's window).</summary>
    private int DaySlot(int lane, Partition partition) => partition.Date is { } date ? _days[lane].IndexOf(date.DayNumber) : -1;

    /// <summary>
    /// Called after each accepted row: hands a full batch to the encoder (waiting while it is busy: back-pressure), and
    /// keeps the run within its budget of buffered rows (<see cref="BufferBudget"/>). True when a batch of the lane was
    /// handed over: the batches it had asked for may no longer be current.
    /// </summary>
    public bool RowAdded(int lane, Partition partition, ColumnBatch batch)
    {
        Arrivals?.Add(partition);
        if (SendIfDue(lane, partition, batch, checkBytes: (batch.Rows & _bytesCheckMask) == 0))
        {
            _budget.RowAdded(lane, batch);
            return true;
        }
        return _budget.RowAdded(lane, batch);
    }

    /// <summary>
    /// The checks of a batch that took rows: sized for the cut when it reaches <see cref="ReserveAtRows"/> beside
    /// others, handed over when it reaches its cut or is full (its bytes looked at only when <paramref name="checkBytes"/>:
    /// summing its columns for every row would cost more than the check is worth). True when it was handed over.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool SendIfDue(int lane, Partition partition, ColumnBatch batch, bool checkBytes)
    {
        var first = Volatile.Read(ref _batchesSent) < _batches.Length;
        if (batch.Rows == ReserveAtRows && _batches[lane].Count > 1) ReserveSideBySide(lane, partition, batch, first ? _firstBatchRows : _batchRows);
        if (batch.Rows >= batch.SendAtRows)
        {
            Send(lane, partition, batch, SendReason.Cut);
            return true;
        }
        if (batch.Rows >= (first ? _firstBatchRows : _batchRows) || (checkBytes && batch.EstimatedBytes >= (first ? _firstBatchBytes : _batchBytes)))
        {
            Send(lane, partition, batch, SendReason.Full);
            return true;
        }
        return false;
    }

    /// <summary>
    /// Rows <paramref name="batch"/> of <paramref name="lane"/> may take before one of <see cref="RowAdded"/>'s checks of
    /// it is due (it is sized, cut or full): rows added in bulk (<see cref="PartitionStaging"/>) stop there.
    /// </summary>
    internal int RowsBeforeCheck(int lane, ColumnBatch batch)
    {
        var first = Volatile.Read(ref _batchesSent) < _batches.Length;
        var limit = Math.Min(batch.SendAtRows, first ? _firstBatchRows : _batchRows);
        if (batch.Rows < ReserveAtRows) limit = Math.Min(limit, ReserveAtRows);
        return Math.Max(limit - batch.Rows, 1);
    }

    /// <summary>
    /// <see cref="RowAdded"/> for <paramref name="rows"/> rows added at once (no more than <see cref="RowsBeforeCheck"/>
    /// allowed), but for the budget: <see cref="BudgetRowsAdded"/> counts a bulk move's rows across its batches.
    /// </summary>
    internal void RowsAdded(int lane, Partition partition, ColumnBatch batch, int rows)
    {
        if (!SendIfDue(lane, partition, batch, checkBytes: true)) batch.LastRowAt = _budget.LaneRows(lane) + rows;
    }

    /// <summary>Rows <paramref name="lane"/> may take before the budget looks at its batches.</summary>
    internal int RowsBeforeBudgetCheck(int lane) => _budget.RowsBeforeCheck(lane);

    /// <summary>Counts rows a lane added in bulk (<see cref="PartitionStaging"/>) and keeps the lane within its share.</summary>
    internal void BudgetRowsAdded(int lane, int rows) => _budget.RowsAdded(lane, rows);

    /// <summary>
    /// The staging of <paramref name="lane"/>'s rows of a stream partitioned by leaf <paramref name="partitionLeaf"/>
    /// (<see cref="PartitionStaging"/>); null when its batches hold lists.
    /// </summary>
    internal PartitionStaging? StagingFor(int lane, int partitionLeaf)
    {
        if (_staging[lane] is { } staging) return staging;
        return _stageable ? _staging[lane] = new PartitionStaging(_schema, partitionLeaf, _budget.Arrays) : null;
    }

    /// <summary>Per lane, its staging of partitioned rows (<see cref="StagingFor"/>), while the stream takes rows.</summary>
    private readonly PartitionStaging?[] _staging;
    private readonly bool _stageable;

    /// <summary>Rows at which a batch filling beside others of this writer is sized for the rows it will reach (below the 1024 it starts with).</summary>
    private const int ReserveAtRows = 1000;

    /// <summary>
    /// The fewest rows of a row group cut at a share of the budget (<see cref="ReserveSideBySide"/>): below it, smaller
    /// row groups would cost file size, and the budget flushes the largest batches instead.
    /// </summary>
    private const int SideBySideFloorRows = 4096;

    /// <summary>
    /// Partitions filling side by side would be flushed by the budget at about an even split of the lane's share each.
    /// A batch that is one of them is instead sized once, at <see cref="ReserveAtRows"/>, for the largest power of two
    /// of rows within that split plus a quarter (they do not fill quite evenly; the budget flushes the largest if they
    /// pass it together), less one: the pooled arrays are powers of two, so they hold exactly that, no slack. It is handed
    /// over as a row group of its partition's file when it reaches it: row groups reach the encoder all along the
    /// input rather than in bursts when the budget is passed, and the arrays held are about the budget, not twice it.
    /// A split below <see cref="SideBySideFloorRows"/> rows (many partitions, wide rows) sizes the batch for the
    /// split plus a quarter and leaves the cut to the budget; past it, it doubles as any batch.
    /// </summary>
    private void ReserveSideBySide(int lane, Partition partition, ColumnBatch batch, int fullRows)
    {
        var bytesPerRow = Math.Max(batch.EstimatedBytes / batch.Rows, 1);
        var shareRows = _budget.ShareOfEachBatch(lane) / bytesPerRow;
        // Compared with the stream's batches, not its first (smaller) ones: the first batches of partitions filling side
        // by side reach this point together, before any was sent, and must be cut as the ones after them.
        if (shareRows >= SideBySideFloorRows && shareRows < _batchRows)
        {
            // One row less than the power of two: a string column's offsets hold one entry more than its values.
            var rows = (int)Math.Min((1L << BitOperations.Log2((ulong)(shareRows * 5 / 4))) - 1, int.MaxValue);
            _cutSpares = Math.Max(_batches[lane].Count, _limits.ParseLanes);
            // A spare (a batch cut before, encoded since) has arrays of that size already: they replace the small ones.
            // (A batch taken from the spares when it was opened has them already.)
            if (batch.Columns.Length > 0 && batch.Columns[0].Def.Length < rows)
            {
                if (TryTakeSpare() is { } spare)
                {
                    batch.TakeLargerArrays(spare);
                    spare.Release();
                }
                else CutsWithNewArrays++;
            }
            batch.Reserve(Math.Min(rows, fullRows));
            batch.SendAtRows = rows;
            // Partitions filling side by side at the same pace would all be cut at once, every time: a burst the
            // encoders take while the lane waits for them (the budget's hand-over limit), then the lane alone. Their
            // first cuts are spread over the rows between here and a full cut, so that their row groups keep reaching
            // the encoders one after another (bench/README.md, partitioned).
            var side = _batches[lane].Count;
            var staggered = _staggered[lane];
            if (staggered.Add(partition))
                batch.SendAtRows = batch.Rows + (int)((long)(rows - batch.Rows) * (staggered.Count % side + 1) / side);
            return;
        }
        var rowsWithSlack = (int)Math.Min(fullRows, shareRows * 5 / 4);
        if (rowsWithSlack >= 4 * ReserveAtRows) batch.Reserve(rowsWithSlack);
    }

    /// <summary>
    /// Hands <paramref name="lane"/>'s batch of <paramref name="partition"/> to the encoder before it is full (the run's
    /// budget asks). A retired batch's partition has had no row for a while: its file is finished after the row group,
    /// and when the writer holds no other batch its spare buffers go too, so a finished stream keeps no memory.
    /// </summary>
    public void FlushEarly(int lane, Partition partition, bool retire)
    {
        if (_batches[lane].TryGetValue(partition, out var batch)) Send(lane, partition, batch, retire ? SendReason.Retire : SendReason.Early);
        if (retire && _batches.All(b => b.Count == 0))
        {
            ReleaseSpares(quiet: true);
            // A staging holding rows is being filled or moved by this lane right now (the budget looked from inside it).
            if (_staging[lane] is { Batch.Rows: 0 } staging)
            {
                staging.Release();
                _staging[lane] = null;
            }
        }
    }

    /// <summary>Why a batch goes to the encoder: what happens to its buffers and its file afterwards.</summary>
    private enum SendReason
    {
        /// <summary>Full: its buffers are kept for the stream's next batch.</summary>
        Full,
        /// <summary>Flushed early for the budget: smaller than the stream's batches, its buffers are released.</summary>
        Early,
        /// <summary>
        /// Cut at its share of the budget among partitions filling side by side: its buffers, sized for that cut, are
        /// kept for a partition's next batch (arrays sized for a cut are taken again at once; the shared pool, returned
        /// to on the encoder threads and rented from on the lanes, gave most of them back as new arrays, measured).
        /// </summary>
        Cut,
        /// <summary>Flushed early and its partition's file finished (no row for a while).</summary>
        Retire,
        /// <summary>The end of the stream: everything is finished next.</summary>
        Complete,
    }

    private void Send(int lane, Partition partition, ColumnBatch batch, SendReason reason)
    {
        _batches[lane].Remove(partition);
        var day = DaySlot(lane, partition);
        if (_byDay[lane] is { } byDay && (uint)day < DaySlots) byDay[day] = null;
        _budget.Closed(lane, batch);
        if (ReferenceEquals(_lastBatch[lane].Batch, batch)) _lastBatch[lane] = default;
        if (batch.Rows == 0)
        {
            if (reason is SendReason.Full or SendReason.Complete) Return(batch, _limits.ParseLanes);
            else batch.Release();
            return;
        }
        Interlocked.Increment(ref _batchesSent);
        // A batch flushed early counts against the run's budget until it is encoded; a full one waits below instead.
        var handedOver = reason is SendReason.Early or SendReason.Retire or SendReason.Cut ? batch.EstimatedBytes : 0;
        if (handedOver > 0) _budget.HandingOver(handedOver);
        lock (_gate)
        {
            // A full batch waits for the batches sent before it, on purpose: parsing slows down when the encoder is
            // behind (back-pressure; a stream holds one batch filling and one encoding). Batches flushed early are
            // bounded by the budget instead, so that a burst of partitions flushed together is encoded while parsing
            // goes on, on every encoder thread; at the end nothing more is parsed, so nothing waits.
            if (reason == SendReason.Full) EncoderBehind = _unencoded > 0 && _failure is null;
            if (reason == SendReason.Full && _unencoded > 0 && _failure is null)
            {
                if (StageTimeline.Enabled) StageTimeline.Mark("send.wait");
                while (_unencoded > 0 && _failure is null) Monitor.Wait(_gate);
            }
            if (_failure is not null)
            {
                if (handedOver > 0) _budget.Encoded(handedOver);
                ExceptionDispatchInfo.Throw(_failure);
            }
            if (StageTimeline.Enabled) StageTimeline.Mark("send", batch.Rows);
            _queued.Add(new Queued(partition, batch, reason, handedOver));
            _unencoded++;
            if (_encoders.Count < _maxEncoders && !_encodingNow.Contains(partition)) StartEncoder();
        }
    }

    /// <summary>Estimated bytes a run's last row group must reach to be encoded on two threads.</summary>
    private const long TwoThreadsMinBytes = 64 * 1024;

    /// <summary>Starts one more encoder thread on the queue (under <see cref="_gate"/>).</summary>
    private void StartEncoder() => _encoders.Add(EncoderThreads.Shared.Run(EncodeQueued));

    /// <summary>
    /// Encodes queued batches, the oldest first whose partition no other thread is encoding, until none is left that it
    /// may take; a failure stops every encoder of the writer and is rethrown to the lanes.
    /// </summary>
    private void EncodeQueued()
    {
        Queued? taken = null;
        while (true)
        {
            bool alone;
            lock (_gate)
            {
                if (taken is { } done)
                {
                    _encodingNow.Remove(done.Partition);
                    _unencoded--;
                    Monitor.PulseAll(_gate);
                }
                var next = _failure is null ? _queued.FindIndex(q => !_encodingNow.Contains(q.Partition)) : -1;
                if (next < 0)
                {
                    _encoders.RemoveAll(t => t.Id == Task.CurrentId);
                    Monitor.PulseAll(_gate);
                    return;
                }
                taken = _queued[next];
                _queued.RemoveAt(next);
                _encodingNow.Add(taken.Value.Partition);
                MostEncodingAtOnce = Math.Max(MostEncodingAtOnce, _encodingNow.Count);
                // The last row group left: its columns go on two threads, as nothing else keeps the other one busy; not
                // a small one, which the hand-off to the other thread and the wait for it cost more than it saves (a tap
                // syncing many tables of a few rows finishes them one after another).
                alone = _parsingEnded && _queued.Count == 0 && _encodingNow.Count == 1
                    && taken.Value.Batch.EstimatedBytes >= TwoThreadsMinBytes;
            }
            var item = taken.Value;
            try
            {
                if (_failure is null) Encode(item.Partition, item.Batch, item.Reason, alone);
            }
            catch (Exception e)
            {
                Fail(e);
            }
            finally
            {
                if (item.HandedOver > 0) _budget.Encoded(item.HandedOver);
            }
        }
    }

    /// <summary>
    /// Records the first failure and drops the queued batches: their bytes leave the budget at once, so no lane of
    /// another writer waits for them, and the lanes of this one get the failure at their next send.
    /// </summary>
    private void Fail(Exception e)
    {
        lock (_gate)
        {
            _failure ??= e;
            foreach (var queued in _queued)
            {
                if (queued.HandedOver > 0) _budget.Encoded(queued.HandedOver);
                queued.Batch.Release();
            }
            _unencoded -= _queued.Count;
            _queued.Clear();
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Encodes everything buffered and finishes every file; returns the files, complete on disk.</summary>
    public async Task<IReadOnlyList<SpooledFile>> CompleteAsync()
    {
        _parsingEnded = true;
        StageTimeline.Mark("complete.start");
        for (var lane = 0; lane < _staging.Length; lane++)
        {
            _staging[lane]?.MoveToPartitions(this, lane);
            _staging[lane]?.Release();
            _staging[lane] = null;
        }
        for (var lane = 0; lane < _batches.Length; lane++)
            foreach (var (partition, batch) in _batches[lane].ToList()) Send(lane, partition, batch, SendReason.Complete);
        await EncodersDoneAsync().ConfigureAwait(false);
        if (_failure is not null) ExceptionDispatchInfo.Throw(_failure);
        foreach (var partition in _open.Keys.ToList()) Finish(partition);
        ReleaseSpares(quiet: true);
        StageTimeline.Mark("complete.end");
        // In partition order, then as written: the same list whichever encoder thread finished a file first.
        return _done.OrderBy(f => f.Partition.None).ThenBy(f => f.Partition.Date).ToList();
    }

    /// <summary>
    /// Moves the rows buffered here into <paramref name="wider"/>, a new writer of the same stream whose schema keeps every
    /// column of this one (same path, type and levels) and only adds nullable top-level columns, null in the moved rows:
    /// a SCHEMA that only adds columns (a tap discovering new keys) then goes on filling the same file instead of
    /// finishing one file per SCHEMA, each of which would write every column so far. Done only while no row group was
    /// handed to the encoders and no column sits in a list; false (nothing moved) otherwise. This writer is left empty,
    /// to be completed as usual.
    /// </summary>
    public bool TryMoveRowsTo(TableWriter wider)
    {
        if (BeforeEncode is not null || wider.BeforeEncode is not null) return false;
        var sourceOf = WidenedColumns(_schema, wider._schema);
        if (sourceOf is null) return false;
        for (var lane = 0; lane < _staging.Length; lane++) _staging[lane]?.MoveToPartitions(this, lane);
        lock (_gate)
            if (Volatile.Read(ref _batchesSent) > 0 || _open.Count > 0 || _done.Count > 0) return false;
        for (var lane = 0; lane < _batches.Length; lane++)
        {
            foreach (var (partition, batch) in _batches[lane])
            {
                if (batch.Rows == 0) continue;
                var target = wider.BatchFor(lane, partition);
                for (var c = 0; c < target.Columns.Length; c++)
                {
                    if (sourceOf[c] >= 0) target.Columns[c].SwapContents(batch.Columns[sourceOf[c]]);
                    else for (var r = 0; r < batch.Rows; r++) target.Columns[c].AddNull(0, 0);
                }
                target.Rows = batch.Rows;
                target.LastRowAt = batch.LastRowAt;
                batch.Clear();
            }
        }
        return true;
    }

    /// <summary>
    /// For each leaf of <paramref name="wider"/>, the index of the same leaf in <paramref name="narrower"/>, or -1 for a
    /// nullable top-level column it adds; null when <paramref name="wider"/> is not such a widening (a column dropped or
    /// retyped, one added inside a struct, or a list anywhere).
    /// </summary>
    private static int[]? WidenedColumns(ColumnSchema narrower, ColumnSchema wider)
    {
        if (narrower.Leaves.Any(l => l.RepLevel > 0) || wider.Leaves.Any(l => l.RepLevel > 0)) return null;
        var byPath = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < narrower.Leaves.Count; i++) byPath[string.Join('\0', narrower.Leaves[i].ParquetPath)] = i;
        var sourceOf = new int[wider.Leaves.Count];
        var kept = 0;
        for (var i = 0; i < wider.Leaves.Count; i++)
        {
            var leaf = wider.Leaves[i];
            if (byPath.TryGetValue(string.Join('\0', leaf.ParquetPath), out var old))
            {
                var was = narrower.Leaves[old];
                if (was.Kind != leaf.Kind || was.Scale != leaf.Scale || was.ExactIntegers != leaf.ExactIntegers || was.Nullable != leaf.Nullable
                    || was.DefLevel != leaf.DefLevel || was.Type != leaf.Type || was.ArrowType != leaf.ArrowType)
                    return null;
                sourceOf[i] = old;
                kept++;
            }
            else if (leaf.ParquetPath.Length == 1 && leaf.Nullable && leaf.DefLevel == 1) sourceOf[i] = -1;
            else return null;
        }
        return kept == narrower.Leaves.Count ? sourceOf : null;
    }

    /// <summary>
    /// Called on the encoder thread with each batch before it is encoded: writes values whose final form the parsing
    /// thread left to it (a typed map's <c>hash:</c> digests, <see cref="Transforms.TypedStreamMap.DeferredHashes"/>).
    /// </summary>
    public Action<ColumnBatch>? BeforeEncode { get; set; }

    /// <summary>
    /// Whether the last batch handed over had to wait for the one before it to be encoded: the encoder has no time to
    /// spare, so work that could go to it (<see cref="BeforeEncode"/>) is better done by the parsing lane meanwhile.
    /// </summary>
    public bool EncoderBehind { get; private set; }

    /// <summary>Waits until no encoder thread of this writer is running (the queue is empty or failed).</summary>
    private async Task EncodersDoneAsync()
    {
        while (true)
        {
            Task[] running;
            lock (_gate) running = [.. _encoders];
            if (running.Length == 0) return;
            await Task.WhenAll(running).ConfigureAwait(false);
        }
    }

    private void Encode(Partition partition, ColumnBatch batch, SendReason reason, bool onTwoThreads)
    {
        BeforeEncode?.Invoke(batch);
        // A batch larger than a whole file (its bytes are checked every few rows, and rows may be large) is cut
        // between files instead, filling the open one first.
        if (batch.Rows > 1 && batch.EstimatedBytes > _limits.MaxFileBytes)
        {
            WriteAcrossFiles(partition, batch);
            Done(partition, batch, reason);
            return;
        }
        // Rotate before a row group that would take the file past a limit (its unencoded size bounds what it adds).
        ParquetBatchFile? current;
        lock (_gate) _open.TryGetValue(partition, out current);
        if (current is not null && current.Rows > 0
            && (current.Rows + batch.Rows > _limits.MaxFileRows || current.BytesWritten + batch.EstimatedBytes > _limits.MaxFileBytes))
            Finish(partition);
        var file = FileFor(partition, batch);
        // A batch retired or sent at the end is the last row group of its file (or one of the last, a batch per lane).
        var last = reason is SendReason.Retire or SendReason.Complete;
        if (onTwoThreads) file.WriteRowGroupOnTwoThreads(batch, last);
        else file.WriteRowGroup(batch, last);
        Done(partition, batch, reason);
    }

    /// <summary>
    /// Writes a batch larger than <see cref="WriteLimits.MaxFileBytes"/> as row groups of the rows that fit each file,
    /// finishing a file before the rows that would take it past the limit: a row larger than the limit goes alone into
    /// a file of its own (counted in <see cref="RowsOverFileLimit"/>).
    /// </summary>
    private void WriteAcrossFiles(Partition partition, ColumnBatch batch)
    {
        var rowBytes = batch.RowBytes();
        var cursors = new (int Level, int Value)[batch.Columns.Length];
        var from = 0;
        while (from < batch.Rows)
        {
            ParquetBatchFile? current;
            lock (_gate) _open.TryGetValue(partition, out current);
            var room = _limits.MaxFileBytes - (current?.BytesWritten ?? 0);
            var last = (int)Math.Min(batch.Rows, from + _limits.MaxFileRows - (current?.Rows ?? 0));
            var to = from;
            for (long bytes = 0; to < last && bytes + rowBytes[to] <= room; to++) bytes += rowBytes[to];
            if (to == from)
            {
                if (current is { Rows: > 0 })
                {
                    Finish(partition);
                    continue;
                }
                to = from + 1;
                Interlocked.Increment(ref _rowsOverFileLimit);
            }
            var file = FileFor(partition, batch);
            file.WriteRows(batch, from, to, cursors);
            from = to;
            if (from < batch.Rows || Math.Max(new FileInfo(file.Path).Length, file.BytesWritten) >= _limits.MaxFileBytes) Finish(partition);
        }
    }

    /// <summary>Rows larger than <see cref="WriteLimits.MaxFileBytes"/> on their own, each written to a file of its own.</summary>
    public long RowsOverFileLimit => Interlocked.Read(ref _rowsOverFileLimit);
    private long _rowsOverFileLimit;

    /// <summary>The limits the writer's files are rotated by.</summary>
    public WriteLimits Limits => _limits;

    /// <summary>After a batch's rows are written: its buffers kept or released, its file finished when full or retired.</summary>
    private void Done(Partition partition, ColumnBatch batch, SendReason reason)
    {
        if (reason is SendReason.Full or SendReason.Complete or SendReason.Cut) Return(batch, reason == SendReason.Cut ? _cutSpares : _limits.ParseLanes);
        else batch.Release();
        ParquetBatchFile? file;
        lock (_gate) _open.TryGetValue(partition, out file);
        if (file is null) return;
        var size = Math.Max(new FileInfo(file.Path).Length, file.BytesWritten);
        if (reason == SendReason.Retire || file.Rows >= _limits.MaxFileRows || size >= _limits.MaxFileBytes) Finish(partition);
    }

    /// <summary>The partition's open file, or a new one (closing the least recently used file no thread is writing, past the limit).</summary>
    private ParquetBatchFile FileFor(Partition partition, ColumnBatch batch)
    {
        ParquetBatchFile? evicted = null;
        Partition evictedPartition = default;
        string path;
        lock (_gate)
        {
            if (_open.TryGetValue(partition, out var file))
            {
                _openOrder.Remove(partition);
                _openOrder.Add(partition);
                return file;
            }
            // This thread holds its own partition, so fewer than _maxEncoders <= MaxOpenFiles files are being written:
            // one open file is free to close, and it leaves the open files now (its partition's next row group, taken
            // by another thread meanwhile, starts a new file).
            if (_open.Count >= _limits.MaxOpenFiles)
            {
                evictedPartition = _openOrder.First(p => !_encodingNow.Contains(p));
                evicted = Detach(evictedPartition);
            }
            path = Path.Combine(_spoolDirectory, $"{_fileStem}-{_fileSeq++:D5}.parquet.part");
        }
        if (evicted is not null) Close(evicted, evictedPartition);
        Directory.CreateDirectory(_spoolDirectory);
        var encodings = Volatile.Read(ref _encodings) ?? ParquetBatchFile.ChooseEncodings(batch);
        if (encodings.FromFullSample) Interlocked.CompareExchange(ref _encodings, encodings, null);
        var created = new ParquetBatchFile(path, _schema, _compression, encodings, _flushAsWritten);
        lock (_gate)
        {
            _open[partition] = created;
            _openOrder.Add(partition);
        }
        return created;
    }

    /// <summary>Finishes the partition's file; called by the thread that holds the partition, or when no encoder runs.</summary>
    private void Finish(Partition partition)
    {
        ParquetBatchFile file;
        lock (_gate) file = Detach(partition);
        Close(file, partition);
    }

    /// <summary>Takes the partition's file out of the open ones (under <see cref="_gate"/>).</summary>
    private ParquetBatchFile Detach(Partition partition)
    {
        var file = _open[partition];
        _open.Remove(partition);
        _openOrder.Remove(partition);
        return file;
    }

    /// <summary>Writes a detached file's footer and adds it to the finished files.</summary>
    private void Close(ParquetBatchFile file, Partition partition)
    {
        try
        {
            file.Close();
        }
        finally
        {
            // Also when the footer fails (a full disk): the native file must not stay open, holding its space.
            file.Dispose();
        }
        var bytes = new FileInfo(file.Path).Length;
        lock (_gate) _done.Add(new SpooledFile(file.Path, partition, file.Rows, bytes, _schema));
        Interlocked.Increment(ref _filesWritten);
        Interlocked.Add(ref _bytesWritten, bytes);
    }

    /// <summary>Batches sized for a cut with new arrays, there being no spare to take them from (for tests).</summary>
    internal int CutsWithNewArrays { get; private set; }

    /// <summary>The most row groups of this writer encoded at once so far (for tests).</summary>
    internal int MostEncodingAtOnce { get; private set; }

    /// <summary>Bytes of buffers this writer holds (its open batches' arrays and its spares); for tests, read when the lanes are quiet.</summary>
    internal long RetainedBytes
    {
        get
        {
            long total = 0;
            foreach (var batches in _batches)
                foreach (var batch in batches.Values) total += batch.CapacityBytes;
            lock (_spares)
                foreach (var batch in _spares) total += batch.CapacityBytes;
            return total;
        }
    }

    private ColumnBatch Rent()
    {
        lock (_spares)
        {
            _quiet = false;
            if (_spares.TryPop(out var batch)) return batch;
        }
        return new ColumnBatch(_schema, _budget.Arrays);
    }

    /// <summary>
    /// Spare batches kept from cut ones: as many as batches were filling side by side when the last cut was sized, so
    /// that partitions cut at about the same time all find one for their next batch. Bounded by the budget: a batch
    /// takes a spare's arrays when it is sized, so the cut-size arrays of the spares and of the open batches together
    /// are about one per partition.
    /// </summary>
    private volatile int _cutSpares;

    private ColumnBatch? TryTakeSpare()
    {
        lock (_spares) return _spares.TryPop(out var spare) ? spare : null;
    }

    private void Return(ColumnBatch batch, int spares)
    {
        batch.Clear();
        lock (_spares)
            if (!_quiet && _spares.Count < spares)
            {
                _spares.Push(batch);
                return;
            }
        batch.Release();
    }

    /// <summary>
    /// Releases the spare batches; <paramref name="quiet"/>: the writer has no batch open (retired), so batches still
    /// being encoded are released too when done, until it takes rows again.
    /// </summary>
    private void ReleaseSpares(bool quiet = false)
    {
        lock (_spares)
        {
            _quiet = quiet;
            while (_spares.TryPop(out var spare)) spare.Release();
        }
    }

    /// <summary>No batch of the writer is open (under the lock of <see cref="_spares"/>).</summary>
    private bool _quiet;

    public async ValueTask DisposeAsync()
    {
        // Encoders catch their failures (reported through Send or CompleteAsync); a run being abandoned stops them.
        Fail(new OperationCanceledException("the stream's writer was disposed"));
        await EncodersDoneAsync().ConfigureAwait(false);
        lock (_gate)
        {
            foreach (var f in _open.Values) f.Dispose();
            _open.Clear();
        }
    }
}
