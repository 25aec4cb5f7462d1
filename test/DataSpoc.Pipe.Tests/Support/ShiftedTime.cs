namespace DataSpoc.Pipe.Tests.Support;

/// <summary>The system clock moved to start at <paramref name="start"/> (and run on from there): "days later" in a test.</summary>
public sealed class ShiftedTime(DateTimeOffset start) : TimeProvider
{
    private readonly TimeSpan _shift = start - System.GetUtcNow();
    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + _shift;
}
