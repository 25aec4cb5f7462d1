namespace DataSpoc.Pipe.Tests.Support;

/// <summary>The seed of a fuzz run: <c>DATASPOC_FUZZ_SEED</c> when set (to replay a failure), else a new one.</summary>
public static class FuzzSeed
{
    public static int FromEnvironment() =>
        int.TryParse(Environment.GetEnvironmentVariable("DATASPOC_FUZZ_SEED"), out var seed) ? seed : Random.Shared.Next();
}
