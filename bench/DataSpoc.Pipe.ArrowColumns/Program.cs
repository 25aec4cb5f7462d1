using System.Diagnostics;
using System.Globalization;
using DataSpoc.Pipe.ArrowColumns;

// The engine's column buffers against Apache.Arrow arrays + ParquetSharp's Arrow writer (bench/README.md,
// "Column model: own buffers vs Apache.Arrow").
//   bench [rows=1000000] [runs=5] [outDir=bench/out/arrow-columns]
//       each run: one process per model (engine, arrow, and the generator alone), alternating which goes first;
//       prints every run, the medians, and checks in DuckDB that the two files read back identically.
//   one <engine|arrow|generator> <out.parquet> [rows] [rowGroupRows]   one measured file, one TSV line on stdout.
//   compare <a.parquet> <b.parquet>                                     the DuckDB read-back check alone.
const int RowGroupRows = 64 * 1024; // the engine's WriteLimits.BatchRows

var invariant = CultureInfo.InvariantCulture;
switch (args)
{
    case ["one", var model, var output, ..]:
        return One(model, output, args.Length > 3 ? long.Parse(args[3], invariant) : 1_000_000,
                   args.Length > 4 ? int.Parse(args[4], invariant) : RowGroupRows);
    case ["compare", var a, var b]:
        return ReadBack.Compare(a, b) ? 0 : 1;
    case ["bench", ..]:
        return Bench(args.Length > 1 ? long.Parse(args[1], invariant) : 1_000_000, args.Length > 2 ? int.Parse(args[2], invariant) : 5,
                     Path.GetFullPath(args.Length > 3 ? args[3] : "bench/out/arrow-columns"));
    default:
        Console.Error.WriteLine("usage: DataSpoc.Pipe.ArrowColumns bench [rows] [runs] [outDir] | one <engine|arrow|generator> <out.parquet> [rows] [rowGroupRows] | compare <a.parquet> <b.parquet>");
        return 2;
}

static IColumnModel ModelOf(string name) => name switch
{
    "engine" => new EngineColumns(),
    "arrow" => new ArrowColumns(),
    "generator" => new GeneratorOnly(),
    _ => throw new ArgumentException($"unknown model '{name}' (engine, arrow, generator)"),
};

// One file, after a warm-up file of one row group (so JIT compilation is out of the figures) whose memory is given
// back before the measured run starts; peak RSS is reset there too (/proc/self/clear_refs) when the kernel allows it.
static int One(string modelName, string output, long rows, int rowGroupRows)
{
    var model = ModelOf(modelName);
    var warmUp = output + ".warm-up";
    model.WriteFile(warmUp, rowGroupRows, rowGroupRows, new Timings(), () => { });
    File.Delete(warmUp);
    GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
    GC.WaitForPendingFinalizers();
    GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);

    using var memory = new MemorySampler();
    var timings = new Timings();
    var cpu = Process.GetCurrentProcess().TotalProcessorTime;
    var clock = Stopwatch.StartNew();
    model.WriteFile(output, rows, rowGroupRows, timings, memory.Sample);
    clock.Stop();
    var cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
    memory.Sample();
    memory.Stop();
    var bytes = File.Exists(output) ? new FileInfo(output).Length : 0;
    Console.WriteLine(string.Join('\t', modelName,
        timings.Append.Elapsed.TotalSeconds.ToString("F3", CultureInfo.InvariantCulture),
        timings.Write.Elapsed.TotalSeconds.ToString("F3", CultureInfo.InvariantCulture),
        timings.Append.CpuSeconds.ToString("F3", CultureInfo.InvariantCulture),
        timings.Write.CpuSeconds.ToString("F3", CultureInfo.InvariantCulture),
        clock.Elapsed.TotalSeconds.ToString("F3", CultureInfo.InvariantCulture),
        cpuSeconds.ToString("F3", CultureInfo.InvariantCulture),
        Mib(memory.PeakManaged), Mib(memory.PeakNativeGrowth), Mib(memory.PeakRss), Mib(memory.BaselineRss), bytes));
    return 0;
}

