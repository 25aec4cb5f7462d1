using System.Diagnostics;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tables;
using DataSpoc.Pipe.Tests.Support;
using Xunit.Abstractions;

namespace DataSpoc.Pipe.Tests.Tables;

/// <summary>The targets of the table formats' commit cost (figures in bench/README.md).</summary>
public class TableCommitCostTests(ITestOutputHelper output)
{
    private static TableMetadataCommit Commit(string bucket, int i, string format) => new()
    {
        TableKey = "src/t",
        Formats = [format],
        Prefix = "raw/src/t/",
        Location = bucket + "/raw/src/t",
        Operation = TableMetadataCommit.Append,
        PartitionBy = PartitionBySettings.ExtractionDate,
        Schema = JsonNode.Parse("""{"type":"struct","fields":[{"id":1,"name":"id","required":false,"type":"long"},{"id":2,"name":"_extraction_date","required":false,"type":"date"}]}""")!.AsObject(),
        Files = [new DataFileFacts
        {
            Key = $"raw/src/t/dt=2025-01-01/t_{i:D4}.parquet", Bytes = 1000 + i, Records = 10, PartitionDate = new DateOnly(2025, 1, 1).AddDays(i / 10),
            Columns = [new ColumnFacts { FieldId = 1, Name = "id", Values = 10, Nulls = 0, Size = 80, Lower = BitConverter.GetBytes((long)i), Upper = BitConverter.GetBytes((long)i + 9) }],
        }],
    };

    [Theory]
    [InlineData(TableFormatCommitter.Iceberg)]
    [InlineData(TableFormatCommitter.Delta)]
    public async Task A_table_after_many_appending_runs_still_commits_in_under_a_second_on_file(string format)
    {
        // 1,000 runs is the target (DATASPOC_PIPE_BENCH=1, ~2.5 minutes on a 2-core machine); CI checks 100.
        var runs = Environment.GetEnvironmentVariable("DATASPOC_PIPE_BENCH") == "1" ? 1000 : 100;
        using var lake = new TempLake();
        // One real 10-row data file (ids 1..10, Parquet field id 1 like the table schema's), copied under each run's key,
        // so the grown table can be read back.
        Assert.True((await TempLake.RunAsync(lake.Pipeline("seed", lake.WriteSinger("seed",
            ["""{"type":"SCHEMA","stream":"seed","schema":{"type":"object","properties":{"id":{"type":"integer"}}}}""",
             .. Enumerable.Range(1, 10).Select(i => "{\"type\":\"RECORD\",\"stream\":\"seed\",\"record\":{\"id\":" + i + "}}")]),
            p => p with { Destination = p.Destination with { TableFormat = TableFormats.Iceberg } }))).Succeeded);
        var seed = Path.Combine(lake.Root, lake.ParquetKeys().Single());
        await using var store = new ObjectStoreFactory().Open(lake.Bucket);
        var committer = new TableFormatCommitter(store, TimeProvider.System);
        var total = TimeSpan.Zero;
        var last = new List<double>();
        for (var i = 0; i <= runs; i++)
        {
            var commit = Commit(lake.Bucket, i, format);
            var local = Path.Combine(lake.Root, commit.Files[0].Key);
            Directory.CreateDirectory(Path.GetDirectoryName(local)!);
            File.Copy(seed, local);
            commit.Files = [DataFileFooter.Read(local, commit.Files[0].Key, commit.Files[0].PartitionDate)];
            var one = Stopwatch.StartNew();
            await committer.CommitAsync(new CommitPlan { RunId = $"run{i}", TableMetadata = [commit] }, CancellationToken.None);
            total += one.Elapsed;
            if (i >= runs - 10) last.Add(one.Elapsed.TotalMilliseconds);
        }
        output.WriteLine($"{format}: {runs + 1} commits in {total.TotalSeconds:0.0} s; the last 11: median {last.Order().ElementAt(last.Count / 2):0.0} ms, max {last.Max():0.0} ms");
        Assert.True(last.Max() < 1000, $"the slowest of the last 11 of {runs + 1} commits took {last.Max():0} ms");

        // The grown table still reads: every run's 10 rows exactly once.
        List<string> ids;
        if (format == TableFormatCommitter.Iceberg)
            ids = [.. TableReaders.Icebird($"file://{lake.Root}/raw/src/t")["rows"]!.AsArray().Select(r => r!["id"]!.ToString())];
        else
        {
            var live = new HashSet<string>();
            foreach (var entry in Directory.GetFiles(Path.Combine(lake.Root, "raw/src/t/_delta_log"), "*.json").Order(StringComparer.Ordinal))
                foreach (var line in File.ReadAllLines(entry).Where(l => l.Length > 0))
                {
                    if (JsonNode.Parse(line)!["add"] is { } add) live.Add(Path.Combine(lake.Root, "raw/src/t", Uri.UnescapeDataString(add["path"]!.GetValue<string>())));
                    if (JsonNode.Parse(line)!["remove"] is { } remove) live.Remove(Path.Combine(lake.Root, "raw/src/t", Uri.UnescapeDataString(remove["path"]!.GetValue<string>())));
                }
            Assert.Equal(runs + 1, live.Count);
            ids = [.. lake.Query($"select id from read_parquet([{string.Join(',', live.Select(p => $"'{p}'"))}])").Select(r => r[0]!)];
        }
        Assert.Equal(10 * (runs + 1), ids.Count);
        Assert.All(ids.GroupBy(id => id), g => Assert.Equal(runs + 1, g.Count()));
    }

