using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace DataSpoc.Pipe.Cloud.Tests.Servers;

/// <summary>
/// A loopback TCP proxy in front of a test server that can fail on purpose: it counts the bytes clients send,
/// calls <see cref="OnUpload"/> as they flow, can reset every open connection, and can stop accepting
/// (connection refused) until <see cref="Accept"/> is called again. It stands in for a network or server that goes away.
/// <see cref="LoseResponseTo"/> makes it forward one chosen request to the server and then cut the client's connection
/// without its response: the write lands, the client never hears so and retries (a lost response).
/// <see cref="CutResponseTo"/> passes one chosen response's headers and the start of its body, then resets the connection.
/// <see cref="Stall"/> makes it a server that accepts connections and never answers.
/// </summary>
public sealed class TcpFaultProxy : IAsyncDisposable
{
    private readonly int _target;
    private readonly ConcurrentDictionary<Socket, byte> _open = new();
    private TcpListener? _listener;
    private long _uploaded;
    private long _downloaded;
    private volatile bool _unavailable;
    private volatile bool _stalled;

    public TcpFaultProxy(int targetPort)
    {
        _target = targetPort;
        // Bound on port 0 so no other process can take the port between finding it and binding it; a later
        // Accept() (after Refuse()) binds this same port again.
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Start();
        Port = ((IPEndPoint)listener.LocalEndpoint).Port;
        _listener = listener;
        _ = Task.Run(() => AcceptLoop(listener));
    }

    public int Port { get; }

    /// <summary>Bytes clients have sent through the proxy so far.</summary>
    public long Uploaded => Interlocked.Read(ref _uploaded);

    /// <summary>Bytes the server has sent clients through the proxy so far (headers included).</summary>
    public long Downloaded => Interlocked.Read(ref _downloaded);

    /// <summary>Request lines of the DELETE requests clients sent (e.g. an S3 AbortMultipartUpload).</summary>
    public ConcurrentQueue<string> DeleteRequests { get; } = new();

    /// <summary>Called with the running total of client bytes after each forwarded read.</summary>
    public Action<long>? OnUpload { get; set; }

    /// <summary>Request lines (method and path) of the requests whose response was dropped.</summary>
    public ConcurrentQueue<string> LostResponses { get; } = new();

    private string? _loseMethod;
    private string? _losePath;

    /// <summary>
    /// The next request with this method whose path contains <paramref name="pathPart"/> reaches the server, which applies it;
    /// its response is not passed on: the client's connection is reset instead (once).
    /// </summary>
    public void LoseResponseTo(string method, string pathPart)
    {
        _losePath = pathPart;
        Volatile.Write(ref _loseMethod, method + " ");
    }

    private string? _cutMethod;
    private string? _cutPath;

    /// <summary>
    /// The next request with this method whose path contains <paramref name="pathPart"/> is answered by the server; the
    /// client gets the answer's headers and one byte of its body, then the connection is reset (once), as when a connection
    /// drops mid-response or a server ends a response early.
    /// </summary>
    public void CutResponseTo(string method, string pathPart)
    {
        _cutPath = pathPart;
        Volatile.Write(ref _cutMethod, method + " ");
    }

    /// <summary>Request lines of the requests whose response was cut mid-body.</summary>
    public ConcurrentQueue<string> CutResponses { get; } = new();

    public void Accept()
    {
        if (_listener is not null) return;
        var listener = new TcpListener(IPAddress.Loopback, Port);
        listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Start();
        _listener = listener;
        _ = Task.Run(() => AcceptLoop(listener));
    }

    /// <summary>Stops accepting (new connections are refused) and resets every open connection.</summary>
    public void GoDown()
    {
        var listener = _listener;
        _listener = null;
        listener?.Stop();
        ResetAll();
    }

    /// <summary>
    /// From now on every request is answered <c>503 SlowDown</c> (S3's throttling answer) by the proxy itself and never
    /// reaches the server, as an overloaded service or load balancer would; open connections are reset.
    /// </summary>
    public void AnswerUnavailable()
    {
        _unavailable = true;
        ResetAll();
    }

    /// <summary>
    /// As <see cref="AnswerUnavailable"/>, with <paramref name="body"/> for the answer's body under an XML content type:
    /// a gateway or load balancer's own error page (not the service's XML error document).
    /// </summary>
    public void AnswerUnavailable(string body)
    {
        _unavailableBody = body;
        AnswerUnavailable();
    }

