using System.Text.Json.Nodes;
using DataSpoc.Pipe.Cli.Tests.Support;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

/// <summary>The home's private <c>.env</c> through the commands: init, add, schedule install, validate, run, status.</summary>
public sealed class DotEnvCommandTests : IDisposable
{
    private const string Private = "PGPASSWORD=hunter2-in-dotenv\n";
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    private string EnvFile => Path.Combine(_home.Home, ".env");

    private void WriteEnv(string text, UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite)
    {
        Directory.CreateDirectory(_home.Home);
        File.WriteAllText(EnvFile, text);
        File.SetUnixFileMode(EnvFile, mode);
    }

    /// <summary>A scheduled pipeline whose tap config needs <c>${PGPASSWORD}</c> (the test tap ignores it).</summary>
    private void WriteScheduledPipelineNeedingPassword(string name = "orders")
    {
        _home.WriteShopPipeline(name, extraSource: "  config:\n    password: ${PGPASSWORD}\n", extraTop: "schedule:\n  cron: \"0 * * * *\"\n");
    }

    [Fact]
    public void Init_creates_an_empty_private_env_and_running_it_again_changes_nothing()
    {
        var first = CliProcess.Run(_home, "init");
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Contains($"created {EnvFile}", first.Stdout);
        Assert.Equal("", File.ReadAllText(EnvFile));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(EnvFile));

