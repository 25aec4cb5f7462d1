using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Tables;

/// <summary>
/// Two pipelines writing one table at the same time, each with a column the table lacks: the first plans, then waits at
/// its commit while the second commits (or both meet there), so each run's commit meets a table another run changed
/// after it planned. The manifest's columns and the Iceberg field ids must be those of the table as it is at the commit.
/// </summary>
public sealed class ConcurrentColumnsTests : IDisposable
{
    private readonly TempLake _lake = new();

    public void Dispose() => _lake.Dispose();

    private const string TableKey = "test/k";

    private static string Schema(params string[] extra) =>
        """{"type":"SCHEMA","stream":"k","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"v":{"type":["null","string"]}""" +
        string.Concat(extra.Select(e => "," + e)) + "}}}";

    private const string Tag = """ "tag":{"type":["null","string"]}""";
    private const string Other = """ "other":{"type":["null","integer"]}""";

    private string Input(string name, string schema, IEnumerable<string> records, string state) =>
        _lake.WriteSinger(name, [schema, .. records, $$$"""{"type":"STATE","value":{"pos":"{{{state}}}"}}"""]);

    private static IEnumerable<string> Rows(int from, string v, Func<int, string> extra) =>
        Enumerable.Range(from, 10).Select(i => $$$"""{"type":"RECORD","stream":"k","record":{"id":{{{i}}},"v":"{{{v}}}"{{{extra(i)}}}}}""");

    /// <summary>Lands the table's first rows (pipeline cA, columns id and v), which the runs of a test then add columns to.</summary>
    private async Task LandBaseAsync(TableFormats formats, WriteMode mode = WriteMode.Append) =>
        Assert.True((await TempLake.RunAsync(Pipeline("cA", Input("base", Schema(), Rows(0, "base", _ => ""), "base"), formats, mode))).Succeeded);

    /// <summary>Runs both pipelines so that each reaches its commit (its journal) before either lands a file.</summary>
    private static async Task<RunResult[]> RunMeetingAtTheirCommitsAsync(PipelineDefinition first, PipelineDefinition second)
    {
        var meeting = new JournalMeeting(2);
        var runner = MeetingStore.Runner(meeting.ArriveAsync);
        var results = await Task.WhenAll(TempLake.RunAsync(first, runner: runner), TempLake.RunAsync(second, runner: runner));
        Assert.True(meeting.Met, "the two runs did not both reach their commit");
        return results;
    }

    private PipelineDefinition Pipeline(string name, string file, TableFormats formats, WriteMode mode = WriteMode.Append) =>
        _lake.Pipeline(name, file, p => p with
        {
            Destination = p.Destination with { PartitionBy = PartitionBySettings.None, WriteMode = mode, TableFormat = formats },
        });

    private string TableDir => Path.Combine(_lake.Root, "raw", "test", "k");

    /// <summary>Runs <paramref name="first"/> up to its commit, lets <paramref name="second"/> run whole, then lets the first commit.</summary>
    private static async Task<(RunResult First, RunResult Second)> SecondCommitsWhileFirstWaitsAsync(PipelineDefinition first, PipelineDefinition second)
    {
        var waiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var secondDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var run = TempLake.RunAsync(first, runner: MeetingStore.Runner(() =>
        {
            waiting.TrySetResult();
            return secondDone.Task.WaitAsync(TimeSpan.FromSeconds(60));
        }));
        await waiting.Task.WaitAsync(TimeSpan.FromSeconds(120));
        var other = await TempLake.RunAsync(second);
        secondDone.TrySetResult();
        return (await run, other);
    }

    /// <summary>
    /// The table's rows as <c>id|v|tag|other</c> (a null as empty) read by icebird (by field id, through the Iceberg
    /// metadata) and by DuckDB (by name, over the current Delta version's files), and icebird's schema (<c>id:name</c>).
    /// </summary>
    private async Task<(List<string> Iceberg, List<string> Delta, List<string> Schema)> ReadBackAsync()
    {
        var read = TableReaders.Icebird("file://" + TableDir);
        var schema = read["schema"]!.AsArray().Select(f => f!.GetValue<string>()).ToList();
        string Cell(JsonNode? row, string column) => row?[column]?.ToString() ?? "";
        var iceberg = read["rows"]!.AsArray().Select(r => string.Join('|', Cell(r, "id"), Cell(r, "v"), Cell(r, "tag"), Cell(r, "other"))).Order(StringComparer.Ordinal).ToList();
        await using var store = new LocalObjectStore(BucketUri.Parse(_lake.Bucket));
        var delta = new DataSpoc.Pipe.Tables.DeltaTable(store, TimeProvider.System);
        var live = (await delta.LiveFilesAsync("raw/test/k/", await delta.LatestVersionAsync("raw/test/k/", CancellationToken.None), CancellationToken.None)).Keys;
        // By name, as the files hold them (a column none of them holds reads as null).
        var deltaRows = _lake.Query("SELECT id, v, tag, other FROM (SELECT NULL::BIGINT id, NULL v, NULL tag, NULL other WHERE false) UNION ALL BY NAME SELECT * FROM read_parquet([" +
            string.Join(", ", live.Select(p => $"'{TableDir}/{Uri.UnescapeDataString(p)}'")) + "], union_by_name = true)")
            .Select(r => string.Join('|', r.Select(c => c ?? ""))).Order(StringComparer.Ordinal).ToList();
        return (iceberg, deltaRows, schema);
    }

