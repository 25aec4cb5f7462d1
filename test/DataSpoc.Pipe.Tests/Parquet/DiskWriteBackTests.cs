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

            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (DiskWriteBack.Flushes == before && DateTime.UtcNow < deadline) Thread.Sleep(10);
            Assert.True(DiskWriteBack.Flushes > before, "the file was never flushed");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
