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
/// A pump (a dedicated thread blocking in libpq, or a task reading Npgsql's stream) moves the COPY's bytes into a
/// bounded <see cref="System.IO.Pipelines.Pipe"/> while the caller's thread decodes and appends: the server keeps
/// sending while the rows are being stored, instead of waiting each time the client's socket buffer is full. The pipe
/// holds at most <see cref="PauseBytes"/>, so a slow consumer holds the server back. Only the pump touches the
/// connection until it has stopped (a libpq cancel request goes over a connection of its own).
/// </remarks>
internal sealed class PostgresBinaryCopy : IAsyncDisposable
{
    private const int ReadBytes = 64 * 1024;
    private const long PauseBytes = 4 * 1024 * 1024;
    /// <summary>"PGCOPY\n\xFF\r\n\0".</summary>
    private static ReadOnlySpan<byte> Signature => [0x50, 0x47, 0x43, 0x4F, 0x50, 0x59, 0x0A, 0xFF, 0x0D, 0x0A, 0x00];

    private readonly CopyFeed _feed;
    private readonly System.IO.Pipelines.Pipe _pipe;
    private readonly int _fieldCount;
    private CopyRowHandler _onRow = null!;
    private Func<ValueTask> _afterRow = null!;
    private bool _headerRead;
    private bool _ended;
    private bool _disposed;
    private byte[] _scratch = new byte[4096];

    private PostgresBinaryCopy(CopyFeed feed, System.IO.Pipelines.Pipe pipe, int fieldCount)
    {
        _feed = feed;
        _pipe = pipe;
        _fieldCount = fieldCount;
    }

    private static System.IO.Pipelines.Pipe NewPipe() => new(new PipeOptions(pauseWriterThreshold: PauseBytes, resumeWriterThreshold: PauseBytes / 2,
        minimumSegmentSize: ReadBytes, useSynchronizationContext: false));

    /// <summary>
    /// Runs <paramref name="copySql"/> on Npgsql's <paramref name="connection"/>, whose rows must have
    /// <paramref name="fieldCount"/> fields, and starts draining it: the server produces rows from here on, while the
    /// caller readies their destination, until <see cref="ReadAsync"/> takes them. Dispose it in every case: a COPY not
    /// read to its end is cancelled rather than read only to be dropped.
    /// </summary>
    public static async Task<PostgresBinaryCopy> StartAsync(NpgsqlConnection connection, string copySql, int fieldCount, CancellationToken cancellationToken)
    {
        var raw = await connection.BeginRawBinaryCopyAsync(copySql, cancellationToken).ConfigureAwait(false);
        var pipe = NewPipe();
        return new PostgresBinaryCopy(new NpgsqlFeed(raw, pipe.Writer, cancellationToken), pipe, fieldCount);
    }

    /// <summary>
    /// As <see cref="StartAsync"/>, on a libpq <paramref name="connection"/> that nothing else uses until this is
    /// disposed; a server error is a <see cref="LibpqException"/>.
    /// </summary>
    public static async Task<PostgresBinaryCopy> StartLibpqAsync(LibpqConnection connection, string copySql, int fieldCount, CancellationToken cancellationToken)
    {
        var pipe = NewPipe();
        var feed = new LibpqFeed(connection, copySql, pipe.Writer, cancellationToken);
        try
        {
            await feed.Started.ConfigureAwait(false);
        }
        catch
        {
            await feed.Pump.ConfigureAwait(false);
            throw;
        }
        return new PostgresBinaryCopy(feed, pipe, fieldCount);
    }

    /// <summary>
    /// Hands every row to <paramref name="onRow"/>, then awaits <paramref name="afterRow"/> (the sink's back-pressure)
    /// after each, until the COPY's end.
    /// </summary>
    public async Task ReadAsync(CopyRowHandler onRow, Func<ValueTask> afterRow, CancellationToken cancellationToken)
    {
        _onRow = onRow;
        _afterRow = afterRow;
        await ConsumeAsync(_pipe.Reader, cancellationToken).ConfigureAwait(false);
        // The end marker was read; the statement's own outcome (an error after the last row) comes with the pump's end.
        await _feed.Pump.ConfigureAwait(false);
        if (_feed.Error is { } error) throw error;
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        // The pump stops at its next flush (the reader is gone), at the COPY's end, or when the server ends the
        // cancelled COPY; only then is the connection ours.
        await _pipe.Reader.CompleteAsync().ConfigureAwait(false);
        if (!_ended) _feed.Interrupt();
        await _feed.Pump.ConfigureAwait(false);
        await _feed.CloseAsync(_ended).ConfigureAwait(false);
    }

    /// <summary>Where the COPY's bytes come from: a pump writing them into the pipe, and how to stop it and end the COPY.</summary>
    private abstract class CopyFeed
    {
        /// <summary>Ends when the pump has stopped: at the COPY's end, when the reader is gone, or after an error.</summary>
        public abstract Task Pump { get; }

        /// <summary>The error that stopped the pump (the reader also sees it), if any.</summary>
        public Exception? Error { get; protected set; }

        /// <summary>Makes a pump that waits on the server stop soon (the COPY is then cancelled), from any thread.</summary>
        public virtual void Interrupt() { }