    private volatile string? _unavailableBody;
    private int _unavailableAnswers;

    /// <summary>How many connections were answered 503 (each a request, retries included).</summary>
    public int UnavailableAnswers => Volatile.Read(ref _unavailableAnswers);

    /// <summary>
    /// From now on the endpoint stalls, as a hung server or a network that drops everything would: open connections pass
    /// nothing more either way, new ones are accepted and never answered. A client waits for its own timeouts, or gives
    /// up (closes the connection). <see cref="Pass"/> ends it for new connections; a stalled one stays silent.
    /// </summary>
    public void Stall() => _stalled = true;

    /// <summary>Requests reach the server again (after <see cref="AnswerUnavailable"/> or <see cref="Stall"/>).</summary>
    public void Pass()
    {
        _unavailable = false;
        _unavailableBody = null;
        _stalled = false;
    }

    /// <summary>Resets every open connection (RST), as a crashed server or dropped network would.</summary>
    public void ResetAll()
    {
        foreach (var socket in _open.Keys)
        {
            try
            {
                socket.LingerState = new LingerOption(true, 0);
                socket.Close();
            }
            catch (Exception) { }
            _open.TryRemove(socket, out _);
        }
    }

    private async Task AcceptLoop(TcpListener listener)
    {
        while (true)
        {
            Socket client;
            try { client = await listener.AcceptSocketAsync(); }
            catch (Exception) { return; }
            _ = Task.Run(() => Pipe(client));
        }
    }

    private async Task Pipe(Socket client)
    {
        if (_unavailable)
        {
            Interlocked.Increment(ref _unavailableAnswers);
            await AnswerUnavailableAsync(client, _unavailableBody);
            return;
        }
        if (_stalled)
        {
            await SwallowAsync(client);
            return;
        }
        var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _open[client] = 0;
        _open[server] = 0;
        try
        {
            await server.ConnectAsync(IPAddress.Loopback, _target);
            var connection = new Connection();
            var upload = Copy(client, server, upload: true, connection);
            await Task.WhenAny(upload, Copy(server, client, upload: false, connection));
            // A stalled connection is not closed when the server closes its side: the client hears nothing until it gives up.
            if (connection.Stalled) await upload;
        }
        catch (Exception) { }
        finally
        {
            foreach (var socket in new[] { client, server })
            {
                _open.TryRemove(socket, out _);
                try { socket.Close(); } catch (Exception) { }
            }
        }
    }

    /// <summary>Per client connection: a request whose response is to be dropped has been sent on it.</summary>
    private sealed class Connection
    {
        public string? Losing;
        /// <summary>The request whose response is to be cut after its headers and one byte of its body.</summary>
        public string? Cutting;
        public bool CutHeadersPassed;
        /// <summary>It was open (or opened) while the proxy stalled: nothing passes on it any more.</summary>
        public volatile bool Stalled;
    }

