using System.Runtime.CompilerServices;

namespace DataSpoc.Pipe.Parquet;

/// <summary>
/// The buffered values of one leaf column, in Parquet's shredded form: definition levels, repetition levels
/// (only for columns inside lists) and the present values. Arrays come from the run's pool, grow by doubling,
/// are reused across a stream's batches, and go back to the run's pool when the batch is released (<see cref="Release"/>,
/// <see cref="ColumnArrays"/>): a run of many streams reuses the arrays of the streams it is done with instead of leaving
/// them to the collector.
/// </summary>
internal sealed class LeafBuffer
{
    public LeafBuffer(LeafNode leaf, ColumnArrays arrays)
    {
        _arrays = arrays;
        Leaf = leaf;
        var storage = leaf.Type.Storage;
        Def = Rent<short>(InitialRows);
        Rep = leaf.RepLevel > 0 ? Rent<short>(Def.Length) : [];
        Longs = storage == ValueStorage.Longs ? Rent<long>(InitialRows) : [];
        Doubles = storage == ValueStorage.Doubles ? Rent<double>(InitialRows) : [];
        Ints = storage == ValueStorage.Ints ? Rent<int>(InitialRows) : [];
        Bools = storage == ValueStorage.Bools ? Rent<bool>(InitialRows) : [];
        Bytes = storage == ValueStorage.Bytes ? Rent<byte>(InitialRows * 4) : [];
        Offsets = storage == ValueStorage.Bytes ? Rent<int>(InitialRows + 1) : [];
        // A pooled array is not cleared: the first offset is read before any value is written (an empty batch's bytes).
        if (Offsets.Length > 0) Offsets[0] = 0;
    }

    /// <summary>
    /// Rows a new buffer has room for before it first grows. Small: a tap syncing many small tables one after another
    /// keeps each one's batch open until the budget retires it or the run ends, and 1,024 rows of room (~12 KB a
    /// column, ~24 KB for an id and a string) made a 5-record stream cost ~50 KB of memory; a large stream doubles past
    /// it in a few steps.
    /// </summary>
    private const int InitialRows = 128;

    public LeafNode Leaf { get; }
    public short[] Def;
    /// <summary>
    /// Repetition levels (columns inside lists; else empty), never shorter than <see cref="Def"/>: a level's append checks
    /// room against Def alone. Asking both for the same length is not enough: the pool hands out the next size up when all
    /// arrays of a size are lent, so Def may come back longer than asked (<see cref="KeepRepAsLongAsDef"/>).
    /// </summary>
    public short[] Rep;
    public int Levels;
    public long[] Longs;
    public double[] Doubles;
    public int[] Ints;
    public bool[] Bools;
    /// <summary>Bytes of string, JSON and decimal values, back to back; value i spans Offsets[i]..Offsets[i+1].</summary>
    public byte[] Bytes;
    public int[] Offsets;

    private readonly ColumnArrays _arrays;

    /// <summary>An array from the pool this buffer's arrays come from (to replace one of them: it goes back with <see cref="Return"/>).</summary>
    internal T[] Rent<T>(int length) => _arrays.Rent<T>(length);

    internal void Return<T>(T[] array) => _arrays.Return(array);

    /// <summary>Replaces the array by a pooled one of <paramref name="length"/> holding the same values; the old one goes back.</summary>
    private void Grow<T>(ref T[] array, int length)
    {
        var bigger = Rent<T>(length);
        array.AsSpan().CopyTo(bigger);
        Return(array);
        array = bigger;
    }

    /// <summary>Hands every array back to the pools; the buffer must not be used afterwards.</summary>
    public void Release()
    {
        Return(Def);
        Return(Rep);
        Return(Longs);
        Return(Doubles);
        Return(Ints);
        Return(Bools);
        Return(Bytes);
        Return(Offsets);
        Def = Rep = [];
        Longs = [];
        Doubles = [];
        Ints = Offsets = [];
        Bools = [];
        Bytes = [];
        Levels = Values = ByteCount = 0;
        DeferredBytes = 0;
    }
    public int Values;
    public int ByteCount;

