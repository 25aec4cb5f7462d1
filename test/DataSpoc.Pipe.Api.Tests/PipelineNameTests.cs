using DataSpoc.Pipe.Api;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;

namespace DataSpoc.Pipe.Api.Tests;

/// <summary>
/// A pipeline name is a file name in the home: one that climbs out of <c>pipelines/</c> (<c>../../evil</c>) would load
/// any YAML on disk and run its tap. Every entry point of the API refuses it before touching the file.
/// </summary>
public sealed class PipelineNameTests : IDisposable
{
    private readonly TempHome _home = new();
    private string Marker => Path.Combine(_home.Root, "evil-ran");

    public PipelineNameTests()
    {
        // <home>/pipelines/../../evil.yaml: outside the home, with a tap that leaves a marker when it runs.
        File.WriteAllText(Path.Combine(_home.Root, "evil_tap.py"), $"open({System.Text.Json.JsonSerializer.Serialize(Marker)}, 'w').write('ran')\n");
        File.WriteAllText(Path.Combine(_home.Root, "evil.yaml"), $"""
            source:
              tap: python3 {Path.Combine(_home.Root, "evil_tap.py")}
            destination:
              bucket: {_home.Bucket}
            """);
    }

    public void Dispose() => _home.Dispose();

    public static TheoryData<string> BadNames => new() { "../../evil", "../pipelines/x", "/etc/passwd", "a/b", ".hidden", "-rf", "", "x\0y", new string('a', 101) };

    [Theory]
    [MemberData(nameof(BadNames))]
    public async Task Every_PipeClient_call_refuses_a_name_that_is_not_a_plain_file_name(string name)
    {
        var client = new PipeClient(_home.Home);
        var errors = new List<ConfigException>
        {
            Assert.Throws<ConfigException>(() => client.Load(name)),
            Assert.Throws<ConfigException>(() => client.Config(name)),
            await Assert.ThrowsAsync<ConfigException>(() => client.RunAsync(name)),
            await Assert.ThrowsAsync<ConfigException>(() => client.LogsAsync(name)),
            await Assert.ThrowsAsync<ConfigException>(() => client.LogAsync(name)),
            await Assert.ThrowsAsync<ConfigException>(() => client.ValidateAsync(name)),
        };
        Assert.All(errors, e => Assert.Contains("is not valid: use letters, digits, '-', '_' and '.'", e.Message));
        Assert.False(File.Exists(Marker), "the evil tap ran");
    }

    [Fact]
    public async Task A_pipeline_defined_in_code_with_a_climbing_name_or_source_name_is_refused_before_anything_runs()
    {
        var client = new PipeClient(_home.Home);
        var pipeline = new PipelineDefinition
        {
            Name = "../../evil",
            Source = new SourceDefinition { Tap = "python3 " + Path.Combine(_home.Root, "evil_tap.py") },
            Destination = new DestinationDefinition { Bucket = _home.Bucket },
        };
        await Assert.ThrowsAsync<ConfigException>(() => client.RunAsync(pipeline, null));
        var badSource = pipeline with { Name = "fine", Source = pipeline.Source with { Name = "../../etc" } };
        var e = await Assert.ThrowsAsync<ConfigException>(() => client.RunAsync(badSource, null));
        Assert.Equal("source.name: source name '../../etc' must not start with '.'", e.Message);
        Assert.False(File.Exists(Marker), "the evil tap ran");
        Assert.Empty(Directory.EnumerateFiles(_home.Lake, "*.parquet", SearchOption.AllDirectories));
    }
    [Fact]
    public async Task A_stray_pipelines_dot_yaml_is_named_by_its_file_and_leaves_the_other_pipelines_alone()
    {
        // pipelines/.yaml: what `add "$NAME"` leaves when a script's name variable is empty. It used to fail `validate` of
        // every other pipeline, and `status` / `run --all` with "pipeline name '' is not valid", naming no file.
        var stray = Path.Combine(_home.Home, "pipelines", ".yaml");
        File.WriteAllText(stray, $"source:\n  tap: csv\ndestination:\n  bucket: {_home.Bucket}\n");
        var folder = Path.Combine(_home.Root, "inputs", "shop");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "orders.csv"), "id\n1\n");
        var name = _home.Name("shop");
        _home.WritePipeline(name, $"source:\n  tap: csv\n  config: {{path: {folder}}}\ndestination:\n  bucket: {_home.Bucket}\n");
        var client = new PipeClient(_home.Home);

        var validation = await client.ValidateAsync(name);
        Assert.True(validation.Ok, string.Join("; ", validation.Checks.Where(c => !c.Ok).Select(c => c.Detail)));
        var invalid = Assert.Single(await client.StatusAsync(), s => s.Pipeline == "");
        Assert.Equal("invalid", invalid.Status);
        var expected = $"{stray}: the file name gives the pipeline name '', which is not valid ({Lake.LakeNames.PipelineNameRule}): rename or remove the file";
        Assert.Equal(expected, invalid.Error);
        Assert.Equal(expected, Assert.Throws<ConfigException>(() => client.Load("")).Message);
        Assert.True((await client.RunAsync(name)).Succeeded);
    }
}
