using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.IO.Hashing;

namespace DataSpoc.Pipe.Storage;

/// <summary>
/// A <c>file://</c> bucket. Objects are files below the bucket directory. Every write goes to
/// <c>&lt;name&gt;.tmp-&lt;id&gt;</c>, is flushed to disk, then renamed, so readers never see a partial file.
/// Conditional writes hold an OS file lock on a sidecar <c>&lt;name&gt;.lck</c> while they compare and swap (removed
/// only for keys no conditional write can change again: <see cref="RemoveConditionalWriteLocksAsync"/>), except a
/// claim's (<see cref="WriteCondition.IsClaim"/>): its temp file is linked to the name, which fails when the name exists;
/// the version tag is the 128-bit XxHash of the content (a content tag, not a security check: it keeps OpenSSL
/// out of a run).
/// </summary>
public sealed class LocalObjectStore : IObjectStore
{
    private readonly string _root;

    public LocalObjectStore(BucketUri bucket)
    {
        Bucket = bucket;
        _root = bucket.LocalPath;
    }

    public BucketUri Bucket { get; }

    public string? LocalRoot => _root;

    /// <summary>
    /// The local path of a key. The key is validated not to leave the bucket, by its text and on disk: a folder or
    /// file on the way that is a symbolic link to somewhere outside the bucket is refused (never written, read or
    /// deleted through).
    /// </summary>
    /// <exception cref="StorageException">A symbolic link on the key's path leads out of the bucket.</exception>
    public string PathOf(string key)
    {
        if (!BucketUri.HasPlainSegments(key))
            throw new ArgumentException($"invalid object key '{key}'", nameof(key));
        RefuseLinksOutOfBucket(key);
        return Path.Combine(_root, key);
    }

    /// <summary>
    /// Walks the key's path below the bucket folder: each existing part that is a symbolic link must resolve inside the
    /// bucket (the bucket folder itself may be a link: the user chose it). Links inside the bucket are allowed.
    /// </summary>
    private void RefuseLinksOutOfBucket(string key)
    {
        var current = _root;
        foreach (var segment in key.Split('/'))
        {
            current = Path.Combine(current, segment);
            if (!RefuseLinkOutOfBucket(key, current) && !Path.Exists(current)) return; // nothing below a missing part exists yet
        }
    }

    /// <summary>
    /// Throws when <paramref name="path"/>, a part of <paramref name="key"/>'s path, is a symbolic link resolving outside
    /// the bucket; true when it is a link inside it, false when it is no link.
    /// </summary>
    private bool RefuseLinkOutOfBucket(string key, string path)
    {
        var info = new FileInfo(path);
        if (info.LinkTarget is not { } linkTarget) return false;
        var resolved = info.ResolveLinkTarget(returnFinalTarget: true)?.FullName;
        if (resolved is null || !IsInsideBucket(resolved))
            throw new StorageException($"'{key}' in {Bucket}: '{path}' is a symbolic link to '{linkTarget}', outside the bucket; " +
                "refusing to follow it (remove the link, or point the bucket at the real folder)");
        return true;
    }

    private string? _resolvedRoot;

    private bool IsInsideBucket(string path)
    {
        _resolvedRoot ??= new DirectoryInfo(_root).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? _root;
        return Within(path, _root) || Within(path, _resolvedRoot);

        static bool Within(string path, string root) =>
            path == root || path.StartsWith(root.EndsWith('/') ? root : root + "/", StringComparison.Ordinal);
    }

    public Task PutFileAsync(string key, string localPath, CancellationToken cancellationToken)
    {
        var dest = PathOf(key);
        // The file's name (and the folders made for it) on disk too, before the commit goes on to the state that counts it:
        // after a power loss the state must not name rows whose file is gone.
        foreach (var folder in Land(dest, localPath)) FlushFolderOf(dest, folder);
        return Task.CompletedTask;
    }

    public FileLanding StartLanding() => new Landing(this);

