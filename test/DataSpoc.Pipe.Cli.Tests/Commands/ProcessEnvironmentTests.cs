using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Cli.Tests.Support;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

/// <summary>
/// The CLI started the unusual ways cron, supervisors, containers and service accounts start it: a closed stdin, stdout
/// or stderr, a full stdout, a pseudo-terminal, a pipe with or without <c>COLUMNS</c>, a HOME that cannot be created.
/// </summary>
public sealed class ProcessEnvironmentTests : IDisposable
{
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    [Fact]
    public void A_closed_stdout_discards_the_output_and_the_command_still_runs()
    {
        _home.WriteShopPipeline("shop");
        var run = Redirected(">&-", "run", "shop");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.DoesNotContain("Unhandled exception", run.Stderr);
        Assert.Single(Directory.GetFiles(Path.Combine(_home.Lake, ".dataspoc", "logs", "shop")));
    }

    [Fact]
    public void A_closed_stderr_keeps_error_lines_out_of_the_json_on_stdout()
    {
        _home.WriteShopPipeline("shop");
        var run = Redirected("2>&-", "run", "nosuch", "--output", "json");

        Assert.True(run.ExitCode == 2, run.ToString());
        // Only the document: stderr's "error: unknown pipeline ..." used to follow it here (fd 2 reused for a copy of stdout).
        var document = JsonNode.Parse(run.Stdout)!;
        Assert.Equal("invalid", document.Str("status"));
        Assert.DoesNotContain("error: unknown pipeline", run.Stdout);
    }

    [Fact]
    public void The_mcp_server_with_a_closed_stdin_ends_as_at_end_of_input()
    {
        // Under `dotnet dataspoc-pipe.dll` the runtime itself takes fd 0 before Main when it is closed (the native binary,
        // which users and ./test.sh run, does not), so only the native binary can show what a user gets.
        if (!CliProcess.IsNative) return;
        var mcp = Redirected("<&-", "mcp");

        Assert.True(mcp.ExitCode == 0, mcp.ToString());
        Assert.DoesNotContain("Exception", mcp.Stderr);
        Assert.DoesNotContain("fail:", mcp.Stderr);
    }

    /// <summary>
    /// Also in plain output, where the run prints its start line and progress as it goes, and in the form the crontab line
    /// runs (<c>--rotate-log</c>): a full disk under the log file stopped every scheduled run before it began (exit 1,
    /// no run log), with the error lost in the same full file.
    /// </summary>
    [Theory]
    [InlineData("--output", "json")]
    [InlineData("--output", "table")]
    [InlineData("--rotate-log", "logs/shop.log")]
    public void A_run_whose_report_cannot_be_written_keeps_its_exit_code_and_says_it_succeeded(string option, string value)
    {
        _home.WriteShopPipeline("shop");
        if (option == "--rotate-log") value = Directory.CreateDirectory(Path.Combine(_home.Home, "logs")).FullName + "/shop.log";
        var run = Redirected(">/dev/full", "run", "shop", option, value);

        // The run committed: exit 0, as the run log says, so a scheduler does not retry (and land the data twice).
        Assert.True(run.ExitCode == 0, run.ToString());
        var log = JsonNode.Parse(File.ReadAllText(Assert.Single(Directory.GetFiles(Path.Combine(_home.Lake, ".dataspoc", "logs", "shop")))))!;
        Assert.Equal("success", log.Str("status"));
        Assert.Contains($"error: the run succeeded (run {log.Str("run_id")}) but its output could not be written to stdout: No space left on device", run.Stderr);
    }

    [Fact]
    public void Init_with_a_home_that_cannot_be_created_is_a_configuration_error_naming_the_folder_and_the_way_out()
    {
        // A service account's HOME that does not exist and cannot be made (`nobody`: /nonexistent). The tests may run as
        // root, whom permissions do not stop: a HOME below a regular file cannot be created by anyone.
        var file = Path.Combine(_home.Root, "a-file");
        File.WriteAllText(file, "");
        var home = Path.Combine(file, "home");
        _home.Set("HOME", home).Set("DATASPOC_PIPE_HOME", null);

        var init = CliProcess.Run(_home, "init");

        Assert.True(init.ExitCode == 2, init.ToString());
        Assert.Contains($"error: cannot create the home folder {home}/.dataspoc-pipe: ", init.Stderr);
        Assert.Contains("set DATASPOC_PIPE_HOME", init.Stderr);
        Assert.DoesNotContain("Exception", init.Stderr);
    }

    [Fact]
    public void Json_on_a_terminal_is_only_the_document()
    {
        if (!PseudoTerminal.Available) return;
        // A terminal with a keypad-transmit code (xterm's is ESC[?1h ESC=), which .NET's console used to send first.
        _home.Set("TERM", "xterm");
        var status = PseudoTerminal.Run(_home, "]", "", "status", "--output", "json");

        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.Equal("[]\r\n", status.Stdout);
    }

