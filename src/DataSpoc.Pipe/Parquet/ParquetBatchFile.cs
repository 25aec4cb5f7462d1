using System.Runtime.InteropServices;
using ParquetSharp;
using ParquetSharp.Schema;
using PipeCompression = DataSpoc.Pipe.Config.Compression;

namespace DataSpoc.Pipe.Parquet;

/// <summary>
/// One Parquet file being written with ParquetSharp's low-level column writers: each <see cref="ColumnBatch"/>
/// becomes one row group, values passed as spans (strings as pointers into the batch's byte buffer, no copies).
/// </summary>
internal sealed class ParquetBatchFile : IDisposable
{
    /// <summary>
    /// zstd level -1, the first of zstd's fast levels: faster than 1 and 3 for files a few percent larger, still smaller
    /// than DuckDB's; -3 is faster again but much larger (bench/README.md, "Measurements behind the code").
    /// </summary>
    public const int ZstdLevel = -1;

    /// <summary>The pipeline's compression on a file's writer properties (zstd at <see cref="ZstdLevel"/>).</summary>
    internal static void UseCompression(WriterPropertiesBuilder builder, PipeCompression compression)
    {
        builder.Compression(compression switch
        {
            PipeCompression.Zstd => ParquetSharp.Compression.Zstd,
            PipeCompression.Snappy => ParquetSharp.Compression.Snappy,
            PipeCompression.Gzip => ParquetSharp.Compression.Gzip,
            _ => ParquetSharp.Compression.Uncompressed,
        });
        if (compression == PipeCompression.Zstd) builder.CompressionLevel(ZstdLevel);
    }

    private readonly ParquetFileWriter _writer;
    private readonly GroupNode _schemaNode;
    private readonly WriterProperties _properties;
    /// <summary>
    /// String pointers handed to the column writers, per thread writing columns: kept across files, so a run of many
    /// small files does not allocate a set for each.
    /// </summary>
    [ThreadStatic] private static ByteArray[]? t_byteArrays;
    /// <summary>The hashes <see cref="DistinctShare"/> counts, per encoder thread (kept across files, as above).</summary>
    [ThreadStatic] private static HashSet<long>? t_seen;
    private readonly bool _flushAsWritten;
    private bool _closed;

    /// <param name="path">The file to create.</param>
    /// <param name="schema">The stream's columns.</param>
    /// <param name="compression">The codec.</param>
    /// <param name="encodings">The columns' encodings (<see cref="ChooseEncodings"/>); none: the writer's defaults.</param>
    /// <param name="flushAsWritten">
    /// Flush the file to disk in the background as row groups land (<see cref="DiskWriteBack"/>): for files that become
    /// the lake's own (a file:// bucket, where the commit fsyncs them), not for ones uploaded and deleted.
    /// </param>
    public ParquetBatchFile(string path, ColumnSchema schema, PipeCompression compression, EncodingChoice? encodings = null, bool flushAsWritten = false)
    {
        Path = path;
        _flushAsWritten = flushAsWritten;
        _schemaNode = (GroupNode)ToNode(schema.Root, isRoot: true);
        using var builder = new WriterPropertiesBuilder();
        UseCompression(builder, compression);
        builder.MaxRowGroupLength(int.MaxValue);
        // The system allocator returns freed pages; Arrow's default (jemalloc) keeps them resident (bench/README.md).
        builder.MemoryPool(MemoryPool.SystemMemoryPool());
        encodings?.ApplyTo(builder);
        builder.CreatedBy("dataspoc-pipe " + ToolVersion.Current);
        _properties = builder.Build();
        try
        {
            _writer = new ParquetFileWriter(path, _schemaNode, _properties);
        }
        catch (ParquetException e) when (ParquetFailure.AsIOException(e) is { } io)
        {
            _properties.Dispose();
            _schemaNode.Dispose();
            throw WriteFailed(io);
        }
    }

