using System.Runtime.InteropServices;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Runs;

/// <summary>
/// <c>/tmp/dataspoc-pipe-&lt;uid&gt;</c>: the local folder for tap configs with credentials, state and spool files. The
/// name is predictable in a shared <c>/tmp</c>, so another user could plant it first (as a symlink to a folder they
/// read, or as a folder of their own). It is used only when it is a real folder owned by this user; its mode is
/// then forced to 0700. Anything else is refused with an error saying what to remove; nothing is written through it.
/// </summary>
internal static partial class PrivateTempRoot
{
    private const UnixFileMode UserOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>The folder for this user under the system temp folder (<c>$TMPDIR</c> or <c>/tmp</c>), created or checked.</summary>
    public static string ForCurrentUser() => ForCurrentUser(Path.GetTempPath());

    /// <summary>The folder for this user under <paramref name="tempFolder"/>, created or checked.</summary>
    internal static string ForCurrentUser(string tempFolder) => Ensure(Path.Combine(tempFolder, FolderName));

    /// <summary>
    /// <c>dataspoc-pipe-&lt;uid&gt;</c>, by the effective uid: every process has one, and it is what the owner check compares.
    /// A user name is not always there: a container's <c>--user 1001</c> or an OpenShift random uid has no passwd entry,
    /// and every such uid would share one folder, refused to all but the first. Windows has no uid (its temp folder is
    /// the user's own): there the user name.
    /// </summary>
    internal static string FolderName => OperatingSystem.IsWindows() ? $"dataspoc-pipe-{Environment.UserName}" : $"dataspoc-pipe-{geteuid()}";

    /// <summary>
    /// <see cref="RemoveKilledRunFolders"/> in this user's folder (<see cref="ForCurrentUser()"/>), and in the folder builds
    /// before <see cref="FolderName"/> named by the user name, if it is this user's own: a run killed before an upgrade
    /// left its tap config there, and no run would look there again.
    /// </summary>
    internal static List<string> RemoveKilledRunFoldersOfCurrentUser() => RemoveKilledRunFoldersOfCurrentUser(Path.GetTempPath());

    /// <summary><see cref="RemoveKilledRunFoldersOfCurrentUser()"/> under <paramref name="tempFolder"/>.</summary>
    internal static List<string> RemoveKilledRunFoldersOfCurrentUser(string tempFolder)
    {
        var root = ForCurrentUser(tempFolder);
        var removed = RemoveKilledRunFolders(root);
        if (OperatingSystem.IsWindows() || Environment.UserName is not { Length: > 0 } name) return removed;
        var earlier = Path.Combine(tempFolder, $"dataspoc-pipe-{name}");
        try
        {
            // A link or another user's folder is not ours to look into.
            if (earlier != root && LStat(earlier) is { IsDirectory: true } status && status.Uid == geteuid())
                removed.AddRange(RemoveKilledRunFolders(earlier));
        }
        catch (StorageException) { }
        return removed;
    }

