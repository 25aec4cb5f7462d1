namespace DataSpoc.Pipe.ArrowColumns;

/// <summary>
/// Peak memory of the measured run, sampled every 2 ms on a thread of its own and at every row-group boundary:
/// the managed heap in use (<see cref="GC.GetTotalMemory"/>), the resident set, and the native growth (resident set
/// minus the GC's committed memory, above its value when the run started: Arrow's array buffers, ParquetSharp's
/// encoders and pages). Peak RSS is also read from the kernel's high-water mark, reset at the start when allowed.
/// </summary>
internal sealed class MemorySampler : IDisposable
{
    private readonly Thread _thread;
    private volatile bool _stop;
    private readonly long _baselineNative;
    private readonly object _gate = new();
    private readonly bool _hwmReset;
    private static readonly long PageSize = Environment.SystemPageSize;

    public long PeakManaged { get; private set; }
    public long PeakNativeGrowth { get; private set; }
    private long _peakRssSampled;
    public long BaselineRss { get; }

    public MemorySampler()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            _hwmReset = true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _hwmReset = false;
        }
        BaselineRss = Rss();
        _baselineNative = BaselineRss - GC.GetGCMemoryInfo().TotalCommittedBytes;
        _thread = new Thread(() =>
        {
            while (!_stop)
            {
                Sample();
                Thread.Sleep(2);
            }
        }) { IsBackground = true, Name = "memory sampler" };
        _thread.Start();
    }

    /// <summary>The kernel's high-water mark when it could be reset at the start, else the sampled peak.</summary>
    public long PeakRss => _hwmReset ? Math.Max(HighWaterMark(), _peakRssSampled) : _peakRssSampled;

    public void Sample()
    {
        var managed = GC.GetTotalMemory(false);
        var rss = Rss();
        var native = rss - GC.GetGCMemoryInfo().TotalCommittedBytes - _baselineNative;
        lock (_gate)
        {
            PeakManaged = Math.Max(PeakManaged, managed);
            PeakNativeGrowth = Math.Max(PeakNativeGrowth, native);
            _peakRssSampled = Math.Max(_peakRssSampled, rss);
        }
    }

    public void Stop()
    {
        _stop = true;
        _thread.Join();
    }

    public void Dispose() => Stop();

    private static long Rss()
    {
        var fields = File.ReadAllText("/proc/self/statm").Split(' ');
        return long.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture) * PageSize;
    }

    private static long HighWaterMark()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                return long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        return 0;
    }
}
