using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Npgsql;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>Takes one row of a binary COPY: its fields, after the field count (see <see cref="CopyRowValues"/>).</summary>
internal delegate void CopyRowHandler(ReadOnlySpan<byte> fields);

/// <summary>
/// Reads a <c>COPY … TO STDOUT (FORMAT BINARY)</c> as the server sends it and hands each row's bytes over, with no
/// .NET value or string made per field: the caller decodes each field straight into the record
/// (<see cref="CopyRowValues"/>). The bytes come through libpq when it loads (<see cref="StartLibpqAsync"/>), else
/// through Npgsql's raw binary copy (<see cref="StartAsync"/>).
/// </summary>
/// <remarks>
/// Through libpq, one dedicated thread runs the COPY, takes each row from libpq's socket buffer and decodes it where it
/// lies; the server keeps producing into the socket while rows are stored. Through Npgsql, whose stream returns one
/// row per async read, a pump task moves the bytes into a bounded <see cref="System.IO.Pipelines.Pipe"/> (at most
/// <see cref="PauseBytes"/>) in chunks, and the caller's thread decodes them. Either way a slow consumer holds the
/// server back, and only one thread uses the connection until the COPY has ended (a libpq cancel request goes over a
/// connection of its own).
/// </remarks>
internal sealed class PostgresBinaryCopy : IAsyncDisposable
{
    private const int ReadBytes = 64 * 1024;
    private const long PauseBytes = 4 * 1024 * 1024;
    /// <summary>"PGCOPY\n\xFF\r\n\0".</summary>
    private static ReadOnlySpan<byte> Signature => [0x50, 0x47, 0x43, 0x4F, 0x50, 0x59, 0x0A, 0xFF, 0x0D, 0x0A, 0x00];

    private readonly CopyFeed _feed;
    private readonly int _fieldCount;
    private CopyRowHandler _onRow = null!;
    private Func<ValueTask> _afterRow = null!;
    private bool _headerRead;
    private bool _ended;
    private bool _disposed;
    private byte[] _scratch = new byte[4096];

    private PostgresBinaryCopy(int fieldCount, Func<PostgresBinaryCopy, CopyFeed> feed)
    {
        _fieldCount = fieldCount;
        _feed = feed(this);
    }

    /// <summary>
    /// Runs <paramref name="copySql"/> on Npgsql's <paramref name="connection"/>, whose rows must have
    /// <paramref name="fieldCount"/> fields, and starts draining it: the server produces rows from here on, while the
    /// caller readies their destination, until <see cref="ReadAsync"/> takes them. Dispose it in every case: a COPY not
    /// read to its end is cancelled rather than read only to be dropped.
    /// </summary>
    public static async Task<PostgresBinaryCopy> StartAsync(NpgsqlConnection connection, string copySql, int fieldCount, CancellationToken cancellationToken)
    {
        var raw = await connection.BeginRawBinaryCopyAsync(copySql, cancellationToken).ConfigureAwait(false);
        return new PostgresBinaryCopy(fieldCount, copy => new NpgsqlFeed(copy, raw, cancellationToken));
    }

