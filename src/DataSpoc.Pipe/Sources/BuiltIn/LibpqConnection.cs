using System.Runtime.InteropServices;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>An error the server (or libpq) reported for a statement: its primary message, as Npgsql's <c>MessageText</c>.</summary>
internal sealed class LibpqException(string message) : Exception(message);

/// <summary>
/// One libpq connection (<see cref="Libpq"/>), used by one thread at a time, except <see cref="Cancel"/> which any
/// thread may call while a statement runs.
/// </summary>
internal sealed unsafe class LibpqConnection : IDisposable
{
    private readonly Libpq.Native _pq;
    private nint _connection;
    /// <summary>The backend's cancel key, taken once: PQcancel on it is safe from any thread.</summary>
    private nint _cancel;

    private static int _opened;

    /// <summary>How many libpq connections this process opened (for tests: whether a COPY went through libpq).</summary>
    internal static int Opened => Volatile.Read(ref _opened);

    private LibpqConnection(Libpq.Native pq, nint connection)
    {
        _pq = pq;
        _connection = connection;
        _cancel = pq.GetCancel(connection);
    }

    /// <summary>
    /// Connects with <paramref name="keywords"/> (libpq's connection keywords: host, port, user, password, dbname,
    /// sslmode, …). A failure is a <see cref="TapException"/> naming <paramref name="where"/> (and the
    /// <paramref name="stream"/> it was opened for), with the password masked wherever libpq's message might echo it.
    /// </summary>
    public static LibpqConnection Open(Libpq.Native pq, IReadOnlyList<KeyValuePair<string, string>> keywords, string where, string? stream = null)
    {
        var tap = stream is null ? "postgres tap" : $"postgres tap: stream '{stream}'";
        var count = keywords.Count;
        var names = (byte**)NativeMemory.AllocZeroed((nuint)(count + 1), (nuint)sizeof(byte*));
        var values = (byte**)NativeMemory.AllocZeroed((nuint)(count + 1), (nuint)sizeof(byte*));
        nint connection;
        try
        {
            for (var i = 0; i < count; i++)
            {
                names[i] = Libpq.CString(keywords[i].Key);
                values[i] = Libpq.CString(keywords[i].Value);
            }
            connection = pq.ConnectdbParams(names, values, 0);
        }
        finally
        {
            for (var i = 0; i < count; i++)
            {
                if (names[i] is not null) Marshal.FreeHGlobal((nint)names[i]);
                if (values[i] is not null)
                {
                    // The password's bytes do not outlive the call.
                    new Span<byte>(values[i], MemoryMarshal.CreateReadOnlySpanFromNullTerminated(values[i]).Length).Clear();
                    Marshal.FreeHGlobal((nint)values[i]);
                }
            }
            NativeMemory.Free(names);
            NativeMemory.Free(values);
        }
        if (connection == 0) throw new TapException($"{tap}: cannot connect to {where} through libpq: out of memory");
        if (pq.Status(connection) != Libpq.ConnectionOk)
        {
            var message = Libpq.Text(pq.ErrorMessage(connection));
            pq.Finish(connection);
            var password = keywords.FirstOrDefault(k => k.Key == "password").Value;
            var redactor = password is null ? Redactor.None : new Redactor([password]);
            throw new TapException($"{tap}: cannot connect to {where} through libpq: {redactor.Redact(message)} " +
                $"(set {Libpq.ForceNpgsqlVariable}=npgsql to read tables through Npgsql instead)");
        }
        Interlocked.Increment(ref _opened);
        return new LibpqConnection(pq, connection);
    }

    /// <summary>Runs a statement that returns no rows (e.g. <c>SET</c>).</summary>
    public void Execute(string sql)
    {
        var result = Exec(sql);
        try
        {
            var status = _pq.ResultStatus(result);
            if (status is not (Libpq.CommandOk or Libpq.TuplesOk)) throw new LibpqException(ErrorOf(result));
        }
        finally
        {
            _pq.Clear(result);
        }
    }

