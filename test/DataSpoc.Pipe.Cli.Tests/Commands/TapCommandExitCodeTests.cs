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
        // A config, state or catalog file the tap cannot read is a configuration error too, as run's missing tap config file is.
        var malformed = Path.Combine(_home.Root, "malformed.json");
        File.WriteAllText(malformed, "{\"path\": ");
        var list = Path.Combine(_home.Root, "list.json");
        File.WriteAllText(list, "[]");
        var readable = Path.Combine(_home.Root, "readable.json");
        File.WriteAllText(readable, $$"""{"path": "{{data}}"}""");
        foreach (var (arguments, error) in new (string[], string)[]
                 {
                     (["--config", Path.Combine(_home.Root, "absent.json")], $"cannot read the config file '{_home.Root}/absent.json': "),
                     (["--config", malformed], $"the config file '{malformed}' is not valid JSON (line 1): "),
                     (["--config", list], $"the config file '{list}' must hold a JSON object"),
                     (["--config", readable, "--state", Path.Combine(_home.Root, "absent-state.json")], $"cannot read the state file '{_home.Root}/absent-state.json': "),
                 })
        {
            var result = CliProcess.Run(_home, ["tap", "jsonl", .. arguments]);
            Assert.True(result.ExitCode == 2, $"{string.Join(' ', arguments)}: {result}");
            Assert.StartsWith(error, result.Stderr, StringComparison.Ordinal);
        }
        var good = Path.Combine(_home.Root, "good.json");
        File.WriteAllText(good, $$"""{"path": "{{data}}"}""");
        var failed = CliProcess.Run(_home, "tap", "jsonl", "--config", good);
        Assert.True(failed.ExitCode == 1, failed.ToString());
        Assert.StartsWith($"jsonl tap: {data}/a.jsonl line 2: not valid JSON", failed.Stderr, StringComparison.Ordinal);
    }
}