    private static List<string> Expected(params (int From, string V, string Tag, bool Other)[] groups) =>
        [.. groups.SelectMany(g => Enumerable.Range(g.From, 10).Select(i => $"{i}|{g.V}|{(g.Tag.Length > 0 ? g.Tag + i : "")}|{(g.Other ? i.ToString(System.Globalization.CultureInfo.InvariantCulture) : "")}"))
            .Order(StringComparer.Ordinal)];

    private List<string> ClaimsLeft() =>
        [.. _lake.Keys().Where(k => k.StartsWith(".dataspoc/claims/", StringComparison.Ordinal) && !k.EndsWith(".lck", StringComparison.Ordinal))];

    [Theory]
    [InlineData(WriteMode.Append)]
    [InlineData(WriteMode.Merge)]
    public async Task A_run_committing_after_another_added_a_column_keeps_that_column_in_the_manifest(WriteMode mode)
    {
        await LandBaseAsync(TableFormats.Parquet, mode);
        var withTag = Pipeline("cA", Input("a", Schema(Tag), Rows(100, "a", i => $",\"tag\":\"t{i}\""), "a"), TableFormats.Parquet, mode);
        var withOther = Pipeline("cB", Input("b", Schema(Other), Rows(200, "b", i => $",\"other\":{i}"), "b"), TableFormats.Parquet);

        var (a, b) = await SecondCommitsWhileFirstWaitsAsync(withTag, withOther);

        Assert.True(a.Succeeded, a.Log.Error);
        Assert.True(b.Succeeded, b.Log.Error);
        // The contract's rule against the entry as it is at the commit: the run's columns, then those only earlier files hold.
        Assert.Equal(["id", "v", "tag", "other"], _lake.Manifest().Tables[TableKey].Columns.Select(c => c.Name));
        Assert.Equal(30, _lake.Manifest().Tables[TableKey].RowCount);
        Assert.Equal([["10", "10"]], _lake.Query("SELECT count(tag), count(other) FROM read_parquet('{lake}/raw/test/k/*.parquet', union_by_name = true)"));
    }

    [Fact]
    public async Task A_type_change_against_a_column_another_run_committed_meanwhile_is_reported_by_the_commit()
    {
        await LandBaseAsync(TableFormats.Parquet);
        var withTag = Pipeline("cA", Input("a", Schema(Tag), Rows(100, "a", i => $",\"tag\":\"t{i}\""), "a"), TableFormats.Parquet);
        // The other pipeline sends 'v' as an integer: its commit lands while the first run waits at its own.
        var intV = """{"type":"SCHEMA","stream":"k","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"v":{"type":["null","integer"]}}}}""";
        var numbers = Pipeline("cB", _lake.WriteSinger("b", [intV, .. Enumerable.Range(200, 10).Select(i => $$$"""{"type":"RECORD","stream":"k","record":{"id":{{{i}}},"v":{{{i}}}}}""")]), TableFormats.Parquet);

        var (a, b) = await SecondCommitsWhileFirstWaitsAsync(withTag, numbers);

        Assert.True(a.Succeeded, a.Log.Error);
        Assert.True(b.Succeeded, b.Log.Error);
        Assert.Contains(b.Log.Notices, n => n.Contains("'v' string -> int64", StringComparison.Ordinal));
        // Planned against the base ('v' string, as its own), the first run meets the other's int64 only at its commit.
        Assert.Contains(a.Log.Notices, n => n.Contains("'v' int64 -> string", StringComparison.Ordinal) && n.Contains("another pipeline committed", StringComparison.Ordinal));
        Assert.Equal([("id", "int64"), ("v", "string"), ("tag", "string")], _lake.Manifest().Tables[TableKey].Columns.Select(c => (c.Name, c.Type)));
    }

