namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>
/// A stream that is only written to (the CLI's stdout and stderr, the MCP server's output, the dashboard's record
/// sink): what <see cref="Stream"/> asks of a stream that cannot read or seek, in one place. Every write goes through
/// <see cref="Write(ReadOnlySpan{byte})"/>, and the asynchronous ones complete synchronously: each subclass's write
/// only copies bytes or hands them to the kernel, so a task per write would cost more than it does.
/// </summary>
internal abstract class WriteOnlyStream : Stream
{
    public abstract override void Write(ReadOnlySpan<byte> buffer);

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Write(buffer.AsSpan(offset, count));
        return Task.CompletedTask;
    }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