    /// <summary>
    /// Lands files as <see cref="PutFileAsync"/> does, each flushed before its rename, but flushes each folder they land in
    /// (and each folder made for them) once, when the landing completes, several at a time: a tap syncing 10,000 one-file
    /// tables flushed its source's folder 10,000 times, one file after another.
    /// </summary>
    private sealed class Landing(LocalObjectStore store) : FileLanding(store)
    {
        /// <summary>How many folders are flushed at the same time: the disk takes them in parallel.</summary>
        private const int FoldersFlushedAtOnce = 8;

        /// <summary>Each folder to flush, with a file that landed in it (named when the flush fails).</summary>
        private readonly ConcurrentDictionary<string, string> _folders = new(StringComparer.Ordinal);

        public override Task PutFileAsync(string key, string localPath, CancellationToken cancellationToken)
        {
            var dest = store.PathOf(key);
            foreach (var folder in Land(dest, localPath)) _folders.TryAdd(folder, dest);
            return Task.CompletedTask;
        }

        public override Task CompleteAsync(CancellationToken cancellationToken) =>
            Parallel.ForEachAsync(_folders, new ParallelOptions { MaxDegreeOfParallelism = FoldersFlushedAtOnce, CancellationToken = cancellationToken },
                (folder, _) =>
                {
                    store.FlushFolderOf(folder.Value, folder.Key);
                    return ValueTask.CompletedTask;
                });
    }

    /// <summary>
    /// Moves <paramref name="localPath"/> to <paramref name="dest"/>: flushed to disk under a temp name, then renamed only if
    /// absent. Returns the folders to flush for the name to survive a power loss (<see cref="CreateFolder"/>).
    /// </summary>
    private static List<string> Land(string dest, string localPath)
    {
        var tmp = Lake.LakePaths.TempNameOf(dest);
        List<string> created = [];
        Guarded(dest, () =>
        {
            created = CreateFolder(Path.GetDirectoryName(dest)!);
            try
            {
                // Same file system (the run spools inside the bucket): a rename, no copy.
                File.Move(localPath, tmp);
            }
            catch (IOException)
            {
                File.Copy(localPath, tmp);
            }
            Durable(tmp);
            // Created only if absent (atomic): a data file never replaces another writer's.
            if (!NoReplaceMove.Move(tmp, dest))
                throw new IOException($"'{dest}' already exists (another writer created it); data files are created only if absent, so nothing was overwritten");
        }, tmp);
        return created;
    }

