namespace DataSpoc.Pipe.Storage;

/// <summary>
/// A byte range of an object as <see cref="IObjectStore.OpenReadRangeAsync"/> reads it: bytes [offset, offset + length),
/// cut at the object's end (none when it ends at or before the offset), as an HTTP <c>Range</c> request answers.
/// </summary>
public static class ObjectRange
{
    /// <summary>Refuses a range no store can read: a negative offset, or a length below 1 (HTTP cannot ask for no bytes).</summary>
    public static void Check(long offset, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, long.MaxValue - offset);
    }

    /// <summary>The range's last byte's offset, as HTTP's <c>bytes=first-last</c> names it.</summary>
    public static long Last(long offset, long length) => offset + length - 1;

    /// <summary>
    /// The range of a stream reading an object from its start (a store without ranged reads, or a server that ignored the
    /// <c>Range</c> header and answered with the whole object): skips to <paramref name="offset"/> (a seek when it can),
    /// then ends after <paramref name="length"/> bytes. Disposing it disposes <paramref name="whole"/>.
    /// </summary>
    public static Stream Of(Stream whole, long offset, long length) => new RangeStream(whole, offset, length);

    private sealed class RangeStream(Stream inner, long skip, long length) : OwningReadOnlyStream
    {
        private long _skip = skip;
        private long _left = length;

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_skip > 0) SkipSync();
            if (_left == 0 || buffer.IsEmpty) return 0;
            var read = inner.Read(buffer[..(int)Math.Min(buffer.Length, _left)]);
            _left = read == 0 ? 0 : _left - read;
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_skip > 0) await SkipAsync(cancellationToken).ConfigureAwait(false);
            if (_left == 0 || buffer.IsEmpty) return 0;
            var read = await inner.ReadAsync(buffer[..(int)Math.Min(buffer.Length, _left)], cancellationToken).ConfigureAwait(false);
            _left = read == 0 ? 0 : _left - read;
            return read;
        }

        private void SkipSync()
        {
            if (TrySeek()) return;
            var scratch = new byte[(int)Math.Min(_skip, 1 << 16)];
            while (_skip > 0)
            {
                var read = inner.Read(scratch, 0, (int)Math.Min(scratch.Length, _skip));
                if (read == 0) { Ended(); return; }
                _skip -= read;
            }
        }

        private async ValueTask SkipAsync(CancellationToken cancellationToken)
        {
            if (TrySeek()) return;
            var scratch = new byte[(int)Math.Min(_skip, 1 << 16)];
            while (_skip > 0)
            {
                var read = await inner.ReadAsync(scratch.AsMemory(0, (int)Math.Min(scratch.Length, _skip)), cancellationToken).ConfigureAwait(false);
                if (read == 0) { Ended(); return; }
                _skip -= read;
            }
        }

        private bool TrySeek()
        {
            if (!inner.CanSeek) return false;
            inner.Seek(_skip, SeekOrigin.Current);
            _skip = 0;
            return true;
        }

        /// <summary>The object ended before the offset: the range holds nothing.</summary>
        private void Ended() => (_skip, _left) = (0, 0);

        protected override Stream Owned => inner;
    }
}
