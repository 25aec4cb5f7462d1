using System.Diagnostics;
using System.Text.RegularExpressions;

namespace DataSpoc.Pipe.Cli.Tests.Support;

/// <summary>
/// <c>dataspoc-pipe ui --port 0</c> started for real in a <see cref="TempHome"/>; <see cref="Url"/> is the address it
/// printed (<c>http://127.0.0.1:&lt;port&gt;</c>). Disposing stops it.
/// </summary>
public sealed partial class DashboardProcess : IDisposable
{
    private readonly Process _process;

    public DashboardProcess(TempHome home)
    {
        var psi = new ProcessStartInfo(CliProcess.Command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in CliProcess.Command.Skip(1).Concat(["ui", "--port", "0"])) psi.ArgumentList.Add(a);
        home.Apply(psi.Environment);
        _process = Process.Start(psi)!;
        var line = _process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)).GetAwaiter().GetResult();
        if (line is null) Assert.Fail("ui printed nothing: " + _process.StandardError.ReadToEnd()); // ended: stderr is complete
        Url = Address().Match(line!).Value;
        Assert.False(string.IsNullOrEmpty(Url), line);
    }

    public string Url { get; }

    /// <summary>The port the dashboard listens on.</summary>
    public int Port => new Uri(Url).Port;

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }

    [GeneratedRegex(@"http://127\.0\.0\.1:\d+")]
    private static partial Regex Address();
}
