using System.Text.Json;
using DataSpoc.Pipe.Parquet;

namespace DataSpoc.Pipe.Tests.Parquet;

/// <summary>The background flush of growing Parquet files: it flushes, skips what is gone, and never blocks the commit.</summary>
public class DiskWriteBackTests
{
    [Fact]
    public void A_requested_file_is_flushed_without_ever_blocking_an_exclusive_open()
    {
        if (!OperatingSystem.IsLinux()) return;
        var folder = Directory.CreateTempSubdirectory("dsp-writeback-").FullName;
        try
        {
            var path = Path.Combine(folder, "growing.parquet.part");
            using (var file = new FileStream(path, FileMode.CreateNew))
                file.Write(new byte[4 << 20]);
            var before = DiskWriteBack.Flushes;

            // A file already gone (moved or deleted) is skipped, and the flusher carries on.
            DiskWriteBack.Start(Path.Combine(folder, "gone.parquet.part"));
            for (var i = 0; i < 200; i++)
            {
                DiskWriteBack.Start(path);
                // What the commit does before its rename: an exclusive open (an advisory lock on Unix) and fsync.
                using var exclusive = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
                exclusive.Flush(flushToDisk: true);
            }

            // Settling waits for every flush asked for the file (the 200 above), and none failed.
            DiskWriteBack.Settle(path);
            Assert.True(DiskWriteBack.Flushes >= before + 200, $"{DiskWriteBack.Flushes - before} flushes of 200");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void A_failed_flush_is_reported_when_the_file_is_settled_not_lost()
    {
        if (!OperatingSystem.IsLinux()) return;
        // fdatasync refuses a character device (EINVAL): a stand-in for a disk that fails write-back.
        DiskWriteBack.Start("/dev/null");
        var e = Assert.Throws<IOException>(() => DiskWriteBack.Settle("/dev/null"));
        Assert.Equal("flushing '/dev/null' to disk failed: Invalid argument", e.Message);
        // Reported once; the next settle of a file without failures passes.
        DiskWriteBack.Settle("/dev/null");
    }

    [Fact]
    public void A_file_is_flushed_in_the_background_after_each_row_group_but_its_last()
    {
        // The last row group is followed by the footer and the file's close, which waits for the flush; the commit
        // fsyncs the file anyway. A tap syncing many one-batch tables paid that flush, on one thread, per table.
        var schema = ColumnSchema.FromJsonSchema(JsonDocument.Parse("""{"properties":{"id":{"type":"integer"}}}""").RootElement);
        var batch = new ColumnBatch(schema);
        var shredder = new RecordShredder();
        var record = """{"id":1}"""u8.ToArray();
        var reader = new Utf8JsonReader(record);
        reader.Read();
        shredder.Shred(batch, ref reader);
        var folder = Directory.CreateTempSubdirectory("dsp-writeback-").FullName;
        try
        {
            using (var one = new ParquetBatchFile(Path.Combine(folder, "one.parquet"), schema, DataSpoc.Pipe.Config.Compression.Zstd, flushAsWritten: true))
            {
                one.WriteRowGroup(batch, last: true);
                one.Close();
                Assert.Equal(0, one.BackgroundFlushes);
            }
            using var three = new ParquetBatchFile(Path.Combine(folder, "three.parquet"), schema, DataSpoc.Pipe.Config.Compression.Zstd, flushAsWritten: true);
            three.WriteRowGroup(batch);
            three.WriteRowGroupOnTwoThreads(batch);
            three.WriteRowGroupOnTwoThreads(batch, last: true);
            three.Close();
            Assert.Equal(2, three.BackgroundFlushes);
            Assert.Equal(3, three.RowGroups);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
