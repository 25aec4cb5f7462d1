using System.Diagnostics;
using System.Text;

namespace DataSpoc.Pipe;

/// <summary>
/// Timestamps of a run's hand-offs (the first and last input byte, the reading thread waiting for the encoder, each
/// row group encoded), for measuring where the wall time of a run goes: which thread waits for which, the start-up
/// before the first byte and the tail after the last one. Off unless <c>DATASPOC_PIPE_TIMELINE</c> names a file; the
/// events are then written there as the process exits, one a line: milliseconds since the process started, thread,
/// event, a number (rows, bytes). Off, each call is one test of a static read-only field.
/// </summary>
internal static class StageTimeline
{
    private const int Capacity = 1 << 14;
    private static readonly string? s_path = Environment.GetEnvironmentVariable("DATASPOC_PIPE_TIMELINE") is { Length: > 0 } p ? p : null;

    /// <summary>True when a timeline is being recorded.</summary>
    public static readonly bool Enabled = s_path is not null;

    private static readonly long[] s_ticks = Enabled ? new long[Capacity] : [];
    private static readonly string[] s_events = Enabled ? new string[Capacity] : [];
    private static readonly long[] s_values = Enabled ? new long[Capacity] : [];
    private static readonly string?[] s_threads = Enabled ? new string?[Capacity] : [];
    private static int s_count;

    static StageTimeline()
    {
        if (!Enabled) return;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Write();
        _ = new CollectionWitness();
    }

    /// <summary>
    /// Marks each garbage collection that reaches it (its finalizer runs after the collection and re-registers it):
    /// "gc" with the bytes allocated so far, so the timeline shows when collections happen and what drove them.
    /// </summary>
    private sealed class CollectionWitness
    {
        ~CollectionWitness()
        {
            Mark("gc", GC.GetTotalAllocatedBytes());
            GC.ReRegisterForFinalize(this);
        }
    }

    /// <summary>Records <paramref name="name"/> now, on this thread (events past the capacity are dropped).</summary>
    public static void Mark(string name, long value = 0)
    {
        if (!Enabled) return;
        var i = Interlocked.Increment(ref s_count) - 1;
        if (i >= Capacity) return;
        s_ticks[i] = Stopwatch.GetTimestamp();
        s_events[i] = name;
        s_values[i] = value;
        s_threads[i] = (Thread.CurrentThread.Name ?? "thread") + "#" + Environment.CurrentManagedThreadId;
    }

    private static void Write()
    {
        var now = Stopwatch.GetTimestamp();
        // The process's age now, from the kernel's start time: anchors the stopwatch to the process start.
        var age = DateTime.Now - Process.GetCurrentProcess().StartTime;
        var origin = now - (long)(age.TotalSeconds * Stopwatch.Frequency);
        var count = Math.Min(s_count, Capacity);
        var text = new StringBuilder("ms\tthread\tevent\tvalue\n");
        foreach (var i in Enumerable.Range(0, count).OrderBy(i => s_ticks[i]))
            text.Append(FormattableString.Invariant($"{(s_ticks[i] - origin) * 1000.0 / Stopwatch.Frequency:F2}\t{s_threads[i]}\t{s_events[i]}\t{s_values[i]}\n"));
        var exit = (now - origin) * 1000.0 / Stopwatch.Frequency;
        // The collections of the whole run and the time they paused the threads (microseconds), as of the exit.
        for (var generation = 0; generation <= GC.MaxGeneration; generation++)
            text.Append(FormattableString.Invariant($"{exit:F2}\t-\tgc{generation}\t{GC.CollectionCount(generation)}\n"));
        text.Append(FormattableString.Invariant($"{exit:F2}\t-\tgc.pause.us\t{(long)GC.GetTotalPauseDuration().TotalMicroseconds}\n"));
        text.Append(FormattableString.Invariant($"{exit:F2}\t-\texit\t0\n"));
        File.WriteAllText(s_path!, text.ToString());
    }
}
