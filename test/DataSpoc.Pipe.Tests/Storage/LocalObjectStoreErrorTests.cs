using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Storage;

/// <summary>
/// A delete the file system refuses (<c>chattr +i</c>: the tests run as root, whom permissions do not stop), and a
/// listing or read of a folder or file this process may not read (mode 000), is a <see cref="StorageException"/> naming
/// the operation and the file or folder, as a refused write is, not the runtime's exception.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class LocalObjectStoreErrorTests : IDisposable
{
    private readonly TempLake _lake = new();
    private readonly List<string> _immutable = [];
    private readonly List<(string Path, UnixFileMode Mode)> _unreadable = [];

    public void Dispose()
    {
        foreach (var file in _immutable) HostCommand.Run("chattr", "-i", file);
        foreach (var (path, mode) in _unreadable) File.SetUnixFileMode(path, mode);
        _lake.Dispose();
    }

    /// <summary>Takes every permission off <paramref name="key"/>'s file or folder (given back when the test ends).</summary>
    private string Unreadable(string key)
    {
        var path = Path.Combine(_lake.Root, key);
        _unreadable.Add((path, File.GetUnixFileMode(path)));
        File.SetUnixFileMode(path, UnixFileMode.None);
        return path;
    }

    private string Write(string key)
    {
        var path = Path.Combine(_lake.Root, key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "{}");
        return path;
    }

    private string Immutable(string key)
    {
        var path = Path.Combine(_lake.Root, key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "{}");
        HostCommand.Run("chattr", "+i", path);
        _immutable.Add(path);
        return path;
    }

    [Fact]
    public async Task A_delete_the_file_system_refuses_names_the_operation_and_the_file()
    {
        var path = Immutable("raw/csv/orders/orders_0001.parquet");
        var store = new LocalObjectStore(BucketUri.Parse(_lake.Bucket));

        var e = await Assert.ThrowsAsync<StorageException>(() => store.DeleteAsync("raw/csv/orders/orders_0001.parquet", CancellationToken.None));

        Assert.Equal($"permission denied deleting '{path}'", e.Message);
        Assert.IsType<UnauthorizedAccessException>(e.InnerException);
        Assert.True(File.Exists(path));
    }

    [Fact]
    public async Task A_lock_file_the_file_system_refuses_to_remove_names_the_operation_and_the_file()
    {
        var path = Immutable("raw/csv/orders/metadata/v1.metadata.json.lck");
        var store = new LocalObjectStore(BucketUri.Parse(_lake.Bucket));

        var e = await Assert.ThrowsAsync<StorageException>(() => store.RemoveConditionalWriteLocksAsync("raw/csv/orders/metadata/", _ => true, CancellationToken.None));

        Assert.Equal($"permission denied deleting '{path}'", e.Message);
        Assert.True(File.Exists(path));
    }

    [PermissionsFact]
    public async Task Listing_a_folder_the_process_may_not_read_names_the_operation_and_the_folder()
    {
        Write("raw/csv/orders/orders_0001.parquet");
        Write("raw/csv/users/users_0001.parquet");
        var orders = Unreadable("raw/csv/orders");
        var store = new LocalObjectStore(BucketUri.Parse(_lake.Bucket));

        // The stream's folder itself, and a folder above it whose listing goes into it.
        foreach (var prefix in new[] { "raw/csv/orders/", "raw/" })
        {
            var e = await Assert.ThrowsAsync<StorageException>(async () => await store.ListAsync(prefix, CancellationToken.None).ToListAsync());
            Assert.Equal($"permission denied listing '{orders}'", e.Message);
            Assert.IsType<UnauthorizedAccessException>(e.InnerException);
        }
        var locks = await Assert.ThrowsAsync<StorageException>(() => store.RemoveConditionalWriteLocksAsync("raw/", _ => true, CancellationToken.None));
        Assert.Equal($"permission denied listing '{orders}'", locks.Message);
    }

    [PermissionsFact]
    public async Task Reading_a_file_the_process_may_not_read_names_the_operation_and_the_file()
    {
        var manifest = Write(".dataspoc/manifest.json");
        Unreadable(".dataspoc/manifest.json");
        var data = Write("raw/csv/orders/orders_0001.parquet");
        Unreadable("raw/csv/orders/orders_0001.parquet");
        var store = new LocalObjectStore(BucketUri.Parse(_lake.Bucket));

        var get = await Assert.ThrowsAsync<StorageException>(() => store.GetAsync(".dataspoc/manifest.json", CancellationToken.None));
        Assert.Equal($"permission denied reading '{manifest}'", get.Message);
        var open = await Assert.ThrowsAsync<StorageException>(() => store.OpenReadAsync("raw/csv/orders/orders_0001.parquet", CancellationToken.None));
        Assert.Equal($"permission denied reading '{data}'", open.Message);
        // A missing object (and a folder, which is none) is still not found.
        Assert.Null(await store.GetAsync(".dataspoc/other.json", CancellationToken.None));
        await Assert.ThrowsAsync<FileNotFoundException>(() => store.OpenReadAsync("raw/csv/orders/orders_0002.parquet", CancellationToken.None));
        await Assert.ThrowsAsync<FileNotFoundException>(() => store.OpenReadAsync("raw/csv/orders", CancellationToken.None));
    }
}

/// <summary>
/// A test of files or folders this process may not read: skipped, saying why, where the process reads them whatever
/// their mode (root keeps CAP_DAC_OVERRIDE: run it as a normal user, or as root under
/// <c>capsh --drop=cap_dac_override,cap_dac_read_search --</c>).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class PermissionsFactAttribute : FactAttribute
{
    public PermissionsFactAttribute()
    {
        if (ReadsAnyFile()) Skip = "this process reads files whatever their mode (root, or CAP_DAC_OVERRIDE), so a mode-000 file or folder cannot be refused to it; " +
            "run as a normal user, or under capsh --drop=cap_dac_override,cap_dac_read_search --";
    }

    private static bool ReadsAnyFile()
    {
        var probe = Path.GetTempFileName();
        try
        {
            File.SetUnixFileMode(probe, UnixFileMode.None);
            File.ReadAllBytes(probe);
            return true;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
        finally
        {
            File.Delete(probe);
        }
    }
}
