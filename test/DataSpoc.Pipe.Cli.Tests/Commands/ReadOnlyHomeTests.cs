using DataSpoc.Pipe.Cli.Tests.Support;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

/// <summary>
/// The set-up commands on a home this user cannot write (a read-only mount, as a container's or CI step's often is):
/// <c>init</c> on a complete home changes nothing and succeeds; <c>add</c> and <c>demo</c> refuse before writing anything,
/// naming the folder. The home is a tmpfs remounted read-only (the tests run as root, which permission bits do not stop).
/// </summary>
public sealed class ReadOnlyHomeTests : IDisposable
{
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    [Fact]
    public void On_a_read_only_home_init_succeeds_and_add_and_demo_refuse_naming_the_folder_before_writing_anything()
    {
        Directory.CreateDirectory(_home.Home);
        HostCommand.Run("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", _home.Home);
        try
        {
            var first = CliProcess.Run(_home, "init");
            Assert.True(first.ExitCode == 0, first.ToString());
            HostCommand.Run("mount", "-o", "remount,ro", _home.Home);

            var again = CliProcess.Run(_home, "init");
            Assert.True(again.ExitCode == 0, again.ToString());
            Assert.Contains("Already initialized", again.Stdout);

            var add = CliProcess.Run(_home, "add", "x", "--tap", "csv", "--bucket", "file://" + _home.Lake);
            Assert.True(add.ExitCode == 2, add.ToString());
            Assert.StartsWith($"error: cannot write to the home folder {_home.Pipelines}: Read-only file system (", add.Stderr);
            Assert.False(File.Exists(Path.Combine(_home.Home, "sources", "x.json")));

            var demo = CliProcess.Run(_home, "demo");
            Assert.True(demo.ExitCode == 2, demo.ToString());
            Assert.StartsWith($"error: cannot write to the home folder {_home.Home}: Read-only file system (", demo.Stderr);
        }
        finally
        {
            HostCommand.Run("umount", "--lazy", _home.Home);
        }
    }

    [Fact]
    public void Init_tightens_sources_by_taking_group_and_others_access_away_and_never_gives_its_user_write_access_back()
    {
        Assert.Equal(0, CliProcess.Run(_home, "init").ExitCode);
        var sources = Path.Combine(_home.Home, "sources");
        var readOnly = UnixFileMode.UserRead | UnixFileMode.UserExecute; // 0500: an admin made it read-only
        File.SetUnixFileMode(sources, readOnly | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
        Assert.Equal(0, CliProcess.Run(_home, "init").ExitCode);
        Assert.Equal(readOnly, File.GetUnixFileMode(sources));
    }
}
