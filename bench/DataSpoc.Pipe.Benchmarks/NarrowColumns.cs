using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using DataSpoc.Pipe.BenchData;

namespace DataSpoc.Pipe.Benchmarks;

/// <summary>
/// The narrow shape's rows (same generator and seed as the Singer input) laid out as typed columns, in the form each
/// Parquet library takes best: UTF-8 bytes in one pinned arena for ParquetSharp's ByteArray, UTF-16 slices for
/// Parquet.Net (its string input is <c>ReadOnlyMemory&lt;char&gt;</c>), epoch microseconds and DateTime for the instant.
/// </summary>
public sealed class NarrowColumns
{
    public int Rows { get; }
    public long[] Id { get; }
    public double[] Amount { get; }
    public bool[] Flag { get; }
    public long[] CreatedAtMicros { get; }
    public DateTime[] CreatedAtUtc { get; }
    public long[] Qty { get; }
    public TextColumn Name { get; }
    public TextColumn Note { get; }
    public TextColumn Status { get; }

    /// <summary>Definition levels of a column without nulls (all 1), for optional columns.</summary>
    public short[] AllPresent { get; }
    public int[] AllPresentInt { get; }

    public NarrowColumns(int rows)
    {
        Rows = rows;
        Id = new long[rows];
        Amount = new double[rows];
        Flag = new bool[rows];
        CreatedAtMicros = new long[rows];
        CreatedAtUtc = new DateTime[rows];
        Qty = new long[rows];
        var names = new string?[rows];
        var notes = new string?[rows];
        var statuses = new string?[rows];
        var rng = new SplitMix64(0x5EED_0001UL); // the generator's narrow seed: the same values as the .singer file
        for (var i = 0; i < rows; i++)
        {
            var r = NarrowShape.NextRow(ref rng, i);
            Id[i] = r.Id;
            names[i] = r.Name;
            notes[i] = r.Note;
            Amount[i] = r.Amount;
            Flag[i] = r.Flag;
            statuses[i] = r.Status;
            CreatedAtMicros[i] = (r.CreatedAt.UtcTicks - DateTime.UnixEpoch.Ticks) / 10;
            CreatedAtUtc[i] = r.CreatedAt.UtcDateTime;
            Qty[i] = r.Qty;
        }
        Name = new TextColumn(names);
        Note = new TextColumn(notes);
        Status = new TextColumn(statuses);
        AllPresent = Enumerable.Repeat((short)1, rows).ToArray();
        AllPresentInt = Enumerable.Repeat(1, rows).ToArray();
    }
}

/// <summary>A nullable text column: non-null values only (compact), plus one definition level per row.</summary>
public sealed class TextColumn
{
    /// <summary>All non-null values' UTF-8 bytes back to back, pinned so ParquetSharp's ByteArray can point into it.</summary>
    public byte[] Utf8 { get; }
    public ParquetSharp.ByteArray[] ByteArrays { get; }
    public ReadOnlyMemory<char>[] Chars { get; }
    public short[] DefinitionLevels { get; }
    public int[] DefinitionLevelsInt { get; }
    public int NonNullCount => Chars.Length;

    /// <summary>How many non-null values come before row i (length rows + 1): where a row range starts in the compact arrays.</summary>
    public int[] NonNullBefore { get; }

    public unsafe TextColumn(string?[] values)
    {
        var present = values.Where(v => v is not null).Select(v => v!).ToArray();
        Utf8 = GC.AllocateUninitializedArray<byte>(present.Sum(Encoding.UTF8.GetByteCount), pinned: true);
        ByteArrays = new ParquetSharp.ByteArray[present.Length];
        var utf16 = string.Concat(present).AsMemory();
        Chars = new ReadOnlyMemory<char>[present.Length];
        var baseAddress = (IntPtr)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(Utf8));
        int bytes = 0, chars = 0;
        for (var i = 0; i < present.Length; i++)
        {
            var n = Encoding.UTF8.GetBytes(present[i], Utf8.AsSpan(bytes));
            ByteArrays[i] = new ParquetSharp.ByteArray(baseAddress + bytes, n);
            Chars[i] = utf16.Slice(chars, present[i].Length);
            bytes += n;
            chars += present[i].Length;
        }
        DefinitionLevels = values.Select(v => (short)(v is null ? 0 : 1)).ToArray();
        DefinitionLevelsInt = values.Select(v => v is null ? 0 : 1).ToArray();
        NonNullBefore = new int[values.Length + 1];
        for (var i = 0; i < values.Length; i++) NonNullBefore[i + 1] = NonNullBefore[i] + DefinitionLevelsInt[i];
    }
}
