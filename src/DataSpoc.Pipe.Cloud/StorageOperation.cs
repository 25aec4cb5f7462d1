using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Cloud;

/// <summary>The four things a pipeline does to a bucket; a denied one is named in the error with the permission it needs.</summary>
internal enum StorageOperation { Put, Get, List, Delete }

internal static class StorageOperations
{
    public static string Verb(this StorageOperation operation) => operation switch
    {
        StorageOperation.Put => "put",
        StorageOperation.Get => "get",
        StorageOperation.List => "list",
        _ => "delete",
    };

    /// <summary>The operation as a step of <see cref="BucketPermissions"/> (what validate's bucket probe calls it).</summary>
    public static string Step(this StorageOperation operation) => operation switch
    {
        StorageOperation.Put => "write",
        StorageOperation.Get => "read",
        StorageOperation.List => "list",
        _ => "delete",
    };
}
