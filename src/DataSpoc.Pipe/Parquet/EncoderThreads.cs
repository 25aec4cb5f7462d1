using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace DataSpoc.Pipe.Parquet;

/// <summary>
/// Runs Parquet encodings on a few dedicated threads instead of the thread pool. Encoding allocates natively, and glibc
/// gives every thread that allocates an arena of its own that keeps freed pages: hopping across pool threads made peak
/// memory grow with the run's length (bench/README.md, "Measurements behind the code").
/// </summary>
internal sealed partial class EncoderThreads : TaskScheduler
{
    public static readonly EncoderThreads Shared = new(Math.Clamp(Environment.ProcessorCount, 1, 4));

    private readonly BlockingCollection<Task> _queue = [];
    private readonly int _threads;

    private EncoderThreads(int threads)
    {
        _threads = threads;
        for (var i = 0; i < threads; i++)
            new Thread(() =>
            {
                foreach (var task in _queue.GetConsumingEnumerable())
                {
                    TryExecuteTask(task);
                    ReturnFreedNativeMemory();
                }
            })
            {
                IsBackground = true,
                Name = "parquet-encoder",
            }.Start();
    }

    public override int MaximumConcurrencyLevel => _threads;

    /// <summary>Starts <paramref name="work"/> on an encoder thread.</summary>
    public Task Run(Action work) => Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.DenyChildAttach, this);

    protected override void QueueTask(Task task) => _queue.Add(task);

    // Never inline: the caller is a parsing lane, and encoding there would defeat the point.
    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) => false;

    protected override IEnumerable<Task> GetScheduledTasks() => _queue.ToArray();

    private static bool _canTrim = OperatingSystem.IsLinux();
    private static long _lastTrim;

    /// <summary>
    /// Hands the pages an encoding freed back to the system (glibc keeps them otherwise, and fragmentation then grows
    /// a long run's footprint). No-op where the C library is not glibc.
    /// </summary>
    private static void ReturnFreedNativeMemory()
    {
        if (!_canTrim) return;
        // At most ten times a second: a run of many small streams must not pay a trim per tiny batch.
        var now = Environment.TickCount64;
        if (now - Interlocked.Read(ref _lastTrim) < 100) return;
        Interlocked.Exchange(ref _lastTrim, now);
        try
        {
            _ = malloc_trim(0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            _canTrim = false;
        }
    }

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int malloc_trim(nuint pad);
}
