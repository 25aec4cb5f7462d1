using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace DataSpoc.Pipe.Cli.Tests.Support;

/// <summary>An HTTP server on 127.0.0.1 (a free port) that answers 200 to everything and keeps each request: a stand-in collector (OTLP/HTTP, OpenLineage).</summary>
public sealed class LoopbackReceiver : IDisposable
{
    private readonly HttpListener _listener;
    private readonly Task _loop;

    public LoopbackReceiver()
    {
        (_listener, Port) = DataSpoc.Pipe.Tests.Support.LoopbackHttp.StartOnFreePort();
        _loop = Task.Run(LoopAsync);
    }

    public int Port { get; }
    public string Url => $"http://127.0.0.1:{Port}";
    public ConcurrentQueue<(string Path, string? ContentType, byte[] Body, string? Authorization)> Requests { get; } = new();

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync().ConfigureAwait(false); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException) { return; }
            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body).ConfigureAwait(false);
            Requests.Enqueue((context.Request.Url!.AbsolutePath, context.Request.ContentType, body.ToArray(), context.Request.Headers["Authorization"]));
            context.Response.StatusCode = 200;
            context.Response.Close();
        }
    }

    public void Dispose()
    {
        _listener.Close();
        try { _loop.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
    }
}
