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
}
