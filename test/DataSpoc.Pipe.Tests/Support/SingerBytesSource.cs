using DataSpoc.Pipe.Sources;

namespace DataSpoc.Pipe.Tests.Support;

/// <summary>A source that hands the engine fixed Singer bytes, in-process (no tap subprocess per input).</summary>
public sealed class SingerBytesSource(byte[] singer) : ISource
{
    public string DefaultName => "test";

    public Task<SourceRun> StartAsync(SourceInvocation invocation, CancellationToken cancellationToken) =>
        Task.FromResult<SourceRun>(new Run(new MemoryStream(singer, writable: false)));

    private sealed class Run(MemoryStream output) : SourceRun
    {
        public override Stream Output => output;
        public override string CommandForLog => "(fixed bytes)";
        public override Task<int> WaitForExitAsync(CancellationToken cancellationToken) => Task.FromResult(0);
        public override void Kill() { }
        public override ValueTask DisposeAsync() => output.DisposeAsync();
    }
}