    /// <summary>
    /// A 1M-row run's wall time with and without table metadata (opt-in: DATASPOC_PIPE_BENCH=1, ~2 minutes; the
    /// figures go in bench/README.md). Alternates the two, five rounds each, and prints the medians.
    /// </summary>
    [Fact]
    public async Task Metadata_commit_cost_of_a_one_million_row_run()
    {
        if (Environment.GetEnvironmentVariable("DATASPOC_PIPE_BENCH") != "1") return;
        using var lake = new TempLake();
        var lines = new List<string> { """{"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"name":{"type":["null","string"]},"amount":{"type":["null","number"]},"at":{"type":["null","string"],"format":"date-time"}}}}""" };
        lines.AddRange(Enumerable.Range(1, 1_000_000).Select(i =>
            "{\"type\":\"RECORD\",\"stream\":\"orders\",\"record\":{\"id\":" + i + ",\"name\":\"customer " + i % 5000 + "\",\"amount\":" + i % 1000 +
            ".25,\"at\":\"2025-01-" + (1 + i % 28).ToString("D2") + "T10:" + (i % 60).ToString("D2") + ":00Z\"}}"));
        var input = lake.WriteSinger("million", [.. lines]);
        var times = new Dictionary<TableFormats, List<double>> { [TableFormats.Parquet] = [], [TableFormats.Iceberg | TableFormats.Delta] = [] };
        for (var round = 0; round < 5; round++)
            foreach (var format in round % 2 == 0 ? times.Keys.ToList() : times.Keys.Reverse().ToList())
            {
                var p = lake.Pipeline($"m{(int)format}", input, p => p with { Destination = p.Destination with { TableFormat = format, Path = $"f{(int)format}" } });
                var watch = Stopwatch.StartNew();
                var result = await TempLake.RunAsync(p, full: true);
                times[format].Add(watch.Elapsed.TotalSeconds);
                Assert.True(result.Succeeded, result.Log.Error);
            }
        foreach (var (format, t) in times)
            output.WriteLine($"{format}: median {t.Order().ElementAt(t.Count / 2):0.000} s ({string.Join(", ", t.Select(x => x.ToString("0.000")))})");

        // The metadata work alone, on the run's 1M-row file: footer statistics, then an Iceberg and a Delta commit.
        var file = Path.Combine(lake.Root, lake.ParquetKeys().First());
        await using var store = new ObjectStoreFactory().Open(lake.Bucket);
        var costs = new List<(double Footer, double Commit)>();
        for (var round = 0; round < 5; round++)
        {
            var watch = Stopwatch.StartNew();
            var facts = DataFileFooter.Read(file, $"bench{round}/t/x.parquet", null);
            var footer = watch.Elapsed.TotalMilliseconds;
            var commit = Commit(lake.Bucket, 0, TableFormatCommitter.Iceberg);
            commit.Formats = [TableFormatCommitter.Iceberg, TableFormatCommitter.Delta];
            commit.Prefix = $"bench{round}/t/";
            commit.Location = $"{lake.Bucket}/bench{round}/t";
            commit.Files = [facts];
            watch.Restart();
            await new TableFormatCommitter(store, TimeProvider.System).CommitAsync(new CommitPlan { RunId = $"b{round}", TableMetadata = [commit] }, CancellationToken.None);
            costs.Add((footer, watch.Elapsed.TotalMilliseconds));
        }
        output.WriteLine($"footer read: median {costs.Select(c => c.Footer).Order().ElementAt(2):0.0} ms; Iceberg+Delta commit: median {costs.Select(c => c.Commit).Order().ElementAt(2):0.0} ms ({facts0(costs)})");

        static string facts0(List<(double Footer, double Commit)> c) => string.Join(", ", c.Select(x => $"{x.Footer:0.0}+{x.Commit:0.0}"));
    }
}
