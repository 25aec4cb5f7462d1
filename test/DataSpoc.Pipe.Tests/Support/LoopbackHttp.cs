using System.Net;
using System.Net.Sockets;

namespace DataSpoc.Pipe.Tests.Support;

/// <summary>Starts an HttpListener on a free 127.0.0.1 port for the tests' stand-in servers.</summary>
internal static class LoopbackHttp
{
    /// <summary>
    /// A port found free can be taken by another process before HttpListener binds it (test projects run side by
    /// side), so a bind refused as in use is retried on a fresh port.
    /// </summary>
    public static (HttpListener Listener, int Port) StartOnFreePort()
    {
        for (var attempt = 1; ; attempt++)
        {
            int port;
            using (var probe = new TcpListener(IPAddress.Loopback, 0))
            {
                probe.Start();
                port = ((IPEndPoint)probe.LocalEndpoint).Port;
            }
            var listener = new HttpListener();
            listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                listener.Start();
                return (listener, port);
            }
            catch (HttpListenerException) when (attempt < 10)
            {
                listener.Close();
            }
        }
    }
}