    [Fact]
    public void Output_that_is_not_a_terminal_is_not_wrapped_and_COLUMNS_sets_the_width()
    {
        // The hint names the home's (long) path: more than 80 columns, where piped output used to be cut.
        _home.Set("COLUMNS", null);
        var piped = CliProcess.Run(_home, "status");
        var hint = $"No pipelines in {_home.Pipelines}. Create one with: dataspoc-pipe add <name>";
        Assert.True(hint.Length > 80, hint);
        Assert.True(piped.ExitCode == 0, piped.ToString());
        Assert.Equal(hint, piped.Stdout.TrimEnd('\n'));

        _home.Set("COLUMNS", "40");
        var narrow = CliProcess.Run(_home, "status");
        var lines = narrow.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length > 2 && lines.All(line => line.Length <= 40), narrow.ToString());
    }

    [Fact]
    public void Every_spelling_of_version_prints_one_format_and_a_full_stdout_is_an_error_line()
    {
        var expected = CliProcess.Run(_home, "--version");
        Assert.StartsWith("dataspoc-pipe ", expected.Stdout);
        foreach (var args in new[] { ["-v"], ["-V"], ["--debug", "--version"], ["--version", "--debug"], new[] { "--version", "--output", "json" } })
        {
            var version = CliProcess.Run(_home, args);
            Assert.True(version.ExitCode == 0 && version.Stdout == expected.Stdout, $"{string.Join(' ', args)}: {version}");
        }

        // It used to abort (SIGABRT, exit 134) with an unhandled exception, where `-v` exited 1 with one error line.
        var full = Redirected(">/dev/full", "--version");
        Assert.True(full.ExitCode == 1, full.ToString());
        Assert.Equal("error: No space left on device (IOException; run with --debug for details)\n", full.Stderr);
    }

    [Fact]
    public void A_width_too_narrow_for_a_table_shows_each_value_on_its_own_line()
    {
        _home.WriteShopPipeline("shop");
        Assert.Equal(0, CliProcess.Run(_home, "run", "shop").ExitCode);
        _home.Set("COLUMNS", "20");

        // Spectre drew these as a lone "…" (no newline, every value lost), or a table of empty cells.
        foreach (var args in new[] { ["status"], ["logs", "shop", "--list"], new[] { "run", "shop" } })
        {
            var result = CliProcess.Run(_home, args);
            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.Contains("status: success\n", result.Stdout);
            Assert.DoesNotContain("…", result.Stdout);
            // A run's own lines (its start, notices) are not laid out to the width; the tables are.
            if (args[0] != "run")
                Assert.All(result.Stdout.Split('\n'), line => Assert.True(line.Length <= 20, $"{string.Join(' ', args)}: '{line}' is wider than 20"));
        }
        Assert.Contains("pipeline: shop\n", CliProcess.Run(_home, "status").Stdout);
    }

    [Fact]
    public void A_tap_stopped_by_the_open_file_limit_is_a_failed_run_naming_the_limit()
    {
        // Under the JIT, which opens assemblies as it goes, the limit that stops the tap's start and nothing else is
        // near 100, moves with the build, and the runtime then often aborts loading one: only the native binary shows it.
        if (!CliProcess.IsNative) return;
        _home.WriteShopPipeline("shop");
        // The lowest limit at which the CLI gets as far as starting the tap (about 12 descriptors).
        var limits = Enumerable.Range(8, 20);
        var run = limits.Select(n => CliProcess.RunAfter(_home, $"ulimit -n {n}", "run", "shop"))
            .FirstOrDefault(r => r.Stderr.Contains("tap 'python3' could not be started") || r.ExitCode == 0);

        // It was exit 2, "stopped on its configuration" with the advice "is it executable?": a scheduler does not retry that.
        Assert.True(run is { ExitCode: 1 }, run?.ToString() ?? "no limit stopped the tap's start");
        Assert.Contains("Too many open files: this process's limit on open files (ulimit -n) is reached", run!.Stderr);
        Assert.DoesNotContain("is it executable", run.Stderr);
    }

    /// <summary>Runs the CLI through <c>sh</c> with <paramref name="redirection"/> applied to it (<c>&gt;&amp;-</c>, <c>2&gt;/dev/full</c>).</summary>
    private CliProcess.Result Redirected(string redirection, params string[] args)
    {
        var psi = new ProcessStartInfo("sh")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var a in new[] { "-c", $"exec \"$@\" {redirection}", "sh" }.Concat(CliProcess.Command).Concat(args)) psi.ArgumentList.Add(a);
        _home.Apply(psi.Environment);
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.StandardInput.Close();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dataspoc-pipe {string.Join(' ', args)} {redirection} did not finish in 2 minutes");
        }
        return new CliProcess.Result(process.ExitCode, stdout.Result, stderr.Result);
    }
}