    /// <summary>
    /// The library's failure to write the file (a full disk, an I/O error) in the words every other write of a run uses:
    /// <c>disk full writing '&lt;file&gt;' (no space left on device)</c>, not the library's C++ exception.
    /// </summary>
    private Storage.StorageException WriteFailed(IOException io) => new(Storage.LocalObjectStore.Describe(io, Path), io);

    public string Path { get; }

    /// <summary>
    /// Dictionary encoding only pays for repetitive columns; for mostly-distinct values it is built (and, past its
    /// page limit, abandoned), costing time and often size. Distinct-heavy columns, nested ones included, are written
    /// without it: integers and timestamps as DELTA_BINARY_PACKED (small for ids and times), doubles and strings plain.
    /// Free text (distinct-heavy strings of <see cref="FreeTextBytes"/> or more on average: notes, descriptions) is
    /// also written without min/max statistics: the range of free text prunes nothing, and computing it costs two
    /// comparisons a value (bench/README.md, "Measurements behind the code"). Short distinct strings (codes, keys) keep theirs.
    /// </summary>
    public static EncodingChoice ChooseEncodings(ColumnBatch sample)
    {
        var distinctHeavy = new List<EncodingChoice.Column>();
        var sampled = true;
        foreach (var column in sample.Columns)
        {
            var leaf = column.Leaf;
            if (column.Values < 1024) { sampled = false; continue; }
            if (DistinctShare(column) < 0.5) continue;
            distinctHeavy.Add(new(leaf.ParquetPath, leaf.Type.DeltaEncodes, IsFreeText(column)));
        }
        return new EncodingChoice(distinctHeavy, sampled);
    }

    /// <summary>
    /// The columns written without a dictionary (<see cref="ChooseEncodings"/>): DELTA_BINARY_PACKED where the type
    /// delta-encodes, without statistics where free text. <see cref="FromFullSample"/>: every column had enough values
    /// to judge, so the choice holds for the stream's other files too (its partitions) instead of sampling each.
    /// </summary>
    public sealed class EncodingChoice(IReadOnlyList<EncodingChoice.Column> distinctHeavy, bool fromFullSample)
    {
        public readonly record struct Column(string[] ParquetPath, bool DeltaEncodes, bool FreeText);

        public bool FromFullSample { get; } = fromFullSample;

        public void ApplyTo(WriterPropertiesBuilder builder)
        {
            foreach (var column in distinctHeavy)
            {
                using var path = new ColumnPath(column.ParquetPath);
                builder.DisableDictionary(path);
                if (column.DeltaEncodes) builder.Encoding(path, ParquetSharp.Encoding.DeltaBinaryPacked);
                if (column.FreeText) builder.DisableStatistics(path);
            }
        }
    }

    /// <summary>Average length, in bytes, from which a distinct-heavy string column counts as free text.</summary>
    public const int FreeTextBytes = 64;

    private static bool IsFreeText(LeafBuffer column) =>
        column.Leaf.Type.IsText && column.Values > 0 && column.ByteCount / column.Values >= FreeTextBytes;

    /// <summary>The share of distinct values among the first few thousand (hashes; exactness does not matter).</summary>
    private static double DistinctShare(LeafBuffer c)
    {
        var n = Math.Min(c.Values, 4096);
        var seen = t_seen ??= new HashSet<long>(4096);
        seen.Clear();
        for (var i = 0; i < n; i++) seen.Add(c.HashOf(i));
        return (double)seen.Count / n;
    }
    public long Rows { get; private set; }
    public int RowGroups { get; private set; }
    /// <summary>Bytes on disk after the last row group (each row group is closed when written, so nothing of it is held back).</summary>
    public long BytesWritten { get; private set; }

