using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Cloud;

/// <summary>
/// The wording of a cloud store's errors, one for S3, GCS and Azure: the operation and the object it failed on; for a
/// denial, the permission it needs; for a missing bucket, how to fix it. Each store only maps its SDK's exceptions here.
/// </summary>
/// <param name="service">The store's name in messages (<c>S3</c>, <c>GCS</c>, <c>Azure Blob</c>).</param>
/// <param name="bucketKind">What the store calls a bucket (<c>bucket</c>, <c>container</c>).</param>
/// <param name="principal">Who needs the permission (<c>credentials</c>, <c>service account</c>, <c>identity</c>).</param>
internal sealed class StorageFailures(string service, BucketUri bucket, ObjectKeys keys, string bucketKind, string principal)
{
    /// <summary>
    /// How many times a small object read whole (a lock, the manifest, a state) is asked for when its answer breaks off
    /// after the headers. The SDKs retry a request until its headers arrive, not a body cut after them: a dropped
    /// connection, or a server whose PUT is not atomic ending a read of an object being replaced (s3rver did, on a lock
    /// read racing the lock's renewal, and failed a run's commit).
    /// </summary>
    public const int WholeReadAttempts = 3;

    /// <summary>The body of an answer broke off (the connection was reset or closed, the answer ended early).</summary>
    public static bool IsBrokenBody(Exception e) => e is IOException or System.Net.Http.HttpRequestException;

    public StorageException Denied(Exception e, StorageOperation operation, string? key, string detail) => new(
        $"access denied: cannot {operation.Verb()} {Target(operation, key)}; the {principal} {(principal.EndsWith('s') ? "need" : "needs")} {BucketPermissions.Of(bucket.Scheme, operation.Step())} on {bucketKind} '{bucket.Bucket}' ({detail})", e);

    /// <summary>
    /// The service refused the credentials themselves (a wrong secret or key, an unknown key id): no permission grant
    /// helps, so the message names where the credential came from (<paramref name="source"/>: a setting or environment
    /// variable, never its value) instead of a permission. <paramref name="reason"/> ends with the service's error code.
    /// </summary>
    public StorageException Refused(Exception e, StorageOperation operation, string? key, string reason, string source) => new(
        $"the {service} credentials were refused (wrong key or secret): cannot {operation.Verb()} {Target(operation, key)}: {reason}; check {source}", e)
    {
        CredentialsRefused = true,
    };

    public StorageException MissingBucket(Exception e, StorageOperation operation, string? key) => new(
        $"{bucketKind} '{bucket.Bucket}' does not exist ({bucket.Scheme}, {operation.Verb()} {Target(operation, key)}); create it or fix destination.bucket", e);

    public StorageException Failed(Exception e, StorageOperation operation, string? key, string detail) => new(
        $"{service} {operation.Verb()} of {Target(operation, key)} failed: {detail}", e);

    /// <summary>
    /// The endpoint was not reached (<see cref="IsTransport"/>): the cause once, and how many attempts the SDK made when
    /// it says (Azure gathers every attempt's exception; S3 and GCS throw the last one).
    /// </summary>
    public StorageException Unreachable(Exception e, StorageOperation operation, string? key, string cause, int? attempts = null) => new(
        $"{service} {operation.Verb()} of {Target(operation, key)} failed: could not reach the endpoint{(attempts > 1 ? $" ({attempts} attempts)" : "")}: {cause}", e)
    {
        Unreachable = true,
    };

    /// <summary>A failure to reach the endpoint or to get its answer, as opposed to an answer that says no.</summary>
    public static bool IsTransport(Exception e) => e is System.Net.Http.HttpRequestException or System.Net.Sockets.SocketException;

    /// <summary>What a transport failure says: the HTTP client's message, with its cause when the message is the generic one.</summary>
    public static string TransportCause(Exception e) =>
        e.InnerException is { } inner && !e.Message.Contains(inner.Message, StringComparison.Ordinal) ? $"{e.Message} ({inner.Message})" : e.Message;

    /// <summary>An exception no SDK rule matched: a <see cref="StorageException"/> as it is, a transport failure as <see cref="Unreachable"/>, anything else with its message.</summary>
    public StorageException Other(Exception e, StorageOperation operation, string? key) =>
        e as StorageException ?? (IsTransport(e) ? Unreachable(e, operation, key, TransportCause(e)) : Failed(e, operation, key, e.Message));

    /// <summary>The object for a message; a list names the bucket and the prefix (<paramref name="key"/> is the prefix).</summary>
    private string Target(StorageOperation operation, string? key) =>
        operation == StorageOperation.List ? $"{bucket.Canonical} (prefix '{key}')" : keys.Describe(key);
}
