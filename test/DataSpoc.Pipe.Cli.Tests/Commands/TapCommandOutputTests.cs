using System.Diagnostics;
using DataSpoc.Pipe.Cli.Tests.Support;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

/// <summary><c>tap &lt;name&gt;</c> is a Singer tap: a reader that is gone stops it with an error, as it stops a Python tap.</summary>
public class TapCommandOutputTests : IDisposable
{
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    [Fact]
    public async Task A_singer_tap_whose_reader_closed_its_stdout_stops_and_exits_non_zero()
    {
        var data = Path.Combine(_home.Root, "data");
        Directory.CreateDirectory(data);
        using (var csv = new StreamWriter(Path.Combine(data, "items.csv")))
        {
            csv.WriteLine("id,name");
            for (var i = 0; i < 300_000; i++) csv.WriteLine($"{i},name {i}");
        }
        var config = Path.Combine(_home.Root, "csv.json");
        File.WriteAllText(config, $$"""{"path":"{{data}}"}""");

        // The reader takes one byte and is gone (a target that crashed): the tap must not go on reading its source.
        var psi = new ProcessStartInfo("bash") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in (string[])["-c", "\"$@\" | head -c 1 > /dev/null; exit ${PIPESTATUS[0]}", "bash", .. CliProcess.Command, "tap", "csv", "--config", config])
            psi.ArgumentList.Add(a);
        _home.Apply(psi.Environment);
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));

        Assert.Equal(1, process.ExitCode);
        Assert.Contains("csv tap: Broken pipe", await stderr, StringComparison.Ordinal);
    }
}
