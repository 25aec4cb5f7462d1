using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using nietras.SeparatedValues;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// Parses a file's rows on a task of its own, ahead of the thread that converts and appends them: Sep reads and
/// splits the next rows while the tap's thread turns the previous ones into typed values, so the two overlap (a
/// built-in csv run is otherwise one thread of parsing and appending beside the encoder). Rows travel in a few reused
/// chunks of copied cell text (<see cref="CsvRowChunk"/>), so the memory it holds is bounded and nothing is allocated
/// per row. An error of the parse (a decoding error, Sep's own) reaches the reader after the rows before it.
/// </summary>
internal sealed class CsvRowsAhead : IAsyncDisposable
{
    private const int Chunks = 3;
    private readonly Channel<CsvRowChunk> _full = Channel.CreateBounded<CsvRowChunk>(new BoundedChannelOptions(Chunks) { SingleReader = true, SingleWriter = true });
    private readonly Channel<CsvRowChunk> _free = Channel.CreateBounded<CsvRowChunk>(new BoundedChannelOptions(Chunks) { SingleReader = true, SingleWriter = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _parser;
    private ExceptionDispatchInfo? _failure;

    /// <param name="reader">The file's reader; only the parsing task touches it until this is disposed.</param>
    /// <param name="next">Moves <paramref name="reader"/> to its next row (false at the end), reporting errors as the tap does.</param>
    public CsvRowsAhead(SepReader reader, Func<bool> next)
    {
        for (var i = 0; i < Chunks; i++) _free.Writer.TryWrite(new CsvRowChunk());
        _parser = Task.Run(() => ParseAsync(reader, next, _stop.Token), CancellationToken.None);
    }

    private async Task ParseAsync(SepReader reader, Func<bool> next, CancellationToken cancellationToken)
    {
        try
        {
            var chunk = await _free.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            while (next())
            {
                if (!chunk.TryAdd(reader.Current))
                {
                    await _full.Writer.WriteAsync(chunk, cancellationToken).ConfigureAwait(false);
                    chunk = await _free.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                    chunk.Add(reader.Current);
                }
            }
            if (chunk.Rows > 0) await _full.Writer.WriteAsync(chunk, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _failure = ExceptionDispatchInfo.Capture(e);
        }
        _full.Writer.TryComplete();
    }

    /// <summary>The next chunk of rows, or null after the last (then a parse error is thrown here).</summary>
    public async ValueTask<CsvRowChunk?> NextAsync(CancellationToken cancellationToken)
    {
        while (await _full.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            if (_full.Reader.TryRead(out var chunk)) return chunk;
        _failure?.Throw();
        return null;
    }

    /// <summary>Gives a chunk whose rows are done back to the parser.</summary>
    public void Return(CsvRowChunk chunk)
    {
        chunk.Clear();
        _free.Writer.TryWrite(chunk);
    }

    /// <summary>Stops the parser (when the reader stopped early) and waits for it, so the file's reader can be disposed.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _parser.ConfigureAwait(false);
        _stop.Dispose();
    }
}

/// <summary>Rows copied out of Sep's buffer: their cells' text end to end, where each cell ends, and each row's first line.</summary>
internal sealed class CsvRowChunk
{
    private const int MaxRows = 4096;
    private char[] _text = new char[1 << 18];
    private int _textLength;
    private int[] _cellEnds = new int[MaxRows * 8];
    private int _cells;
    private readonly int[] _rowFirstCell = new int[MaxRows + 1];
    private readonly int[] _rowLine = new int[MaxRows];

    public int Rows { get; private set; }

    public void Clear()
    {
        Rows = 0;
        _cells = 0;
        _textLength = 0;
    }

    /// <summary>Copies a row in when it fits; false when the chunk is full (an empty chunk always takes it, growing).</summary>
    public bool TryAdd(SepReader.Row row)
    {
        if (Rows == MaxRows) return false;
        var length = 0;
        for (var c = 0; c < row.ColCount; c++) length += row[c].Span.Length;
        if (Rows > 0 && (_textLength + length > _text.Length || _cells + row.ColCount > _cellEnds.Length)) return false;
        if (_textLength + length > _text.Length) Array.Resize(ref _text, Math.Max(_text.Length * 2, _textLength + length));
        if (_cells + row.ColCount > _cellEnds.Length) Array.Resize(ref _cellEnds, Math.Max(_cellEnds.Length * 2, _cells + row.ColCount));
        _rowFirstCell[Rows] = _cells;
        _rowLine[Rows] = row.LineNumberFrom;
        for (var c = 0; c < row.ColCount; c++)
        {
            var cell = row[c].Span;
            cell.CopyTo(_text.AsSpan(_textLength));
            _textLength += cell.Length;
            _cellEnds[_cells++] = _textLength;
        }
        Rows++;
        _rowFirstCell[Rows] = _cells;
        return true;
    }

    /// <summary>Copies a row into an empty chunk.</summary>
    public void Add(SepReader.Row row)
    {
        if (!TryAdd(row)) throw new InvalidOperationException("an empty chunk takes any row");
    }

    public CsvRow this[int row] => new(this, row);

    /// <summary>One row of a chunk, valid until the chunk is returned.</summary>
    internal readonly ref struct CsvRow(CsvRowChunk chunk, int row)
    {
        private readonly int _first = chunk._rowFirstCell[row];

        public int ColCount => chunk._rowFirstCell[row + 1] - _first;

        /// <summary>The line the row starts on (1-based).</summary>
        public int LineNumberFrom => chunk._rowLine[row];

        public ReadOnlySpan<char> this[int column]
        {
            get
            {
                var cell = _first + column;
                var start = cell == 0 ? 0 : chunk._cellEnds[cell - 1];
                return chunk._text.AsSpan(start, chunk._cellEnds[cell] - start);
            }
        }
    }
}