    /// <summary>Writes the batch as one row group, its columns one after another on this thread.</summary>
    /// <param name="batch">The rows.</param>
    /// <param name="last">The file is finished right after it: no background flush (see <see cref="RowGroupWritten"/>).</param>
    public void WriteRowGroup(ColumnBatch batch, bool last = false)
    {
        if (batch.Rows == 0) return;
        StageTimeline.Mark("encode.start", batch.Rows);
        try
        {
            using var rowGroup = _writer.AppendRowGroup();
            foreach (var column in batch.Columns)
            {
                using var writer = rowGroup.NextColumn();
                WriteColumn(writer, column, LeafRange.Whole(column));
            }
            // Closed now rather than when the next row group starts: its last column chunk reaches the file, so the
            // file's size is known before the next row group (max_file_mb is checked against it).
            rowGroup.Close();
        }
        catch (ParquetException e) when (ParquetFailure.AsIOException(e) is { } io)
        {
            throw WriteFailed(io);
        }
        RowGroupWritten(batch.Rows, last);
    }

    /// <summary>
    /// Writes rows <paramref name="fromRow"/> to <paramref name="toRow"/> (excluded) of the batch as one row group: a
    /// batch too large for one file is cut between files. <paramref name="cursors"/> hold, per column, the level and
    /// value where <paramref name="fromRow"/> starts, and are moved to where <paramref name="toRow"/> starts.
    /// </summary>
    public void WriteRows(ColumnBatch batch, int fromRow, int toRow, (int Level, int Value)[] cursors)
    {
        if (toRow <= fromRow) return;
        StageTimeline.Mark("encode.start", toRow - fromRow);
        try
        {
            using var rowGroup = _writer.AppendRowGroup();
            for (var i = 0; i < batch.Columns.Length; i++)
            {
                var column = batch.Columns[i];
                var (level, value) = cursors[i];
                var (endLevel, endValue) = (level, value);
                column.AdvanceToRow(ref endLevel, ref endValue, fromRow, toRow);
                using var writer = rowGroup.NextColumn();
                WriteColumn(writer, column, new LeafRange(level, endLevel - level, value, endValue - value));
                cursors[i] = (endLevel, endValue);
            }
            rowGroup.Close();
        }
        catch (ParquetException e) when (ParquetFailure.AsIOException(e) is { } io)
        {
            throw WriteFailed(io);
        }
        RowGroupWritten(toRow - fromRow, last: false);
    }

    /// <summary>
    /// Writes the batch as one row group encoded on two threads: the row group is buffered, so its columns can be
    /// written in any order; half of them (by bytes) are offered to another encoder thread and the rest are written
    /// here. For the last row groups of a run, which would otherwise leave a core idle; during parsing the lanes keep
    /// both cores busy, and splitting every row group costs more CPU and memory (bench/README.md).
    /// </summary>
    public void WriteRowGroupOnTwoThreads(ColumnBatch batch, bool last = false)
    {
        if (batch.Rows == 0) return;
        StageTimeline.Mark("encode2.start", batch.Rows);
        try
        {
            using var rowGroup = _writer.AppendBufferedRowGroup();
            var writers = new ColumnWriter[batch.Columns.Length];
            try
            {
                for (var i = 0; i < writers.Length; i++) writers[i] = rowGroup.Column(i);
                var (mine, offered) = Halves(batch);
                var other = new OfferedWork(() => WriteColumns(writers, batch, offered));
                if (offered.Count > 0) EncoderThreads.Shared.Run(other.TryRun);
                try
                {
                    WriteColumns(writers, batch, mine);
                }
                finally
                {
                    // The other half may still be writing into this row group: it must end before anything is disposed.
                    other.RunHereOrWait();
                }
            }
            finally
            {
                foreach (var w in writers) w?.Dispose();
            }
            rowGroup.Close();
        }
        catch (ParquetException e) when (ParquetFailure.AsIOException(e) is { } io)
        {
            throw WriteFailed(io);
        }
        RowGroupWritten(batch.Rows, last);
    }

