namespace DataSpoc.Pipe.Api.Tests;

/// <summary>
/// The system clock with every timer and delay <paramref name="factor"/> times shorter: a pipeline lock's renewals (a
/// fifth of its 5-minute lease) come every 0.6 s at 100, so a test sees a lost lock noticed without waiting a minute.
/// </summary>
public sealed class FastTimers(int factor) : TimeProvider
{
    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        new Scaled(System.CreateTimer(callback, state, Scale(dueTime, factor), Scale(period, factor)), factor);

    private static TimeSpan Scale(TimeSpan t, int factor) => t == Timeout.InfiniteTimeSpan ? t : t / factor;

    private sealed class Scaled(ITimer inner, int factor) : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period) => inner.Change(Scale(dueTime, factor), Scale(period, factor));
        public void Dispose() => inner.Dispose();
        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