    /// <summary>Creates <paramref name="root"/> (mode 0700) or checks the one that exists; returns it.</summary>
    /// <exception cref="StorageException">It is a symlink, not a folder, or owned by another user.</exception>
    public static string Ensure(string root)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(root);
            return root;
        }
        Exception? notCreated = null;
        if (LStat(root) is null)
        {
            // The temp folder itself ($TMPDIR) is the system's or the user's: a mistyped TMPDIR is an error, not a
            // folder to make somewhere on the machine.
            var parent = Path.GetDirectoryName(root);
            if (parent is not null && !Directory.Exists(parent))
                throw new StorageException($"the private temp folder '{root}' could not be created: the temp folder '{parent}' " +
                    (Path.Exists(parent) ? "is not a folder" : "does not exist") + " (set TMPDIR to an existing folder, or unset it for /tmp)");
            try { Directory.CreateDirectory(root, UserOnly); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                notCreated = e; // perhaps created by someone else in between: then checked below like any existing folder
            }
        }
        var status = LStat(root) ?? throw new StorageException($"the private temp folder '{root}' could not be created" +
            (notCreated is null ? "" : ": " + notCreated.Message) + " (set TMPDIR to a folder where this user can create one, or unset it for /tmp)", notCreated);
        if (status.IsSymlink)
            throw new StorageException($"the private temp folder '{root}' is a symbolic link (to '{new FileInfo(root).LinkTarget}'); " +
                "refusing to write credentials through it: remove it (someone may have planted it) or set TMPDIR");
        if (!status.IsDirectory)
            throw new StorageException($"the private temp folder '{root}' is not a folder; remove it or set TMPDIR");
        if (status.Uid != geteuid())
            throw new StorageException($"the private temp folder '{root}' belongs to uid {status.Uid}, not to this user (uid {geteuid()}); " +
                "refusing to use it: remove it (someone may have planted it) or set TMPDIR");
        if ((status.Mode & 0x3F) != 0) File.SetUnixFileMode(root, UserOnly); // group or other bits: ours, so tighten
        return root;
    }

    /// <summary>
    /// The file in a run's private folder (<c>private/&lt;pipeline&gt;-&lt;bucket hash&gt;/&lt;run id&gt;/</c>) or a process's
    /// scratch folder (<see cref="ScratchFolder"/>) naming the process that made it:
    /// <c>&lt;host&gt;\n&lt;pid&gt;\n&lt;pid space&gt;\n&lt;start time&gt;\n</c> (<see cref="Lake.HostProcess"/>; older builds wrote the first
    /// two or three lines). Written before anything secret, so any later run can tell a killed run's folder from a live one,
    /// whatever pipeline or bucket it belongs to.
    /// </summary>
    internal const string OwnerFile = "owner";

    /// <summary>How long a killed run's private folder is left to the next run of its own pipeline.</summary>
    internal static readonly TimeSpan KilledRunGrace = TimeSpan.FromMinutes(10);

    /// <summary>Records this process as the owner of <paramref name="runFolder"/> (see <see cref="OwnerFile"/>).</summary>
    internal static void MarkOwner(string runFolder)
    {
        // Renamed into place: a sweep reading it half-written would take a truncated pid for a process that is gone.
        var temp = Path.Combine(runFolder, OwnerFile + ".tmp-" + Guid.NewGuid().ToString("N")[..8]);
        File.WriteAllText(temp, $"{Environment.MachineName}\n{Environment.ProcessId}\n{Lake.HostProcess.Space}\n{Lake.HostProcess.StartTime(Environment.ProcessId)}\n");
        File.Move(temp, Path.Combine(runFolder, OwnerFile), overwrite: true);
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> ScratchFolders = new();

    /// <summary>
    /// This process's folder for scratch files (<see cref="Lake.LakePaths.ScratchFile"/>) under <paramref name="root"/>:
    /// <c>scratch/&lt;pid&gt;-&lt;id&gt;/</c> (mode 0700), marked with its <see cref="OwnerFile"/> before any file goes in, so
    /// that what a killed process left there (a discovery's tap config with its secrets, a Delta checkpoint's column
    /// stats) is removed at the next start by the rule of run folders (<see cref="RemoveKilledRunFolders"/>). Made when the
    /// first scratch file is, and removed with what it holds when the process ends (a handled SIGINT or SIGTERM too), so
    /// only a killed process's is left for that sweep.
    /// </summary>
    internal static string ScratchFolder(string root)
    {
        var folder = ScratchFolders.GetOrAdd(root, r =>
        {
            var own = Path.Combine(r, "scratch", $"{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}");
            AppDomain.CurrentDomain.ProcessExit += (_, _) => RemoveAtExit(own);
            return own;
        });
        // Made again if removed meanwhile (by hand): an unmarked folder is never taken for a killed process's.
        if (!File.Exists(Path.Combine(folder, OwnerFile)))
        {
            Config.PipeHome.CreateFolder(folder);
            MarkOwner(folder);
        }
        return folder;
    }

    private static void RemoveAtExit(string folder)
    {
        // Best effort: what stays (a file held open elsewhere on Windows) goes with the next start's sweep.
        try { Directory.Delete(folder, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>How old a scratch file an earlier build left directly in <c>scratch/</c> (with no owner) must be to be removed.</summary>
    internal static readonly TimeSpan UnownedScratchAge = TimeSpan.FromDays(1);

    /// <summary>
    /// Removes every run folder under <c>&lt;root&gt;/private/</c> whose owner process is gone: a run killed (SIGKILL, out of
    /// memory, a node restart) leaves its expanded tap config, with its secrets, and only the next run of the same
    /// pipeline in the same bucket removed it, never when that pipeline was then renamed or deleted. The rule is the
    /// lock's (<see cref="Lake.RunLock"/>): a process of this host that no longer runs. A folder without a readable owner
    /// (a run between making it and marking it, or an older build's) is kept: a live run's folder is never removed. A
    /// folder marked less than <see cref="KilledRunGrace"/> ago is left to its own pipeline's next run, whose log then
    /// names the killed run (a retry of a killed run starts at once); a tap the killed run left running is stopped at
    /// once all the same (<see cref="Sources.TapRecord"/>), and that run's log says so, not this one's: it may be another
    /// pipeline's. A process's scratch folder (<see cref="ScratchFolder"/>) under <c>&lt;root&gt;/scratch/</c> goes by the
    /// same rule, at once (no pipeline's next run names it); a scratch file an earlier build left directly in
    /// <c>scratch/</c>, with no owner to ask, once <see cref="UnownedScratchAge"/> old. Returns a notice per folder that held
    /// something when removed (naming its pipeline, and the tap if one was stopped).
    /// </summary>
    internal static List<string> RemoveKilledRunFolders(string root)
    {
        var markedBefore = DateTime.UtcNow - KilledRunGrace;
        var removed = new List<string>();
        var parent = Path.Combine(root, "private");
        string[] runFolders;
        try { runFolders = Directory.Exists(parent) ? Directory.GetDirectories(parent).SelectMany(Directory.GetDirectories).ToArray() : []; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return removed; }
        var scratch = Path.Combine(root, "scratch");
        string[] scratchFolders;
        try { scratchFolders = Directory.Exists(scratch) ? Directory.GetDirectories(scratch) : []; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { scratchFolders = []; }
        foreach (var folder in runFolders.Concat(scratchFolders))
        {
            var isScratch = Path.GetDirectoryName(folder) == scratch;
            string[] owner;
            bool recent;
            try
            {
                var file = Path.Combine(folder, OwnerFile);
                // Checked first: folders an older build left have none, and each would cost an exception (372,000 such
                // folders on one machine made every run seconds slower).
                if (!File.Exists(file)) continue;
                recent = !isScratch && File.GetLastWriteTimeUtc(file) > markedBefore;
                // A recent folder is read only for a leftover tap, which only a killed run's folder records.
                if (recent && !File.Exists(Path.Combine(folder, Sources.TapRecord.FileName))) continue;
                owner = File.ReadAllLines(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            if (owner is not { Length: 2 or 3 or 4 }
                || !int.TryParse(owner[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var pid)
                || !Lake.HostProcess.IsGone(owner[0], pid, owner is [_, _, { Length: > 0 } space, ..] ? space : null,
                    owner is [_, _, _, var start] && long.TryParse(start, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var started) ? started : null)) continue;
            var stopped = Sources.TapRecord.StopLeftover(folder);
            if (recent) continue;
            int left;
            try
            {
                left = Directory.GetFiles(folder).Length - 1; // but its owner file
                Directory.Delete(folder, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            // An empty scratch folder is a process's killed before its first scratch file, or an earlier build's: not worth a notice.
            if (!isScratch)
                removed.Add($"removed the private temp folder of a killed run ({Path.GetRelativePath(parent, folder).Replace('\\', '/')}, process {pid}): it held that run's tap config"
                    + (stopped is null ? "" : "; " + stopped));
            else if (left > 0)
                removed.Add($"removed the scratch folder of a killed process (scratch/{Path.GetFileName(folder)}, process {pid}): it held {left} scratch file(s) (a tap config for discovery, a Delta checkpoint, copies of table files)");
        }
        if (RemoveUnownedScratchFiles(scratch) is { } unowned) removed.Add(unowned);
        return removed;
    }

    private static string? RemoveUnownedScratchFiles(string scratch)
    {
        var before = DateTime.UtcNow - UnownedScratchAge;
        string[] files;
        try { files = Directory.Exists(scratch) ? Directory.GetFiles(scratch, "dataspoc-*") : []; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
        var count = 0;
        foreach (var file in files)
        {
            try
            {
                if (File.GetLastWriteTimeUtc(file) > before) continue;
                File.Delete(file);
                count++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return count == 0 ? null : $"removed {count} scratch file(s) an earlier version left in scratch/ (over {UnownedScratchAge.TotalHours:0} hours old)";
    }

    internal sealed record FileStatus(uint Mode, uint Uid)
    {
        public bool IsSymlink => (Mode & 0xF000) == 0xA000;
        public bool IsDirectory => (Mode & 0xF000) == 0x4000;
    }

    /// <summary>lstat(2): the entry itself, a symlink not followed. Null when it does not exist.</summary>
    internal static FileStatus? LStat(string path)
    {
        var buffer = new byte[256];
        if (lstat(path, buffer) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno is 2 or 20) return null; // ENOENT, ENOTDIR
            throw new StorageException($"cannot inspect '{path}' (errno {errno})");
        }
        // struct stat: st_mode and st_uid sit at different offsets per ABI (glibc and musl agree per architecture).
        var (modeAt, uidAt) = OperatingSystem.IsMacOS() ? (4, 16) : RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => (24, 28),
            Architecture.Arm64 or Architecture.RiscV64 or Architecture.LoongArch64 => (16, 24),
            var other => throw new PlatformNotSupportedException($"the private temp folder check does not know struct stat on {other}"),
        };
        var mode = OperatingSystem.IsMacOS() ? BitConverter.ToUInt16(buffer, modeAt) : BitConverter.ToUInt32(buffer, modeAt);
        return new FileStatus(mode, BitConverter.ToUInt32(buffer, uidAt));
    }

    [LibraryImport("libc", EntryPoint = "lstat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int lstat(string path, [Out] byte[] buffer);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint geteuid();
}
