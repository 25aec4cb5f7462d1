using System.Runtime.InteropServices;

namespace DataSpoc.Pipe.Storage;

/// <summary>
/// Moves a file to a name only if no file has that name, in one atomic step: of writers moving to the same name at once,
/// exactly one succeeds. .NET's <c>File.Move(overwrite: false)</c> cannot be used for this on Unix: it looks for the
/// name, then renames (checked on .NET 10 with strace: a plain rename, which replaces a file created in between).
/// </summary>
internal static partial class NoReplaceMove
{
    private const int AtWorkingDirectory = -100; // AT_FDCWD
    private const int RenameNoReplace = 1; // RENAME_NOREPLACE
    private const int Exists = 17; // EEXIST (Linux, macOS)
    private const int NotSupported = 22; // EINVAL: a file system without RENAME_NOREPLACE
    private const int NoSystemCall = 38; // ENOSYS (Linux)

    private static bool _renameNoReplaceMissing;

    /// <summary>
    /// Moves <paramref name="source"/> to <paramref name="dest"/>; false when <paramref name="dest"/> exists (then
    /// <paramref name="source"/> stays where it is).
    /// </summary>
    /// <exception cref="IOException">The move failed otherwise; its HResult is the errno on Unix.</exception>
    public static bool Move(string source, string dest)
    {
        if (OperatingSystem.IsWindows())
        {
            // MoveFileEx without MOVEFILE_REPLACE_EXISTING: atomic, and it fails when the name exists.
            try { File.Move(source, dest, overwrite: false); return true; }
            catch (IOException) when (File.Exists(dest)) { return false; }
        }
        // Linux: one rename that fails when the name exists (ext4, xfs, btrfs, tmpfs); elsewhere, and on a file system
        // without it, a hard link (which fails when the name exists) and then the source name's removal.
        if (OperatingSystem.IsLinux() && !_renameNoReplaceMissing)
        {
            try
            {
                if (renameat2(AtWorkingDirectory, source, AtWorkingDirectory, dest, RenameNoReplace) == 0) return true;
                var errno = Marshal.GetLastPInvokeError();
                if (errno == Exists) return false;
                if (errno is not (NotSupported or NoSystemCall)) throw Failed(errno, source, dest);
            }
            catch (EntryPointNotFoundException) { } // a C library without renameat2
            _renameNoReplaceMissing = true;
        }
        if (link(source, dest) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno == Exists) return false;
            throw Failed(errno, source, dest);
        }
        File.Delete(source);
        return true;
    }

    private static IOException Failed(int errno, string source, string dest) =>
        new($"moving '{source}' to '{dest}' failed: {Marshal.GetPInvokeErrorMessage(errno)}", errno);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int renameat2(int oldDirectory, string oldPath, int newDirectory, string newPath, uint flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int link(string oldPath, string newPath);
}
