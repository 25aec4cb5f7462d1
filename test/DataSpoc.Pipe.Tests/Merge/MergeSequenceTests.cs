using System.Globalization;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;
using Xunit.Abstractions;

namespace DataSpoc.Pipe.Tests.Merge;

/// <summary>
/// <c>write_mode: merge</c> against a source that changes at random: a log-based tap script (a real python3
/// subprocess over its own SQLite table) inserts, updates and deletes rows before each sync and sends every change since
/// its bookmark, several per key, the boundary change again and deletions with <c>_sdc_deleted_at</c>. After every run
/// DuckDB reads the lake and it must equal the source table the tap reports, by key and value; the manifest's row count
/// must equal the rows DuckDB reads.
/// </summary>
public sealed class MergeSequenceTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempLake _lake = new();
    private readonly string _scratch = Directory.CreateTempSubdirectory("dsp-merge-").FullName;

    internal TempLake Lake => _lake;

    public void Dispose()
    {
        _lake.Dispose();
        try { Directory.Delete(_scratch, true); } catch (IOException) { }
    }

    internal PipelineDefinition Pipeline(int seed, string key = "int", bool shuffle = false, string partitionBy = PartitionBySettings.None,
        MergeSettings? merge = null, long maxFileRows = 25, int changes = 40) => new()
    {
        Name = "merge-" + key,
        Source = new SourceDefinition
        {
            Tap = "python3 " + TempLake.Asset("merge_tap.py"),
            Name = "t",
            InlineConfig = new JsonObject
            {
                ["db"] = Path.Combine(_scratch, "source.sqlite"),
                ["snapshot"] = SnapshotPath,
                ["seed"] = seed,
                ["key"] = key,
                ["shuffle"] = shuffle,
                ["changes"] = changes,
            },
        },
        Destination = new DestinationDefinition
        {
            Bucket = _lake.Bucket,
            PartitionBy = partitionBy,
            MaxFileRows = maxFileRows,
            WriteMode = WriteMode.Merge,
            Merge = merge ?? new MergeSettings(),
        },
        Incremental = new IncrementalSettings { Enabled = true },
    };

    private string SnapshotPath => Path.Combine(_scratch, "snapshot.json");

    [Theory]
    [InlineData("int", false, PartitionBySettings.None, null)]
    [InlineData("str", true, PartitionBySettings.ExtractionDate, "version")]
    // Partitioned by a column that every update changes: a key's new row lands in another dt= folder than its old one.
    [InlineData("int", true, "updated_at", "version")]
    public async Task The_lake_equals_the_source_after_every_run_of_random_inserts_updates_and_deletes(string key, bool shuffle, string partitionBy, string? orderBy)
    {
        var seed = FuzzSeed.FromEnvironment();
        output.WriteLine($"seed {seed} (replay: DATASPOC_FUZZ_SEED={seed})");
        var pipeline = Pipeline(seed, key, shuffle, partitionBy, new MergeSettings { OrderBy = orderBy });
        for (var run = 1; run <= 24; run++)
        {
            var result = await TempLake.RunAsync(pipeline);
            Assert.True(result.Succeeded, $"seed {seed} run {run}: {result.Log.Error} / {result.Log.Tap.StderrTail}");
            var expected = ExpectedRows();
            var actual = LakeRows();
            Assert.True(expected.Count == actual.Count && expected.Zip(actual).All(p => p.First.SequenceEqual(p.Second)),
                $"seed {seed} run {run}: the lake differs from the source\n{Diff(expected, actual)}");
            Assert.Equal(actual.Count, _lake.Manifest().Tables["t/items"].RowCount);
            Assert.Equal("merge", _lake.Manifest().Tables["t/items"].WriteMode);
        }
    }

    [Fact]
    public async Task Without_hard_delete_a_deleted_key_keeps_its_row_with_sdc_deleted_at_set()
    {
        var seed = FuzzSeed.FromEnvironment();
        output.WriteLine($"seed {seed} (replay: DATASPOC_FUZZ_SEED={seed})");
        var pipeline = Pipeline(seed, merge: new MergeSettings { HardDelete = false });
        for (var run = 1; run <= 20; run++)
        {
            var result = await TempLake.RunAsync(pipeline);
            Assert.True(result.Succeeded, $"seed {seed} run {run}: {result.Log.Error}");
            var snapshot = JsonNode.Parse(File.ReadAllText(SnapshotPath))!;
            var live = snapshot["rows"]!.AsArray().Select(r => r!["id"]!.ToString()).Order(StringComparer.Ordinal).ToList();
            var deleted = snapshot["deleted"]!.AsArray().Select(r => r!.ToString()).Order(StringComparer.Ordinal).ToList();
            var lake = LakeParquet().Count == 0 ? [] : _lake.Query(
                $"SELECT CAST(id AS VARCHAR), _sdc_deleted_at IS NOT NULL FROM read_parquet({Files()}) ORDER BY 1");
            Assert.Equal(live, lake.Where(r => r[1] == "false").Select(r => r[0]!).Order(StringComparer.Ordinal).ToList());
            Assert.Equal(deleted, lake.Where(r => r[1] == "true").Select(r => r[0]!).Order(StringComparer.Ordinal).ToList());
        }
    }

    internal List<List<string?>> ExpectedRows()
    {
        var rows = JsonNode.Parse(File.ReadAllText(SnapshotPath))!["rows"]!.AsArray();
        return rows.Select(r => new List<string?>
        {
            r!["id"]!.ToString(),
            r["name"]?.GetValue<string>(),
            r["amount"] is { } a ? a.GetValue<double>().ToString("R", CultureInfo.InvariantCulture) : null,
            r["qty"] is { } q ? q.GetValue<long>().ToString(CultureInfo.InvariantCulture) : null,
            r["updated_at"] is { } u ? DateTime.Parse(u.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal).ToString("yyyy-MM-dd HH:mm:ss.ffffff", CultureInfo.InvariantCulture) : null,
            r["version"]!.ToString(),
        }).OrderBy(r => r[0], StringComparer.Ordinal).ToList();
    }

    internal List<List<string?>> LakeRows() => LakeParquet().Count == 0 ? [] :
        _lake.Query($"SELECT CAST(id AS VARCHAR), name, amount, qty, updated_at, version FROM read_parquet({Files()}) ORDER BY 1");

    private List<string> LakeParquet() => _lake.ParquetKeys().Where(k => k.StartsWith("raw/t/items/", StringComparison.Ordinal)).ToList();

    private string Files() => "[" + string.Join(", ", LakeParquet().Select(k => $"'{{lake}}/{k}'")) + "]";

    private static string Diff(List<List<string?>> expected, List<List<string?>> actual)
    {
        var e = expected.Select(Line).ToHashSet();
        var a = actual.Select(Line).ToHashSet();
        return "missing from the lake:\n  " + string.Join("\n  ", e.Except(a).Take(10)) + "\nnot in the source:\n  " + string.Join("\n  ", a.Except(e).Take(10));
        static string Line(List<string?> r) => string.Join(" | ", r.Select(v => v ?? "NULL"));
    }
}
