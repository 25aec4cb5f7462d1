using System.Diagnostics;
using System.Text;
using DataSpoc.Pipe.Config;

namespace DataSpoc.Pipe.Tests.Configuration;

/// <summary>YAML input is bounded: an alias bomb, a huge file and deep nesting are refused fast, naming file and line.</summary>
public sealed class YamlBoundsTests
{
    private static PipelineLoader Loader => new(new PipeDefaults(), Path.GetTempPath(), _ => null);

    private const string Head = """
        source:
          tap: tap-x
          config:
        """;

    [Fact]
    public void An_alias_bomb_is_refused_within_a_second_naming_the_alias_and_its_line()
    {
        var yaml = new StringBuilder(Head).Append('\n');
        yaml.Append("    a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for (var i = 1; i <= 9; i++)
            yaml.Append($"    a{i}: &a{i} [{string.Join(", ", Enumerable.Repeat($"*a{i - 1}", 9))}]\n");
        yaml.Append("destination:\n  bucket: file:///tmp/x\n");
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<ConfigException>(() => Loader.Parse(yaml.ToString(), "bomb", "/p/bomb.yaml"));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"took {clock.Elapsed}");
        Assert.Matches(@"^/p/bomb\.yaml:\d+: expands to more than 100,000 values through aliases \(\*a\d\)", e.Message);
    }

    [Fact]
    public void Aliases_within_the_bound_still_work()
    {
        var yaml = Head + "\n    base: &b {region: eu, retries: 3}\n    copy: *b\ndestination:\n  bucket: file:///tmp/x\n";
        var p = Loader.Parse(yaml, "ok", "/p/ok.yaml");
        Assert.Equal("eu", p.Source.InlineConfig!["copy"]!["region"]!.GetValue<string>());
    }

    [Fact]
    public void Nesting_deeper_than_64_levels_is_refused_naming_the_line()
    {
        var yaml = Head + "\n    deep: " + new string('[', 200) + new string(']', 200) + "\ndestination:\n  bucket: file:///tmp/x\n";
        var e = Assert.Throws<ConfigException>(() => Loader.Parse(yaml, "deep", "/p/deep.yaml"));
        Assert.Equal("/p/deep.yaml:4: nests mappings and lists more than 64 levels deep", e.Message);
    }

    [Fact]
    public void A_file_larger_than_a_megabyte_is_refused_before_it_is_read_whole()
    {
        var path = Path.Combine(Path.GetTempPath(), "dsp-big-" + Guid.NewGuid().ToString("N")[..8] + ".yaml");
        try
        {
            using (var f = File.Create(path)) f.SetLength(64L * 1024 * 1024);
            var e = Assert.Throws<ConfigException>(() => Loader.LoadFile(path));
            Assert.Contains("a pipeline file may have at most 1,048,576 characters", e.Message);
            var text = Head + "\n    blob: \"" + new string('x', 1 << 20) + "\"\n";
            Assert.Contains("a pipeline file may have at most", Assert.Throws<ConfigException>(() => Loader.Parse(text, "big", "/p/big.yaml")).Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void The_size_limit_counts_characters_as_the_docs_say_so_a_file_of_more_bytes_than_that_still_loads()
    {
        var yaml = Head + " {}\ndestination:\n  bucket: file:///lake\n# ";
        var text = yaml + new string('é', YamlNodes.MaxChars - yaml.Length - 1) + "\n";
        Assert.Equal(YamlNodes.MaxChars, text.Length);
        Assert.True(Encoding.UTF8.GetByteCount(text) > YamlNodes.MaxChars * 3L / 2);
        var path = Path.Combine(Path.GetTempPath(), "dsp-wide-" + Guid.NewGuid().ToString("N")[..8] + ".yaml");
        try
        {
            File.WriteAllText(path, text);
            Assert.Equal("tap-x", Loader.LoadFile(path).Source.Tap);
            Assert.Contains("a pipeline file may have at most 1,048,576", Assert.Throws<ConfigException>(() => Loader.Parse(text + "x", "wide", path)).Message);
        }
        finally
        {
            File.Delete(path);
        }
        var readme = File.ReadAllText(Path.Combine(Support.KubernetesObjects.RepoRoot, "README.md"));
        Assert.Contains("- **YAML** pipeline and `config.yaml` files: at most 1,048,576 characters", readme);
        var failures = File.ReadAllText(Path.Combine(Support.KubernetesObjects.RepoRoot, "docs", "failure-handling.md"));
        Assert.Contains("| 5. unbounded YAML | 1,048,576 characters per file", failures);
    }
}
