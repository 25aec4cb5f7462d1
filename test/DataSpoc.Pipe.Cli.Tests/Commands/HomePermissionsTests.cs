using DataSpoc.Pipe.Cli.Tests.Support;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

/// <summary>
/// What the tool creates in the home is private to its user whatever the umask: a pipeline's <c>source.tap</c> is a
/// command its owner's cron runs, so a home another user could write into is code execution as the owner.
/// </summary>
public sealed class HomePermissionsTests : IDisposable
{
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    private const UnixFileMode Folder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute; // 0700
    private const UnixFileMode PrivateFile = UnixFileMode.UserRead | UnixFileMode.UserWrite; // 0600

    [Fact]
    public void Under_umask_000_the_home_its_folders_and_the_files_the_tool_writes_there_are_private_and_the_lake_follows_the_umask()
    {
        var init = CliProcess.RunWithUmask(_home, "000", "init");
        Assert.True(init.ExitCode == 0, init.ToString());
        _home.WriteShopPipeline("shop", extraTop: "schedule:\n  cron: \"0 * * * *\"\n");
        foreach (var args in new[] { new[] { "validate", "shop" }, ["schedule", "install"], ["run", "shop"] })
        {
            var result = CliProcess.RunWithUmask(_home, "000", args);
            Assert.True(result.ExitCode == 0, result.ToString());
        }

        var modes = new[] { "", "pipelines", "sources", "transforms", "logs" }
            .Select(f => (Path.Combine(_home.Home, f), Folder))
            .Concat(new[] { "config.yaml", ".env", "pipelines/shop.tap.json", "pipelines/shop.catalog.json" }.Select(f => (Path.Combine(_home.Home, f), PrivateFile)));
        foreach (var (path, mode) in modes)
            Assert.True(File.GetUnixFileMode(path) == mode, $"{path}: {File.GetUnixFileMode(path)}, expected {mode}");
        // The lake's files are the lake's business: they follow the umask (who reads a lake is decided there).
        var manifest = Path.Combine(_home.Lake, ".dataspoc", "manifest.json");
        Assert.Equal((UnixFileMode)0x1B6, File.GetUnixFileMode(manifest)); // 0666
    }
}
