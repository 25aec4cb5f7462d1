using DataSpoc.Pipe.Cli.Tests.Support;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

/// <summary>
/// Names a tap controls (streams, properties) reach the user's terminal only with their control characters escaped:
/// the error line, plain progress, the live table and the summary show <c>\u001b</c>, never the escape itself.
/// </summary>
public sealed class RunOutputEscapingTests : IDisposable
{
    /// <summary>Clears the line, prints a reassuring green text and retitles the window, if printed raw.</summary>
    private const string HostileStream = "\u001b[2K\r\u001b[32mall good: 0 errors\u001b[0m\u001b]0;owned\u0007";

    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    /// <summary>A tap sending one stream named <see cref="HostileStream"/>; with <c>fail</c>, a RECORD before its SCHEMA.</summary>
    private void WriteHostilePipeline(bool fail)
    {
        var tap = Path.Combine(_home.Root, "hostile_tap.py");
        File.WriteAllText(tap, """
            import json, sys
            name = "\u001b[2K\r\u001b[32mall good: 0 errors\u001b[0m\u001b]0;owned\u0007"
            fail = "--fail" in sys.argv
            if not fail:
                print(json.dumps({"type": "SCHEMA", "stream": name, "key_properties": [],
                                  "schema": {"type": "object", "properties": {"id": {"type": "integer"}}}}))
            for i in range(3):
                print(json.dumps({"type": "RECORD", "stream": name, "record": {"id": i}}))
            """);
        _home.WritePipeline("hostile", $"""
            source:
              tap: python3 {tap}{(fail ? " --fail" : "")}
            destination:
              bucket: {_home.Bucket}
              path: raw
            """);
    }

    private static void AssertEscaped(string text)
    {
        Assert.DoesNotContain("\u001b[32mall good", text, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b]0;owned", text, StringComparison.Ordinal);
        Assert.DoesNotContain("\u0007", text, StringComparison.Ordinal);
        Assert.Contains(@"\u001b[2K", text, StringComparison.Ordinal);
        Assert.Contains(@"\u001b[32mall good: 0 errors", text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_stream_name_with_escape_sequences_is_shown_escaped_in_plain_progress_and_the_summary()
    {
        WriteHostilePipeline(fail: false);
        var result = CliProcess.Run(_home, "run", "hostile");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.DoesNotContain("\u001b", result.Stdout, StringComparison.Ordinal);
        AssertEscaped(result.Stdout);
    }

    [Fact]
    public void A_stream_name_with_escape_sequences_is_shown_escaped_in_the_error_line()
    {
        WriteHostilePipeline(fail: true);
        var result = CliProcess.Run(_home, "run", "hostile");
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("error: hostile failed: ", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b", result.Stderr, StringComparison.Ordinal);
        AssertEscaped(result.Stderr);
    }

    [Fact]
    public void A_stream_name_with_escape_sequences_is_shown_escaped_in_the_live_table()
    {
        Assert.True(PseudoTerminal.Available, "util-linux 'script' is needed for the pseudo-terminal test");
        WriteHostilePipeline(fail: false);
        var result = PseudoTerminal.Run(_home, "", "", "run", "hostile");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.DoesNotContain("\u001b[32mall good", result.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b]0;owned", result.Stdout, StringComparison.Ordinal);
        Assert.Contains(@"\u001b[2K", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_output_keeps_the_stream_name_as_json_escapes_it()
    {
        WriteHostilePipeline(fail: false);
        var result = CliProcess.Run(_home, "run", "hostile", "--output", "json");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal([HostileStream], Json.Parse(result)["streams"]!.AsObject().Select(kv => kv.Key));
    }
}