    /// <summary>Starts <c>COPY … TO STDOUT</c>; then <see cref="ReadCopyData"/> until it returns -1, then <see cref="EndCopy"/>.</summary>
    public void BeginCopyOut(string sql)
    {
        var result = Exec(sql);
        try
        {
            if (_pq.ResultStatus(result) != Libpq.CopyOut) throw new LibpqException(ErrorOf(result));
        }
        finally
        {
            _pq.Clear(result);
        }
    }

    /// <summary>
    /// The next CopyData message (blocking): its length, with <paramref name="data"/> to be freed by
    /// <see cref="Free"/>; -1 at the COPY's end, or a <see cref="LibpqException"/> when the connection failed.
    /// </summary>
    public int ReadCopyData(out byte* data)
    {
        byte* buffer = null;
        var length = _pq.GetCopyData(_connection, &buffer, 0);
        data = buffer;
        if (length == -2) throw new LibpqException(Libpq.Text(_pq.ErrorMessage(_connection)));
        return length;
    }

    public void Free(byte* data) => _pq.FreeMem(data);

    /// <summary>Reads the COPY's outcome: a <see cref="LibpqException"/> with the server's message when it failed.</summary>
    public void EndCopy()
    {
        string? error = null;
        nint result;
        while ((result = _pq.GetResult(_connection)) != 0)
        {
            if (error is null && _pq.ResultStatus(result) is not (Libpq.CommandOk or Libpq.TuplesOk)) error = ErrorOf(result);
            _pq.Clear(result);
        }
        if (error is not null) throw new LibpqException(error);
    }

    /// <summary>Asks the server to cancel the running statement (from any thread); the statement then ends with an error.</summary>
    public void Cancel()
    {
        if (_cancel == 0) return;
        var error = stackalloc byte[256];
        _pq.Cancel(_cancel, error, 256);
    }

    public void Dispose()
    {
        if (_cancel != 0) _pq.FreeCancel(_cancel);
        if (_connection != 0) _pq.Finish(_connection);
        _cancel = 0;
        _connection = 0;
    }

    private nint Exec(string sql)
    {
        var text = Libpq.CString(sql);
        nint result;
        try
        {
            result = _pq.Exec(_connection, text);
        }
        finally
        {
            Marshal.FreeHGlobal((nint)text);
        }
        return result != 0 ? result : throw new LibpqException(Libpq.Text(_pq.ErrorMessage(_connection)));
    }

    /// <summary>The server's primary message (as Npgsql's <c>MessageText</c>), else libpq's whole message.</summary>
    private string ErrorOf(nint result)
    {
        var primary = _pq.ResultErrorField(result, Libpq.MessagePrimary);
        return primary is not null ? Libpq.Text(primary) : Libpq.Text(_pq.ResultErrorMessage(result));
    }
}

/// <summary>
/// The libpq connection that one sync's full-table COPYs share, opened at the first COPY with the tap's connection
/// keywords; <see cref="Get"/> is null when libpq is not used (not loaded, or forced off), and the COPY goes through Npgsql.
/// </summary>
internal sealed class LibpqCopyConnection(Libpq.Native? pq, IReadOnlyList<KeyValuePair<string, string>> keywords, string where) : IDisposable
{
    private LibpqConnection? _connection;

    /// <summary>The connection (opened now for the COPY of <paramref name="stream"/> if it is the first), or null.</summary>
    public LibpqConnection? Get(string stream)
    {
        if (pq is null) return null;
        if (_connection is null)
        {
            var connection = LibpqConnection.Open(pq, keywords, where, stream);
            try
            {
                // As the Npgsql connections of the tap: text forms of values independent of the server's settings.
                connection.Execute(PostgresTap.SessionSettings);
            }
            catch (LibpqException e)
            {
                connection.Dispose();
                throw new TapException($"postgres tap: stream '{stream}': cannot set up the libpq connection to {where}: {e.Message}", e);
            }
            _connection = connection;
        }
        return _connection;
    }

    public void Dispose() => _connection?.Dispose();
}
