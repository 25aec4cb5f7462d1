using DataSpoc.Pipe.Cli.Tests.Support;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

/// <summary>
/// A home whose pipelines folder cannot be read is an error, not an empty home: <c>status --output json</c> must not
/// answer <c>[]</c> with exit 0 (a monitor would see "nothing scheduled, all fine"), and <c>run</c> says why.
/// </summary>
public sealed class UnreadableHomeTests : IDisposable
{
    private readonly TempHome _home = new();

    public void Dispose()
    {
        if (Directory.Exists(_home.Pipelines)) File.SetUnixFileMode(_home.Pipelines, (UnixFileMode)0x1ED); // 0755, so it can be removed
        _home.Dispose();
    }

    public static TheoryData<string> Breakages => Environment.UserName == "root"
        ? new() { "not-a-folder", "link-loop" } // root reads through any permission bits
        : new() { "not-a-folder", "link-loop", "no-permission" };

    [Theory]
    [MemberData(nameof(Breakages))]
    public void Status_and_run_fail_with_the_reason_when_the_pipelines_folder_cannot_be_read(string breakage)
    {
        Directory.CreateDirectory(_home.Home);
        switch (breakage)
        {
            case "not-a-folder":
                File.WriteAllText(_home.Pipelines, "a file where the folder should be");
                break;
            case "link-loop":
                File.CreateSymbolicLink(_home.Pipelines, _home.Pipelines);
                break;
            default:
                _home.WriteShopPipeline("shop");
                File.SetUnixFileMode(_home.Pipelines, UnixFileMode.None);
                break;
        }

        var status = CliProcess.Run(_home, "status", "--output", "json");
        Assert.True(status.ExitCode != 0, status.ToString());
        Assert.Contains("cannot read the pipelines folder", status.Stderr);
        Assert.DoesNotContain("[]", status.Stdout);

        var runAll = CliProcess.Run(_home, "run", "--all");
        Assert.True(runAll.ExitCode != 0, runAll.ToString());
        Assert.Contains("cannot read the pipelines folder", runAll.Stderr);
        Assert.DoesNotContain("there are no pipelines", runAll.Stderr);

        var runOne = CliProcess.Run(_home, "run", "shop");
        Assert.True(runOne.ExitCode != 0, runOne.ToString());
        Assert.Contains("cannot read the pipelines folder", runOne.Stderr);
    }

    [Fact]
    public void A_home_that_does_not_exist_yet_still_has_no_pipelines()
    {
        var status = CliProcess.Run(_home, "status", "--output", "json");
        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.Equal("[]", status.Stdout.Trim());
    }
}
