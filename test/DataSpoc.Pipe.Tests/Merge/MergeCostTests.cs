using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Tests.Failures;
using DataSpoc.Pipe.Tests.Support;
using Xunit.Abstractions;

namespace DataSpoc.Pipe.Tests.Merge;

/// <summary>
/// The merge cost figure of bench/README.md (runs only with <c>DATASPOC_PIPE_BENCH=1</c>; <c>DATASPOC_PIPE_BENCH_ROWS</c>
/// sets the table's rows, default 1M): each run is its own process (the kill harness), timed, its peak RSS read from
/// <c>/proc/&lt;pid&gt;/status</c> (VmHWM). A table of N rows in 10 files, then merges of N/100 changed rows (keys
/// spread over the table, then the most recent keys), then a full rewrite of the table (write_mode replace).
/// </summary>
public sealed class MergeCostTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Merge_cost_against_a_full_rewrite()
    {
        if (Environment.GetEnvironmentVariable("DATASPOC_PIPE_BENCH") != "1") return;
        var rows = long.Parse(Environment.GetEnvironmentVariable("DATASPOC_PIPE_BENCH_ROWS") ?? "1000000", CultureInfo.InvariantCulture);
        using var lake = new TempLake();
        JsonObject Run(string mode, long changes, string keys) => new()
        {
            ["name"] = "merge-bench",
            ["bucket"] = lake.Bucket,
            ["tap"] = "python3 " + TempLake.Asset("bench_merge_tap.py"),
            ["config"] = new JsonObject { ["rows"] = rows, ["changes"] = changes, ["keys"] = keys, ["seed"] = 7 },
            ["incremental"] = true,
            ["max_file_rows"] = Math.Max(rows / 10, 1),
            ["partition_by"] = "none",
            ["write_mode"] = mode,
        };
        var steps = new (string What, JsonObject Run)[]
        {
            ($"load {rows:N0} rows (write_mode append)", Run("append", 0, "random")),
            ($"merge {rows / 100:N0} changed rows, keys spread over the table", Run("merge", rows / 100, "random")),
            ($"merge {rows / 100:N0} changed rows, the most recent keys", Run("merge", rows / 100, "recent")),
            ($"full rewrite of {rows:N0} rows (write_mode replace)", Run("replace", 0, "random")),
        };
        foreach (var (what, run) in steps)
        {
            var (seconds, peakMiB, exit, stdout) = await MeasureAsync(run);
            Assert.True(exit == 0, $"{what}: exit {exit}: {stdout}");
            var count = lake.Query("SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE status = 'changed') FROM read_parquet('{lake}/raw/test/orders/*.parquet')")[0];
            output.WriteLine($"{what}: {seconds:0.00} s, peak RSS {peakMiB:0} MiB; table {count[0]} rows ({count[1]} keys, {count[2]} changed), {lake.ParquetKeys().Count} file(s)");
        }
    }

    private static async Task<(double Seconds, double PeakMiB, int Exit, string Stdout)> MeasureAsync(JsonObject run)
    {
        var file = Path.Combine(Path.GetTempPath(), "dsp-merge-bench-" + Guid.NewGuid().ToString("N")[..8] + ".json");
        await File.WriteAllTextAsync(file, run.ToJsonString());
        try
        {
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
            psi.ArgumentList.Add(HarnessProcess.Dll);
            psi.ArgumentList.Add(file);
            var clock = Stopwatch.StartNew();
            using var process = Process.Start(psi)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            long peakKiB = 0;
            while (!process.HasExited)
            {
                try
                {
                    foreach (var line in File.ReadLines($"/proc/{process.Id}/status"))
                        if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                            peakKiB = Math.Max(peakKiB, long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture));
                }
                catch (IOException) { }
                await Task.Delay(20);
            }
            await process.WaitForExitAsync();
            return (clock.Elapsed.TotalSeconds, peakKiB / 1024.0, process.ExitCode, await stdout);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
