using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Npgsql;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>Takes one row of a binary COPY: its fields, after the field count (see <see cref="CopyRowValues"/>).</summary>
internal delegate void CopyRowHandler(ReadOnlySpan<byte> fields);

/// <summary>
/// Reads a <c>COPY … TO STDOUT (FORMAT BINARY)</c> as the server sends it (Npgsql's raw binary copy) and hands each
/// row's bytes over, with no .NET value or string made per field: the caller decodes each field straight into the
/// record (<see cref="CopyRowValues"/>).
/// </summary>
/// <remarks>
/// A pump task reads the socket into a bounded <see cref="System.IO.Pipelines.Pipe"/> while the caller's thread decodes and appends: the
/// server keeps sending while the rows are being stored, instead of waiting each time the client's socket buffer is
/// full. The pipe holds at most <see cref="PauseBytes"/>, so a slow consumer holds the server back. Only the pump
/// touches the connection until it has stopped; cancelling the COPY happens after that, on the caller's thread.
/// </remarks>
internal sealed class PostgresBinaryCopy : IAsyncDisposable
{
    private const int ReadBytes = 64 * 1024;
    private const long PauseBytes = 4 * 1024 * 1024;
    /// <summary>"PGCOPY\n\xFF\r\n\0".</summary>
    private static ReadOnlySpan<byte> Signature => [0x50, 0x47, 0x43, 0x4F, 0x50, 0x59, 0x0A, 0xFF, 0x0D, 0x0A, 0x00];

    private readonly NpgsqlRawCopyStream _raw;
    private readonly System.IO.Pipelines.Pipe _pipe;
    private readonly Task _pump;
    private readonly int _fieldCount;
    private CopyRowHandler _onRow = null!;
    private Func<ValueTask> _afterRow = null!;
    private bool _headerRead;
    private bool _ended;
    private bool _disposed;
    private byte[] _scratch = new byte[4096];

    private PostgresBinaryCopy(NpgsqlRawCopyStream raw, int fieldCount, CancellationToken cancellationToken)
    {
        _raw = raw;
        _fieldCount = fieldCount;
        _pipe = new System.IO.Pipelines.Pipe(new PipeOptions(pauseWriterThreshold: PauseBytes, resumeWriterThreshold: PauseBytes / 2,
            minimumSegmentSize: ReadBytes, useSynchronizationContext: false));
        _pump = Task.Run(() => PumpAsync(raw, _pipe.Writer, cancellationToken), CancellationToken.None);
    }

    /// <summary>
    /// Runs <paramref name="copySql"/>, whose rows must have <paramref name="fieldCount"/> fields, and starts draining it:
    /// the server produces rows from here on, while the caller readies their destination, until <see cref="ReadAsync"/>
    /// takes them. Dispose it in every case: a COPY not read to its end is cancelled rather than read only to be dropped.
    /// </summary>
    public static async Task<PostgresBinaryCopy> StartAsync(NpgsqlConnection connection, string copySql, int fieldCount, CancellationToken cancellationToken)
    {
        var raw = await connection.BeginRawBinaryCopyAsync(copySql, cancellationToken).ConfigureAwait(false);
        return new PostgresBinaryCopy(raw, fieldCount, cancellationToken);
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
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        // The pump stops at its next flush (the reader is gone) or at the COPY's end; only then is the connection ours.
        await _pipe.Reader.CompleteAsync().ConfigureAwait(false);
        await _pump.ConfigureAwait(false);
        if (_ended)
        {
            await _raw.DisposeAsync().ConfigureAwait(false);
        }
        else
        {
            // Stops the server's COPY rather than reading the rest of the table only to drop it.
            await CancelQuietlyAsync(_raw).ConfigureAwait(false);
        }
    }

    /// <summary>Moves the COPY's bytes into the pipe until its end, until the reader stops, or until a read fails (then the reader sees the error).</summary>
    private static async Task PumpAsync(NpgsqlRawCopyStream raw, PipeWriter writer, CancellationToken cancellationToken)
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
                    var read = await raw.ReadAsync(memory[filled..], cancellationToken).ConfigureAwait(false);
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

    private static async Task CancelQuietlyAsync(NpgsqlRawCopyStream raw)
    {
        try
        {
            await raw.CancelAsync().ConfigureAwait(false);
            await raw.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is NpgsqlException or PostgresException or OperationCanceledException or InvalidOperationException or IOException)
        {
            // The error that stopped the read is the one to report.
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