    /// <summary>
    /// As <see cref="StartAsync"/>, on a libpq <paramref name="connection"/> that nothing else uses until this is
    /// disposed; a server error is a <see cref="LibpqException"/>.
    /// </summary>
    public static async Task<PostgresBinaryCopy> StartLibpqAsync(LibpqConnection connection, string copySql, int fieldCount, CancellationToken cancellationToken)
    {
        var copy = new PostgresBinaryCopy(fieldCount, copy => new LibpqFeed(copy, connection, copySql, cancellationToken));
        try
        {
            await ((LibpqFeed)copy._feed).Started.ConfigureAwait(false);
        }
        catch
        {
            await copy.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return copy;
    }

    /// <summary>
    /// Hands every row to <paramref name="onRow"/>, then awaits <paramref name="afterRow"/> (the sink's back-pressure)
    /// after each, until the COPY's end.
    /// </summary>
    public Task ReadAsync(CopyRowHandler onRow, Func<ValueTask> afterRow, CancellationToken cancellationToken)
    {
        _onRow = onRow;
        _afterRow = afterRow;
        return _feed.ReadAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        await _feed.DisposeAsync(_ended).ConfigureAwait(false);
    }

    /// <summary>Where the COPY's bytes come from, and who decodes them.</summary>
    private abstract class CopyFeed
    {
        /// <summary>Decodes every row up to the COPY's end marker, then reads the statement's outcome.</summary>
        public abstract Task ReadAsync(CancellationToken cancellationToken);

        /// <summary>Releases the COPY, cancelling it when it was not read to its end (<paramref name="ended"/> false).</summary>
        public abstract ValueTask DisposeAsync(bool ended);
    }

    /// <summary>Npgsql's raw COPY stream, pumped by a thread-pool task into a pipe that the caller's thread decodes.</summary>
    private sealed class NpgsqlFeed : CopyFeed
    {
        private readonly PostgresBinaryCopy _copy;
        private readonly NpgsqlRawCopyStream _raw;
        private readonly System.IO.Pipelines.Pipe _pipe = new(new PipeOptions(pauseWriterThreshold: PauseBytes, resumeWriterThreshold: PauseBytes / 2,
            minimumSegmentSize: ReadBytes, useSynchronizationContext: false));
        private readonly Task _pump;

        public NpgsqlFeed(PostgresBinaryCopy copy, NpgsqlRawCopyStream raw, CancellationToken cancellationToken)
        {
            _copy = copy;
            _raw = raw;
            _pump = Task.Run(() => PumpAsync(_pipe.Writer, cancellationToken), CancellationToken.None);
        }

        public override Task ReadAsync(CancellationToken cancellationToken) => _copy.ConsumeAsync(_pipe.Reader, cancellationToken);

        public override async ValueTask DisposeAsync(bool ended)
        {
            // The pump stops at its next flush (the reader is gone) or at the COPY's end; only then is the connection ours.
            await _pipe.Reader.CompleteAsync().ConfigureAwait(false);
            await _pump.ConfigureAwait(false);
            if (ended)
            {
                await _raw.DisposeAsync().ConfigureAwait(false);
                return;
            }
            // Stops the server's COPY rather than reading the rest of the table only to drop it.
            try
            {
                await _raw.CancelAsync().ConfigureAwait(false);
                await _raw.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is NpgsqlException or PostgresException or OperationCanceledException or InvalidOperationException or IOException)
            {
                // The error that stopped the read is the one to report.
            }
        }

        /// <summary>Moves the COPY's bytes into the pipe until its end, until the reader stops, or until a read fails (then the reader sees the error).</summary>
        private async Task PumpAsync(PipeWriter writer, CancellationToken cancellationToken)
        {
            try
            {
                var end = false;
                while (!end)
                {
                    // A read returns at most one CopyData message (one row): gather many before waking the reader.
                    var memory = writer.GetMemory(ReadBytes);
                    var filled = 0;
                    while (filled < ReadBytes / 2)
                    {
                        var read = await _raw.ReadAsync(memory[filled..], cancellationToken).ConfigureAwait(false);
                        if (read == 0)
                        {
                            end = true;
                            break;
                        }
                        filled += read;
                    }
                    writer.Advance(filled);
                    if ((await writer.FlushAsync(cancellationToken).ConfigureAwait(false)).IsCompleted) break;
                }
            }
            catch (Exception e)
            {
                await writer.CompleteAsync(e).ConfigureAwait(false);
                return;
            }
            await writer.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// libpq's <c>PQgetCopyData</c>, blocking on a dedicated thread that also decodes: one call per row (one CopyData
    /// message), served from libpq's own large socket buffer, which costs a fraction of Npgsql's async read per message
    /// (bench/README.md), and no hand-over between threads. The thread runs the COPY statement, waits for
    /// <see cref="ReadAsync"/> (or the disposal), reads to the end and takes the statement's outcome, so the connection
    /// is used by it alone.
    /// </summary>
    private sealed class LibpqFeed : CopyFeed
    {
        private readonly PostgresBinaryCopy _copy;
        private readonly LibpqConnection _connection;
        private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly ManualResetEventSlim _go = new();
        private CancellationToken _cancellationToken;
        private bool _abandoned;
        private volatile bool _interrupted;
        private volatile bool _copying;

        public LibpqFeed(PostgresBinaryCopy copy, LibpqConnection connection, string copySql, CancellationToken cancellationToken)
        {
            _copy = copy;
            _connection = connection;
            _cancellationToken = cancellationToken;
            new Thread(() => Run(copySql)) { IsBackground = true, Name = "postgres COPY (libpq)" }.Start();
        }

        /// <summary>Completes when the server has accepted the COPY (or faults with its error).</summary>
        public Task Started => _started.Task;

        public override Task ReadAsync(CancellationToken cancellationToken)
        {
            _cancellationToken = cancellationToken;
            _go.Set();
            return _done.Task;
        }

        public override async ValueTask DisposeAsync(bool ended)
        {
            if (!_go.IsSet)
            {
                // Never read: the thread cancels the COPY and ends it.
                _abandoned = true;
                _go.Set();
            }
            try
            {
                await _done.Task.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // ReadAsync reported it, or nobody asked for the rows.
            }
            _go.Dispose();
        }

        /// <summary>Asks the server to cancel the COPY while it runs (from any thread); it then ends with an error.</summary>
        private void Interrupt()
        {
            // A cancel request reaches whatever the backend runs when it arrives: none once the COPY has ended.
            if (_interrupted || !_copying) return;
            _interrupted = true;
            _connection.Cancel();
        }

        private void Run(string copySql)
        {
            try
            {
                _connection.BeginCopyOut(copySql);
                _copying = true;
            }
            catch (Exception e)
            {
                _started.SetException(e);
                _done.SetException(e);
                return;
            }
            _started.SetResult();
            _go.Wait();
            if (_abandoned)
            {
                EndQuietly();
                _done.SetResult();
                return;
            }
            using var registration = _cancellationToken.Register(Interrupt);
            try
            {
                ReadRows();
                _copying = false;
                _connection.EndCopy();
                if (!_copy._ended) throw new TapException("postgres tap: the binary COPY ended before its end marker");
                _done.SetResult();
            }
            catch (Exception e)
            {
                if (e is not LibpqException) EndQuietly();
                _done.SetException(_interrupted && _cancellationToken.IsCancellationRequested ? new OperationCanceledException(_cancellationToken) : e);
            }
        }

        /// <summary>Decodes each CopyData message where libpq holds it; a row split across messages (never seen) is joined in a copy first.</summary>
        private unsafe void ReadRows()
        {
            var carried = 0;
            int length;
            while ((length = _connection.ReadCopyData(out var data)) >= 0)
            {
                try
                {
                    var bytes = new ReadOnlySpan<byte>(data, length);
                    if (carried > 0)
                    {
                        if (_copy._scratch.Length < carried + length) Array.Resize(ref _copy._scratch, Math.Max(_copy._scratch.Length * 2, carried + length));
                        bytes.CopyTo(_copy._scratch.AsSpan(carried));
                        bytes = _copy._scratch.AsSpan(0, carried + length);
                    }
                    var rest = ParseAll(bytes);
                    if (rest.Length > 0 && !_copy._ended)
                    {
                        if (_copy._scratch.Length < rest.Length) Array.Resize(ref _copy._scratch, Math.Max(_copy._scratch.Length * 2, rest.Length));
                        rest.CopyTo(_copy._scratch);
                    }
                    carried = _copy._ended ? 0 : rest.Length;
                }
                finally
                {
                    _connection.Free(data);
                }
            }
            _copying = false;
        }

        /// <summary>Decodes every whole row of <paramref name="bytes"/>, waiting here for the sink when it asks to; returns the incomplete rest.</summary>
        private ReadOnlySpan<byte> ParseAll(ReadOnlySpan<byte> bytes)
        {
            while (!bytes.IsEmpty && !_copy._ended)
            {
                var consumed = _copy.Parse(bytes, int.MaxValue, out var pending);
                bytes = bytes[consumed..];
                // Blocking is this dedicated thread's to do: the sink hands a full batch to its encoders meanwhile.
                if (!pending.IsCompletedSuccessfully) pending.AsTask().GetAwaiter().GetResult();
                if (consumed == 0) break;
            }
            return bytes;
        }

        /// <summary>Ends a COPY that stopped on our side (not the server's), so the connection can run the next statement.</summary>
        private unsafe void EndQuietly()
        {
            try
            {
                Interrupt();
                while (_connection.ReadCopyData(out var data) >= 0) _connection.Free(data);
                _copying = false;
                _connection.EndCopy();
            }
            catch (LibpqException)
            {
                // The cancelled COPY's error, or a broken connection: the first error is the one reported.
            }
        }
    }

    private async Task ConsumeAsync(PipeReader reader, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            while (!_ended && !buffer.IsEmpty)
            {
                // Whole rows inside the first segment are read where they lie; a row across segments is copied first.
                var consumed = Parse(buffer.FirstSpan, int.MaxValue, out var pending);
                if (consumed == 0 && pending.IsCompletedSuccessfully && buffer.Length > buffer.FirstSpan.Length)
                    consumed = ParseAcrossSegments(buffer, out pending);
                buffer = buffer.Slice(consumed);
                if (!pending.IsCompletedSuccessfully) await pending.ConfigureAwait(false);
                else pending.GetAwaiter().GetResult();
                if (consumed == 0) break; // an incomplete row: read more
            }
            reader.AdvanceTo(buffer.Start, buffer.End);
            if (_ended) return;
            if (result.IsCompleted) throw new TapException("postgres tap: the binary COPY ended before its end marker (the connection was closed?)");
        }
    }

    /// <summary>One row that starts in the first segment and ends in a later one, read from a copy.</summary>
    private int ParseAcrossSegments(ReadOnlySequence<byte> buffer, out ValueTask pending)
    {
        while (true)
        {
            var length = (int)Math.Min(buffer.Length, _scratch.Length);
            buffer.Slice(0, length).CopyTo(_scratch);
            var consumed = Parse(_scratch.AsSpan(0, length), 1, out pending);
            if (consumed > 0 || buffer.Length <= _scratch.Length) return consumed;
            _scratch = new byte[_scratch.Length * 2];
        }
    }

    /// <summary>
    /// Reads the header, then up to <paramref name="maxRows"/> complete rows of <paramref name="data"/>; returns the bytes
    /// consumed. Stops early when the sink asks to wait (<paramref name="pending"/>), at an incomplete row, or at the end marker.
    /// </summary>
    private int Parse(ReadOnlySpan<byte> data, int maxRows, out ValueTask pending)
    {
        pending = ValueTask.CompletedTask;
        var at = 0;
        if (!_headerRead)
        {
            // Signature, flags (int32), header extension length (int32), extension.
            if (data.Length < Signature.Length + 8) return 0;
            if (!data.StartsWith(Signature)) throw new TapException("postgres tap: the server's binary COPY does not start with PGCOPY's signature");
            var extension = BinaryPrimitives.ReadInt32BigEndian(data[(Signature.Length + 4)..]);
            if (data.Length < Signature.Length + 8 + extension) return 0;
            at = Signature.Length + 8 + extension;
            _headerRead = true;
        }
        for (var rows = 0; rows < maxRows; rows++)
        {
            var row = data[at..];
            if (row.Length < 2) break;
            var fields = BinaryPrimitives.ReadInt16BigEndian(row);
            if (fields == -1)
            {
                _ended = true;
                return at + 2;
            }
            if (fields != _fieldCount) throw new TapException($"postgres tap: a binary COPY row has {fields} fields where {_fieldCount} were selected");
            var end = 2;
            for (var f = 0; f < fields; f++)
            {
                if (row.Length < end + 4) return at;
                var length = BinaryPrimitives.ReadInt32BigEndian(row[end..]);
                end += 4 + Math.Max(length, 0);
                if (row.Length < end) return at;
            }
            _onRow(row[2..end]);
            at += end;
            pending = _afterRow();
            if (!pending.IsCompletedSuccessfully) return at;
            pending.GetAwaiter().GetResult();
            pending = ValueTask.CompletedTask;
        }
        return at;
    }
}
