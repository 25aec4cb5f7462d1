using System.Text;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Failures;

/// <summary>
/// A secret planted in an inline tap config and in a <c>${VAR}</c> expansion (PipelineDefinition.Secrets), with a tap
/// that prints its whole config to stderr: no output of the run may hold either value.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class SecretLeakTests
{
    private static string PrivateFolder(TempLake lake, string pipeline) => PipelineRunner.LocalTempFolder("private", BucketUri.Parse(lake.Bucket), pipeline);

    [Fact]
    public async Task Planted_secrets_appear_in_no_run_log_error_stderr_tail_notice_bucket_file_or_state()
    {
        using var lake = new TempLake();
        var secret = "s3cr3t-PLANTED-" + Guid.NewGuid().ToString("N")[..8];
        var expanded = "env-PLANTED-" + Guid.NewGuid().ToString("N")[..8];
        JsonObject Config(int exitCode) => new()
        {
            ["max_id"] = 5,
            ["password"] = secret,
            ["nested"] = new JsonObject { ["api_token"] = secret + "-token" },
            // A ${VAR} expansion under a key that does not look secret: only PipelineDefinition.Secrets knows it.
            ["host"] = "db-" + expanded + ".internal",
            ["echo_config"] = true,
            ["state_every"] = 1,
            ["exit_code"] = exitCode,
        };
        var pipeline = "secret-leak";

        var good = await TempLake.RunAsync(ScriptedTap.Pipeline(lake, pipeline, Config(0), p => p with { Secrets = [expanded] }));
        var bad = await TempLake.RunAsync(ScriptedTap.Pipeline(lake, pipeline, Config(1), p => p with { Secrets = [expanded] }));

        Assert.True(good.Succeeded, good.Log.Error);
        Assert.False(bad.Succeeded);
        // The tap did print its config: the masked echo is in the tail and in the error's last stderr line.
        Assert.Contains("\"password\": \"***\"", bad.Log.Tap.StderrTail);
        Assert.Contains("***", bad.Log.Error);
        var outputs = new List<(string Where, string Text)>
        {
            ("good run result", Encoding.UTF8.GetString(LakeJson.Serialize(good.Log))),
            ("bad run result", Encoding.UTF8.GetString(LakeJson.Serialize(bad.Log))),
            ("bad run error", bad.Log.Error!),
            ("stderr tail", bad.Log.Tap.StderrTail),
            ("tap command", bad.Log.Tap.Command),
            ("notices", string.Join("\n", good.Log.Notices.Concat(bad.Log.Notices))),
        };
        foreach (var key in lake.Keys())
            outputs.Add((key, Encoding.UTF8.GetString(File.ReadAllBytes(Path.Combine(lake.Root, key)))));
        Assert.Contains(outputs, o => o.Where.StartsWith(".dataspoc/state/", StringComparison.Ordinal));
        Assert.Equal(2, outputs.Count(o => o.Where.StartsWith(".dataspoc/logs/", StringComparison.Ordinal)));
        foreach (var (where, text) in outputs)
        {
            Assert.False(text.Contains(secret, StringComparison.Ordinal), $"the planted tap-config secret leaked into {where}");
            Assert.False(text.Contains(expanded, StringComparison.Ordinal), $"the planted ${{VAR}} value leaked into {where}");
        }
        Assert.False(Directory.Exists(PrivateFolder(lake, pipeline)) && Directory.EnumerateFileSystemEntries(PrivateFolder(lake, pipeline)).Any());
    }

    [Fact]
    public async Task A_secret_in_a_dropped_property_name_is_masked_in_the_run_log_and_its_copy_in_the_bucket()
    {
        using var lake = new TempLake();
        var secret = "s3cr3t-PLANTED-" + Guid.NewGuid().ToString("N")[..8];
        // A tap naming an undeclared property after a secret of its config or environment (here a ${VAR} value).
        const string Schema = """{"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"}}}}""";
        var singer = lake.WriteSinger("leak.singer",
            Schema,
            """{"type":"RECORD","stream":"orders","record":{"id":1,"zzz_SECRET":"x","zzz_SECRET_2":1}}""".Replace("SECRET", secret),
            """{"type":"RECORD","stream":"orders","record":{"id":2,"zzz_SECRET":"y"}}""".Replace("SECRET", secret));

        var run = await TempLake.RunAsync(lake.Pipeline("leak", singer, p => p with { Secrets = [secret] }));

        Assert.True(run.Succeeded, run.Log.Error);
        var stored = Assert.Single(lake.Logs("leak"));
        foreach (var log in new[] { run.Log, stored })
        {
            Assert.Equal(["orders"], log.Streams.Keys);
            Assert.Equal([("zzz_***", 2L), ("zzz_***_2", 1L)], log.Streams["orders"].DroppedProperties.Select(p => (p.Key, p.Value)));
            Assert.DoesNotContain(secret, Encoding.UTF8.GetString(LakeJson.Serialize(log)), StringComparison.Ordinal);
        }
        Assert.Empty(SecretForms.FoundUnder(lake.Root, secret));
    }

    /// <summary>
    /// A stream's name becomes its table folder, file names, manifest entry and Iceberg/Delta metadata, none of which is
    /// masked: a tap naming a stream after the pipeline's password (raw, or upper-cased, or base64) fails the run before
    /// anything of that stream is written, its error naming the stream masked; the bucket holds the secret nowhere.
    /// </summary>
    [Theory]
    [InlineData("raw")]
    [InlineData("upper")]
    [InlineData("var")]
    public async Task A_stream_named_with_a_secret_of_the_pipeline_fails_the_run_and_the_secret_is_nowhere_in_the_bucket(string form)
    {
        using var lake = new TempLake();
        var secret = "s3cr3t+PLANTED-" + Guid.NewGuid().ToString("N")[..8];
        var pipeline = "secret-stream-" + form;
        // The password under a secret-looking key of the tap config, or a secret the pipeline holds outside it (set in code).
        JsonObject Config(string stream) => form == "var"
            ? new() { ["max_id"] = 3, ["stream"] = stream }
            : new() { ["max_id"] = 3, ["password"] = secret, ["stream"] = stream };
        PipelineDefinition Change(PipelineDefinition p) => p with
        {
            Secrets = form == "var" ? [secret] : [],
            Destination = p.Destination with { TableFormat = TableFormats.Parquet | TableFormats.Iceberg | TableFormats.Delta },
        };
        var good = await TempLake.RunAsync(ScriptedTap.Pipeline(lake, pipeline, Config("items"), Change));
        Assert.True(good.Succeeded, good.Log.Error);
        var before = lake.Keys().Where(k => !k.StartsWith(".dataspoc/logs/", StringComparison.Ordinal)).ToDictionary(k => k, k => File.ReadAllBytes(Path.Combine(lake.Root, k)));

        var named = "orders_" + (form == "upper" ? secret.ToUpperInvariant() : secret);
        var bad = await TempLake.RunAsync(ScriptedTap.Pipeline(lake, pipeline, Config(named), Change));

        Assert.False(bad.Succeeded);
        Assert.Equal(("extract", false), (bad.Log.FailedStep, bad.Log.StateCommitted));
        // Named by where it comes from, never by value.
        var origin = form == "var" ? "a value of PipelineDefinition.Secrets" : "a value under a secret-looking key of the tap config";
        Assert.Equal($"line 1 (stream 'orders_***'): the stream name contains a secret of the pipeline: {origin}; refused, so that the secret is not " +
            "written to the bucket in clear in its table folder, file names, manifest and table metadata: rename the stream in the tap, or change the secret", bad.Log.Error);
        Assert.Equal(bad.Log.Error, Assert.Single(lake.Logs(pipeline), l => l.RunId == bad.Log.RunId).Error);
        // Nothing of the stream, and nothing else of the run, was written: the bucket is as the good run left it, plus the failure log.
        Assert.Equal(before.Keys.Order(), lake.Keys().Where(k => !k.StartsWith(".dataspoc/logs/", StringComparison.Ordinal)).Order());
        foreach (var (key, bytes) in before) Assert.True(bytes.AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(lake.Root, key))), $"{key} changed");
        Assert.DoesNotContain(lake.Manifest().Tables.Keys, k => k.Contains("orders", StringComparison.Ordinal));
        Assert.Empty(SecretForms.FoundUnder(lake.Root, secret));
        Assert.Empty(SecretForms.FoundUnder(lake.Root, secret.ToUpperInvariant()));
    }

    /// <summary>
    /// A secret the tap config also states in clear under a key that is not secret (a password equal to the database's
    /// name, or a <c>${VAR}</c> database name) does not refuse a stream named after it: singer-io tap-postgres names its
    /// streams <c>&lt;dbname&gt;-&lt;schema&gt;-&lt;table&gt;</c>, and such a value is in the pipeline's config anyway.
    /// The logs still mask it.
    /// </summary>
    [Theory]
    [InlineData("password")]
    [InlineData("var")]
    public async Task A_stream_named_after_a_value_the_tap_config_states_in_clear_lands_though_the_value_is_also_a_secret(string form)
    {
        using var lake = new TempLake();
        var config = new JsonObject { ["max_id"] = 3, ["dbname"] = "warehouse", ["stream"] = "warehouse-public-items" };
        if (form == "password") config["password"] = "warehouse";

        var run = await TempLake.RunAsync(ScriptedTap.Pipeline(lake, "db-named", config, p => form == "var" ? p with { Secrets = ["warehouse"] } : p));

        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Equal(3, lake.Manifest().Tables["test/warehouse-public-items"].RowCount);
        Assert.Contains("***-public-items", run.Log.Streams.Keys); // the log masks it as before
    }

    /// <summary>
    /// Secrets shorter than <see cref="DataSpoc.Pipe.Sources.Redactor.ShortSecretLength"/> are not looked for in stream
    /// names: a password "id" does not refuse a stream named "id" (the masker's own rule for short secrets).
    /// </summary>
    [Fact]
    public async Task A_stream_named_like_a_secret_shorter_than_four_characters_is_not_refused()
    {
        using var lake = new TempLake();

        var run = await TempLake.RunAsync(ScriptedTap.Pipeline(lake, "short-secret", new JsonObject { ["max_id"] = 3, ["password"] = "id", ["stream"] = "id" }));

        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Equal(3, lake.Manifest().Tables["test/id"].RowCount);
    }

    [Fact]
    public async Task The_tap_config_temp_file_is_mode_0600_in_a_0700_folder_and_is_gone_after_the_run()
    {
        using var lake = new TempLake();
        var config = new JsonObject { ["max_id"] = 3, ["password"] = "s3cr3t-PLANTED-mode", ["report_config_mode"] = true };

        var run = await TempLake.RunAsync(ScriptedTap.Pipeline(lake, "secret-mode", config));

        Assert.True(run.Succeeded, run.Log.Error);
        var line = run.Log.Tap.StderrTail.Split('\n').Single(l => l.StartsWith("config file ", StringComparison.Ordinal)).Split(' ');
        var path = line[2];
        Assert.StartsWith(PrivateFolder(lake, "secret-mode") + "/", path);
        Assert.Equal(["mode", "600", "dir", "mode", "700"], line[3..]);
        Assert.False(File.Exists(path));
        Assert.False(Directory.Exists(Path.GetDirectoryName(path)));
    }

    [Fact]
    [Trait("Category", "Kill")]
    public async Task A_killed_runs_private_config_is_removed_when_the_pipeline_next_starts()
    {
        using var lake = new TempLake();
        const string pipeline = "secret-killed";
        var folder = PrivateFolder(lake, pipeline);
        string? ConfigFile() => Directory.Exists(folder) ? Directory.EnumerateFiles(folder, "config.json", SearchOption.AllDirectories).FirstOrDefault() : null;
        var run = new JsonObject
        {
            ["name"] = pipeline,
            ["bucket"] = lake.Bucket,
            ["tap"] = ScriptedTap.Command,
            ["config"] = new JsonObject { ["max_id"] = 3, ["password"] = "s3cr3t-PLANTED-killed", ["hang_seconds"] = 8 },
        };

        var killed = await HarnessProcess.RunAsync(run, killOnceTrue: () => ConfigFile() is not null);

        Assert.True(killed.Killed, $"exit {killed.ExitCode}: {string.Join(" | ", killed.Stdout)}");
        var left = ConfigFile();
        Assert.NotNull(left);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(left));

        var next = await TempLake.RunAsync(ScriptedTap.Pipeline(lake, pipeline, new JsonObject { ["max_id"] = 3 }));

        Assert.True(next.Succeeded, next.Log.Error);
        Assert.False(File.Exists(left));
        Assert.Contains(next.Log.Notices, n => n.StartsWith("removed leftover temp files of an earlier run", StringComparison.Ordinal));
        Assert.Contains(next.Log.Notices, n => n.StartsWith("took over a stale lock", StringComparison.Ordinal));
    }
    [Fact]
    [Trait("Category", "Kill")]
    public async Task A_killed_runs_private_config_is_removed_by_a_run_of_another_pipeline_once_its_own_pipeline_is_gone()
    {
        // The killed run's pipeline is then renamed or deleted: no run of it ever comes to clean its folder up.
        using var lake = new TempLake();
        var gone = "secret-orphan-" + Guid.NewGuid().ToString("N")[..6];
        var folder = PrivateFolder(lake, gone);
        string? ConfigFile() => Directory.Exists(folder) ? Directory.EnumerateFiles(folder, "config.json", SearchOption.AllDirectories).FirstOrDefault() : null;
        var run = new JsonObject
        {
            ["name"] = gone,
            ["bucket"] = lake.Bucket,
            ["tap"] = ScriptedTap.Command,
            ["config"] = new JsonObject { ["max_id"] = 3, ["password"] = "s3cr3t-PLANTED-orphan", ["hang_seconds"] = 8 },
        };
        var killed = await HarnessProcess.RunAsync(run, killOnceTrue: () => ConfigFile() is not null);
        Assert.True(killed.Killed, $"exit {killed.ExitCode}: {string.Join(" | ", killed.Stdout)}");
        var left = Path.GetDirectoryName(ConfigFile())!;
        // Past the grace its own pipeline's next run has (the killed run's owner file was written at its start).
        File.SetLastWriteTimeUtc(Path.Combine(left, PrivateTempRoot.OwnerFile), DateTime.UtcNow - PrivateTempRoot.KilledRunGrace - TimeSpan.FromMinutes(1));

        var other = await TempLake.RunAsync(ScriptedTap.Pipeline(lake, "secret-other", new JsonObject { ["max_id"] = 3 }));

        Assert.True(other.Succeeded, other.Log.Error);
        Assert.False(Directory.Exists(left), "the killed run's private folder (its tap config with the password) is still there");
    }
}
