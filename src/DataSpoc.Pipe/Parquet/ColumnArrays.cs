using System.Buffers;
using System.Runtime.CompilerServices;

namespace DataSpoc.Pipe.Parquet;

/// <summary>
/// The arrays a run's column buffers are made of, pooled for the run (<see cref="BufferBudget.Arrays"/>): arrays given
/// back by the encoder threads, or by streams the budget flushed, are taken again by the parsing lanes. Not the shared
/// pool: it keeps a few arrays of a size per core and per thread, so arrays returned on one thread and rented on
/// another, or released by hundreds of streams together, mostly went to the collector and were allocated again, and a
/// run's peak then depended on when the collector happened to run (500 interleaved streams: 233 or 262 MiB from run to
/// run, bench/README.md, "interleaved500's two peaks"). The pool belongs to the run, so what it keeps goes with it.
/// </summary>
internal sealed class ColumnArrays
{
    /// <summary>
    /// Arrays kept of each size (a power of two): the columns of hundreds of streams released together. More kept more
    /// than was taken again (1,024: 500 interleaved streams peaked 5-8 MiB higher); fewer sent them to the collector again
    /// (96: 263-269 MiB).
    /// </summary>
    private const int ArraysPerSize = 256;
    private const int LargestArray = 1024 * 1024 * 1024;

    /// <summary>For buffers made outside a run's writers (tests, tools): one pool for the process.</summary>
    public static readonly ColumnArrays Shared = new();

    private readonly ArrayPool<short> _shorts = Create<short>();
    private readonly ArrayPool<long> _longs = Create<long>();
    private readonly ArrayPool<double> _doubles = Create<double>();
    private readonly ArrayPool<int> _ints = Create<int>();
    private readonly ArrayPool<bool> _bools = Create<bool>();
    private readonly ArrayPool<byte> _bytes = Create<byte>();

    private static ArrayPool<T> Create<T>() => ArrayPool<T>.Create(LargestArray, ArraysPerSize);

    /// <summary>An array of at least <paramref name="length"/> elements (a power of two), not cleared.</summary>
    public T[] Rent<T>(int length) => PoolOf<T>().Rent(length);

    /// <summary>Gives back an array rented here (an empty one is ignored).</summary>
    public void Return<T>(T[] array)
    {
        if (array.Length > 0) PoolOf<T>().Return(array);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ArrayPool<T> PoolOf<T>()
    {
        if (typeof(T) == typeof(short)) return Unsafe.As<ArrayPool<T>>(_shorts);
        if (typeof(T) == typeof(long)) return Unsafe.As<ArrayPool<T>>(_longs);
        if (typeof(T) == typeof(double)) return Unsafe.As<ArrayPool<T>>(_doubles);
        if (typeof(T) == typeof(int)) return Unsafe.As<ArrayPool<T>>(_ints);
        if (typeof(T) == typeof(bool)) return Unsafe.As<ArrayPool<T>>(_bools);
        if (typeof(T) == typeof(byte)) return Unsafe.As<ArrayPool<T>>(_bytes);
        throw new NotSupportedException($"no column arrays of {typeof(T).Name}");
    }
}
