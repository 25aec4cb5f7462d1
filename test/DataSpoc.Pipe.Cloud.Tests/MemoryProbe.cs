using System.Diagnostics;

namespace DataSpoc.Pipe.Cloud.Tests;

/// <summary>Samples the managed heap and the working set while an operation runs; reports peaks above the starting point.</summary>
public sealed class MemoryProbe : IAsyncDisposable
{
    private readonly long _heapBase;
    private readonly long _workingSetBase;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _sampler;
    private long _heapPeak;
    private long _workingSetPeak;

    public MemoryProbe()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        _heapBase = GC.GetTotalMemory(false);
        using var self = Process.GetCurrentProcess();
        _workingSetBase = self.WorkingSet64;
        _sampler = Task.Run(async () =>
        {
            using var process = Process.GetCurrentProcess();
            while (!_stop.IsCancellationRequested)
            {
                _heapPeak = Math.Max(_heapPeak, GC.GetTotalMemory(false) - _heapBase);
                process.Refresh();
                _workingSetPeak = Math.Max(_workingSetPeak, process.WorkingSet64 - _workingSetBase);
                try { await Task.Delay(10, _stop.Token); } catch (OperationCanceledException) { }
            }
        });
    }

    /// <summary>Highest managed-heap size seen above the start, in bytes (includes garbage not yet collected).</summary>
    public long HeapPeak => _heapPeak;

    /// <summary>Highest working set seen above the start, in bytes.</summary>
    public long WorkingSetPeak => _workingSetPeak;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _sampler;
        _stop.Dispose();
    }
}