    /// <summary>Flushes <paramref name="folder"/>'s entries, which <paramref name="dest"/> landed in: its write fails if that fails.</summary>
    private void FlushFolderOf(string dest, string folder)
    {
        try
        {
            FlushFolder(folder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StorageException(Describe(e, dest), e);
        }
    }

    /// <summary>Flushes a folder's entries to disk (<see cref="DiskSync.Folder"/>); tests count the calls.</summary>
    internal Action<string> FlushFolder { get; init; } = DiskSync.Folder;

    public Task<bool> PutAsync(string key, ReadOnlyMemory<byte> content, WriteCondition condition, CancellationToken cancellationToken)
    {
        var dest = PathOf(key);
        try
        {
            // A look before the mkdir: the folder mostly exists, and a mkdir waits on the file system's journal.
            if (Path.GetDirectoryName(dest) is { } folder && !Directory.Exists(folder)) Directory.CreateDirectory(folder);
            if (condition.Kind == WriteConditionKind.None)
                return Task.FromResult(WriteAtomically(dest, content.Span, replace: true, durable: true));
            if (condition is { Kind: WriteConditionKind.IfAbsent, IsClaim: true })
                return Task.FromResult(WriteAtomically(dest, content.Span, replace: false, durable: false));
            using var held = LockSidecar(dest, cancellationToken);
            var current = File.Exists(dest) ? VersionOf(File.ReadAllBytes(dest)) : null;
            var allowed = condition.Kind switch
            {
                WriteConditionKind.IfAbsent => current is null,
                _ => current == condition.Version,
            };
            if (allowed) WriteAtomically(dest, content.Span, replace: true, durable: true);
            return Task.FromResult(allowed);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The folder or the lock sidecar could not be made (bucket path blocked by a file, no permission, disk full).
            throw new StorageException(Describe(e, dest), e);
        }
    }

    /// <summary>
    /// Lands the file as <see cref="PutFileAsync"/> does (a rename on the same file system, else a copy, flushed), under the
    /// key's sidecar lock as a conditional <see cref="PutAsync"/> takes it, so the two never both create the key.
    /// </summary>
    public Task<bool> PutFileIfAbsentAsync(string key, string localPath, CancellationToken cancellationToken)
    {
        var dest = PathOf(key);
        List<string> folders;
        try
        {
            if (Path.GetDirectoryName(dest) is { } folder && !Directory.Exists(folder)) Directory.CreateDirectory(folder);
            using var held = LockSidecar(dest, cancellationToken);
            if (File.Exists(dest)) return Task.FromResult(false);
            folders = Land(dest, localPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StorageException(Describe(e, dest), e);
        }
        foreach (var folder in folders) FlushFolderOf(dest, folder);
        return Task.FromResult(true);
    }

    public Task<StoredObject?> GetAsync(string key, CancellationToken cancellationToken)
    {
        var path = PathOf(key);
        try
        {
            var bytes = File.ReadAllBytes(path);
            return Task.FromResult<StoredObject?>(new StoredObject(bytes, VersionOf(bytes)));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return Task.FromResult<StoredObject?>(null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StorageException(Describe(e, path, "read"), e);
        }
    }

    public Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken) =>
        Task.FromResult<Stream>(Open(key, 1 << 16, FileOptions.SequentialScan));

    public Task<Stream> OpenReadRangeAsync(string key, long offset, long length, CancellationToken cancellationToken)
    {
        ObjectRange.Check(offset, length);
        // Buffered no further than the range: a small range reads its own bytes from the disk, not 64 KiB past them.
        var file = Open(key, (int)Math.Clamp(length, 1, 1 << 16), FileOptions.None);
        return Task.FromResult(ObjectRange.Of(file, offset, length));
    }

    private FileStream Open(string key, int bufferSize, FileOptions options)
    {
        var path = PathOf(key);
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize, options);
        }
        // A folder is no object (opening it is refused like a file without permission).
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException || (e is UnauthorizedAccessException && Directory.Exists(path)))
        {
            throw new FileNotFoundException($"object '{key}' not found in {Bucket}", path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StorageException(Describe(e, path, "read"), e);
        }
    }

