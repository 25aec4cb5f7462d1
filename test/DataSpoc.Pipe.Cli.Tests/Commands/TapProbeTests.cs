using System.Diagnostics;
using DataSpoc.Pipe.Cli.Tests.Support;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

/// <summary>
/// The one-time question a tap command is asked (<c>--help</c>, then <c>--about</c>) before its first run: bounded by a
/// short wait, cached, said in the run log when it went unanswered, and believed by <c>streams</c> and <c>run</c> alike.
/// </summary>
public sealed class TapProbeTests : IDisposable
{
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    /// <summary>A bash tap (each call logged to <c>calls</c> beside it): <paramref name="body"/> sees its arguments in <c>$*</c>.</summary>
    private string WriteTap(string name, string body)
    {
        var tap = Path.Combine(_home.Root, name);
        File.WriteAllText(tap, $"#!/bin/bash\necho \"$*\" >> {Path.Combine(_home.Root, name + ".calls")}\n{body}\n");
        File.SetUnixFileMode(tap, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return tap;
    }

    /// <summary>A pipeline of <paramref name="tap"/> into the home's bucket, with <paramref name="sourceLine"/> (line 3) under <c>source</c>; returns its file.</summary>
    private string WriteTapPipeline(string name, string tap, string sourceLine = "") => _home.WritePipeline(name, $"""
        source:
          tap: {tap}
          {sourceLine}
        destination:
          bucket: {_home.Bucket}
        """);

    /// <summary>The text as one line: the console wraps long lines at its width.</summary>
    private static string OneLine(string text) => System.Text.RegularExpressions.Regex.Replace(text, @"\s+", " ");

    private string Calls(string name) => File.ReadAllText(Path.Combine(_home.Root, name + ".calls"));

    /// <summary>Ignores --help and --about and blocks; a real sync takes about a second.</summary>
    private string BlockingHelpTap() => WriteTap("tap-blocks", """
        case " $* " in *" --help "*|*" --about "*) sleep 100; exit 0;; esac
        echo '{"type":"SCHEMA","stream":"s","schema":{"properties":{"id":{"type":"integer"}}}}'
        sleep 1
        echo '{"type":"RECORD","stream":"s","record":{"id":1}}'
        """);

    private (CliProcess.Result Result, TimeSpan Took) TimedRun(string name)
    {
        var clock = Stopwatch.StartNew();
        var result = CliProcess.Run(_home, "run", name, "--output", "json");
        return (result, clock.Elapsed);
    }

    [Fact]
    public void A_tap_that_ignores_its_arguments_and_leaves_a_process_holding_its_output_is_answered_and_run_in_seconds_not_at_its_idle_timeout()
    {
        // It prints its records whatever it is asked (--help included) and leaves `sleep` behind with its stdout and stderr.
        WriteTap("tap-leaves", """
            echo '{"type":"SCHEMA","stream":"s","schema":{"properties":{"id":{"type":"integer"}}}}'
            echo '{"type":"RECORD","stream":"s","record":{"id":1}}'
            sleep 600 &
            exit 0
            """);
        WriteTapPipeline("leaves", Path.Combine(_home.Root, "tap-leaves"), "idle_timeout: 10m");

        var (run, took) = TimedRun("leaves");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("\"total_records\": 1", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("it left running still held its output open", run.Stdout, StringComparison.Ordinal);
        // Two 5 s waits (the --help probe's answer, then the run) and the rest: far from the 10-minute idle timeout.
        Assert.True(took < TimeSpan.FromSeconds(90), $"took {took}");
    }

    [Theory]
    [InlineData("timeout: 4s", 4)]
    [InlineData("idle_timeout: 2s", 2)]
    public void A_tap_that_blocks_on_help_costs_the_first_run_one_short_wait_that_counts_against_no_timeout(string limit, int probeSeconds)
    {
        BlockingHelpTap();
        WriteTapPipeline("blocks", Path.Combine(_home.Root, "tap-blocks"), limit);

        var (first, firstTook) = TimedRun("blocks");
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.True(firstTook < TimeSpan.FromSeconds(probeSeconds + 10), $"the first run took {firstTook}");
        var notices = Json.Parse(first)["notices"]!.AsArray().Select(n => n!.GetValue<string>()).ToList();
        Assert.Contains(notices, n => n.Contains($"did not answer --help within {probeSeconds}s", StringComparison.Ordinal)
            && n.Contains("runs without a catalog", StringComparison.Ordinal));
        var cache = File.ReadAllText(Path.Combine(_home.Pipelines, "blocks.tap.json"));
        Assert.Contains("\"can_discover\": false", cache, StringComparison.Ordinal);

        // The answer is cached: the next run asks nothing and says nothing of it.
        var (second, _) = TimedRun("blocks");
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.DoesNotContain("--help", Json.Parse(second)["notices"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.Single(Calls("tap-blocks").Split('\n', StringSplitOptions.RemoveEmptyEntries), c => c.Contains("--help", StringComparison.Ordinal));
    }

    [Fact]
    public void Streams_of_a_tap_that_cannot_discover_gives_the_answer_validate_gives_and_never_runs_discover()
    {
        WriteTap("tap-nodisc", """
            case " $* " in *" --help "*) echo "usage: tap-nodisc --config FILE"; exit 0;; esac
            case " $* " in *" --discover "*) echo "not a catalog"; exit 0;; esac
            echo '{"type":"SCHEMA","stream":"s","schema":{"properties":{"id":{"type":"integer"}}}}'
            echo '{"type":"RECORD","stream":"s","record":{"id":1}}'
            """);
        WriteTapPipeline("nodisc", Path.Combine(_home.Root, "tap-nodisc"));

        var validate = CliProcess.Run(_home, "validate", "nodisc", "--output", "json");
        Assert.True(validate.ExitCode == 0, validate.ToString());
        Assert.Contains("the tap does not list --discover, so it runs without a catalog", validate.Stdout, StringComparison.Ordinal);

        var table = CliProcess.Run(_home, "streams", "nodisc");
        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.Equal("No streams to list: the tap does not list --discover, so it runs without a catalog and sends what it sends " +
            "(neither its --help nor its --about names --discover).", OneLine(table.Stdout).Trim());

        var json = CliProcess.Run(_home, "streams", "nodisc", "--output", "json");
        Assert.True(json.ExitCode == 0, json.ToString());
        var doc = Json.Parse(json);
        Assert.False(doc.Bool("can_discover"));
        Assert.Empty(doc["streams"]!.AsArray());
        Assert.Contains("does not list --discover", doc.Str("note"), StringComparison.Ordinal);
        // "none": nothing was learnt from the tap; --catalog is what it would be given a catalog with (source.catalog_flag aside).
        Assert.Equal("none", doc.Str("catalog_flags_from"));
        Assert.DoesNotContain("--discover", Calls("tap-nodisc"), StringComparison.Ordinal);
    }

    /// <summary>
    /// A pod's home is a read-only ConfigMap: the tap's answer that cannot be cached there is a notice, as the catalog's
    /// is, not a failure of every run. The home is a tmpfs remounted read-only (the tests run as root, which permission
    /// bits do not stop).
    /// </summary>
    [Fact]
    public void A_read_only_home_runs_and_validates_a_tap_whose_answer_cannot_be_cached_saying_so()
    {
        WriteTap("tap-ro", """
            case " $* " in *" --help "*) echo "usage: tap-ro --config FILE"; exit 0;; esac
            echo '{"type":"SCHEMA","stream":"s","schema":{"properties":{"id":{"type":"integer"}}}}'
            echo '{"type":"RECORD","stream":"s","record":{"id":1}}'
            """);
        Directory.CreateDirectory(_home.Home);
        HostCommand.Run("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", _home.Home);
        try
        {
            WriteTapPipeline("ro", Path.Combine(_home.Root, "tap-ro"));
            HostCommand.Run("mount", "-o", "remount,ro", _home.Home);
            var cache = Path.Combine(_home.Pipelines, "ro.tap.json");

            var run = CliProcess.Run(_home, "run", "ro", "--output", "json");
            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.Equal(1, Json.Parse(run).Long("total_records"));
            var notice = Assert.Single(Json.Parse(run)["notices"]!.AsArray().Select(n => n!.GetValue<string>()),
                n => n.Contains("could not be cached", StringComparison.Ordinal));
            Assert.StartsWith($"what the tap said of itself could not be cached in {cache} (", notice, StringComparison.Ordinal);
            Assert.Contains("Read-only file system", notice, StringComparison.Ordinal);

            // validate prints its JSON document, the cache that cannot be written a warning of its catalog check.
            var validate = CliProcess.Run(_home, "validate", "ro", "--output", "json");
            Assert.True(validate.ExitCode == 0, validate.ToString());
            var catalog = Json.Parse(validate).AsArray().Single()!["checks"]!.AsArray().Single(c => c.Str("check") == "catalog")!;
            Assert.True(catalog.Bool("warning"), catalog.ToJsonString());
            Assert.Contains($"could not be cached in {cache}", OneLine(catalog.Str("detail")), StringComparison.Ordinal);
            Assert.False(File.Exists(cache));
        }
        finally
        {
            HostCommand.Run("umount", "--lazy", _home.Home);
        }
    }

    [Fact]
    public void A_discovery_that_prints_no_catalog_fails_streams_with_exit_1_not_as_a_configuration_error()
    {
        WriteTap("tap-baddisc", """
            case " $* " in *" --help "*) echo "usage: tap-baddisc --config FILE [--discover] [--catalog FILE]"; exit 0;; esac
            echo "Traceback: not a catalog"
            """);
        WriteTapPipeline("baddisc", Path.Combine(_home.Root, "tap-baddisc"));

        var streams = CliProcess.Run(_home, "streams", "baddisc");
        Assert.True(streams.ExitCode == 1, streams.ToString());
        Assert.Contains("--discover", streams.Stderr, StringComparison.Ordinal);
        Assert.Contains("not valid JSON", streams.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("python3 /missing.py")]
    [InlineData("bash /missing.sh --verbose")]
    public void A_tap_whose_interpreter_script_is_missing_fails_validate_and_run_naming_the_script(string tap)
    {
        var script = tap.Split(' ')[1];
        WriteTapPipeline("noscript", tap);

        var validate = CliProcess.Run(_home, "validate", "noscript", "--output", "json");
        Assert.Equal(1, validate.ExitCode);
        Assert.Contains($"tap script '{script}' does not exist", validate.Stdout, StringComparison.Ordinal);

        var run = CliProcess.Run(_home, "run", "noscript");
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains($"tap script '{script}' does not exist", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Source_streams_with_a_tap_that_cannot_discover_is_a_configuration_error_naming_file_line_and_key()
    {
        WriteTap("tap-nodisc", """
            case " $* " in *" --help "*) echo "usage: tap-nodisc --config FILE"; exit 0;; esac
            echo '{"type":"SCHEMA","stream":"s","schema":{"properties":{"id":{"type":"integer"}}}}'
            echo '{"type":"RECORD","stream":"s","record":{"id":1}}'
            """);
        var file = WriteTapPipeline("picky", Path.Combine(_home.Root, "tap-nodisc"), "streams: [s]");

        var run = CliProcess.Run(_home, "run", "picky");
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains($"{file}:3: source.streams: ", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("does not list --discover", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("extract failed", run.Stderr, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(_home.Lake, "*.parquet", SearchOption.AllDirectories));
    }
}