        File.WriteAllText(EnvFile, Private);
        var again = CliProcess.Run(_home, "init");
        Assert.Equal($"Already initialized: {_home.Home}\n", again.Stdout);
        Assert.Equal(Private, File.ReadAllText(EnvFile));
    }

    [Fact]
    public void Add_writes_the_template_secret_given_as_an_option_to_env_never_to_the_config_or_the_output()
    {
        const string password = "opt-secret-7f3a";
        var result = CliProcess.RunWithInput(_home, "", "add", "orders", "--tap", "postgres", "--bucket", _home.Bucket, "--secret", $"PGPASSWORD={password}",
            "--secret", "EXTRA_TOKEN=has spaces 'and quotes'");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains($"Saved PGPASSWORD, EXTRA_TOKEN to {EnvFile} (mode 0600)", result.Stdout);
        Assert.DoesNotContain(password, result.Stdout + result.Stderr);
        Assert.Equal($"PGPASSWORD={password}\nEXTRA_TOKEN=\"has spaces 'and quotes'\"\n", File.ReadAllText(EnvFile));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(EnvFile));
        var config = File.ReadAllText(Path.Combine(_home.Sources, "orders.json"));
        Assert.Equal("${PGPASSWORD}", JsonNode.Parse(config)!["password"]!.GetValue<string>());
        Assert.DoesNotContain(password, config + File.ReadAllText(Path.Combine(_home.Pipelines, "orders.yaml")));

        // The saved secret is what the pipeline gets, and it is masked where the config is shown.
        var validate = Json.Parse(CliProcess.Run(_home, "validate", "orders", "-o", "json")).AsArray().Single()!;
        Assert.Equal("PGPASSWORD from .env", validate["checks"]!.AsArray().Single(c => c.Str("check") == "variables").Str("detail"));
    }

    [Fact]
    public void Add_without_a_terminal_or_option_leaves_the_secret_unset_with_a_notice_and_keeps_one_env_already_has()
    {
        var unset = CliProcess.RunWithInput(_home, "", "add", "orders", "--tap", "postgres", "--bucket", _home.Bucket);
        Assert.True(unset.ExitCode == 0, unset.ToString());
        Assert.Contains($"note: PGPASSWORD is not set, so runs fail until it is: add PGPASSWORD=... to {EnvFile} (or pass --secret PGPASSWORD=... to add)", unset.Stdout);
        Assert.Equal("", File.ReadAllText(EnvFile));

        File.WriteAllText(EnvFile, Private);
        var kept = CliProcess.RunWithInput(_home, "", "add", "other", "--tap", "postgres", "--bucket", _home.Bucket);
        Assert.True(kept.ExitCode == 0, kept.ToString());
        Assert.DoesNotContain("PGPASSWORD", kept.Stdout);
        Assert.Equal(Private, File.ReadAllText(EnvFile));
    }

    [Fact]
    public void Add_with_a_secret_env_already_holds_replaces_it_and_names_the_pipelines_that_read_it_too()
    {
        WriteEnv(Private);
        WriteScheduledPipelineNeedingPassword("orders");
        WriteScheduledPipelineNeedingPassword("refunds");
        _home.WriteShopPipeline("unrelated");

        var replaced = CliProcess.RunWithInput(_home, "", "add", "other", "--tap", "postgres", "--bucket", _home.Bucket, "--secret", "PGPASSWORD=new-value-9c1");
        Assert.True(replaced.ExitCode == 0, replaced.ToString());
        Assert.Contains($"Saved PGPASSWORD to {EnvFile} (mode 0600)\nreplaced PGPASSWORD, which {EnvFile} held before (also used by: orders, refunds)\n", replaced.Stdout);
        Assert.DoesNotContain("new-value-9c1", replaced.Stdout + replaced.Stderr);
        Assert.Equal("PGPASSWORD=new-value-9c1\n", File.ReadAllText(EnvFile));

        // The value .env holds, given again, replaces nothing.
        var same = CliProcess.RunWithInput(_home, "", "add", "third", "--tap", "postgres", "--bucket", _home.Bucket, "--secret", "PGPASSWORD=new-value-9c1");
        Assert.True(same.ExitCode == 0, same.ToString());
        Assert.DoesNotContain("replaced", same.Stdout);
    }

    [Fact]
    public void Add_rejects_a_malformed_secret_option_without_printing_its_value()
    {
        var result = CliProcess.RunWithInput(_home, "", "add", "orders", "--tap", "postgres", "--bucket", _home.Bucket, "--secret", "pg-password=leaky-value");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--secret: 'pg-password' is not a variable name", result.Stderr);
        Assert.DoesNotContain("leaky-value", result.Stdout + result.Stderr);
    }

    [Fact]
    public void Add_in_a_terminal_asks_for_the_secret_without_echoing_it()
    {
        Assert.True(PseudoTerminal.Available, "util-linux 'script' is needed for the pseudo-terminal test");
        const string typed = "typed-secret-91c2";
        // The secret, then (once asked) no to discovering the streams now.
        var result = PseudoTerminal.RunSteps(_home, [("for the tap config (input hidden", typed + "\r"), ("Discover the tap's streams", "n\r")],
            "add", "orders", "--tap", "postgres", "--bucket", _home.Bucket, "--path", "raw", "--compression", "zstd", "--incremental", "false", "--cron", "");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("input hidden", result.Stdout);
        Assert.DoesNotContain(typed, result.Stdout + result.Stderr);
        Assert.Equal($"PGPASSWORD={typed}\n", File.ReadAllText(EnvFile));
    }

    [Fact]
    public void Schedule_install_installs_without_the_secret_and_warns_naming_pipeline_and_variable()
    {
        WriteScheduledPipelineNeedingPassword();
        _home.WriteShopPipeline("defaulted", extraSource: "  config:\n    password: ${PGPASSWORD_2:-none}\n", extraTop: "schedule:\n  cron: \"5 * * * *\"\n");
        _home.WriteShopPipeline("manual", extraSource: "  config:\n    password: ${MANUAL_ONLY}\n");

        var install = CliProcess.Run(_home, "schedule", "install", "-o", "json");
        Assert.True(install.ExitCode == 0, install.ToString());
        Assert.Equal(2, File.ReadAllText(_home.CrontabFile).TrimEnd('\n').Split('\n').Length);
        var warning = Assert.Single(Json.Parse(install)["warnings"]!.AsArray())!;
        Assert.Equal(("orders", "PGPASSWORD", "source.config.password"), (warning.Str("pipeline"), warning.Str("variable"), warning.Str("key")));
        Assert.Equal(
            $"warning: pipeline 'orders': ${{PGPASSWORD}} (pipelines/orders.yaml source.config.password) is set neither in {EnvFile} nor in the environment, " +
            $"and has no default: add PGPASSWORD=... to {EnvFile}\n", install.Stderr);

        // Set only in the installing shell: cron will not see it, so it is still a warning; in .env it is not.
        var shellOnly = CliProcess.Run(_home.Set("PGPASSWORD", "shell-only-pw"), "schedule", "install");
        Assert.Contains("warning: pipeline 'orders': ${PGPASSWORD} (", shellOnly.Stderr);
        Assert.Contains("is set only in this shell's environment, which cron does not pass on", shellOnly.Stderr);
        _home.Set("PGPASSWORD", null);
        WriteEnv(Private);
        var quiet = CliProcess.Run(_home, "schedule", "install");
        Assert.True(quiet.ExitCode == 0, quiet.ToString());
        Assert.Equal("", quiet.Stderr);
    }

    [Fact]
    public void Schedule_install_warns_about_a_variable_of_config_yamls_openlineage_block_every_scheduled_run_would_lack()
    {
        _home.WriteShopPipeline("orders", extraTop: "schedule:\n  cron: \"0 * * * *\"\n");
        File.WriteAllText(Path.Combine(_home.Home, "config.yaml"), "openlineage:\n  transport:\n    type: http\n    url: http://127.0.0.1:9\n    api_key: ${MARQUEZ_API_KEY}\n");
        var install = CliProcess.Run(_home, "schedule", "install", "-o", "json");
        Assert.True(install.ExitCode == 0, install.ToString());
        var warning = Assert.Single(Json.Parse(install)["warnings"]!.AsArray())!;
        Assert.Equal(("orders", "MARQUEZ_API_KEY", "openlineage.transport.api_key"), (warning.Str("pipeline"), warning.Str("variable"), warning.Str("key")));
        Assert.Equal(
            $"warning: pipeline 'orders': ${{MARQUEZ_API_KEY}} (config.yaml openlineage.transport.api_key) is set neither in {EnvFile} nor in the environment, " +
            $"and has no default: add MARQUEZ_API_KEY=... to {EnvFile}\n", install.Stderr);

        WriteEnv("MARQUEZ_API_KEY=k\n");
        var quiet = CliProcess.Run(_home, "schedule", "install");
        Assert.True(quiet.ExitCode == 0, quiet.ToString());
        Assert.Equal("", quiet.Stderr);
    }

    [Fact]
    public void Validate_reports_a_variable_set_nowhere_in_a_one_line_row_and_in_full_as_json()
    {
        WriteScheduledPipelineNeedingPassword();
        _home.Set("COLUMNS", "80"); // the width cut to (piped output is otherwise not wrapped)
        var table = CliProcess.Run(_home, "validate", "orders");
        Assert.Equal(1, table.ExitCode);
        var rows = table.Stdout.Split('\n').Where(l => l.StartsWith('│')).ToList();
        // Header plus one line per check: config, variables, tap config, temp folder, tap, catalog, bucket; none wraps onto a second line.
        Assert.Equal(8, rows.Count);
        Assert.All(rows.Skip(1), r => Assert.StartsWith("│ orders ", r));
        Assert.Matches(@"│ variables\s+│ FAILED\s+│ pipeline 'orders': \$\{PGPASSWORD\} .*…\s+│", rows[2]);
        Assert.All(table.Stdout.Split('\n'), l => Assert.True(l.Length <= 80, l));

        var json = Json.Parse(CliProcess.Run(_home, "validate", "orders", "-o", "json")).AsArray().Single()!;
        var check = json["checks"]!.AsArray().Single(c => c.Str("check") == "variables")!;
        Assert.False(check.Bool("ok"));
        Assert.EndsWith($"has no default: add PGPASSWORD=... to {EnvFile}", check.Str("detail"));
    }

    [Fact]
    public void Status_keeps_a_long_error_to_one_line_per_row_and_json_keeps_it_whole()
    {
        _home.WriteShopPipeline("broken", extraTop: "schedule:\n  cron: \"0 * * * *\"\nunknown_key_that_makes_a_long_error_message: true\n");
        _home.WriteShopPipeline("fine");
        _home.Set("COLUMNS", "80"); // the width cut to (piped output is otherwise not wrapped)
        var table = CliProcess.Run(_home, "status");
        Assert.True(table.ExitCode == 0, table.ToString());
        var rows = table.Stdout.Split('\n').Where(l => l.StartsWith('│')).ToList();
        Assert.Equal(3, rows.Count);
        Assert.Matches(@"^│ broken\s+│ invalid\s+│ -", rows[1]);
        Assert.StartsWith("│ fine ", rows[2]);
        // The error gets one line of its own under the table, cut to the width.
        var lines = table.Stdout.TrimEnd('\n').Split('\n');
        Assert.Matches($@"^broken: {System.Text.RegularExpressions.Regex.Escape(_home.Pipelines)}/broken\.yaml:\d+: unknown_k.*…$", lines[^2]);
        Assert.Equal("Full errors: dataspoc-pipe status --output json, or dataspoc-pipe logs <name>", lines[^1]);
        Assert.All(lines, l => Assert.True(l.Length <= 80, l));

        var json = Json.Parse(CliProcess.Run(_home, "status", "-o", "json")).AsArray();
        Assert.EndsWith("(allowed here: source, destination, incremental, schedule, run_logs, on_invalid_record, transforms)", json[0]!.Str("error"));
    }

    [Fact]
    public void A_group_readable_env_is_refused_naming_the_file_and_the_fix()
    {
        _home.WriteShopPipeline("orders");
        WriteEnv(Private, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        foreach (var args in new[] { new[] { "run", "orders" }, ["schedule", "install"], ["validate", "orders"] })
        {
            var result = CliProcess.Run(_home, args);
            Assert.Equal(2, result.ExitCode);
            Assert.Equal($"error: {EnvFile}: holds secrets but group or others may read it (mode 0640): refused; fix it with: chmod 600 {EnvFile}\n", result.Stderr);
        }
        Assert.False(File.Exists(_home.CrontabFile));
    }

    [Fact]
    public void A_dangling_env_link_and_an_env_that_is_a_directory_are_config_errors_naming_the_file()
    {
        _home.WriteShopPipeline("orders");
        Directory.CreateDirectory(_home.Home);
        // A secrets mount that is not there yet: the link points nowhere.
        var missing = Path.Combine(_home.Home, "mounted", "secrets.env");
        File.CreateSymbolicLink(EnvFile, missing);
        var dangling = $"{EnvFile}: is a symbolic link to a missing file ({missing}): refused; create or mount the file it points to, or remove the link";
        foreach (var args in new[] { new[] { "config", "orders" }, ["run", "orders"], ["validate", "orders"], ["schedule", "install"] })
        {
            var result = CliProcess.Run(_home, args);
            Assert.True(result.ExitCode == 2, result.ToString());
            Assert.Contains(dangling, result.Stderr);
        }
        var status = Json.Parse(CliProcess.Run(_home, "status", "-o", "json")).AsArray().Single()!;
        Assert.Equal("invalid", status.Str("status"));
        Assert.Equal(dangling, status.Str("error"));

        File.Delete(EnvFile);
        Directory.CreateDirectory(EnvFile);
        var directory = CliProcess.Run(_home, "config", "orders");
        Assert.Equal(2, directory.ExitCode);
        Assert.Equal($"error: {EnvFile}: is a directory, not a file of KEY=value lines: refused; remove it or replace it with a file\n", directory.Stderr);
    }

    [Fact]
    public void An_env_owned_by_another_user_is_refused()
    {
        Assert.True(Environment.IsPrivilegedProcess, "needs root to chown the file to another user (as in CI)");
        _home.WriteShopPipeline("orders");
        WriteEnv(Private);
        using (var chown = System.Diagnostics.Process.Start("chown", ["nobody", EnvFile])!) chown.WaitForExit();
        var result = CliProcess.Run(_home, "run", "orders");
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith($"error: {EnvFile}: holds secrets but belongs to another user (uid 65534), not to you (uid 0): refused; make it yours with: chown 0 {EnvFile}", result.Stderr);
    }
}