    private void RowGroupWritten(int rows, bool last)
    {
        StageTimeline.Mark("encode.end", rows);
        Rows += rows;
        RowGroups++;
        BytesWritten = new FileInfo(Path).Length;
        // The file's last row group is not flushed in the background: closing the file waits for that flush, which
        // would only sync it twice (the commit fsyncs it anyway); a tap syncing many small tables paid a disk flush per
        // table on the one thread finishing them.
        if (!_flushAsWritten || last) return;
        DiskWriteBack.Start(Path);
        BackgroundFlushes++;
    }

    /// <summary>Background flushes asked for this file (<see cref="DiskWriteBack"/>).</summary>
    public int BackgroundFlushes { get; private set; }

    /// <summary>Column indexes in two groups of about equal buffered bytes.</summary>
    private static (List<int> Mine, List<int> Offered) Halves(ColumnBatch batch)
    {
        List<int> mine = [], offered = [];
        long mineBytes = 0, offeredBytes = 0;
        foreach (var i in Enumerable.Range(0, batch.Columns.Length).OrderByDescending(i => batch.Columns[i].EstimatedBytes))
        {
            if (mineBytes <= offeredBytes) { mine.Add(i); mineBytes += batch.Columns[i].EstimatedBytes; }
            else { offered.Add(i); offeredBytes += batch.Columns[i].EstimatedBytes; }
        }
        return (mine, offered);
    }

    private static void WriteColumns(ColumnWriter[] writers, ColumnBatch batch, List<int> columns)
    {
        StageTimeline.Mark("half.start", columns.Count);
        foreach (var i in columns) WriteColumn(writers[i], batch.Columns[i], LeafRange.Whole(batch.Columns[i]));
        StageTimeline.Mark("half.end", columns.Count);
    }

    /// <summary>Work offered to another thread that runs exactly once: there, or back on the offering thread.</summary>
    private sealed class OfferedWork(Action work)
    {
        private int _claimed;
        private readonly ManualResetEventSlim _done = new();
        private Exception? _error;

        public void TryRun()
        {
            if (Interlocked.Exchange(ref _claimed, 1) != 0) return;
            try { work(); }
            catch (Exception e) { _error = e; }
            finally { _done.Set(); }
        }

        /// <summary>Runs the work here if no thread took it yet, else waits for it; rethrows its failure.</summary>
        public void RunHereOrWait()
        {
            TryRun();
            _done.Wait();
            _done.Dispose();
            if (_error is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(_error);
        }
    }

    private static void WriteColumn(ColumnWriter writer, LeafBuffer c, LeafRange range) => c.Leaf.Type.Write(writer, c, range, ref t_byteArrays);

    /// <summary>Finishes the file (footer written); the file is complete on disk after this returns.</summary>
    public void Close()
    {
        if (_closed) return;
        _closed = true;
        try
        {
            _writer.Close();
        }
        catch (ParquetException e) when (ParquetFailure.AsIOException(e) is { } io)
        {
            throw WriteFailed(io);
        }
        if (_flushAsWritten) DiskWriteBack.Settle(Path);
    }

    public void Dispose()
    {
        try
        {
            Close();
        }
        catch (Exception)
        {
            // Disposing after a failure (a full disk fails the footer too): the file is discarded anyway.
        }
        finally
        {
            // Always release the native writer: its open file would keep its disk space after the spool is deleted.
            _writer.Dispose();
            _properties.Dispose();
            _schemaNode.Dispose();
        }
    }

    private static Node ToNode(SchemaNode node, bool isRoot = false) => node switch
    {
        StructNode s when isRoot => new GroupNode("schema", Repetition.Required, s.Children.Select(c => ToNode(c)).ToArray()),
        StructNode s => new GroupNode(s.Name, Repetition.Optional, s.Children.Select(c => ToNode(c)).ToArray(), null, s.FieldId),
        ListNode l => new GroupNode(l.Name, Repetition.Optional,
            [new GroupNode("list", Repetition.Repeated, [ToNode(l.Element)])], LogicalType.List(), l.FieldId),
        LeafNode leaf => leaf.Type.ParquetNode(leaf),
        _ => throw new InvalidOperationException(node.GetType().Name),
    };
}
