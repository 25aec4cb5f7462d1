namespace DataSpoc.Pipe.Singer;

/// <summary>
/// Reads a Singer stream with parsing lanes: runs of RECORD lines are handed, as chunks, to lanes that parse and shred
/// them in parallel (each lane with its own handler and batches); any other message (SCHEMA, ACTIVATE_VERSION…) is a
/// barrier: every lane finishes first, then it is handled alone, so message order holds. A STATE is checked on its
/// line but held, not a barrier: only the latest one counts (it is saved once the data landed), and a tap may send one
/// after every record, which would otherwise cut the input into chunks of one record. The one held is handed on
/// before the next barrier and at the end, after every record before it. With one lane, chunks are parsed on the
/// reading thread.
/// </summary>
internal sealed class ParallelSingerReader(IReadOnlyList<ISingerHandler> lanes, ISingerHandler control)
{
    /// <summary>Size of the buffers lines are read into; a chunk holds the RECORD lines of one.</summary>
    private const int BufferBytes = 2 * 1024 * 1024;

    /// <summary>
    /// A chunk waiting this long for its buffer to fill is handed to a lane before the next (possibly blocking) read, so
    /// a slow tap's records are parsed and counted as they arrive, not once 2 MB of them have come; so is a younger one
    /// when no input comes within the rest of this time (a tap that sent a batch and went quiet, waiting on a query,
    /// would leave its records uncounted for as long). A fast tap fills a chunk well within it, so its chunks stay whole.
    /// </summary>
    private const long ChunkMaxWaitMs = 200;

    public void ReadAll(SingerLineReader lines, CancellationToken cancellationToken)
    {
        var readers = lanes.Select(h => new SingerMessageReader(h)).ToArray();
        var controlReader = new SingerMessageReader(control);
        var running = new Task?[lanes.Count];
        var chunks = new Chunk?[lanes.Count];
        var spare = new Stack<Chunk>();
        // Lanes parse lines where the line reader put them (no copy): a buffer goes back to the pool once the reader
        // has moved on from it and no chunk points into it any more.
        var users = new Dictionary<byte[], int>(ReferenceEqualityComparer.Instance) { [lines.Buffer] = 1 };
        lines.ExchangeFullBuffer = (full, size) =>
        {
            Release(full);
            var fresh = System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Max(size, BufferBytes));
            users[fresh] = 1;
            return fresh;
        };
        var current = NewChunk(lines.Buffer);
        var heldState = Array.Empty<byte>();
        var heldLength = -1;
        var heldLine = 0L;
        lines.BeforeRead = () =>
        {
            if (current.Count == 0) return;
            var waited = Environment.TickCount64 - current.FirstAddedAt;
            if (waited < ChunkMaxWaitMs && (lines.InputArrivesWithin?.Invoke((int)(ChunkMaxWaitMs - waited)) ?? true)) return;
            Dispatch(current);
            current = NewChunk(lines.Buffer);
        };
        try
        {
            while (lines.TryReadLine(out var line))
            {
                if (IsRecord(line))
                {
                    if (!ReferenceEquals(current.Buffer, lines.Buffer))
                    {
                        if (current.Count > 0) Dispatch(current);
                        else Recycle(current);
                        current = NewChunk(lines.Buffer);
                    }
                    current.Add(lines.LineOffset, line.Length, lines.LineNumber, lines.LastLineUnterminated);
                    continue;
                }
                if (line.Trim(" \t"u8).IsEmpty) continue;
                if (IsState(line) && SingerMessageReader.IsWellFormedState(line))
                {
                    if (heldState.Length < line.Length) heldState = new byte[Math.Max(line.Length, heldState.Length * 2)];
                    line.CopyTo(heldState);
                    heldLength = line.Length;
                    heldLine = lines.LineNumber;
                    continue;
                }
                if (current.Count > 0)
                {
                    ParseHere(current);
                    current = NewChunk(lines.Buffer);
                }
                WaitAll();
                cancellationToken.ThrowIfCancellationRequested();
                DispatchHeldState();
                controlReader.DispatchLine(line, lines.LineNumber, lines.LastLineUnterminated);
            }
            if (current.Count > 0) ParseHere(current);
            else Recycle(current);
            WaitAll();
            DispatchHeldState();
            StageTimeline.Mark("read.done");
        }
        finally
        {
            // On failure, let lanes that are still parsing finish before their buffers are reused.
            foreach (var t in running)
                if (t is not null) try { t.Wait(); } catch (AggregateException) { }
            lines.ExchangeFullBuffer = null;
            lines.BeforeRead = null;
        }