    [Fact]
    public async Task A_run_whose_new_column_id_another_run_took_meanwhile_lands_nothing_and_its_next_run_numbers_it_right()
    {
        var formats = TableFormats.Iceberg | TableFormats.Delta;
        await LandBaseAsync(formats);
        var withTag = Pipeline("cA", Input("a", Schema(Tag), Rows(100, "a", i => $",\"tag\":\"t{i}\""), "a"), formats);
        var withOther = Pipeline("cB", Input("b", Schema(Other), Rows(200, "b", i => $",\"other\":{i}"), "b"), formats);
        var filesBefore = _lake.ParquetKeys().Count;

        // Both number their new column 3 (the table's last-column-id is 2); the second commits 'other' as 3 first.
        var (a, b) = await SecondCommitsWhileFirstWaitsAsync(withTag, withOther);

        Assert.True(b.Succeeded, b.Log.Error);
        Assert.False(a.Succeeded);
        Assert.Contains($"Iceberg table {_lake.Bucket}/raw/test/k", a.Log.Error, StringComparison.Ordinal);
        Assert.Contains("'tag' has field id 3 in this run's files, which the table gave column 'other'", a.Log.Error, StringComparison.Ordinal);
        Assert.Contains("version v2", a.Log.Error, StringComparison.Ordinal);
        Assert.Contains("run pipeline 'cA' again", a.Log.Error, StringComparison.Ordinal);
        // Nothing of the failed run: no file, no state, no journal, no claim.
        Assert.Equal(filesBefore + b.Log.Streams.Values.Sum(s => s.Files), _lake.ParquetKeys().Count);
        Assert.Equal("base", _lake.State("cA")!["pos"]!.GetValue<string>());
        Assert.DoesNotContain(_lake.Keys(), k => k.StartsWith(".dataspoc/journal/", StringComparison.Ordinal));
        Assert.Empty(ClaimsLeft());
        var (iceberg, delta, schema) = await ReadBackAsync();
        Assert.Equal(["1:id", "2:v", "3:other"], schema);
        var expected = Expected((0, "base", "", false), (200, "b", "", true));
        Assert.Equal(expected, iceberg);
        Assert.Equal(expected, delta);

        var again = await TempLake.RunAsync(withTag);

        Assert.True(again.Succeeded, again.Log.Error);
        (iceberg, delta, schema) = await ReadBackAsync();
        Assert.Equal(["1:id", "2:v", "4:tag", "3:other"], schema);
        expected = Expected((0, "base", "", false), (100, "a", "t", false), (200, "b", "", true));
        Assert.Equal(expected, iceberg);
        Assert.Equal(expected, delta);
        Assert.Equal(["id", "v", "tag", "other"], _lake.Manifest().Tables[TableKey].Columns.Select(c => c.Name));
        var metadata = JsonNode.Parse(File.ReadAllText(Path.Combine(TableDir, "metadata", "v3.metadata.json")))!;
        Assert.Equal(4, metadata["last-column-id"]!.GetValue<int>());
    }

    [Fact]
    public async Task Two_runs_committing_new_columns_under_one_id_at_the_same_moment_land_one_of_them()
    {
        var formats = TableFormats.Iceberg | TableFormats.Delta;
        await LandBaseAsync(formats);
        var withTag = Pipeline("cA", Input("a", Schema(Tag), Rows(100, "a", i => $",\"tag\":\"t{i}\""), "a"), formats);
        var withOther = Pipeline("cB", Input("b", Schema(Other), Rows(200, "b", i => $",\"other\":{i}"), "b"), formats);

        // Both reach their commit before either lands a file: the claim on field id 3 decides.
        var results = await RunMeetingAtTheirCommitsAsync(withTag, withOther);
        var won = Assert.Single(results, r => r.Succeeded);
        var lost = Assert.Single(results, r => !r.Succeeded);
        Assert.Contains("field id 3", lost.Log.Error, StringComparison.Ordinal);
        Assert.Contains("again", lost.Log.Error, StringComparison.Ordinal);
        Assert.Empty(ClaimsLeft());
        var (iceberg, delta, schema) = await ReadBackAsync();
        var tagWon = won.Log.Pipeline == "cA";
        Assert.Equal(["1:id", "2:v", tagWon ? "3:tag" : "3:other"], schema);
        var expected = Expected((0, "base", "", false), tagWon ? (100, "a", "t", false) : (200, "b", "", true));
        Assert.Equal(expected, iceberg);
        Assert.Equal(expected, delta);
    }

    [Fact]
    public async Task Two_runs_adding_the_same_column_at_the_same_moment_both_land_it_under_one_id()
    {
        var formats = TableFormats.Iceberg | TableFormats.Delta;
        await LandBaseAsync(formats);
        var first = Pipeline("cA", Input("a", Schema(Tag), Rows(100, "a", i => $",\"tag\":\"t{i}\""), "a"), formats);
        var second = Pipeline("cB", Input("b", Schema(Tag), Rows(200, "b", i => $",\"tag\":\"t{i}\""), "b"), formats);

        var results = await RunMeetingAtTheirCommitsAsync(first, second);
        Assert.All(results, r => Assert.True(r.Succeeded, r.Log.Error));
        Assert.Empty(ClaimsLeft());
        var (iceberg, delta, schema) = await ReadBackAsync();
        Assert.Equal(["1:id", "2:v", "3:tag"], schema);
        var expected = Expected((0, "base", "", false), (100, "a", "t", false), (200, "b", "t", false));
        Assert.Equal(expected, iceberg);
        Assert.Equal(expected, delta);
    }
}
