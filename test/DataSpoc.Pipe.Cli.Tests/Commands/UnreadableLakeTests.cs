using DataSpoc.Pipe.Cli.Tests.Support;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

/// <summary>
/// A <c>file://</c> lake folder or file the process may not read fails the run with an error naming what was refused and
/// where (not a bare "Access to the path is denied"). Root reads through any permission bits, so as root the CLI is
/// started by <c>setpriv</c> without the two capabilities that let it (the file modes then bind root as any user).
/// </summary>
public sealed class UnreadableLakeTests : IDisposable
{
    private readonly TempHome _home = new();

    public void Dispose()
    {
        foreach (var entry in Directory.Exists(_home.Lake) ? Directory.EnumerateFileSystemEntries(_home.Lake, "*", SearchOption.AllDirectories).Prepend(_home.Lake) : [])
            if (File.GetUnixFileMode(entry) == UnixFileMode.None)
                File.SetUnixFileMode(entry, Directory.Exists(entry) ? (UnixFileMode)0x1ED : (UnixFileMode)0x1A4); // 0755 / 0644, so it can be removed
        _home.Dispose();
    }

    [Fact]
    public void A_stream_folder_or_manifest_the_process_may_not_read_fails_the_run_naming_the_operation_and_the_path()
    {
        _home.WriteShopPipeline("shop");
        var first = CliProcess.Run(_home, "run", "shop");
        Assert.True(first.ExitCode == 0, first.ToString());
        var streamFolder = Directory.GetDirectories(Path.Combine(_home.Lake, "raw"), "*", SearchOption.AllDirectories)
            .First(d => Directory.GetDirectories(d).Any(p => Path.GetFileName(p).StartsWith("dt=", StringComparison.Ordinal)));

        File.SetUnixFileMode(streamFolder, UnixFileMode.None);
        var listing = RunWithoutOverride("run", "shop");
        Assert.True(listing.ExitCode != 0, listing.ToString());
        Assert.Contains($"permission denied listing '{streamFolder}'", listing.Stderr);
        File.SetUnixFileMode(streamFolder, (UnixFileMode)0x1ED);

        var manifest = Path.Combine(_home.Lake, ".dataspoc", "manifest.json");
        File.SetUnixFileMode(manifest, UnixFileMode.None);
        var reading = RunWithoutOverride("run", "shop");
        Assert.True(reading.ExitCode != 0, reading.ToString());
        Assert.Contains($"permission denied reading '{manifest}'", reading.Stderr);
    }

    private CliProcess.Result RunWithoutOverride(params string[] args) => Environment.UserName == "root"
        ? CliProcess.RunCopy(["setpriv", "--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search", .. CliProcess.Command], _home, args)
        : CliProcess.Run(_home, args);
}
