namespace DataSpoc.Pipe.Singer;

/// <summary>
/// Reads a Singer stream with several parsing lanes: RECORD lines are copied into chunks that lanes parse and
/// shred in parallel (each lane with its own handler and batches); any other message (SCHEMA, STATE,
/// ACTIVATE_VERSION…) is a barrier: every lane finishes first, then it is handled alone, so message order holds.
/// With one lane this is the plain sequential reader.
/// </summary>
internal sealed class ParallelSingerReader(IReadOnlyList<ISingerHandler> lanes, ISingerHandler control)
{
    private const int ChunkBytes = 2 * 1024 * 1024;

    public void ReadAll(SingerLineReader lines, CancellationToken cancellationToken)
    {
        if (lanes.Count == 1)
        {
            new SingerMessageReader(lanes[0]).ReadAll(lines, cancellationToken);
            return;
        }
        var readers = lanes.Select(h => new SingerMessageReader(h)).ToArray();
        var controlReader = new SingerMessageReader(control);
        var running = new Task?[lanes.Count];
        var chunks = new Chunk?[lanes.Count];
        var spare = new Stack<Chunk>();
        var current = new Chunk();
        try
        {
            while (lines.TryReadLine(out var line))
            {
                if (IsRecord(line))
                {
                    if (current.Count > 0 && current.Bytes + line.Length > ChunkBytes)
                    {
                        Dispatch(current);
                        current = spare.Count > 0 ? spare.Pop() : new Chunk();
                    }
                    current.Add(line, lines.LineNumber, lines.LastLineUnterminated);
                    continue;
                }
                if (line.Trim(" \t"u8).IsEmpty) continue;
                if (current.Count > 0)
                {
                    Dispatch(current);
                    current = spare.Count > 0 ? spare.Pop() : new Chunk();
                }
                WaitAll();
                cancellationToken.ThrowIfCancellationRequested();
                controlReader.DispatchLine(line, lines.LineNumber, lines.LastLineUnterminated);
            }
            if (current.Count > 0) Dispatch(current);
            WaitAll();
        }
        finally
        {
            // On failure, let lanes that are still parsing finish before their batches are torn down.
            foreach (var t in running)
                if (t is not null) try { t.Wait(); } catch (AggregateException) { }
        }

        void Dispatch(Chunk chunk)
        {
            cancellationToken.ThrowIfCancellationRequested();
            while (true)
            {
                for (var i = 0; i < running.Length; i++)
                {
                    if (running[i] is { IsCompleted: false }) continue;
                    Observe(i);
                    var reader = readers[i];
                    chunks[i] = chunk;
                    running[i] = Task.Run(() => chunk.Parse(reader), CancellationToken.None);
                    return;
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
                chunk.Clear();
                spare.Push(chunk);
            }
        }
    }

    /// <summary>The common spellings of a RECORD message's start; other RECORD lines simply take the ordered path.</summary>
    internal static bool IsRecord(ReadOnlySpan<byte> line) =>
        line.StartsWith("{\"type\":\"RECORD\""u8) || line.StartsWith("{\"type\": \"RECORD\""u8);

    private sealed class Chunk
    {
        private byte[] _data = new byte[ChunkBytes + 4096];
        private int[] _starts = new int[8192];
        private int[] _lengths = new int[8192];
        private long[] _lineNumbers = new long[8192];
        private bool _lastUnterminated;
        public int Count;
        public int Bytes;

        public void Add(ReadOnlySpan<byte> line, long lineNumber, bool unterminated)
        {
            if (Bytes + line.Length > _data.Length) Array.Resize(ref _data, Math.Max(_data.Length * 2, Bytes + line.Length));
            if (Count == _starts.Length)
            {
                Array.Resize(ref _starts, Count * 2);
                Array.Resize(ref _lengths, Count * 2);
                Array.Resize(ref _lineNumbers, Count * 2);
            }
            line.CopyTo(_data.AsSpan(Bytes));
            _starts[Count] = Bytes;
            _lengths[Count] = line.Length;
            _lineNumbers[Count] = lineNumber;
            _lastUnterminated = unterminated;
            Bytes += line.Length;
            Count++;
        }

        public void Parse(SingerMessageReader reader)
        {
            for (var i = 0; i < Count; i++)
                reader.DispatchLine(_data.AsSpan(_starts[i], _lengths[i]), _lineNumbers[i], _lastUnterminated && i == Count - 1);
        }

        public void Clear()
        {
            Count = 0;
            Bytes = 0;
            _lastUnterminated = false;
            // A chunk that grew for one huge line gives the memory back.
            if (_data.Length > 4 * ChunkBytes) _data = new byte[ChunkBytes + 4096];
        }
    }
}