    /// <summary>
    /// What the values will take beyond <see cref="ByteCount"/> once their final form is written on the encoder thread
    /// (a <c>hash:</c> column's digests, see <see cref="TableWriter.BeforeEncode"/>): counted in <see cref="EstimatedBytes"/>
    /// so that batches are sized and flushed as if it were written already.
    /// </summary>
    public long DeferredBytes;

    public long EstimatedBytes => Levels * 4L + Values * 8L + ByteCount + DeferredBytes;

    /// <summary>Bytes of the arrays held, whatever is in them.</summary>
    public long CapacityBytes =>
        Def.Length * 2L + Rep.Length * 2L + Longs.Length * 8L + Doubles.Length * 8L + Ints.Length * 4L + Bools.Length + Bytes.Length + Offsets.Length * 4L;

    /// <summary>A hash of value <paramref name="i"/> (equal values, equal hashes), to estimate how distinct a column is.</summary>
    public long HashOf(int i) => Leaf.Type.Storage switch
    {
        ValueStorage.Longs => Longs[i],
        ValueStorage.Doubles => BitConverter.DoubleToInt64Bits(Doubles[i]),
        ValueStorage.Ints => Ints[i],
        ValueStorage.Bools => Bools[i] ? 1 : 0,
        _ => BytesHash(Bytes.AsSpan(Offsets[i], Offsets[i + 1] - Offsets[i])),
    };

    private static long BytesHash(ReadOnlySpan<byte> bytes)
    {
        var hash = new HashCode();
        hash.AddBytes(bytes);
        return hash.ToHashCode();
    }

