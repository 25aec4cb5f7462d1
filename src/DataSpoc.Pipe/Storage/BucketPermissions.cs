namespace DataSpoc.Pipe.Storage;

/// <summary>
/// The permission each thing a pipeline does to a bucket needs, in the provider's own vocabulary: the bucket probe of
/// <c>validate</c> and the cloud stores' access-denied errors name the same one.
/// </summary>
internal static class BucketPermissions
{
    /// <summary>The permission <paramref name="step"/> (<c>write</c>, <c>read</c>, <c>list</c> or <c>delete</c>) needs on a <paramref name="scheme"/> bucket.</summary>
    public static string Of(string scheme, string step) => (scheme, step) switch
    {
        ("s3", "write") => "s3:PutObject",
        ("s3", "read") => "s3:GetObject",
        ("s3", "list") => "s3:ListBucket",
        ("s3", "delete") => "s3:DeleteObject",
        ("gs", "write") => "storage.objects.create",
        ("gs", "read") => "storage.objects.get",
        ("gs", "list") => "storage.objects.list",
        ("gs", "delete") => "storage.objects.delete",
        ("az", "write") => "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
        ("az", "read") => "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
        ("az", "list") => "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read (list)",
        ("az", "delete") => "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete",
        (_, "write") => "write permission on the directory",
        (_, "read") => "read permission",
        (_, "list") => "read/execute permission on the directory",
        _ => "write permission on the directory (delete)",
    };
}