static string Mib(long bytes) => (bytes / 1048576.0).ToString("F1", CultureInfo.InvariantCulture);

static int Bench(long rows, int runs, string outDir)
{
    Directory.CreateDirectory(outDir);
    string[] models = ["engine", "arrow", "generator"];
    var results = models.ToDictionary(m => m, _ => new List<string[]>());
    Console.WriteLine($"{rows:N0} rows x 8 columns, row groups of {RowGroupRows:N0}, zstd; {runs} runs, alternating; load average before: {LoadAverage()}");
    Console.WriteLine("run\tmodel\tappend_s\twrite_s\tappend_cpu_s\twrite_cpu_s\ttotal_s\tcpu_s\tpeak_managed_MiB\tpeak_native_growth_MiB\tpeak_rss_MiB\tbaseline_rss_MiB\tfile_bytes");
    for (var run = 0; run < runs; run++)
    {
        var order = run % 2 == 0 ? models : models.Reverse().ToArray();
        foreach (var model in order)
        {
            var line = RunChild(model, Path.Combine(outDir, model + ".parquet"), rows);
            Console.WriteLine($"{run + 1}\t{line}");
            results[model].Add(line.Split('\t'));
        }
    }
    Console.WriteLine($"load average after: {LoadAverage()}");
    Console.WriteLine("medians:");
    Console.WriteLine("model\tappend_s\twrite_s\tappend_cpu_s\twrite_cpu_s\ttotal_s\tcpu_s\tpeak_managed_MiB\tpeak_native_growth_MiB\tpeak_rss_MiB\tbaseline_rss_MiB\tfile_bytes");
    foreach (var model in models)
        Console.WriteLine(model + "\t" + string.Join('\t', Enumerable.Range(1, 11).Select(i => Median(results[model].Select(r => double.Parse(r[i], CultureInfo.InvariantCulture)))
            .ToString(i == 11 ? "F0" : "F3", CultureInfo.InvariantCulture))));
    // Neighbouring runs share the machine's load best: the ratio of each round's pair says more than a ratio of medians.
    string[] columns = ["append_s", "write_s", "append_cpu_s", "write_cpu_s", "total_s", "cpu_s"];
    Console.WriteLine("arrow / engine, median of each round's ratio: " + string.Join(", ", columns.Select((name, c) =>
        $"{name} {Median(Enumerable.Range(0, runs).Select(r => Value(results["arrow"][r], c + 1) / Value(results["engine"][r], c + 1))):F2}")) +
        $", thread CPU (append + write) {Median(Enumerable.Range(0, runs).Select(r => (Value(results["arrow"][r], 3) + Value(results["arrow"][r], 4)) / (Value(results["engine"][r], 3) + Value(results["engine"][r], 4)))):F2}");
    return ReadBack.Compare(Path.Combine(outDir, "engine.parquet"), Path.Combine(outDir, "arrow.parquet")) ? 0 : 1;
}

static string RunChild(string model, string output, long rows)
{
    var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true };
    // Under `dotnet <dll>` the process path is dotnet itself: pass the assembly first.
    if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") start.ArgumentList.Add(typeof(Timings).Assembly.Location);
    foreach (var a in new[] { "one", model, output, rows.ToString(CultureInfo.InvariantCulture) }) start.ArgumentList.Add(a);
    using var child = Process.Start(start)!;
    var line = child.StandardOutput.ReadToEnd().Trim();
    child.WaitForExit();
    if (child.ExitCode != 0) throw new InvalidOperationException($"{model} run failed (exit {child.ExitCode})");
    return line;
}

static double Value(string[] row, int column) => double.Parse(row[column], CultureInfo.InvariantCulture);

static double Median(IEnumerable<double> values)
{
    var sorted = values.Order().ToArray();
    return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
}

static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";
