namespace DataSpoc.Pipe;

/// <summary>What every stream that is only read forward, never written or sought, says of itself; a subclass reads.</summary>
internal abstract class ReadOnlyStream : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>A <see cref="ReadOnlyStream"/> that reads another stream and owns it: disposing this one disposes that one.</summary>
internal abstract class OwningReadOnlyStream : ReadOnlyStream
{
    /// <summary>The stream read from.</summary>
    protected abstract Stream Owned { get; }

    protected override void Dispose(bool disposing)
    {
        if (disposing) Owned.Dispose();
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await Owned.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }
}
