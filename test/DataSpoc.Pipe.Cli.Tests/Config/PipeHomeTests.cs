using DataSpoc.Pipe.Config;

namespace DataSpoc.Pipe.Cli.Tests.Config;

public sealed class PipeHomeTests
{
    [Fact]
    public void Init_creates_the_layout_once_and_never_overwrites_config_yaml()
    {
        var root = Path.Combine(Path.GetTempPath(), "dsp-home-" + Guid.NewGuid().ToString("N")[..10]);
        try
        {
            var home = new PipeHome(root);
            var first = home.Init();
            Assert.Equal(6, first.Count);
            Assert.Contains(home.EnvFilePath, first);
            Assert.True(Directory.Exists(home.PipelinesDirectory) && Directory.Exists(home.SourcesDirectory) && Directory.Exists(home.TransformsDirectory));
            File.WriteAllText(home.ConfigPath, "defaults:\n  compression: gzip\n");
            Assert.Empty(home.Init());
            Assert.Equal("defaults:\n  compression: gzip\n", File.ReadAllText(home.ConfigPath));
            if (!OperatingSystem.IsWindows())
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(home.SourcesDirectory));
            Assert.Equal(Compression.Zstd, PipeDefaults.Load(new PipeHome(root + "-none").ConfigPath).Compression ?? Compression.Zstd);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
