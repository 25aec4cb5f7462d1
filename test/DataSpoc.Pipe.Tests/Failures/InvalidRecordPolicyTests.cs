using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Failures;

/// <summary><c>on_invalid_record: fail | skip | quarantine</c> on a record whose value does not fit its column.</summary>
public class InvalidRecordPolicyTests
{
    private static string WrongType => TempLake.Asset(Path.Combine("bad-input", "wrong-type-value.singer"));

    [Fact]
    public async Task Fail_stops_the_run_naming_stream_line_and_field_and_commits_nothing()
    {
        using var lake = new TempLake();
        await BadInputCorpusTests.LandGoodRunAsync(lake, "policy-fail");

        var run = await TempLake.RunAsync(lake.Pipeline("policy-fail", WrongType, p => p with { OnInvalidRecord = InvalidRecordPolicy.Fail }));

        Assert.False(run.Succeeded);
        Assert.StartsWith("stream 'items', line 3: field 'amount'", run.Log.Error);
        Assert.Contains("amount", run.Log.Error);
        BadInputCorpusTests.AssertGoodRunUntouched(lake, "policy-fail");
    }

    [Fact]
    public async Task Skip_drops_only_the_bad_record_and_counts_it_in_the_run_log()
    {
        using var lake = new TempLake();

        var run = await TempLake.RunAsync(lake.Pipeline("policy-skip", WrongType, p => p with { OnInvalidRecord = InvalidRecordPolicy.Skip }));

        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Equal([["101"], ["103"]], lake.Query("select id from read_parquet('{lake}/raw/test/items/*/*.parquet') order by id"));
        Assert.Equal(2, run.Log.Streams["items"].Records);
        Assert.Equal(1, run.Log.Streams["items"].Rejected);
        Assert.Contains(run.Log.Notices, n => n.Contains("line 3", StringComparison.Ordinal) && n.Contains("amount", StringComparison.Ordinal));
        Assert.DoesNotContain(lake.Keys(), k => k.Contains("quarantine", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Quarantine_keeps_each_rejected_line_whole_and_byte_for_byte_in_the_runs_quarantine_file()
    {
        using var lake = new TempLake();

        var run = await TempLake.RunAsync(lake.Pipeline("policy-quarantine", WrongType, p => p with { OnInvalidRecord = InvalidRecordPolicy.Quarantine }));

        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Equal([["101"], ["103"]], lake.Query("select id from read_parquet('{lake}/raw/test/items/*/*.parquet') order by id"));
        Assert.Equal(1, run.Log.Streams["items"].Rejected);
        var key = LakePaths.QuarantineKey("policy-quarantine", run.Log.RunId, "items");
        Assert.Equal($".dataspoc/quarantine/policy-quarantine/{run.Log.RunId}/items.jsonl", key);
        var expected = File.ReadAllBytes(WrongType).AsSpan();
        var line3 = SplitLines(expected.ToArray())[2];
        Assert.Equal([.. line3, (byte)'\n'], File.ReadAllBytes(Path.Combine(lake.Root, key)));
    }

    [Fact]
    public async Task Quarantine_keeps_a_line_with_invalid_utf8_as_received_not_repaired()
    {
        using var lake = new TempLake();
        var nonUtf8 = TempLake.Asset(Path.Combine("bad-input", "non-utf8-bytes.singer"));

        var run = await TempLake.RunAsync(lake.Pipeline("policy-quarantine-bytes", nonUtf8, p => p with { OnInvalidRecord = InvalidRecordPolicy.Quarantine }));

        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Equal([["101"], ["103"]], lake.Query("select id from read_parquet('{lake}/raw/test/items/*/*.parquet') order by id"));
        var quarantined = File.ReadAllBytes(Path.Combine(lake.Root, LakePaths.QuarantineKey("policy-quarantine-bytes", run.Log.RunId, "items")));
        Assert.Equal([.. SplitLines(File.ReadAllBytes(nonUtf8))[2], (byte)'\n'], quarantined);
        Assert.Contains((byte)0xff, quarantined);
    }

    internal static List<byte[]> SplitLines(byte[] bytes)
    {
        var lines = new List<byte[]>();
        var start = 0;
        for (var i = 0; i < bytes.Length; i++)
            if (bytes[i] == '\n') { lines.Add(bytes[start..i]); start = i + 1; }
        if (start < bytes.Length) lines.Add(bytes[start..]);
        return lines;
    }
}

/// <summary>
/// A record rejected half-way (some of its columns already written) is undone exactly: every column of the rows
/// around it reads back with its own values, with and without list columns (two different undo paths).
/// </summary>
public class RejectedRecordUndoTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Rows_around_records_rejected_mid_way_keep_every_column_value(bool withList)
    {
        using var lake = new TempLake();
        var tags = withList ? ""","tags":{"type":["null","array"],"items":{"type":"string"}}""" : "";
        var schema = """{"type":"SCHEMA","stream":"items","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"name":{"type":["null","string"]},"note":{"type":["null","string"]},"amount":{"type":["null","number"]},"flag":{"type":["null","boolean"]}""" + tags + "}}}";
        string Tags(int i) => withList ? $""","tags":["t{i}","u{i}"]""" : "";
        var lines = new List<string> { schema };
        var expected = new List<List<string?>>();
        for (var i = 1; i <= 40; i++)
        {
            // Every fourth record breaks at a different field: after a string, after a null, at the last column.
            var bad = (i % 4) switch
            {
                1 => $$$"""{"type":"RECORD","stream":"items","record":{"id":{{{i}}},"name":"n{{{i}}}","note":"x","amount":"oops"}}""",
                2 => $$$"""{"type":"RECORD","stream":"items","record":{"id":{{{i}}},"name":null,"note":null,"amount":1.5,"flag":"yes"}}""",
                3 => $$$"""{"type":"RECORD","stream":"items","record":{"id":{{{i}}},"name":"n{{{i}}}","note":"a \u00e9 note","amount":2.5,"flag":true{{{Tags(i)}}},"extra":1,"id":7}}""",
                _ => null,
            };
            if (bad is not null) lines.Add(bad);
            lines.Add($$$"""{"type":"RECORD","stream":"items","record":{"id":{{{i}}},"name":"name {{{i}}}","note":{{{(i % 3 == 0 ? "null" : $"\"note \\\"{i}\\\"\"")}}},"amount":{{{i}}}.25,"flag":{{{(i % 2 == 0 ? "true" : "false")}}}{{{Tags(i)}}}}}""");
            expected.Add([$"{i}", $"name {i}", i % 3 == 0 ? null : $"note \"{i}\"", $"{i}.25", i % 2 == 0 ? "true" : "false", withList ? $"[t{i}, u{i}]" : null]);
        }
        var file = lake.WriteSinger("undo.singer", [.. lines]);

        var run = await TempLake.RunAsync(lake.Pipeline("undo", file, p => p with { OnInvalidRecord = Config.InvalidRecordPolicy.Skip }));

        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Equal(30, run.Log.Streams["items"].Rejected);
        Assert.Equal(40, run.Log.Streams["items"].Records);
        var tagsColumn = withList ? "cast(tags as varchar)" : "null";
        var rows = lake.Query($"select id, name, note, amount, flag, {tagsColumn} from read_parquet('{{lake}}/raw/test/items/*/*.parquet') order by id");
        Assert.Equal(expected, rows);
    }
}
