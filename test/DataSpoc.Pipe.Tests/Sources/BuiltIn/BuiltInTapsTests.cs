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

/// <summary>
/// A key a built-in tap does not read (a typo) is refused as a config error naming the key, the tap and the closest
/// known key, before any data is read: ignored, the file was parsed as if the key were absent (<c>delimeter: ";"</c>
/// split on the sniffed delimiter instead).
/// </summary>
public sealed class BuiltInTapUnknownKeyTests
{
    [Theory]
    [InlineData("csv", """{"path": "/nowhere", "delimeter": ";"}""", "csv tap: unknown config key 'delimeter' (did you mean 'delimiter'?)")]
    [InlineData("csv", """{"path": "/nowhere", "streams": [{"name": "s", "type": {"a": "integer"}}]}""", "csv tap: unknown config key 'streams[0].type' (did you mean 'types'?)")]
    [InlineData("jsonl", """{"path": "/nowhere", "sample_row": 5}""", "jsonl tap: unknown config key 'sample_row' (did you mean 'sample_rows'?)")]
    [InlineData("jsonl", """{"path": "/nowhere", "streams": [{"name": "s", "schemas": {}}]}""", "jsonl tap: unknown config key 'streams[0].schemas' (did you mean 'schema'?)")]
    [InlineData("parquet", """{"path": "/nowhere", "sample_rows": 5}""", "parquet tap: unknown config key 'sample_rows' (the parquet tap reads files, path, storage_options, streams)")]
    [InlineData("parquet", """{"path": "/nowhere", "streams": [{"name": "s", "key_property": ["id"]}]}""", "parquet tap: unknown config key 'streams[0].key_property' (did you mean 'key_properties'?)")]
    [InlineData("postgres", """{"dbname": "shop", "user": "u", "replication_key": {"public-orders": "updated_at"}}""", "postgres tap: unknown config key 'replication_key' (did you mean 'replication_keys'?)")]
    [InlineData("postgres", """{"dbname": "shop", "user": "u", "sslrootcert": "/ca.pem"}""", "postgres tap: unknown config key 'sslrootcert' (the postgres tap reads host, port, user, username, password, dbname, database, sslmode, gssencmode, schemas, filter_tables, replication_keys, batch_size)")]
    [InlineData("google-sheets-public", """{"sheet_id": "abc", "type": {"a": "integer"}}""", "google-sheets-public tap: unknown config key 'type' (did you mean 'types'?)")]
    public async Task An_unknown_config_key_is_a_configuration_error_naming_the_closest_known_key(string tapName, string config, string error)
    {
        Assert.True(BuiltInTaps.TryGet(tapName, out var tap));
        var e = await Assert.ThrowsAsync<TapException>(() => tap.DiscoverAsync(System.Text.Json.Nodes.JsonNode.Parse(config)!.AsObject(), Stream.Null, CancellationToken.None));
        Assert.Equal(error, e.Message);
        Assert.True(e.IsConfiguration);
        var sync = await Assert.ThrowsAsync<TapException>(() => tap.SyncAsync(System.Text.Json.Nodes.JsonNode.Parse(config)!.AsObject(), null, null, Stream.Null, CancellationToken.None));
        Assert.Equal(error, sync.Message);
    }

    [Fact]
    public async Task The_tap_command_prints_the_unknown_key_and_what_it_is_likely_a_typo_of()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, """{"path": "/nowhere", "delimeter": ";"}""");
            var stderr = new StringWriter();
            var exit = await BuiltInTapCommand.RunAsync("csv", file, null, null, discover: false, Stream.Null, stderr, CancellationToken.None);
            Assert.Equal(2, exit); // a configuration error, as run reports it
            Assert.Equal("csv tap: unknown config key 'delimeter' (did you mean 'delimiter'?)", stderr.ToString().TrimEnd());
        }
        finally
        {
            File.Delete(file);
        }
    }
}
