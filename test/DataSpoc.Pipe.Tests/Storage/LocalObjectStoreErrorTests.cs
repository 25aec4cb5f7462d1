using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Storage;

/// <summary>
/// A delete the file system refuses (<c>chattr +i</c>: the tests run as root, whom permissions do not stop) is a
/// <see cref="StorageException"/> naming the operation and the file, as a refused write is, not the runtime's exception.
/// </summary>
public sealed class LocalObjectStoreErrorTests : IDisposable
{
    private readonly TempLake _lake = new();
    private readonly List<string> _immutable = [];

    public void Dispose()
    {
        foreach (var file in _immutable) HostCommand.Run("chattr", "-i", file);
        _lake.Dispose();
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
}
