using DataSpoc.Pipe.Cli.Tests.Support;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

/// <summary><c>tap &lt;name&gt;</c> exits as <c>run</c> does: a config the tap cannot use is a configuration error (2), a bad record a failure (1).</summary>
public class TapCommandExitCodeTests : IDisposable
{
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    [Fact]
    public void A_built_in_taps_config_error_exits_2_and_a_bad_record_exits_1()
    {
        var data = Path.Combine(_home.Root, "data");
        Directory.CreateDirectory(data);
        File.WriteAllText(Path.Combine(data, "a.jsonl"), "{\"id\": 1}\n{\"id\": \n");
        foreach (var (config, error) in new[]
                 {
                     ($$"""{"path": "{{data}}/missing"}""", $"jsonl tap: '{data}/missing' matches no file"),
                     ($$"""{"path": "{{data}}", "sample_rows": "many"}""", "jsonl tap: config key 'sample_rows' must be an integer"),
                     ($$"""{"path": "{{data}}", "sample_row": 5}""", "jsonl tap: unknown config key 'sample_row' (did you mean 'sample_rows'?)"),
                 })
        {
            var file = Path.Combine(_home.Root, "jsonl.json");
            File.WriteAllText(file, config);
            var result = CliProcess.Run(_home, "tap", "jsonl", "--config", file);
            Assert.True(result.ExitCode == 2, $"{config}: {result}");
            Assert.Equal(error + "\n", result.Stderr);
        }
        var good = Path.Combine(_home.Root, "good.json");
        File.WriteAllText(good, $$"""{"path": "{{data}}"}""");
        var failed = CliProcess.Run(_home, "tap", "jsonl", "--config", good);
        Assert.True(failed.ExitCode == 1, failed.ToString());
        Assert.StartsWith($"jsonl tap: {data}/a.jsonl line 2: not valid JSON", failed.Stderr, StringComparison.Ordinal);
    }
}
