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
}

/// <summary>A finished Parquet file waiting in the spool folder for the lake commit.</summary>
internal sealed record SpooledFile(string LocalPath, Partition Partition, long Rows, long Bytes);

/// <summary>A <c>dt=</c> partition: a date, no date (null values: the Hive default partition), or none at all (<c>partition_by: none</c>).</summary>
internal readonly record struct Partition(DateOnly? Date, bool None = false)
{
    public static Partition Unpartitioned => new(null, true);

    // Compared for every record a lane writes: plain field comparisons instead of the generated equality's comparers.
    public bool Equals(Partition other) => Date == other.Date && None == other.None;

    public override int GetHashCode() => HashCode.Combine(Date, None);
}

/// <summary>
/// One stream's writer: buffers shredded rows per partition in <see cref="ColumnBatch"/>es and encodes full batches
/// on a background task (parsing and encoding overlap on two cores), rotating files by rows and bytes.
/// Memory is bounded by <see cref="WriteLimits"/>, whatever the input size.
/// </summary>
internal sealed class TableWriter : IAsyncDisposable
{
    private readonly ColumnSchema _schema;
    private readonly PipeCompression _compression;
    private readonly WriteLimits _limits;
    private readonly string _spoolDirectory;
    private readonly string _fileStem;
    private readonly bool _flushAsWritten;
    /// <summary>Per parsing lane, the batch each partition's rows go into now (a lane touches only its own).</summary>
    private readonly Dictionary<Partition, ColumnBatch>[] _batches;
    /// <summary>Per lane, the batch it asked for last: rows of one partition in a row skip the dictionary.</summary>
    private readonly (Partition Partition, ColumnBatch? Batch)[] _lastBatch;
    private readonly BufferBudget _budget;
    private readonly Lock _sendLock = new();
    private readonly Stack<ColumnBatch> _spares = new();
    /// <summary>The batch being encoded: at most one at a time, so two batches are alive (one filling, one encoding).</summary>
    private Task _encoding = Task.CompletedTask;
    // Encoder-side state: touched by one encoding task at a time, each starting after the previous one ended.
    private readonly Dictionary<Partition, ParquetBatchFile> _open = [];
    private readonly List<Partition> _openOrder = [];
    private readonly List<SpooledFile> _done = [];
    private int _fileSeq;
    private int _batchesSent;
    /// <summary>Set when the input has ended: from then on a row group's columns are encoded on two threads.</summary>
    private volatile bool _parsingEnded;
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
        _batchRows = (int)Math.Clamp(limits.MaxFileRows, 1, limits.BatchRows);
        // An eighth of the file limit per row group: a file then fills to about 7/8 of the limit before the next row
        // group (counted at its unencoded size, which bounds its encoded size) would cross it.
        _batchBytes = Math.Clamp(limits.MaxFileBytes / 8, 1, limits.BatchBytes);
        _bytesCheckMask = limits.MaxFileBytes < 64L * 1024 * 1024 ? 15 : 1023;
        _firstBatchRows = Math.Min(_batchRows, Math.Max(limits.BatchRows / 8, Math.Min(limits.BatchRows, 4096)));
        _firstBatchBytes = Math.Min(_batchBytes, Math.Max(limits.BatchBytes / 8, Math.Min(limits.BatchBytes, 1L << 20)));
    }

    public ColumnSchema Schema => _schema;
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
        var batches = _batches[lane];
        if (!batches.TryGetValue(partition, out var batch))
        {
            batch = Rent();
            batches[partition] = batch;
            _budget.Opened(lane, this, partition, batch);
        }
        last = (partition, batch);
        return batch;
    }

    /// <summary>
    /// Called after each accepted row: hands a full batch to the encoder (waiting while it is busy: back-pressure), and
    /// keeps the run within its budget of buffered rows (<see cref="BufferBudget"/>). True when a batch of the lane was
    /// handed over: the batches it had asked for may no longer be current.
    /// </summary>
    public bool RowAdded(int lane, Partition partition, ColumnBatch batch)
    {
        var first = Volatile.Read(ref _batchesSent) < _batches.Length;
        if (batch.Rows == ReserveAtRows && _batches[lane].Count > 1) ReserveSideBySide(lane, batch, first ? _firstBatchRows : _batchRows);
        if (batch.Rows >= (first ? _firstBatchRows : _batchRows)
            || ((batch.Rows & _bytesCheckMask) == 0 && batch.EstimatedBytes >= (first ? _firstBatchBytes : _batchBytes)))
        {
            Send(lane, partition, batch, SendReason.Full);
            _budget.RowAdded(lane, batch);
            return true;
        }
        return _budget.RowAdded(lane, batch);
    }

    /// <summary>Rows at which a batch filling beside others of this writer is sized for the rows it will reach (below the 1024 it starts with).</summary>
    private const int ReserveAtRows = 1000;

    /// <summary>
    /// Partitions filling side by side are flushed by the budget at about an even split of the lane's share each: a
    /// batch that is one of them grows to that size (a quarter over, as they do not fill quite evenly) in one step,
    /// instead of doubling through sizes that each stay behind in the shared pools. Past it, it doubles as any batch.
    /// </summary>
    private void ReserveSideBySide(int lane, ColumnBatch batch, int fullRows)
    {
        var bytesPerRow = Math.Max(batch.EstimatedBytes / batch.Rows, 1);
        var rows = (int)Math.Min(fullRows, _budget.ShareOfEachBatch(lane) * 5 / 4 / bytesPerRow);
        if (rows >= 4 * ReserveAtRows) batch.Reserve(rows);
    }

    /// <summary>
    /// Hands <paramref name="lane"/>'s batch of <paramref name="partition"/> to the encoder before it is full (the run's
    /// budget asks). A retired batch's partition has had no row for a while: its file is finished after the row group,
    /// and when the writer holds no other batch its spare buffers go too, so a finished stream keeps no memory.
    /// </summary>
    public void FlushEarly(int lane, Partition partition, bool retire)
    {
        if (_batches[lane].TryGetValue(partition, out var batch)) Send(lane, partition, batch, retire ? SendReason.Retire : SendReason.Early);
        if (retire && _batches.All(b => b.Count == 0)) ReleaseSpares();
    }

    /// <summary>Why a batch goes to the encoder: what happens to its buffers and its file afterwards.</summary>
    private enum SendReason
    {
        /// <summary>Full: its buffers are kept for the stream's next batch.</summary>
        Full,
        /// <summary>Flushed early for the budget: smaller than the stream's batches, its buffers are released.</summary>
        Early,
        /// <summary>Flushed early and its partition's file finished (no row for a while).</summary>
        Retire,
        /// <summary>The end of the stream: everything is finished next.</summary>
        Complete,
    }

    private void Send(int lane, Partition partition, ColumnBatch batch, SendReason reason)
    {
        _batches[lane].Remove(partition);
        _budget.Closed(lane, batch);
        if (ReferenceEquals(_lastBatch[lane].Batch, batch)) _lastBatch[lane] = default;
        if (batch.Rows == 0)
        {
            if (reason is SendReason.Full or SendReason.Complete) Return(batch);
            else batch.Release();
            return;
        }
        Interlocked.Increment(ref _batchesSent);
        // A batch flushed early counts against the run's budget until it is encoded (full ones wait below instead).
        var handedOver = reason is SendReason.Early or SendReason.Retire ? batch.EstimatedBytes : 0;
        if (handedOver > 0) _budget.HandingOver(handedOver);
        lock (_sendLock)
        {
            // Wait for the previous batch on purpose: parsing slows down when the encoder is behind
            // (back-pressure), and an encoding failure surfaces here.
            try
            {
                EncoderBehind = !_encoding.IsCompleted;
                if (StageTimeline.Enabled && !_encoding.IsCompleted) StageTimeline.Mark("send.wait");
                _encoding.GetAwaiter().GetResult();
                if (StageTimeline.Enabled) StageTimeline.Mark("send", batch.Rows);
            }
            catch
            {
                if (handedOver > 0) _budget.Encoded(handedOver);
                throw;
            }
            _encoding = EncoderThreads.Shared.Run(() =>
            {
                try
                {
                    Encode(partition, batch, reason);
                }
                finally
                {
                    if (handedOver > 0) _budget.Encoded(handedOver);
                }
            });
        }
    }

    /// <summary>Encodes everything buffered and finishes every file; returns the files, complete on disk.</summary>
    public async Task<IReadOnlyList<SpooledFile>> CompleteAsync()
    {
        _parsingEnded = true;
        StageTimeline.Mark("complete.start");
        for (var lane = 0; lane < _batches.Length; lane++)
            foreach (var (partition, batch) in _batches[lane].ToList()) Send(lane, partition, batch, SendReason.Complete);
        await _encoding.ConfigureAwait(false);
        foreach (var partition in _open.Keys.ToList()) Finish(partition);
        ReleaseSpares();
        StageTimeline.Mark("complete.end");
        return _done;
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

    private void Encode(Partition partition, ColumnBatch batch, SendReason reason)
    {
        try
        {
            BeforeEncode?.Invoke(batch);
            // Rotate before a row group that would take the file past a limit (its unencoded size bounds what it adds).
            if (_open.TryGetValue(partition, out var current) && current.Rows > 0
                && (current.Rows + batch.Rows > _limits.MaxFileRows || current.BytesWritten + batch.EstimatedBytes > _limits.MaxFileBytes))
                Finish(partition);
            var file = FileFor(partition, batch);
            if (_parsingEnded) file.WriteRowGroupOnTwoThreads(batch);
            else file.WriteRowGroup(batch);
            if (reason is SendReason.Full or SendReason.Complete) Return(batch);
            else batch.Release();
            var size = Math.Max(new FileInfo(file.Path).Length, file.BytesWritten);
            if (reason == SendReason.Retire || file.Rows >= _limits.MaxFileRows || size >= _limits.MaxFileBytes) Finish(partition);
        }
        catch
        {
            foreach (var f in _open.Values) f.Dispose();
            _open.Clear();
            throw;
        }
    }

    private ParquetBatchFile FileFor(Partition partition, ColumnBatch batch)
    {
        if (_open.TryGetValue(partition, out var file))
        {
            _openOrder.Remove(partition);
            _openOrder.Add(partition);
            return file;
        }
        if (_open.Count >= _limits.MaxOpenFiles) Finish(_openOrder[0]);
        Directory.CreateDirectory(_spoolDirectory);
        var path = Path.Combine(_spoolDirectory, $"{_fileStem}-{_fileSeq++:D5}.parquet.part");
        file = new ParquetBatchFile(path, _schema, _compression, batch, _flushAsWritten);
        _open[partition] = file;
        _openOrder.Add(partition);
        return file;
    }

    private void Finish(Partition partition)
    {
        var file = _open[partition];
        _open.Remove(partition);
        _openOrder.Remove(partition);
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
        _done.Add(new SpooledFile(file.Path, partition, file.Rows, bytes));
        Interlocked.Increment(ref _filesWritten);
        Interlocked.Add(ref _bytesWritten, bytes);
    }

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
            if (_spares.TryPop(out var batch)) return batch;
        return new ColumnBatch(_schema);
    }

    private void Return(ColumnBatch batch)
    {
        batch.Clear();
        lock (_spares)
            if (_spares.Count < _limits.ParseLanes)
            {
                _spares.Push(batch);
                return;
            }
        batch.Release();
    }

    private void ReleaseSpares()
    {
        lock (_spares)
            while (_spares.TryPop(out var spare)) spare.Release();
    }

    public async ValueTask DisposeAsync()
    {
        try { await _encoding.ConfigureAwait(false); }
        catch (Exception) { /* already reported through CompleteAsync, or the run is being abandoned */ }
        foreach (var f in _open.Values) f.Dispose();
        _open.Clear();
    }
}
