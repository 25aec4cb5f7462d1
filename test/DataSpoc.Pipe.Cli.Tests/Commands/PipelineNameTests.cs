using DataSpoc.Pipe.Cli.Tests.Support;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

/// <summary>
/// Names that climb out of the home (<c>../../evil</c>) are refused by every command that takes a pipeline name,
/// as a usage error saying what a name may be, before any file is read or tap started.
/// </summary>
public sealed class PipelineNameTests : IDisposable
{
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    private string Marker => Path.Combine(_home.Root, "evil-ran");

    [Theory]
    [InlineData("run", "../../evil")]
    [InlineData("run", "../pipelines/../../evil")]
    [InlineData("logs", "../../evil")]
    [InlineData("validate", "../../evil")]
    [InlineData("streams", "../../evil")]
    [InlineData("add", "../../evil")]
    [InlineData("run", "/etc/passwd")]
    public void A_name_that_climbs_out_of_the_home_is_refused_and_runs_nothing(string command, string name)
    {
        _home.WriteShopPipeline("shop");
        // <home>/pipelines/../../evil.yaml lies outside the home; its tap would leave a marker.
        File.WriteAllText(Path.Combine(_home.Root, "evil_tap.py"), $"open({System.Text.Json.JsonSerializer.Serialize(Marker)}, 'w').write('ran')\n");
        File.WriteAllText(Path.Combine(_home.Root, "evil.yaml"), $"""
            source:
              tap: python3 {Path.Combine(_home.Root, "evil_tap.py")}
            destination:
              bucket: {_home.Bucket}
            """);
        string[] extra = command == "add" ? ["--tap", "csv", "--bucket", _home.Bucket] : [];
        var result = CliProcess.Run(_home, [.. command.Split(' '), name, .. extra]);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains($"pipeline name '{name}' is not valid", result.Stderr);
        Assert.False(File.Exists(Marker), "the evil pipeline's tap ran");
        Assert.Single(Directory.GetFiles(_home.Pipelines));
    }

    [Fact]
    public void Usage_errors_say_what_is_wrong()
    {
        _home.WriteShopPipeline("shop");
        // add named the character rule only, for a name of 101 letters.
        var add = CliProcess.Run(_home, "add", new string('a', 101), "--tap", "csv", "--bucket", _home.Bucket);
        Assert.True(add.ExitCode == 2, add.ToString());
        Assert.Contains("at most 100 characters", add.Stderr);
        // --target-file-mb without --compact was ignored without a word.
        var maintain = CliProcess.Run(_home, "maintain", "shop", "--target-file-mb", "64");
        Assert.True(maintain.ExitCode == 2, maintain.ToString());
        Assert.Contains("--target-file-mb: sizes the files compaction writes: add --compact", maintain.Stderr);
        // --list and --run: --run was ignored.
        var logs = CliProcess.Run(_home, "logs", "shop", "--list", "--run", "abc");
        Assert.True(logs.ExitCode == 2, logs.ToString());
        Assert.Contains("give one of them", logs.Stderr);
        // A zero age was called "not a duration", sending the user hunting for a syntax error.
        var zero = CliProcess.Run(_home, "maintain", "shop", "--expire-older-than", "0s");
        Assert.True(zero.ExitCode == 2, zero.ToString());
        Assert.Contains("--expire-older-than: '0s' is zero: give a duration greater than zero", zero.Stderr);
        var huge = CliProcess.Run(_home, "maintain", "shop", "--expire-older-than", "1e300");
        Assert.True(huge.ExitCode == 2, huge.ToString());
        Assert.Contains("--expire-older-than: '1e300' is longer than 36500d (100 years)", huge.Stderr);
        // tap's usage errors had no "error: " prefix.
        var tap = CliProcess.Run(_home, "tap", "nosuch", "--config", "c.json");
        Assert.Equal(2, tap.ExitCode);
        Assert.StartsWith("error: unknown built-in tap 'nosuch'", tap.Stderr);
    }

    [Fact]
    public void A_source_name_that_is_not_one_folder_name_is_a_config_error_with_its_line()
    {
        var file = _home.WriteShopPipeline("shop", extraSource: "  name: ../../etc\n");
        var result = CliProcess.Run(_home, "run", "shop");
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains($"{file}:3: source.name: source name '../../etc' must not start with '.'", result.Stderr);
    }
}
