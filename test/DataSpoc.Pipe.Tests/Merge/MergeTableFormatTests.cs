using System.Globalization;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Tables;
using DataSpoc.Pipe.Tests.Support;
using Xunit.Abstractions;

namespace DataSpoc.Pipe.Tests.Merge;

/// <summary>
/// <c>write_mode: merge</c> on a table with Iceberg and Delta metadata: each merge is one copy-on-write overwrite
/// snapshot / log entry. After every run of the random sequence, icebird reads the Iceberg table and it equals the
/// source by key and value; the Delta log's live files, read by DuckDB, equal it too (superseded files stay in the
/// folder for older snapshots until maintenance, so the folder itself is not the table).
/// </summary>
public sealed class MergeTableFormatTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(TableFormats.Iceberg | TableFormats.Delta)]
    [InlineData(TableFormats.Delta)] // the table's live files then come from the Delta log
    public async Task Iceberg_and_delta_snapshots_equal_the_source_after_every_merge(TableFormats formats)
    {
        var seed = FuzzSeed.FromEnvironment();
        output.WriteLine($"seed {seed} (replay: DATASPOC_FUZZ_SEED={seed})");
        using var sequence = new MergeSequenceTests(output);
        var lake = sequence.Lake;
        var pipeline = sequence.Pipeline(seed, partitionBy: PartitionBySettings.ExtractionDate);
        pipeline = pipeline with { Destination = pipeline.Destination with { TableFormat = formats } };
        var tableDir = Path.Combine(lake.Root, "raw", "t", "items");
        for (var run = 1; run <= 20; run++)
        {
            var result = await TempLake.RunAsync(pipeline);
            Assert.True(result.Succeeded, $"seed {seed} run {run}: {result.Log.Error}");
            var expected = sequence.ExpectedRows();

            // icebird refuses a snapshot without data manifests ("No data manifest files found"), which an empty
            // first sync (seed 41596949) gives: there the Delta read and the manifest's row count still check it.
            if (formats.HasFlag(TableFormats.Iceberg) && expected.Count > 0)
            {
                var iceberg = TableReaders.Icebird("file://" + tableDir)["rows"]!.AsArray()
                    .Select(r => new List<string?>
                    {
                        r!["id"]!.ToString(),
                        r["name"]?.GetValue<string>(),
                        r["amount"] is { } a ? a.GetValue<double>().ToString("R", CultureInfo.InvariantCulture) : null,
                        r["qty"]?.ToString(),
                        r["version"]!.ToString(),
                    }).OrderBy(r => r[0], StringComparer.Ordinal).ToList();
                var expectedForIcebird = expected.Select(r => new List<string?> { r[0], r[1], r[2], r[3], r[5] }).ToList();
                Assert.True(Same(expectedForIcebird, iceberg), $"seed {seed} run {run}: icebird reads {iceberg.Count} rows, the source has {expected.Count}");
            }

            await using var store = new DataSpoc.Pipe.Storage.LocalObjectStore(DataSpoc.Pipe.Storage.BucketUri.Parse(lake.Bucket));
            var delta = new DeltaTable(store, TimeProvider.System);
            var version = await delta.LatestVersionAsync("raw/t/items/", CancellationToken.None);
            var live = (await delta.LiveFilesAsync("raw/t/items/", version, CancellationToken.None)).Keys.ToList();
            var deltaRows = live.Count == 0 ? [] : lake.Query(
                "SELECT CAST(id AS VARCHAR), name, amount, qty, updated_at, version FROM read_parquet([" +
                string.Join(", ", live.Select(p => $"'{tableDir}/{Uri.UnescapeDataString(p)}'")) + "]) ORDER BY 1");
            Assert.True(Same(expected, deltaRows), $"seed {seed} run {run}: the Delta table's {deltaRows.Count} rows differ from the source's {expected.Count}");
            Assert.Equal(expected.Count, lake.Manifest().Tables["t/items"].RowCount);
        }
    }

    private static bool Same(List<List<string?>> a, List<List<string?>> b) => a.Count == b.Count && a.Zip(b).All(p => p.First.SequenceEqual(p.Second));
}