        void DispatchHeldState()
        {
            if (heldLength < 0) return;
            controlReader.DispatchLine(heldState.AsSpan(0, heldLength), heldLine, unterminated: false);
            heldLength = -1;
        }

        Chunk NewChunk(byte[] buffer)
        {
            var chunk = spare.Count > 0 ? spare.Pop() : new Chunk();
            chunk.Buffer = buffer;
            users[buffer]++;
            return chunk;
        }

        void Recycle(Chunk chunk)
        {
            Release(chunk.Buffer);
            chunk.Clear();
            spare.Push(chunk);
        }

        void Release(byte[] buffer)
        {
            if (--users[buffer] > 0) return;
            users.Remove(buffer);
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }

        void Dispatch(Chunk chunk)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (running.Length == 1)
            {
                ParseOn(0, chunk);
                return;
            }
            var i = FreeLane();
            var reader = readers[i];
            chunks[i] = chunk;
            running[i] = Task.Run(() => chunk.Parse(reader), CancellationToken.None);
        }

        // The last chunk before a barrier (or the end): the reading thread waits for it anyway, so it parses it itself,
        // as a free lane, beside a lane still busy. Handed to a thread and waited for, a chunk of a few records (a tap
        // syncing many small tables sends a SCHEMA every few records) cost a wake-up and ~100 spins of the waiting
        // thread (sched_yield), more than the records.
        void ParseHere(Chunk chunk)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try { ParseOn(FreeLane(), chunk); }
            catch when (running.Length > 1)
            {
                WaitAll(); // a lane's error is on earlier lines: it is the one reported
                throw;
            }
        }

        void ParseOn(int lane, Chunk chunk)
        {
            try { chunk.Parse(readers[lane]); }
            finally { Recycle(chunk); }
        }

        // A lane not parsing now (its finished chunk observed), after waiting for one when all are busy.
        int FreeLane()
        {
            while (true)
            {
                for (var i = 0; i < running.Length; i++)
                {
                    if (running[i] is { IsCompleted: false }) continue;
                    Observe(i);
                    return i;
                }
                Task.WaitAny(running!);
            }
        }

        void WaitAll()
        {
            for (var i = 0; i < running.Length; i++) Observe(i);
        }

        void Observe(int i)
        {
            var task = running[i];
            if (task is null) return;
            try
            {
                task.GetAwaiter().GetResult(); // waits, and rethrows the lane's error (protocol, invalid record…)
            }
            finally
            {
                running[i] = null;
                var chunk = chunks[i]!;
                chunks[i] = null;
                Recycle(chunk);
            }
        }
    }

    /// <summary>The common spellings of a RECORD message's start; other RECORD lines simply take the ordered path.</summary>
    internal static bool IsRecord(ReadOnlySpan<byte> line) =>
        line.StartsWith("{\"type\":\"RECORD\""u8) || line.StartsWith("{\"type\": \"RECORD\""u8);

    /// <summary>The common spellings of a STATE message's start; other STATE lines take the ordered path.</summary>
    internal static bool IsState(ReadOnlySpan<byte> line) =>
        line.StartsWith("{\"type\":\"STATE\""u8) || line.StartsWith("{\"type\": \"STATE\""u8);

    /// <summary>RECORD lines of one buffer of the line reader, for a lane to parse.</summary>
    private sealed class Chunk
    {
        public byte[] Buffer = [];
        private int[] _starts = new int[8192];
        private int[] _lengths = new int[8192];
        private long[] _lineNumbers = new long[8192];
        private bool _lastUnterminated;
        public int Count;
        /// <summary>When the first line was added (<see cref="Environment.TickCount64"/>).</summary>
        public long FirstAddedAt;

        public void Add(int start, int length, long lineNumber, bool unterminated)
        {
            if (Count == 0) FirstAddedAt = Environment.TickCount64;
            if (Count == _starts.Length)
            {
                Array.Resize(ref _starts, Count * 2);
                Array.Resize(ref _lengths, Count * 2);
                Array.Resize(ref _lineNumbers, Count * 2);
            }
            _starts[Count] = start;
            _lengths[Count] = length;
            _lineNumbers[Count] = lineNumber;
            _lastUnterminated = unterminated;
            Count++;
        }

        public void Parse(SingerMessageReader reader) =>
            reader.DispatchRecordLines(new RecordLines(Buffer, _starts.AsSpan(0, Count), _lengths.AsSpan(0, Count), _lineNumbers.AsSpan(0, Count), _lastUnterminated));

        public void Clear()
        {
            Count = 0;
            Buffer = [];
            _lastUnterminated = false;
        }
    }
}
