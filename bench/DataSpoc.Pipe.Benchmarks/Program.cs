using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using DataSpoc.Pipe.Benchmarks;

// `parquet-cpu [repeats]`: CPU time, wall time, allocations and size per library x codec (steadier on a loaded machine).
// `parquet-sizes`: writes each library x codec once and prints the output sizes (BenchmarkDotNet reports time and
// allocations only). Anything else goes to BenchmarkDotNet: e.g. `--filter '*ParquetLibrary*'`.
if (args is ["parquet-sizes", ..])
{
    var data = new NarrowColumns(1_000_000);
    foreach (var codec in Enum.GetValues<ParquetCodec>())
    {
        using var sharp = new MemoryStream();
        ParquetWriters.WriteWithParquetSharp(data, codec, sharp);
        using var net = new MemoryStream();
        await ParquetWriters.WriteWithParquetNetAsync(data, codec, net);
        using var small = new MemoryStream();
        ParquetWriters.WriteWithParquetSharp(data, codec, small, DictionaryPolicy.SmallPageLimit);
        using var off = new MemoryStream();
        ParquetWriters.WriteWithParquetSharp(data, codec, off, DictionaryPolicy.OffForHighCardinality);
        Console.WriteLine($"{codec,-7} ParquetSharp {sharp.Length,12:N0} B (64 KiB dictionary limit {small.Length:N0} B; " +
                          $"no dictionary for id/amount/created_at {off.Length:N0} B)   Parquet.Net {net.Length,12:N0} B");
        if (args.Length > 1)
        {
            File.WriteAllBytes(Path.Combine(args[1], $"parquetsharp-{codec}.parquet"), sharp.ToArray());
            File.WriteAllBytes(Path.Combine(args[1], $"parquetnet-{codec}.parquet"), net.ToArray());
        }
    }
    return 0;
}
if (args is ["parquet-cpu", ..])
{
    var repeats = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 5;
    var data = new NarrowColumns(1_000_000);
    var output = new MemoryStream(64 << 20);
    var variants = new (string Name, Action<ParquetCodec> Write)[]
    {
        ("ParquetSharp (defaults)", c => ParquetWriters.WriteWithParquetSharp(data, c, output)),
        ("ParquetSharp (64 KiB dict pages)", c => ParquetWriters.WriteWithParquetSharp(data, c, output, DictionaryPolicy.SmallPageLimit)),
        ("Parquet.Net 6.1", c => ParquetWriters.WriteWithParquetNetAsync(data, c, output).GetAwaiter().GetResult()),
    };
    Console.WriteLine($"1M narrow rows, medians of {repeats}: codec | writer | CPU s | wall s | managed alloc MB | output MB");
    foreach (var codec in Enum.GetValues<ParquetCodec>())
        foreach (var (name, write) in variants)
        {
            var m = CpuMeasure.Median(repeats, () => { output.SetLength(0); write(codec); });
            Console.WriteLine($"{codec,-7} | {name,-34} | {m.CpuSeconds,6:F2} | {m.WallSeconds,6:F2} | {m.AllocatedBytes / 1e6,8:F1} | {output.Length / 1e6,6:F2}");
        }
    return 0;
}
// One short job for every benchmark, run in this process: on a loaded 2-core machine BenchmarkDotNet's per-job
// project build (out of process) can take longer than its 2-minute limit. `--out-of-process` restores that.
var outOfProcess = args.Contains("--out-of-process");
var job = BenchmarkDotNet.Jobs.Job.Default.WithLaunchCount(1).WithWarmupCount(1).WithIterationCount(5);
if (!outOfProcess) job = job.WithToolchain(BenchmarkDotNet.Toolchains.InProcess.Emit.InProcessEmitToolchain.Instance);
BenchmarkSwitcher.FromAssembly(typeof(NarrowColumns).Assembly)
    .Run(args.Where(a => a != "--out-of-process").ToArray(), BenchmarkDotNet.Configs.DefaultConfig.Instance.AddJob(job));
return 0;
