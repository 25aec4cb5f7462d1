using System.Buffers.Binary;

namespace DataSpoc.Pipe.Parquet;

/// <summary>
/// The partition of each row a merged stream's writers took, in the order they took them, in a spool file of 4 bytes a
/// row. That is the input's order: a merge parses on one lane, and rows staged for a bulk move go before any written one
/// by one. Each partition's files hold its rows in that order too, so the n-th row of partition P arrived at the position
/// of P's n-th entry: <see cref="Merge.KeyedMerge"/> finds which of a key's records in different partitions came last by
/// it. Memory holds one buffer; the file is appended to when it fills, so no handle stays open.
/// </summary>
internal sealed class PartitionArrivals(string path)
{
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _buffered;

    /// <summary>Rows noted so far.</summary>
    public long Count { get; private set; }

    /// <summary>Notes the partition of the row taken next.</summary>
    public void Add(Partition partition)
    {
        if (_buffered == _buffer.Length) Flush();
        BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(_buffered), CodeOf(partition));
        _buffered += 4;
        Count++;
    }

    /// <summary>The partitions of the rows noted so far, in the order they were taken.</summary>
    public IEnumerable<Partition> Read()
    {
        Flush();
        if (!File.Exists(path)) yield break;
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        var chunk = new byte[64 * 1024];
        int read;
        while ((read = file.ReadAtLeast(chunk, chunk.Length, throwOnEndOfStream: false)) > 0)
            for (var at = 0; at + 4 <= read; at += 4) yield return PartitionOf(BinaryPrimitives.ReadInt32LittleEndian(chunk.AsSpan(at)));
    }

    private void Flush()
    {
        if (_buffered == 0) return;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using (var file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.None))
            file.Write(_buffer, 0, _buffered);
        _buffered = 0;
    }

    // A date's day number is never negative.
    private const int NullDate = -1;
    private const int Unpartitioned = -2;

    private static int CodeOf(Partition partition) => partition.None ? Unpartitioned : partition.Date?.DayNumber ?? NullDate;

    private static Partition PartitionOf(int code) => code switch
    {
        Unpartitioned => Partition.Unpartitioned,
        NullDate => new Partition(null),
        _ => new Partition(DateOnly.FromDayNumber(code)),
    };
}
