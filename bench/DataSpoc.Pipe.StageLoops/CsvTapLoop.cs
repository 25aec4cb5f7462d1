using System.Diagnostics;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Sources;
using DataSpoc.Pipe.Sources.BuiltIn;

namespace DataSpoc.Pipe.StageLoops;

/// <summary>
/// `csvtap <file.csv> [typed|json]`: one sync of the built-in csv tap over a file, the rows handed to a sink that only
/// counts them (typed), or printed as Singer JSON to a null stream (json, what `dataspoc-pipe tap csv` does).
/// Prints rows, wall and CPU of the sync; run it under /usr/bin/time for the peak RSS.
/// </summary>
internal static class CsvTapLoop
{
    public static int Run(string file, string mode)
    {
        var config = new JsonObject { ["path"] = Path.GetFullPath(file) };
        ITypedBuiltInTap tap = new CsvTap();
        var clock = Stopwatch.StartNew();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        long rows;
        if (mode == "json")
        {
            var output = new CountingStream();
            tap.SyncAsync(config, null, null, output, CancellationToken.None).GetAwaiter().GetResult();
            rows = output.Lines;
        }
        else
        {
            var sink = new CountingSink();
            tap.SyncAsync(config, null, null, sink, CancellationToken.None).GetAwaiter().GetResult();
            rows = sink.Records;
        }
        var cpuMs = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds;
        Console.WriteLine($"csvtap {mode}: {rows:N0} {(mode == "json" ? "lines" : "rows")}, {clock.Elapsed.TotalMilliseconds:F0} ms wall, {cpuMs:F0} ms CPU");
        return 0;
    }

    /// <summary>Takes every value and keeps nothing but the row count.</summary>
    private sealed class CountingSink : RecordSink
    {
        private long _records;
        public override long Records => _records;
        public override RowWriter WriteSchema(string stream, JsonObject schema, IReadOnlyList<string> keyProperties, IReadOnlyList<string>? bookmarkProperties = null) => new Rows(this);
        public override void WriteState(JsonNode state) { }
        public override void WriteActivateVersion(string stream, long version) { }
        public override ValueTask FlushIfFullAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
        public override ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

        private sealed class Rows(CountingSink sink) : RowsWithoutValues
        {
            public override void EndRow() => sink._records++;
        }
    }

    /// <summary>A null output that counts the lines written to it.</summary>
    private sealed class CountingStream : Stream
    {
        public long Lines { get; private set; }
        public override void Write(ReadOnlySpan<byte> buffer) => Lines += System.MemoryExtensions.Count(buffer, (byte)'\n');
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