    public void Clear()
    {
        Levels = 0;
        Values = 0;
        ByteCount = 0;
        DeferredBytes = 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddNull(short def, short rep)
    {
        if (Levels == Def.Length) GrowLevels();
        Def[Levels] = def;
        if (Rep.Length > 0) Rep[Levels] = rep;
        Levels++;
    }

    /// <summary>Records the levels of a present value; the caller then stores the value at index <see cref="Values"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void AddLevels(short rep)
    {
        if (Levels == Def.Length) GrowLevels();
        Def[Levels] = Leaf.DefLevel;
        if (Rep.Length > 0) Rep[Levels] = rep;
        Levels++;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddLong(long value, short rep)
    {
        AddLevels(rep);
        if (Values == Longs.Length) Grow(ref Longs, Longs.Length * 2);
        Longs[Values++] = value;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddDouble(double value, short rep)
    {
        AddLevels(rep);
        if (Values == Doubles.Length) Grow(ref Doubles, Doubles.Length * 2);
        Doubles[Values++] = value;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddInt(int value, short rep)
    {
        AddLevels(rep);
        if (Values == Ints.Length) Grow(ref Ints, Ints.Length * 2);
        Ints[Values++] = value;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddBool(bool value, short rep)
    {
        AddLevels(rep);
        if (Values == Bools.Length) Grow(ref Bools, Bools.Length * 2);
        Bools[Values++] = value;
    }

    /// <summary>Reserves room for a byte value of at most <paramref name="maxLength"/> bytes and returns where to write it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Span<byte> BeginBytes(int maxLength)
    {
        if (ByteCount + maxLength > Bytes.Length) GrowBytes(ByteCount + maxLength);
        return Bytes.AsSpan(ByteCount, maxLength);
    }

    /// <summary>Commits a byte value written into the span from <see cref="BeginBytes"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void EndBytes(int length, short rep)
    {
        AddLevels(rep);
        if (Values + 1 >= Offsets.Length) Grow(ref Offsets, Offsets.Length * 2);
        Offsets[Values] = ByteCount;
        ByteCount += length;
        Offsets[++Values] = ByteCount;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddBytes(ReadOnlySpan<byte> value, short rep)
    {
        value.CopyTo(BeginBytes(value.Length));
        EndBytes(value.Length, rep);
    }

    /// <summary>
    /// Appends rows of <paramref name="source"/>, a column of the same leaf in a batch without lists (one level per row),
    /// in the order given (rows of a partitioned stream moved to their partition's batch, <see cref="PartitionStaging"/>):
    /// <paramref name="rows"/> are its row indexes, at least <paramref name="firstRow"/>; <paramref name="valueOf"/>[row -
    /// firstRow] is the index of a row's value, or empty when every row from firstRow on has one (row's value:
    /// <paramref name="firstValue"/> + row - firstRow).
    /// </summary>
    public void AppendRows(LeafBuffer source, ReadOnlySpan<int> rows, int firstRow, ReadOnlySpan<int> valueOf, int firstValue)
    {
        var n = rows.Length;
        if (Levels + n > Def.Length)
        {
            Grow(ref Def, Math.Max(Def.Length * 2, Levels + n));
            KeepRepAsLongAsDef();
        }
        if (valueOf.IsEmpty) Def.AsSpan(Levels, n).Fill(Leaf.DefLevel);
        else
        {
            var def = Def;
            var from = source.Def;
            var levels = Levels;
            foreach (var r in rows) def[levels++] = from[r];
        }
        Levels += n;
        var present = Leaf.DefLevel;
        switch (Leaf.Type.Storage)
        {
            case ValueStorage.Longs: Values = Gather(rows, source.Def, present, source.Longs, ref Longs, Values, firstRow, valueOf, firstValue); break;
            case ValueStorage.Doubles: Values = Gather(rows, source.Def, present, source.Doubles, ref Doubles, Values, firstRow, valueOf, firstValue); break;
            case ValueStorage.Ints: Values = Gather(rows, source.Def, present, source.Ints, ref Ints, Values, firstRow, valueOf, firstValue); break;
            case ValueStorage.Bools: Values = Gather(rows, source.Def, present, source.Bools, ref Bools, Values, firstRow, valueOf, firstValue); break;
            default: AppendByteValues(source, rows, firstRow, valueOf, firstValue); break;
        }
    }

    /// <summary>The values of <see cref="AppendRows"/>' rows, appended to <paramref name="to"/> from index <paramref name="values"/>; returns the new count.</summary>
    private int Gather<T>(ReadOnlySpan<int> rows, short[] sourceDef, short present, T[] from, ref T[] to, int values, int firstRow,
        ReadOnlySpan<int> valueOf, int firstValue)
    {
        if (values + rows.Length > to.Length) Grow(ref to, Math.Max(to.Length * 2, values + rows.Length));
        var target = to;
        if (valueOf.IsEmpty)
        {
            var shift = firstValue - firstRow;
            foreach (var r in rows) target[values++] = from[r + shift];
        }
        else
            foreach (var r in rows)
                if (sourceDef[r] == present) target[values++] = from[valueOf[r - firstRow]];
        return values;
    }

    private void AppendByteValues(LeafBuffer source, ReadOnlySpan<int> rows, int firstRow, ReadOnlySpan<int> valueOf, int firstValue)
    {
        var values = Values;
        if (values + rows.Length + 1 > Offsets.Length) Grow(ref Offsets, Math.Max(Offsets.Length * 2, values + rows.Length + 1));
        var sourceDef = source.Def;
        var present = Leaf.DefLevel;
        var fromOffsets = source.Offsets;
        var shift = firstValue - firstRow;
        var from = source.Bytes;
        var to = Bytes;
        var offsets = Offsets;
        var end = ByteCount;
        offsets[values] = end;
        foreach (var r in rows)
        {
            if (!valueOf.IsEmpty && sourceDef[r] != present) continue;
            var v = valueOf.IsEmpty ? r + shift : valueOf[r - firstRow];
            var start = fromOffsets[v];
            var length = fromOffsets[v + 1] - start;
            // Room for the value, and for the 32 bytes a short one is copied with.
            if (end + Math.Max(length, 32) > to.Length)
            {
                ByteCount = end;
                GrowBytes((int)Math.Min((long)end + Math.Max(length, 32), Array.MaxLength));
                to = Bytes;
            }
            // Most strings are short: two 16-byte copies instead of a call (both arrays have the room, checked).
            if (length <= 32 && start + 32 <= from.Length && end + 32 <= to.Length)
            {
                ref var source0 = ref from[start];
                ref var target0 = ref to[end];
                Unsafe.WriteUnaligned(ref target0, Unsafe.ReadUnaligned<System.Runtime.Intrinsics.Vector128<byte>>(ref source0));
                Unsafe.WriteUnaligned(ref Unsafe.Add(ref target0, 16), Unsafe.ReadUnaligned<System.Runtime.Intrinsics.Vector128<byte>>(ref Unsafe.Add(ref source0, 16)));
            }
            else from.AsSpan(start, length).CopyTo(to.AsSpan(end));
            end += length;
            offsets[++values] = end;
        }
        ByteCount = end;
        Values = values;
    }

    /// <summary>
    /// Moves a cursor of this column (the level and value where row <paramref name="fromRow"/> starts) to where row
    /// <paramref name="row"/> starts, or to the end when that is <see cref="ColumnBatch.Rows"/>: a row starts at each
    /// level without repetition (every level, outside lists).
    /// </summary>
    public void AdvanceToRow(ref int level, ref int value, int fromRow, int row)
    {
        var skip = row - fromRow;
        var repeated = Rep.Length > 0;
        while (level < Levels)
        {
            if (!repeated || Rep[level] == 0)
            {
                if (skip == 0) return;
                skip--;
            }
            if (Def[level] == Leaf.DefLevel) value++;
            level++;
        }
    }

    /// <summary>Adds each row's share of <see cref="EstimatedBytes"/> to <paramref name="rowBytes"/> (one entry per row).</summary>
    public void AddRowBytes(Span<long> rowBytes)
    {
        var repeated = Rep.Length > 0;
        var hasBytes = Offsets.Length > 0;
        int row = -1, value = 0;
        for (var level = 0; level < Levels; level++)
        {
            if (!repeated || Rep[level] == 0) row++;
            rowBytes[row] += 4;
            if (Def[level] != Leaf.DefLevel) continue;
            rowBytes[row] += 8 + (hasBytes ? Offsets[value + 1] - Offsets[value] : 0);
            value++;
        }
    }

    /// <summary>Undoes everything written after a mark (a record that turned out invalid).</summary>
    public void Truncate(int levels, int values, int bytes)
    {
        Levels = levels;
        Values = values;
        ByteCount = bytes;
    }

    /// <summary>
    /// Makes room for <paramref name="scale"/> times what the buffer holds now, in one step: a batch whose final size is
    /// known early skips the sizes doubling would pass through (each one left in the pool). Still pooled arrays
    /// (a power of two): arrays of exact sizes left to the collector peaked higher (bench/README.md).
    /// </summary>
    public void Reserve(double scale)
    {
        var levels = (int)(Levels * scale);
        if (Def.Length < levels) Grow(ref Def, levels);
        KeepRepAsLongAsDef();
        var values = (int)(Values * scale);
        if (Longs.Length > 0 && Longs.Length < values) Grow(ref Longs, values);
        if (Doubles.Length > 0 && Doubles.Length < values) Grow(ref Doubles, values);
        if (Ints.Length > 0 && Ints.Length < values) Grow(ref Ints, values);
        if (Bools.Length > 0 && Bools.Length < values) Grow(ref Bools, values);
        if (Offsets.Length > 0 && Offsets.Length < values + 1) Grow(ref Offsets, values + 1);
        if (Bytes.Length > 0 && Bytes.Length < ByteCount * scale) Grow(ref Bytes, (int)Math.Min(ByteCount * scale, Array.MaxLength));
    }

    /// <summary>
    /// Takes the arrays of an empty buffer of the same column where they are larger (what this one holds is copied
    /// over); the other gets these in exchange.
    /// </summary>
    public void TakeLargerArrays(LeafBuffer empty)
    {
        Exchange(ref Def, ref empty.Def, Levels);
        Exchange(ref Rep, ref empty.Rep, Levels);
        KeepRepAsLongAsDef();
        empty.KeepRepAsLongAsDef();
        Exchange(ref Longs, ref empty.Longs, Values);
        Exchange(ref Doubles, ref empty.Doubles, Values);
        Exchange(ref Ints, ref empty.Ints, Values);
        Exchange(ref Bools, ref empty.Bools, Values);
        Exchange(ref Bytes, ref empty.Bytes, ByteCount);
        Exchange(ref Offsets, ref empty.Offsets, Offsets.Length > 0 ? Values + 1 : 0);
    }

    /// <summary>
    /// Swaps arrays and contents with <paramref name="other"/>, a buffer of an equal leaf (same type and levels) of
    /// another schema: rows move to a widened batch without copying (<see cref="TableWriter.TryMoveRowsTo"/>).
    /// </summary>
    public void SwapContents(LeafBuffer other)
    {
        (Def, other.Def) = (other.Def, Def);
        (Rep, other.Rep) = (other.Rep, Rep);
        (Longs, other.Longs) = (other.Longs, Longs);
        (Doubles, other.Doubles) = (other.Doubles, Doubles);
        (Ints, other.Ints) = (other.Ints, Ints);
        (Bools, other.Bools) = (other.Bools, Bools);
        (Bytes, other.Bytes) = (other.Bytes, Bytes);
        (Offsets, other.Offsets) = (other.Offsets, Offsets);
        (Levels, other.Levels) = (other.Levels, Levels);
        (Values, other.Values) = (other.Values, Values);
        (ByteCount, other.ByteCount) = (other.ByteCount, ByteCount);
        (DeferredBytes, other.DeferredBytes) = (other.DeferredBytes, DeferredBytes);
    }

    private static void Exchange<T>(ref T[] mine, ref T[] theirs, int used)
    {
        if (theirs.Length <= mine.Length) return;
        mine.AsSpan(0, used).CopyTo(theirs);
        (mine, theirs) = (theirs, mine);
    }

    private void GrowLevels()
    {
        Grow(ref Def, Def.Length * 2);
        KeepRepAsLongAsDef();
    }

    /// <summary>Grows <see cref="Rep"/> (when the column has one) to at least the length of <see cref="Def"/>.</summary>
    private void KeepRepAsLongAsDef()
    {
        if (Rep.Length > 0 && Rep.Length < Def.Length) Grow(ref Rep, Def.Length);
    }

    private void GrowBytes(int needed)
    {
        var size = Bytes.Length * 2;
        while (size < needed) size *= 2;
        Grow(ref Bytes, size);
    }
}

/// <summary>One row group's worth of buffered rows of one stream: a <see cref="LeafBuffer"/> per leaf column.</summary>
internal sealed class ColumnBatch
{
    /// <summary>A batch whose arrays come from <paramref name="arrays"/> (the run's pool; none: the process's).</summary>
    public ColumnBatch(ColumnSchema schema, ColumnArrays? arrays = null)
    {
        Schema = schema;
        Columns = schema.Leaves.Select(l => new LeafBuffer(l, arrays ?? ColumnArrays.Shared)).ToArray();
        _flat = schema.Leaves.All(l => l.RepLevel == 0);
        _marks = _flat ? [] : new int[Columns.Length * 3];
    }

    public ColumnSchema Schema { get; }
    public LeafBuffer[] Columns { get; }
    public int Rows;
    /// <summary>Its lane's row count when it last took a row: how long it has been quiet (<see cref="BufferBudget"/>).</summary>
    public long LastRowAt;
    /// <summary>Rows at which it is handed over before it is full: its cut of the budget among batches filling beside it (<see cref="TableWriter"/>).</summary>
    public int SendAtRows = int.MaxValue;

    /// <summary>Bytes of the arrays held by its columns, whatever is in them.</summary>
    public long CapacityBytes
    {
        get
        {
            long total = 0;
            foreach (var c in Columns) total += c.CapacityBytes;
            return total;
        }
    }
    /// <summary>No column sits inside a list.</summary>
    private readonly bool _flat;
    private readonly int[] _marks;
    private int _markedRows;

    public long EstimatedBytes
    {
        get
        {
            long total = 0;
            foreach (var c in Columns) total += c.EstimatedBytes;
            return total;
        }
    }

    /// <summary>Each row's estimated bytes (<see cref="EstimatedBytes"/> row by row): where to cut a batch too large for one file.</summary>
    public long[] RowBytes()
    {
        var rowBytes = new long[Rows];
        foreach (var c in Columns) c.AddRowBytes(rowBytes);
        return rowBytes;
    }

    public void Clear()
    {
        Rows = 0;
        SendAtRows = int.MaxValue;
        foreach (var c in Columns) c.Clear();
    }

    /// <summary>Hands its columns' arrays back to the pools (a batch no longer wanted); it must not be used afterwards.</summary>
    public void Release()
    {
        Rows = 0;
        SendAtRows = int.MaxValue;
        foreach (var c in Columns) c.Release();
    }

    /// <summary>Takes the larger arrays of an empty batch of the same schema (<see cref="LeafBuffer.TakeLargerArrays"/>).</summary>
    public void TakeLargerArrays(ColumnBatch empty)
    {
        for (var i = 0; i < Columns.Length; i++) Columns[i].TakeLargerArrays(empty.Columns[i]);
    }

    /// <summary>Makes room for <paramref name="rows"/> rows like the ones it holds (<see cref="LeafBuffer.Reserve"/>).</summary>
    public void Reserve(int rows)
    {
        if (Rows == 0 || rows <= Rows) return;
        var scale = (double)rows / Rows;
        foreach (var c in Columns) c.Reserve(scale);
    }

    /// <summary>Remembers where every column stands before a record, so an invalid record can be undone.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Mark()
    {
        _markedRows = Rows;
        // Without lists every column holds exactly one level per row: the row count alone says where each stood.
        if (!_flat) MarkEveryColumn();
    }

    /// <summary>Cuts every column of a batch without lists back to <paramref name="rows"/> rows (one level each).</summary>
    private void TruncateFlatColumns(int rows)
    {
        // A column the record reached got one level more than the rows, and a value too if that level is its own.
        foreach (var c in Columns)
        {
            if (c.Levels <= rows) continue;
            var values = c.Values - (c.Def[rows] == c.Leaf.DefLevel ? 1 : 0);
            c.Truncate(rows, values, c.Offsets.Length > 0 ? c.Offsets[values] : 0);
        }
    }

    private void MarkEveryColumn()
    {
        var m = _marks;
        for (var i = 0; i < Columns.Length; i++)
        {
            var c = Columns[i];
            m[i * 3] = c.Levels;
            m[i * 3 + 1] = c.Values;
            m[i * 3 + 2] = c.ByteCount;
        }
    }

    /// <summary>Undoes the levels and values of a row that was not finished (<see cref="Rows"/> not counted yet); flat batches only.</summary>
    public void UndoUnfinishedRow() => TruncateFlatColumns(Rows);

    public void RollbackToMark()
    {
        Rows = _markedRows;
        if (_flat)
        {
            TruncateFlatColumns(_markedRows);
            return;
        }
        var m = _marks;
        for (var i = 0; i < Columns.Length; i++) Columns[i].Truncate(m[i * 3], m[i * 3 + 1], m[i * 3 + 2]);
    }
}