    public async IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var slash = prefix.LastIndexOf('/');
        var dir = slash < 0 ? _root : Path.Combine(_root, prefix[..slash]);
        if (slash > 0) RefuseLinksOutOfBucket(prefix[..slash]);
        if (!Directory.Exists(dir)) yield break;
        // The file system enumerates in no particular order; object stores list in key order, and callers may rely on it.
        var keys = new List<string>();
        foreach (var path in FilesBelow(dir, "*", cancellationToken))
        {
            var key = Path.GetRelativePath(_root, path).Replace('\\', '/');
            if (!key.StartsWith(prefix, StringComparison.Ordinal) || key.EndsWith(".lck", StringComparison.Ordinal)) continue;
            keys.Add(key);
        }
        keys.Sort(StringComparer.Ordinal);
        // A linked folder further down, if the enumeration went into it, or a linked file: each folder is checked once
        // per listing, then each file itself (walking every part of every key made a listing of a table's metadata
        // folder cost two system calls per path part per file). Checked as each key is returned, so a caller that stops
        // early (the latest of 60,000 run logs) pays for the keys it read, not for the folder.
        var checkedFolders = new HashSet<string>(StringComparer.Ordinal);
        foreach (var key in keys)
        {
            var path = Path.Combine(_root, key);
            var folder = key.LastIndexOf('/') is var last and > 0 ? key[..last] : "";
            if (folder.Length > 0 && checkedFolders.Add(folder)) RefuseLinksOutOfBucket(folder);
            RefuseLinkOutOfBucket(key, path);
            FileInfo info = new(path);
            if (!info.Exists) continue;
            yield return new ObjectInfo(key, info.Length, info.LastWriteTimeUtc);
        }
        await Task.CompletedTask;
    }

    public Task DeleteAsync(string key, CancellationToken cancellationToken)
    {
        var path = PathOf(key);
        try { File.Delete(path); }
        catch (DirectoryNotFoundException) { }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StorageException(Describe(e, path, "delete"), e);
        }
        return Task.CompletedTask;
    }

    /// <remarks>
    /// Each sidecar is taken with the same exclusive lock a conditional write takes, without waiting, and unlinked while
    /// held: no writer is comparing and swapping on it then, and one that opened it before waits for this handle, then
    /// finds the key in its settled state (a new writer makes a new sidecar and finds the same). A held one is skipped.
    /// </remarks>
    public Task<int> RemoveConditionalWriteLocksAsync(string prefix, Func<string, bool> settled, CancellationToken cancellationToken)
    {
        var slash = prefix.LastIndexOf('/');
        var dir = slash < 0 ? _root : Path.Combine(_root, prefix[..slash]);
        if (slash > 0) RefuseLinksOutOfBucket(prefix[..slash]);
        if (!Directory.Exists(dir)) return Task.FromResult(0);
        var removed = 0;
        foreach (var path in FilesBelow(dir, "*.lck", cancellationToken))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var key = Path.GetRelativePath(_root, path).Replace('\\', '/')[..^".lck".Length];
            if (!key.StartsWith(prefix, StringComparison.Ordinal) || !settled(key)) continue;
            try
            {
                using (new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
                removed++;
            }
            catch (IOException e) when (HeldByAnother(e) || e is FileNotFoundException) { }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new StorageException(Describe(e, path, "delete"), e);
            }
        }
        return Task.FromResult(removed);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>
    /// The files at any depth below <paramref name="dir"/> whose names match <paramref name="pattern"/>. A folder this
    /// process may not read (or another OS error) is a <see cref="StorageException"/> naming it, not the runtime's exception.
    /// </summary>
    private static List<string> FilesBelow(string dir, string pattern, CancellationToken cancellationToken)
    {
        var files = new List<string>();
        try
        {
            foreach (var path in Directory.EnumerateFiles(dir, pattern, new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = false, AttributesToSkip = 0 }))
            {
                cancellationToken.ThrowIfCancellationRequested();
                files.Add(path);
            }
        }
        catch (Exception e) when (e is UnauthorizedAccessException or (IOException and not DirectoryNotFoundException))
        {
            throw new StorageException(Describe(e, e is UnauthorizedAccessException ? UnreadableFolder(dir) : dir, "list"), e);
        }
        return files;
    }

    /// <summary>
    /// The first folder at or below <paramref name="dir"/> whose entries this process may not read, else <paramref name="dir"/>:
    /// the runtime's exception for a listing names it only in its message.
    /// </summary>
    private static string UnreadableFolder(string dir)
    {
        var below = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = 0 };
        foreach (var folder in Directory.EnumerateDirectories(dir, "*", below).Prepend(dir))
        {
            try
            {
                using var entries = Directory.EnumerateFileSystemEntries(folder).GetEnumerator();
                entries.MoveNext();
            }
            catch (UnauthorizedAccessException)
            {
                return folder;
            }
            catch (IOException) { }
        }
        return dir;
    }

    internal static string VersionOf(ReadOnlySpan<byte> content) => Convert.ToHexStringLower(XxHash128.Hash(content));

    /// <summary>
    /// Writes <paramref name="content"/> whole to a temp file, then moves it to <paramref name="dest"/>: renamed over it when
    /// <paramref name="replace"/>, else linked to the name only if absent (false when <paramref name="dest"/> exists, the
    /// temp file removed). Flushed to disk first when <paramref name="durable"/>.
    /// </summary>
    private static bool WriteAtomically(string dest, ReadOnlySpan<byte> content, bool replace, bool durable)
    {
        var tmp = Lake.LakePaths.TempNameOf(dest);
        var bytes = content.ToArray();
        var written = true;
        Guarded(dest, () =>
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                fs.Write(bytes);
                if (durable) DiskSync.Contents(fs, tmp);
            }
            if (replace)
            {
                File.Move(tmp, dest, overwrite: true);
                return;
            }
            if (!NoReplaceMove.Move(tmp, dest))
            {
                File.Delete(tmp);
                written = false;
            }
        }, tmp);
        return written;
    }

    private static void Durable(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        DiskSync.File(fs, path);
    }

    /// <summary>
    /// Creates <paramref name="folder"/> and any missing folder above it (like <c>mkdir -p</c>); returns the folders whose
    /// entries a file landing in it must sync: the folder itself, and the parent of each folder made here.
    /// </summary>
    private static List<string> CreateFolder(string folder)
    {
        var toSync = new List<string> { folder };
        for (var missing = folder; !Directory.Exists(missing) && Path.GetDirectoryName(missing) is { } parent; missing = parent)
            toSync.Add(parent);
        Directory.CreateDirectory(folder);
        return toSync;
    }

    /// <summary>Runs a write; on failure removes the temp file and turns OS errors into messages a user can act on.</summary>
    private static void Guarded(string dest, Action write, string tmp)
    {
        try
        {
            write();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw new StorageException(Describe(e, dest), e);
        }
    }

    /// <summary>An OS error of <paramref name="operation"/> (a verb: <c>write</c>, <c>delete</c>) on <paramref name="path"/>, in words a user can act on.</summary>
    internal static string Describe(Exception e, string path, string operation = "write")
    {
        var doing = (operation.EndsWith('e') ? operation[..^1] : operation) + "ing";
        return e switch
        {
            UnauthorizedAccessException => $"permission denied {doing} '{path}'",
            IOException io when (io.HResult & 0xFFFF) == 28 || io.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase)
                => $"disk full {doing} '{path}' (no space left on device)",
            _ => $"cannot {operation} '{path}': {e.Message}",
        };
    }

    /// <summary>
    /// How long a conditional write waits for another process to release the key's sidecar lock. A writer holds it only
    /// while it compares and swaps (milliseconds); a wait this long means a writer stopped or hung mid-write.
    /// </summary>
    internal TimeSpan SidecarWaitLimit { get; init; } = TimeSpan.FromMinutes(2);

    private FileStream LockSidecar(string dest, CancellationToken cancellationToken)
    {
        var lockPath = dest + ".lck";
        var delay = 5;
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try
            {
                // FileShare.None takes an exclusive advisory lock (flock) on Unix; released when disposed or the process dies.
                return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            // Only a lock another writer holds is worth waiting for: any other failure (a read-only or full file system,
            // a quota, too many open files, an I/O error) would fail the same way on every attempt, so it fails now.
            catch (IOException e) when (HeldByAnother(e))
            {
                // A commit once begun waits with no token: the limit, not a stop request, ends that wait.
                cancellationToken.ThrowIfCancellationRequested();
                if (waited.Elapsed > SidecarWaitLimit)
                    throw new IOException($"'{lockPath}' is still locked by another process after {SidecarWaitLimit.TotalSeconds:0} s " +
                        "(a writer holds it only while it updates the file, normally for milliseconds): a process writing it is stopped or hung", e);
                Thread.Sleep(Random.Shared.Next(delay, delay * 2));
                delay = Math.Min(delay * 2, 200);
            }
        }
    }

    /// <summary>The open failed because another open file holds the lock (flock's EWOULDBLOCK; a sharing violation on Windows).</summary>
    private static bool HeldByAnother(IOException e) =>
        (e.HResult & 0xFFFF) == (OperatingSystem.IsWindows() ? 32 : OperatingSystem.IsLinux() ? 11 : 35);
}
