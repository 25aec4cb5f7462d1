using System.Net;
using System.Net.Sockets;

namespace DataSpoc.Pipe.Cloud.Tests.Servers;

/// <summary>A TCP port on 127.0.0.1 that is free right now (the OS picks it).</summary>
public static class FreePort
{
    public static int Next()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }
}
