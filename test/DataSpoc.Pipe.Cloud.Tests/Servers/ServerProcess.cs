using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace DataSpoc.Pipe.Cloud.Tests.Servers;

/// <summary>
/// A test server child process on 127.0.0.1: started, awaited until its port accepts connections, and stopped with
/// SIGTERM (sent twice: Azurite exits only on the second), then SIGKILL if it still runs.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    /// <summary>
    /// How long a server may take to listen: a node server starts in a few seconds on an idle machine, but on a loaded
    /// one (./test.sh also runs the test lanes at a lower CPU priority than the native build) a minute was too short.
    /// </summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);

    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ServerProcess(Process process) => _process = process;

    /// <summary>
    /// Starts a server on a port found free. Another process can take that port before the server binds it (test
    /// projects run side by side, and outgoing connections take ports from the same range), so a server that exits
    /// because its address is in use is started again on a fresh port.
    /// </summary>
    public static async Task<(ServerProcess Server, int Port)> StartOnFreePortAsync(string executable, Func<int, IEnumerable<string>> arguments, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            var port = FreePort.Next();
            try
            {
                return (await StartAsync(executable, arguments(port), port, timeout, environment), port);
            }
            catch (InvalidOperationException e) when (attempt < 5 && e.Message.Contains("EADDRINUSE", StringComparison.Ordinal))
            {
            }
        }
    }

    public static async Task<ServerProcess> StartAsync(string executable, IEnumerable<string> arguments, int port, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) info.Environment[name] = value;
        var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {executable}");
        var server = new ServerProcess(process);
        process.OutputDataReceived += (_, e) => server.Append(e.Data);
        process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (process.HasExited)
                throw new InvalidOperationException($"{Path.GetFileName(executable)} exited with code {process.ExitCode} before listening on {port}: {server.Output}");
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", port);
                return server;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
            catch (SocketException)
            {
                await server.DisposeAsync();
                throw new TimeoutException($"{Path.GetFileName(executable)} did not listen on 127.0.0.1:{port} within {timeout.TotalSeconds:0} s: {server.Output}");
            }
        }
    }

    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) if (_output.Length < 64_000) _output.AppendLine(line);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    private const int SigTerm = 15;

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            for (var attempt = 0; attempt < 2 && !_process.HasExited; attempt++)
            {
                _ = kill(_process.Id, SigTerm);
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                try { await _process.WaitForExitAsync(wait.Token); }
                catch (OperationCanceledException) { }
            }
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        _process.Dispose();
    }
}
