using System.Text;
using DataSpoc.Pipe.Singer;
using DataSpoc.Pipe.Sources.BuiltIn;
using Xunit;

namespace DataSpoc.Pipe.Tests.Sources.BuiltIn;

public sealed class BuiltInTapsTests
{
    [Fact]
    public void The_registry_knows_every_built_in_tap_by_its_source_tap_name()
    {
        Assert.Equal(["csv", "google-sheets-public", "jsonl", "parquet", "postgres"], BuiltInTaps.Names);
        foreach (var name in BuiltInTaps.Names)
        {
            Assert.True(BuiltInTaps.TryGet(name, out var tap));
            Assert.Equal(name, tap.Name);
        }
        Assert.False(BuiltInTaps.TryGet("tap-csv", out _));
    }

    [Fact]
    public void A_bug_in_a_built_in_tap_ends_its_stderr_with_the_message_that_a_run_quotes()
    {
        Exception bug;
        try { throw new InvalidOperationException("a state the tap never expected"); }
        catch (InvalidOperationException e) { bug = e; }
        var lines = BuiltInTapErrors.Describe("csv", bug).Split('\n');
        Assert.Equal("csv tap failed: InvalidOperationException: a state the tap never expected", lines[^1]);
        Assert.Contains(lines, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
        Assert.Equal("csv tap: 'x' matches no file", BuiltInTapErrors.Describe("csv", new TapException("csv tap: 'x' matches no file")));
    }

    [Fact]
    public void The_singer_check_used_by_the_tap_tests_rejects_a_record_before_its_schema_and_a_value_of_the_wrong_type()
    {
        var early = Encoding.UTF8.GetBytes("""{"type":"RECORD","stream":"s","record":{"a":1}}""" + "\n");
        Assert.Contains("before its SCHEMA", Assert.ThrowsAny<Exception>(() => SingerOutput.Parse(early)).Message);
        var wrong = Encoding.UTF8.GetBytes(
            """{"type":"SCHEMA","stream":"s","schema":{"properties":{"a":{"type":"integer"}}},"key_properties":[]}""" + "\n" +
            """{"type":"RECORD","stream":"s","record":{"a":"x"}}""" + "\n");
        Assert.Contains("is not of type integer", Assert.ThrowsAny<Exception>(() => SingerOutput.Parse(wrong)).Message);
        var truncated = Encoding.UTF8.GetBytes("""{"type":"STATE","value":{""" + "\n");
        Assert.IsType<SingerProtocolException>(Assert.ThrowsAny<Exception>(() => SingerOutput.Parse(truncated)));
    }
}
