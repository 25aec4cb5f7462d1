using System.Runtime.Versioning;
using DataSpoc.Pipe.Config;

namespace DataSpoc.Pipe.Tests.Configuration;

/// <summary>The home's <c>.env</c> as pipelines see it: under the environment, masked, and checked before a schedule.</summary>
[UnsupportedOSPlatform("windows")]
public sealed class PipeVariablesTests : IDisposable
{
    private readonly PipeHome _home = new(Directory.CreateTempSubdirectory("dsp-vars-").FullName);

    public PipeVariablesTests() => _home.Init();

    public void Dispose() => Directory.Delete(_home.Root, recursive: true);

    private void WriteEnv(string text) => File.WriteAllText(_home.EnvFilePath, text); // init made it 0600; writing keeps the mode

    private PipelineDefinition Load(string yaml, string? sourceJson = null, Func<string, string?>? environment = null, bool allowUnset = false)
    {
        if (sourceJson is not null) File.WriteAllText(_home.SourceConfigPath("p"), sourceJson);
        File.WriteAllText(_home.PipelinePath("p"), yaml);
        return PipelineLoader.ForHome(_home, environment ?? (_ => null), allowUnset).LoadFile(_home.PipelinePath("p"));
    }

    [Fact]
    public void Init_creates_an_empty_private_env_file_and_leaves_it_alone_afterwards()
    {
        Assert.Equal("", File.ReadAllText(_home.EnvFilePath));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_home.EnvFilePath));
        WriteEnv("A=1\n");
        Assert.Empty(_home.Init());
        Assert.Equal("A=1\n", File.ReadAllText(_home.EnvFilePath));
    }

    [Fact]
    public void Env_file_values_expand_variables_the_environment_wins_and_every_value_is_a_secret()
    {
        WriteEnv("PGPASSWORD=from-dotenv-pw\nLAKE_PATH=landing\nUNUSED_TOKEN=never-referenced\n");
        var p = Load("""
            source:
              tap: postgres
              config: sources/p.json
            destination:
              bucket: file:///tmp/lake
              path: ${LAKE_PATH}
            """, """{"password": "${PGPASSWORD}", "user": "${PGUSER:-postgres}"}""",
            environment: v => v == "LAKE_PATH" ? "from-env" : null);

        Assert.Equal("from-dotenv-pw", p.Source.InlineConfig!["password"]!.GetValue<string>());
        Assert.Equal("from-env", p.Destination.Path);
        Assert.Equal("postgres", p.Source.InlineConfig["user"]!.GetValue<string>());
        // Every .env value is masked, referenced or not; the environment's value is masked because it was expanded.
        Assert.Contains("from-dotenv-pw", p.Secrets);
        Assert.Contains("never-referenced", p.Secrets);
        Assert.Equal("user *** token *** path ***", p.Redaction.Redact("user from-dotenv-pw token never-referenced path from-env"));
        // A default is the file's own text, not a secret: masking "postgres" would hide every mention of the tap.
        Assert.DoesNotContain("postgres", p.Secrets);
        Assert.Equal("postgres", p.Redaction.Redact("postgres"));
        Assert.Equal(
            [("LAKE_PATH", VariableOrigin.Environment), ("PGPASSWORD", VariableOrigin.DotEnv), ("PGUSER", VariableOrigin.Default)],
            p.Variables.Select(v => (v.Name, v.Origin)).OrderBy(v => v.Name));
    }

    [Fact]
    public void A_run_load_fails_on_a_variable_set_nowhere_but_a_check_load_lists_it_with_its_key()
    {
        const string yaml = """
            source:
              tap: postgres
              config: sources/p.json
            destination:
              bucket: file:///tmp/lake
            schedule:
              cron: "0 * * * *"
            """;
        const string json = """{"password": "${PGPASSWORD}", "host": "${PGHOST}"}""";
        var e = Assert.Throws<ConfigException>(() => Load(yaml, json));
        Assert.Contains("$.password: environment variable 'PGPASSWORD' is not set (add PGPASSWORD=... to the home's .env", e.Message);

        var p = Load(yaml, json, environment: v => v == "PGHOST" ? "db.internal" : null, allowUnset: true);
        var unset = Assert.Single(VariableProblems.Unset(p, _home));
        Assert.Equal(("PGPASSWORD", "$.password", _home.SourceConfigPath("p")), (unset.Variable, unset.Key, unset.File));
        Assert.Equal(
            $"pipeline 'p': ${{PGPASSWORD}} (sources/p.json $.password) is set neither in {_home.EnvFilePath} nor in the environment, and has no default: " +
            $"add PGPASSWORD=... to {_home.EnvFilePath}", unset.Message);

        // For a schedule, a variable only this shell sets is missing too: cron does not pass the shell's environment on.
        var loader = PipelineLoader.ForHome(_home, v => v == "PGHOST" ? "db.internal" : null, allowUnsetVariables: true);
        var problems = VariableProblems.ForSchedule(loader.LoadFile(_home.PipelinePath("p")), _home, loader.Variables);
        Assert.Equal(["PGPASSWORD", "PGHOST"], problems.Select(x => x.Variable));
        Assert.Contains("${PGHOST} (sources/p.json $.host) is set only in this shell's environment, which cron does not pass on", problems[1].Message);

        WriteEnv("PGPASSWORD=pw-in-dotenv\nPGHOST=db.internal\n");
        loader = PipelineLoader.ForHome(_home, v => v == "PGHOST" ? "db.internal" : null, allowUnsetVariables: true);
        Assert.Empty(VariableProblems.ForSchedule(loader.LoadFile(_home.PipelinePath("p")), _home, loader.Variables));
    }

    [Fact]
    public void A_readable_env_file_stops_every_load_naming_the_file_and_the_fix()
    {
        WriteEnv("PGPASSWORD=hunter22\n");
        File.SetUnixFileMode(_home.EnvFilePath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        var e = Assert.Throws<ConfigException>(() => PipelineLoader.ForHome(_home));
        Assert.Equal(_home.EnvFilePath, e.File);
        Assert.EndsWith($"chmod 600 {_home.EnvFilePath}", e.Message);
        Assert.DoesNotContain("hunter22", e.Message);
    }
}
