namespace DataSpoc.Pipe.Storage;

/// <summary>
/// A bucket: the one seam between the engine and where the lake lives (local disk, S3, GCS, Azure Blob).
/// Keys are relative to the bucket URI (its prefix already applied), use '/' and never start with '/'.
/// Kept narrow on purpose: whole-object put/get, ranged reads (a Parquet footer without its file), list, delete, and a
/// conditional put for the manifest, locks and log entries.
/// </summary>
public interface IObjectStore : IAsyncDisposable
{
    /// <summary>The bucket URI this store writes to, as the user wrote it (for messages and the manifest).</summary>
    BucketUri Bucket { get; }

    /// <summary>
    /// Uploads a local file as <paramref name="key"/>. The object becomes visible only complete
    /// (single PUT, completed multipart upload, or temp file + fsync + rename); a failure leaves nothing visible.
    /// Large files stream in parts without being held in memory. The object is created only if absent where the store can
    /// refuse (throws <see cref="StorageException"/> then, writing nothing); the engine also names data files uniquely
    /// per run, for stores that cannot make every upload conditional (Ceph RGW ignores conditions on multipart).
    /// </summary>
    Task PutFileAsync(string key, string localPath, CancellationToken cancellationToken);

    /// <summary>
    /// Starts landing several files together (a commit's data files): see <see cref="FileLanding"/>. A store that can share
    /// work between them (a <c>file://</c> store flushes each folder once) returns its own.
    /// </summary>
    FileLanding StartLanding() => new(this);

    /// <summary>
    /// Writes a small object when <paramref name="condition"/> holds; returns false (writes nothing) when it does not.
    /// <see cref="WriteCondition.None"/> always writes.
    /// </summary>
    Task<bool> PutAsync(string key, ReadOnlyMemory<byte> content, WriteCondition condition, CancellationToken cancellationToken);

    /// <summary>
    /// Uploads a local file as <paramref name="key"/> only if no object has the key, as <see cref="PutAsync"/> with
    /// <see cref="WriteCondition.IfAbsent"/> writes content: false (nothing written) when one does. For a commit point too
    /// large to hold in memory (a Delta log entry lists every file a run wrote). This default reads the file into memory;
    /// every built-in store (file://, S3, Azure, GCS) overrides it to stream the file.
    /// </summary>
    async Task<bool> PutFileIfAbsentAsync(string key, string localPath, CancellationToken cancellationToken) =>
        await PutAsync(key, await File.ReadAllBytesAsync(localPath, cancellationToken).ConfigureAwait(false), WriteCondition.IfAbsent, cancellationToken).ConfigureAwait(false);

    /// <summary>Reads a whole (small) object with its version tag, or null when it does not exist.</summary>
    Task<StoredObject?> GetAsync(string key, CancellationToken cancellationToken);

    /// <summary>Opens an object for streaming reads; throws <see cref="FileNotFoundException"/> when absent.</summary>
    Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken);

    /// <summary>
    /// Opens bytes [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="length"/>) of an object for
    /// streaming reads (<see cref="ObjectRange"/>: fewer when the object ends first, none when it ends at or before the
    /// offset); throws <see cref="FileNotFoundException"/> when absent. A store fetches only that range (an HTTP
    /// <c>Range</c> request, a seek), so a Parquet footer is read without downloading its file. This default reads the
    /// object from its start and skips to the offset; every built-in store (file://, S3, Azure, GCS) overrides it.
    /// </summary>
    async Task<Stream> OpenReadRangeAsync(string key, long offset, long length, CancellationToken cancellationToken)
    {
        ObjectRange.Check(offset, length);
        return ObjectRange.Of(await OpenReadAsync(key, cancellationToken).ConfigureAwait(false), offset, length);
    }

    /// <summary>
    /// Lists objects whose key starts with <paramref name="prefix"/>, recursively, in ascending ordinal key order (as S3,
    /// GCS and Azure list): a caller may stop at the first key past what it looks for (run logs' keys start with their time).
    /// </summary>
    IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken);

    /// <summary>Deletes an object; deleting a missing object is not an error.</summary>
    Task DeleteAsync(string key, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes a file an interrupted commit may have been uploading: the object if it landed, and the parts of any upload
    /// of it that never completed, which a store that keeps them (S3 multipart uploads) would otherwise keep storing, and
    /// billing, after a killed run. The rollback of a commit calls it; everything else deletes with <see cref="DeleteAsync"/>.
    /// </summary>
    Task DeleteWithUnfinishedUploadsAsync(string key, CancellationToken cancellationToken) => DeleteAsync(key, cancellationToken);

    /// <summary>
    /// Removes what the store keeps beside keys under <paramref name="prefix"/> only to serialise conditional writes to
    /// them (a <c>file://</c> store's empty <c>&lt;key&gt;.lck</c> sidecars, kept even after the key is deleted) for the
    /// keys <paramref name="settled"/> accepts: keys no conditional write can ever change again, because the key exists
    /// and is only ever created if absent and never deleted while a writer may still target it (an Iceberg metadata
    /// version, a Delta log entry), or because whatever still writes it fails on the key's state anyway (a claim on a
    /// data file that is gone). A sidecar a writer holds at that moment stays. Returns how many were removed; stores
    /// that keep nothing beside an object (S3, GCS, Azure) remove nothing.
    /// </summary>
    Task<int> RemoveConditionalWriteLocksAsync(string prefix, Func<string, bool> settled, CancellationToken cancellationToken) => Task.FromResult(0);

    /// <summary>
    /// The local folder the objects are plain files in (a <c>file://</c> bucket), else null. A run spools its Parquet
    /// files inside that folder when there is one, so landing a file is a rename on the same file system.
    /// </summary>
    string? LocalRoot => null;
}

