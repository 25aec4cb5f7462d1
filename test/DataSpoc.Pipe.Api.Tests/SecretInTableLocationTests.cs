using DataSpoc.Pipe.Api;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;

namespace DataSpoc.Pipe.Api.Tests;

/// <summary>
/// <c>destination.path</c> and <c>source.name</c> are folders of every table's location, written to the bucket in clear
/// (folder names, manifest.json, table metadata): one holding a secret is refused, as a stream's name is, by validate
/// and before a run writes anything.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SecretInTableLocationTests : IDisposable
{
    private const string Secret = "zebra7secretq";
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    [Theory]
    [InlineData("destination.path", "  path: raw_${LAKE_TOKEN}\n", "", "'***'")]
    [InlineData("source.name", "", "  name: shop_${LAKE_TOKEN}\n", "'***'")]
    public async Task A_secret_in_the_path_or_source_name_is_refused_by_validate_and_run_and_never_reaches_the_bucket(string key, string destination, string source, string masked)
    {
        WriteSecretToEnvFile();
        var csv = Path.Combine(_home.Root, "inputs");
        File.WriteAllText(Path.Combine(csv, "orders.csv"), "id,amount\n1,2.5\n");
        var name = _home.Name("leaky");
        _home.WritePipeline(name, $"source:\n  tap: csv\n  config: {{path: {csv}}}\n{source}destination:\n  bucket: {_home.Bucket}\n{destination}");
        var client = new PipeClient(_home.Home);

        // The run wrote the table (and the manifest's location) under raw_zebra7secretq/.
        var run = await Assert.ThrowsAsync<ConfigException>(() => client.RunAsync(name));
        var expected = $"{masked} contains a secret of the pipeline: ${{LAKE_TOKEN}}";
        Assert.True(run.Key == key, run.Message);
        Assert.True(run.Message.Contains(expected, StringComparison.Ordinal), run.Message);
        Assert.Contains($"refused, so that the secret is not written to the bucket in clear in its table folders, manifest and table metadata: change {key}, or the secret", run.Message);
        Assert.DoesNotContain(Secret, run.Message);

        var validation = await client.ValidateAsync(name);
        Assert.False(validation.Ok);
        var problem = Assert.Single(validation.Problems, p => p.Key == key);
        Assert.Contains(expected, problem.Message);
        Assert.DoesNotContain(Secret, problem.Message);

        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(_home.Lake, "*", SearchOption.AllDirectories),
            e => e.Contains(Secret, StringComparison.Ordinal) || (File.Exists(e) && File.ReadAllText(e).Contains(Secret, StringComparison.Ordinal)));
    }

    /// <summary>
    /// The entries of a split run land data too: a worker's <c>--part</c> and <c>--commit-parts</c> refuse such a pipeline
    /// before they open the bucket, as a run does (the commit had no check: it wrote its run log, and would land the parts
    /// staged before the path changed under the secret's folder).
    /// </summary>
    [Theory]
    [InlineData("destination.path", "  path: raw_${LAKE_TOKEN}\n", "")]
    [InlineData("source.name", "", "  name: shop_${LAKE_TOKEN}\n")]
    public async Task A_split_runs_part_and_commit_parts_refuse_a_secret_in_the_path_or_source_name_before_the_bucket_is_touched(string key, string destination, string source)
    {
        WriteSecretToEnvFile();
        var name = _home.Name("leaky");
        _home.WritePipeline(name, $"source:\n  tap: postgres\n  config: {{host: 127.0.0.1, dbname: shop}}\n  split: {{column: id, parts: 2}}\n{source}" +
            $"destination:\n  bucket: {_home.Bucket}\n{destination}");
        var client = new PipeClient(_home.Home);
        var pipeline = client.Load(name);

        var part = await Assert.ThrowsAsync<ConfigException>(() => client.RunPipelineAsync(pipeline, new RunOptions { Part = new SplitPart(0, 2, "split-1") }));
        var commit = await Assert.ThrowsAsync<ConfigException>(() => client.CommitPartsAsync(pipeline, "split-1"));

        foreach (var refused in new[] { part, commit })
        {
            Assert.True(refused.Key == key, refused.Message);
            Assert.Contains("'***' contains a secret of the pipeline: ${LAKE_TOKEN}", refused.Message);
            Assert.DoesNotContain(Secret, refused.Message);
        }
        Assert.Empty(Directory.Exists(_home.Lake) ? Directory.EnumerateFileSystemEntries(_home.Lake, "*", SearchOption.AllDirectories) : []);
    }

    /// <summary>
    /// <c>maintain --compact</c> writes new files into the table folders as a run does, so it refuses such a pipeline
    /// before it opens the bucket (it took the lock and compacted the tables under the secret's folder); maintain
    /// without compaction writes no table file and still runs.
    /// </summary>
    [Theory]
    [InlineData("destination.path", "  path: raw_${LAKE_TOKEN}\n", "")]
    [InlineData("source.name", "", "  name: shop_${LAKE_TOKEN}\n")]
    public async Task Maintain_compact_refuses_a_secret_in_the_path_or_source_name_before_the_bucket_is_touched(string key, string destination, string source)
    {
        WriteSecretToEnvFile();
        var name = _home.Name("leaky");
        _home.WritePipeline(name, $"source:\n  tap: csv\n  config: {{path: {_home.Root}}}\n{source}destination:\n  bucket: {_home.Bucket}\n{destination}");
        var client = new PipeClient(_home.Home);

        var refused = await Assert.ThrowsAsync<ConfigException>(() => client.MaintainAsync(name, TimeSpan.FromDays(7), compactTargetFileMb: 128));

        Assert.True(refused.Key == key, refused.Message);
        Assert.Contains("'***' contains a secret of the pipeline: ${LAKE_TOKEN}", refused.Message);
        Assert.DoesNotContain(Secret, refused.Message);
        Assert.Empty(Directory.Exists(_home.Lake) ? Directory.EnumerateFileSystemEntries(_home.Lake, "*", SearchOption.AllDirectories) : []);
    }

    /// <summary>The home's <c>.env</c> (owner-only, as the loader requires) holding the secret as <c>LAKE_TOKEN</c>.</summary>
    private void WriteSecretToEnvFile()
    {
        var env = Path.Combine(_home.Home, ".env");
        File.WriteAllText(env, $"LAKE_TOKEN={Secret}\n");
        File.SetUnixFileMode(env, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }
}