        /// <summary>After the pump: releases the COPY, cancelling it when it was not read to its end.</summary>
        public virtual ValueTask CloseAsync(bool ended) => ValueTask.CompletedTask;
    }

    /// <summary>Npgsql's raw COPY stream, read by a thread-pool task.</summary>
    private sealed class NpgsqlFeed : CopyFeed
    {
        private readonly NpgsqlRawCopyStream _raw;

        public NpgsqlFeed(NpgsqlRawCopyStream raw, PipeWriter writer, CancellationToken cancellationToken)
        {
            _raw = raw;
            Pump = Task.Run(() => PumpAsync(writer, cancellationToken), CancellationToken.None);
        }

        public override Task Pump { get; }

        public override async ValueTask CloseAsync(bool ended)
        {
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
                Error = e;
                await writer.CompleteAsync(e).ConfigureAwait(false);
                return;
            }
            await writer.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// libpq's <c>PQgetCopyData</c>, blocking on a dedicated thread: one call per row, served from libpq's own large
    /// socket buffer, which costs a fraction of Npgsql's async read per message (bench/README.md). The thread also runs
    /// the COPY statement and reads its outcome, so the connection is used by it alone.
    /// </summary>
    private sealed unsafe class LibpqFeed : CopyFeed
    {
        private readonly LibpqConnection _connection;
        private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly CancellationToken _cancellationToken;
        private volatile bool _interrupted;

        public LibpqFeed(LibpqConnection connection, string copySql, PipeWriter writer, CancellationToken cancellationToken)
        {
            _connection = connection;
            _cancellationToken = cancellationToken;
            var thread = new Thread(() => Run(copySql, writer)) { IsBackground = true, Name = "postgres COPY (libpq)" };
            thread.Start();
        }

        /// <summary>Completes when the server has accepted the COPY (or faults with its error).</summary>
        public Task Started => _started.Task;

        public override Task Pump => _stopped.Task;

        public override void Interrupt()
        {
            // A cancel request reaches whatever the backend runs when it arrives: none once the COPY has ended.
            if (_interrupted || _stopped.Task.IsCompleted) return;
            _interrupted = true;
            _connection.Cancel();
        }

        private void Run(string copySql, PipeWriter writer)
        {
            try
            {
                _connection.BeginCopyOut(copySql);
            }
            catch (Exception e)
            {
                writer.Complete(e);
                _started.SetException(e);
                _stopped.SetResult();
                return;
            }
            _started.SetResult();
            using var registration = _cancellationToken.Register(Interrupt);
            try
            {
                PumpRows(writer);
                _connection.EndCopy();
                writer.Complete();
            }
            catch (Exception e)
            {
                Error = _interrupted && _cancellationToken.IsCancellationRequested ? new OperationCanceledException(_cancellationToken) : e;
                writer.Complete(Error);
                if (e is not LibpqException) EndQuietly();
            }
            _stopped.SetResult();
        }

        /// <summary>
        /// Copies every CopyData message into the pipe, waking the reader every <see cref="ReadBytes"/>/2 bytes; once
        /// the reader is gone (or the COPY was interrupted) it reads the rest without keeping it, up to the COPY's end.
        /// </summary>
        private void PumpRows(PipeWriter writer)
        {
            var span = Span<byte>.Empty;
            var filled = 0;
            var keeping = true;
            int length;
            while ((length = _connection.ReadCopyData(out var data)) >= 0)
            {
                try
                {
                    if (!keeping || _interrupted)
                    {
                        keeping = false;
                        continue;
                    }
                    if (span.Length - filled < length)
                    {
                        if (filled > 0) writer.Advance(filled);
                        span = writer.GetSpan(Math.Max(ReadBytes, length));
                        filled = 0;
                    }
                    new ReadOnlySpan<byte>(data, length).CopyTo(span[filled..]);
                    filled += length;
                    if (filled < ReadBytes / 2) continue;
                    writer.Advance(filled);
                    span = Span<byte>.Empty;
                    filled = 0;
                    if (Flush(writer).IsCompleted) keeping = false;
                }
                finally
                {
                    _connection.Free(data);
                }
            }
            if (keeping && filled > 0)
            {
                writer.Advance(filled);
                Flush(writer);
            }
        }

        /// <summary>Ends a COPY that failed on our side (not the server's), so the connection can run the next statement.</summary>
        private void EndQuietly()
        {
            try
            {
                Interrupt();
                while (_connection.ReadCopyData(out var data) >= 0) _connection.Free(data);
                _connection.EndCopy();
            }
            catch (LibpqException)
            {
                // The cancelled COPY's error, or a broken connection: the first error is the one reported.
            }
        }

        /// <summary>Flushes on this dedicated thread, blocking while the pipe is full (the reader's back-pressure).</summary>
        private static FlushResult Flush(PipeWriter writer)
        {
            var flush = writer.FlushAsync();
            return flush.IsCompleted ? flush.Result : flush.AsTask().GetAwaiter().GetResult();
        }

        public override ValueTask CloseAsync(bool ended) => ValueTask.CompletedTask;
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