/// <summary>
/// Files landed together: each <see cref="PutFileAsync"/> lands one as <see cref="IObjectStore.PutFileAsync"/> does (it
/// may run for several files at the same time), and every one is durable only once <see cref="CompleteAsync"/> returned:
/// nothing may count them before (a commit's journal says "landed" after it).
/// </summary>
public class FileLanding(IObjectStore store)
{
    public virtual Task PutFileAsync(string key, string localPath, CancellationToken cancellationToken) =>
        store.PutFileAsync(key, localPath, cancellationToken);

    public virtual Task CompleteAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>An object's content and the opaque version tag (ETag, generation, content hash) that conditional writes compare.</summary>
public sealed record StoredObject(ReadOnlyMemory<byte> Content, string Version);

/// <summary>One listed object.</summary>
public sealed record ObjectInfo(string Key, long Size, DateTimeOffset LastModified);

/// <summary>When a conditional put may write.</summary>
public readonly record struct WriteCondition(WriteConditionKind Kind, string? Version)
{
    public static WriteCondition None => new(WriteConditionKind.None, null);
    /// <summary>Only if no object has the key (S3 If-None-Match: *, GCS ifGenerationMatch=0, Azure If-None-Match: *).</summary>
    public static WriteCondition IfAbsent => new(WriteConditionKind.IfAbsent, null);
    /// <summary>Only if the object still has this version (S3/Azure If-Match, GCS ifGenerationMatch).</summary>
    public static WriteCondition IfVersion(string version) => new(WriteConditionKind.IfVersion, version);

    /// <summary>
    /// The caller's content is unique to this write (it carries the writer's run id and a fresh timestamp), so a refused
    /// <see cref="WriteConditionKind.IfVersion"/> write whose key now holds exactly these bytes was this write, applied by
    /// the server and refused only on the SDK's retry after its response was lost. Without it a refusal stands: two
    /// read-modify-write loops can compute the same bytes from one version, and the second must not count as written.
    /// (An <see cref="IfAbsent"/> write holding its own bytes always counts: the key is created with exactly them.)
    /// </summary>
    public bool ContentIsUnique { get; init; }

    /// <summary>
    /// The object is a claim: created only if absent (<see cref="IfAbsent"/>), read, and deleted by its holder; it matters
    /// only while its writer runs. A <c>file://</c> store then neither flushes it to disk nor takes its sidecar lock (the
    /// create-if-absent is an atomic no-replace move). After a machine crash (when no writer runs any more) it may be
    /// gone, empty or cut short: its readers take content they cannot parse as left by a crash, and replace it only
    /// conditionally on its version (the name stays taken meanwhile, so no create-if-absent slips in between).
    /// Cloud stores write it as any other object.
    /// </summary>
    public bool IsClaim { get; init; }
}

public enum WriteConditionKind { None, IfAbsent, IfVersion }

/// <summary>What every store answers through the narrow interface above.</summary>
public static class ObjectStoreQueries
{
    /// <summary>Whether an object has exactly <paramref name="key"/> (a listing: nothing is downloaded).</summary>
    public static async Task<bool> ExistsAsync(this IObjectStore store, string key, CancellationToken cancellationToken)
    {
        await foreach (var obj in store.ListAsync(key, cancellationToken).ConfigureAwait(false))
            if (obj.Key == key) return true;
        return false;
    }
}

/// <summary>A storage operation failed in a way the user must fix (missing bucket, denied permission, full disk).</summary>
public sealed class StorageException(string message, Exception? inner = null) : PipeException(message, inner)
{
    /// <summary>
    /// The store refused the credentials themselves (a wrong secret, an unknown key id), as opposed to denying a
    /// permission: <c>validate</c> then does not point at a permission to grant.
    /// </summary>
    public bool CredentialsRefused { get; init; }

    /// <summary>
    /// The endpoint was not reached or gave no answer (refused or reset connections, a name that does not resolve, a
    /// timeout): <c>validate</c> then does not point at a permission either.
    /// </summary>
    public bool Unreachable { get; init; }
}
