namespace DataSpoc.Pipe.Api.Tests;

/// <summary>A clock stopped at <paramref name="now"/>: runs, run logs and next runs at a known time.</summary>
public sealed class FixedTime(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}
