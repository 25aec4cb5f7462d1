using System.Net;
using System.Net.Sockets;

namespace DataSpoc.Pipe.Cli.Tests.Support;

/// <summary>
/// A TCP listener on 127.0.0.1 that accepts every connection and never answers: an S3 endpoint that hangs (a stuck
/// proxy, a dead server behind a load balancer). Connections stay open until dispose.
/// </summary>
public sealed class StalledEndpoint : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly List<Socket> _accepted = [];

    public StalledEndpoint()
    {
        _listener.Start();
        _ = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    var socket = await _listener.AcceptSocketAsync();
                    lock (_accepted) _accepted.Add(socket);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        });
    }

    public string Url => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    public void Dispose()
    {
        _listener.Stop();
        lock (_accepted) foreach (var s in _accepted) s.Dispose();
    }
}
