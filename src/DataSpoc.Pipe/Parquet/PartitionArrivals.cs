using System.Buffers.Binary;

namespace DataSpoc.Pipe.Parquet;

/// <summary>
/// Where each row a merged stream's writers took arrived among them (its place in input order: a merge parses on one
/// lane, and rows staged for a bulk move go before any written one by one), noted per partition in the order the
/// partition took its rows, 4 bytes a row in a spool file of each partition. A partition's files hold its rows in that
/// order too, so the n-th row of partition P arrived at P's n-th entry: <see cref="Merge.KeyedMerge"/> reads it beside
/// each file's rows to tell which of a key's records in different partitions came last. Memory holds a small buffer per
/// partition; a file is appended to when its buffer fills, so no handle stays open.
/// </summary>
internal sealed class PartitionArrivals(string path)
{
    private const int BufferBytes = 4 * 1024;

    private sealed class Noted(string path)
    {
        public string Path { get; } = path;
        public byte[] Buffer { get; } = new byte[BufferBytes];
        public int Buffered { get; set; }
    }

    private readonly Dictionary<Partition, Noted> _partitions = [];

    /// <summary>Rows noted so far.</summary>
    public long Count { get; private set; }

    /// <summary>Notes that the row taken next belongs to <paramref name="partition"/>.</summary>
    public void Add(Partition partition)
    {
        // A merge marks the rows it keeps in a bit array of int indices, so a run it can merge numbers its rows in an int.
        if (Count == int.MaxValue)
            throw new InvalidOperationException($"write_mode merge takes at most {int.MaxValue} records of a stream in one run");
        if (!_partitions.TryGetValue(partition, out var noted)) _partitions[partition] = noted = new Noted(PathOf(partition));
        if (noted.Buffered == BufferBytes) Flush(noted);
        BinaryPrimitives.WriteInt32LittleEndian(noted.Buffer.AsSpan(noted.Buffered), (int)Count);
        noted.Buffered += 4;
        Count++;
    }

    /// <summary>Where the rows of <paramref name="partition"/> arrived, from its row <paramref name="from"/> (0-based) on, in the partition's order.</summary>
    public IEnumerable<int> Of(Partition partition, long from)
    {
        if (!_partitions.TryGetValue(partition, out var noted)) yield break;
        Flush(noted);
        if (!File.Exists(noted.Path)) yield break;
        using var file = new FileStream(noted.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        file.Position = from * 4;
        var chunk = new byte[BufferBytes];
        int read;
        while ((read = file.ReadAtLeast(chunk, chunk.Length, throwOnEndOfStream: false)) > 0)
            for (var at = 0; at + 4 <= read; at += 4) yield return BinaryPrimitives.ReadInt32LittleEndian(chunk.AsSpan(at));
    }

    private static void Flush(Noted noted)
    {
        if (noted.Buffered == 0) return;
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(noted.Path)!);
        using (var file = new FileStream(noted.Path, FileMode.Append, FileAccess.Write, FileShare.None))
            file.Write(noted.Buffer, 0, noted.Buffered);
        noted.Buffered = 0;
    }

    private string PathOf(Partition partition) =>
        $"{Path.ChangeExtension(path, null)}-{(partition.None ? "all" : partition.Date?.ToString("yyyyMMdd", System.Globalization.CultureInfo.InvariantCulture) ?? "null")}{Path.GetExtension(path)}";
}
