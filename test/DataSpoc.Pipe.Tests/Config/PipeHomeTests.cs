using System.Runtime.Versioning;
using DataSpoc.Pipe.Config;

namespace DataSpoc.Pipe.Tests.Configuration;

/// <summary>A home reached through a link or written with a trailing '/' is one home (its crontab lines name it one way).</summary>
[UnsupportedOSPlatform("windows")]
public sealed class PipeHomeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dsp-homepath-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Every_spelling_of_a_home_has_the_same_canonical_path()
    {
        var real = Directory.CreateDirectory(Path.Combine(_dir, "real", "home")).FullName;
        var link = Path.Combine(_dir, "link");
        Directory.CreateSymbolicLink(link, "real"); // relative to the folder holding it
        var chain = Path.Combine(_dir, "chain");
        Directory.CreateSymbolicLink(chain, Path.Combine(link, "home"));
        foreach (var spelling in new[] { real, real + "/", real + "//", Path.Combine(link, "home"), Path.Combine(link, "home") + "/", chain, Path.Combine(_dir, "real", ".", "home") })
            Assert.Equal(real, PipeHome.Canonical(spelling));
        Assert.Equal(real, new PipeHome(chain + "/").CanonicalRoot);
        // The trailing '/' never reaches Root, where every path of the home starts.
        Assert.Equal(chain, new PipeHome(chain + "/").Root);
        // A home not created yet keeps its missing part as written, under its resolved parent.
        Assert.Equal(Path.Combine(real, "not", "yet"), PipeHome.Canonical(Path.Combine(link, "home", "not", "yet") + "/"));
        // A link loop is kept as written instead of resolved forever.
        var loop = Path.Combine(_dir, "loop");
        Directory.CreateSymbolicLink(loop, loop);
        Assert.Equal(loop, PipeHome.Canonical(loop));
    }

    [Fact]
    public void A_pipelines_path_that_is_a_file_is_refused_saying_so()
    {
        var home = new PipeHome(Directory.CreateDirectory(Path.Combine(_dir, "filehome")).FullName);
        File.WriteAllText(home.PipelinesDirectory, "not a folder");
        var e = Assert.Throws<ConfigException>(() => home.PipelineNames());
        Assert.Equal($"{home.PipelinesDirectory}: cannot read the pipelines folder: it is a file, not a folder", e.Message);
    }
}
