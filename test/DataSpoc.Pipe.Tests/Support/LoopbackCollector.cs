using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;

namespace DataSpoc.Pipe.Tests.Support;

/// <summary>
/// An HTTP server on 127.0.0.1 (a free port) that keeps every request it receives: a stand-in OpenLineage collector.
/// <see cref="Answer"/> decides its reply: a status code, or null to never answer (a hung collector).
/// </summary>
public sealed class LoopbackCollector : IDisposable
{
    private readonly HttpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public LoopbackCollector(int? answer = 200)
    {
        Answer = answer;
        (_listener, Port) = LoopbackHttp.StartOnFreePort();
        _loop = Task.Run(LoopAsync);
    }

    public int Port { get; }
    public string Url => $"http://127.0.0.1:{Port}";
    public int? Answer { get; set; }
    public ConcurrentQueue<Request> Requests { get; } = new();

    public sealed record Request(string Method, string Path, string? Authorization, string? ContentType, byte[] Body)
    {
        public JsonNode Json => JsonNode.Parse(Body)!;
    }

    public static int FreePort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync().ConfigureAwait(false); }
            catch (Exception) when (_stop.IsCancellationRequested) { return; }
            catch (HttpListenerException) { return; }
            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body).ConfigureAwait(false);
            Requests.Enqueue(new Request(context.Request.HttpMethod, context.Request.Url!.AbsolutePath,
                context.Request.Headers["Authorization"], context.Request.ContentType, body.ToArray()));
            if (Answer is not { } status) continue; // hung: the client's timeout must end the wait
            context.Response.StatusCode = status;
            context.Response.Close();
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Close();
        try { _loop.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
        _stop.Dispose();
    }
}
