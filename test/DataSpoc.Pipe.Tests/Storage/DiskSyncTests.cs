using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Tests.Storage;

/// <summary>
/// The checked flush every file:// write goes through. A disk that fails write-back needs fault injection (strace, see
/// <c>StorageFailureTests.A_data_file_whose_fsync_fails_does_not_land_and_the_run_fails_naming_it</c>); here the kernel's
/// own refusal stands in for it: fsync and fdatasync of a character device fail with EINVAL.
/// </summary>
public class DiskSyncTests
{
    [Fact]
    public void A_flush_the_kernel_refuses_throws_naming_the_file_and_the_reason()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var device = new FileStream("/dev/null", FileMode.Open, FileAccess.Write);
        device.Write("x"u8);

        var file = Assert.Throws<IOException>(() => DiskSync.File(device, "/dev/null"));
        var contents = Assert.Throws<IOException>(() => DiskSync.Contents(device, "/dev/null"));

        Assert.Equal("flushing '/dev/null' to disk failed: Invalid argument", file.Message);
        Assert.Equal(22, file.HResult); // the errno, as LocalObjectStore.Describe reads it (28: disk full)
        Assert.Equal(file.Message, contents.Message);
    }

    [Fact]
    public void A_folder_is_flushed_and_one_that_cannot_be_opened_is_an_error_naming_it()
    {
        if (!OperatingSystem.IsLinux()) return;
        var folder = Directory.CreateTempSubdirectory("dsp-sync-").FullName;
        try
        {
            DiskSync.Folder(folder);
            var e = Assert.Throws<IOException>(() => DiskSync.Folder(Path.Combine(folder, "missing")));
            Assert.Equal($"flushing '{folder}/missing' to disk failed: No such file or directory", e.Message);
        }
        finally
        {
            Directory.Delete(folder);
        }
    }
}
