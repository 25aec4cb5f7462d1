namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>
/// A stream that is only written to (the CLI's stdout and stderr, the MCP server's output): what <see cref="Stream"/>
/// asks of a stream that cannot read or seek, in one place.
/// </summary>
internal abstract class WriteOnlyStream : Stream
{
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