    private async Task Copy(Socket from, Socket to, bool upload, Connection connection)
    {
        var buffer = new byte[1 << 16];
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer, SocketFlags.None);
                if (_unavailable) return; // a connection opened before the switch: dropped, the client reconnects
                if (_stalled) connection.Stalled = true;
                if (connection.Stalled)
                {
                    if (read == 0) return; // this side closed (the client gave up, or the server): nothing to pass on
                    continue; // swallowed
                }
                if (read == 0)
                {
                    to.Shutdown(SocketShutdown.Send);
                    return;
                }
                if (!upload && connection.Losing is { } request && !buffer.AsSpan(0, read).StartsWith("HTTP/1.1 100"u8))
                {
                    // The server answered the chosen request: it has applied it. The client never gets the answer.
                    LostResponses.Enqueue(request);
                    to.LingerState = new LingerOption(true, 0); // reset, not an orderly close
                    to.Close();
                    from.Close();
                    return;
                }
                if (!upload && connection.Cutting is { } cut && !buffer.AsSpan(0, read).StartsWith("HTTP/1.1 100"u8))
                {
                    var bodyStart = 0;
                    if (!connection.CutHeadersPassed)
                    {
                        var headerEnd = buffer.AsSpan(0, read).IndexOf("\r\n\r\n"u8);
                        connection.CutHeadersPassed = headerEnd >= 0;
                        bodyStart = headerEnd < 0 ? read : headerEnd + 4;
                    }
                    if (read - bodyStart >= 2)
                    {
                        await to.SendAsync(buffer.AsMemory(0, bodyStart + 1), SocketFlags.None);
                        CutResponses.Enqueue(cut);
                        to.LingerState = new LingerOption(true, 0);
                        to.Close();
                        from.Close();
                        return;
                    }
                }
                if (upload)
                {
                    NoteLosing(buffer.AsSpan(0, read), connection);
                    connection.Cutting ??= Chosen(buffer.AsSpan(0, read), ref _cutMethod, _cutPath);
                }
                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None);
                if (upload)
                {
                    NoteDeletes(buffer.AsSpan(0, read));
                    OnUpload?.Invoke(Interlocked.Add(ref _uploaded, read));
                }
                else Interlocked.Add(ref _downloaded, read);
            }
        }
        catch (Exception) { }
    }

    /// <summary>Marks the connection when <paramref name="data"/> starts the chosen request (its request line comes in one read).</summary>
    private void NoteLosing(ReadOnlySpan<byte> data, Connection connection) =>
        connection.Losing ??= Chosen(data, ref _loseMethod, _losePath);

    /// <summary>
    /// The request line when <paramref name="data"/> starts a request with the chosen method and path part, once: the
    /// choice is cleared when it matches.
    /// </summary>
    private static string? Chosen(ReadOnlySpan<byte> data, ref string? chosenMethod, string? pathPart)
    {
        if (Volatile.Read(ref chosenMethod) is not { } method || pathPart is null) return null;
        var end = data.IndexOf("\r\n"u8);
        if (end < 0) return null;
        var line = System.Text.Encoding.ASCII.GetString(data[..end]);
        if (!line.StartsWith(method, StringComparison.Ordinal) || !line.Contains(pathPart, StringComparison.Ordinal)) return null;
        return Interlocked.CompareExchange(ref chosenMethod, null, method) == method ? line : null;
    }

    /// <summary>A connection accepted while stalled: what the client sends is read and dropped until it closes.</summary>
    private async Task SwallowAsync(Socket client)
    {
        _open[client] = 0;
        try
        {
            var buffer = new byte[1 << 16];
            while (await client.ReceiveAsync(buffer, SocketFlags.None) > 0) { }
        }
        catch (Exception) { }
        finally
        {
            _open.TryRemove(client, out _);
            try { client.Close(); } catch (Exception) { }
        }
    }

    /// <summary>Reads one request (its body too, unless the client waits for 100-continue) and answers 503, closing the connection.</summary>
    private static async Task AnswerUnavailableAsync(Socket client, string? page)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            var received = new List<byte>();
            var buffer = new byte[1 << 16];
            int headerEnd;
            while ((headerEnd = IndexOf(received, "\r\n\r\n"u8)) < 0)
            {
                var read = await client.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
                if (read == 0) return;
                received.AddRange(buffer.AsSpan(0, read));
            }
            var headers = System.Text.Encoding.ASCII.GetString(received.ToArray(), 0, headerEnd).Split("\r\n");
            string? Header(string name) => headers.FirstOrDefault(h => h.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase))?[(name.Length + 1)..].Trim();
            if (Header("Expect") is null && long.TryParse(Header("Content-Length"), out var length))
                for (var body = received.Count - headerEnd - 4L; body < length;)
                {
                    var read = await client.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
                    if (read == 0) break;
                    body += read;
                }
            var xml = page ?? "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
            var answer = $"HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\n{(page is null ? "x-ms-error-code: ServerBusy\r\n" : "")}Content-Length: {xml.Length}\r\nConnection: close\r\n\r\n{xml}";
            await client.SendAsync(System.Text.Encoding.ASCII.GetBytes(answer), SocketFlags.None, timeout.Token);
            client.Shutdown(SocketShutdown.Both);
        }
        catch (Exception) { }
        finally
        {
            try { client.Close(); } catch (Exception) { }
        }
    }

    private static int IndexOf(List<byte> data, ReadOnlySpan<byte> value) =>
        System.Runtime.InteropServices.CollectionsMarshal.AsSpan(data).IndexOf(value);

    private void NoteDeletes(ReadOnlySpan<byte> data)
    {
        var at = data.IndexOf("DELETE /"u8);
        if (at < 0) return;
        var line = data[at..];
        var end = line.IndexOf("\r\n"u8);
        DeleteRequests.Enqueue(System.Text.Encoding.ASCII.GetString(end < 0 ? line : line[..end]));
    }

    public ValueTask DisposeAsync()
    {
        GoDown();
        return ValueTask.CompletedTask;
    }
}
