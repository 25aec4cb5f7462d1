using System.Runtime.CompilerServices;
using DataSpoc.Pipe.Cli.Tests.Support;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

/// <summary>
/// The <c>--help</c> text of every command, compared with <c>Snapshots/&lt;command&gt;.txt</c>.
/// Set DATASPOC_PIPE_UPDATE_SNAPSHOTS=1 to re-record them after an intended change.
/// </summary>
public sealed class HelpSnapshotTests : IDisposable
{
    // Recorded at 80 columns: output that is not a terminal is otherwise never wrapped (COLUMNS sets the width).
    private readonly TempHome _home = new TempHome().Set("COLUMNS", "80");

    public void Dispose() => _home.Dispose();

    private static readonly string[] CommandNames =
    [
        "", "init", "add", "run", "status", "logs", "config", "validate", "manifest", "maintain", "streams", "schedule", "schedule install",
        "schedule remove", "schedule list", "demo", "tap", "k8s", "k8s render",
    ];

    public static TheoryData<string> Commands => new(CommandNames);

    [Theory]
    [MemberData(nameof(Commands))]
    public void Help_text_matches_its_snapshot(string command)
    {
        var args = command.Split(' ', StringSplitOptions.RemoveEmptyEntries).Append("--help").ToArray();
        var result = CliProcess.Run(_home, args);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("", result.Stderr);
        var name = command.Length == 0 ? "root" : command.Replace(' ', '-');
        var snapshot = Path.Combine(SnapshotFolder(), name + ".txt");
        if (Environment.GetEnvironmentVariable("DATASPOC_PIPE_UPDATE_SNAPSHOTS") == "1")
        {
            File.WriteAllText(snapshot, result.Stdout);
            return;
        }
        Assert.True(File.Exists(snapshot), $"no snapshot {snapshot}: run with DATASPOC_PIPE_UPDATE_SNAPSHOTS=1 to record it");
        Assert.Equal(File.ReadAllText(snapshot), result.Stdout);
    }

    [Fact]
    public void Every_command_has_an_example_in_its_help()
    {
        foreach (var command in CommandNames.Where(c => c is not ("" or "schedule" or "k8s")))
        {
            var result = CliProcess.Run(_home, [.. command.Split(' '), "--help"]);
            Assert.Contains("EXAMPLES:", result.Stdout);
            Assert.Contains("dataspoc-pipe " + command.Split(' ')[0], result.Stdout);
        }
    }

    private static string SnapshotFolder([CallerFilePath] string thisFile = "") =>
        Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(thisFile)!)!, "Snapshots");
}
