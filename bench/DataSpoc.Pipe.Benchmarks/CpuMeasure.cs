using System.Diagnostics;

namespace DataSpoc.Pipe.Benchmarks;

/// <summary>
/// Runs an action a few times and reports medians of process CPU time, wall time and managed allocations.
/// On a shared, loaded machine CPU time is the steadier figure (BenchmarkDotNet reports wall time only).
/// </summary>
public static class CpuMeasure
{
    public static (double CpuSeconds, double WallSeconds, long AllocatedBytes) Median(int repeats, Action action)
    {
        action(); // warm-up: JIT, native library load
        var cpu = new List<double>();
        var wall = new List<double>();
        var allocated = new List<long>();
        using var process = Process.GetCurrentProcess();
        for (var i = 0; i < repeats; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            process.Refresh();
            var cpu0 = process.TotalProcessorTime;
            var alloc0 = GC.GetTotalAllocatedBytes(precise: true);
            var clock = Stopwatch.StartNew();
            action();
            clock.Stop();
            process.Refresh();
            cpu.Add((process.TotalProcessorTime - cpu0).TotalSeconds);
            wall.Add(clock.Elapsed.TotalSeconds);
            allocated.Add(GC.GetTotalAllocatedBytes(precise: true) - alloc0);
        }
        cpu.Sort();
        wall.Sort();
        allocated.Sort();
        return (cpu[repeats / 2], wall[repeats / 2], allocated[repeats / 2]);
    }
}
