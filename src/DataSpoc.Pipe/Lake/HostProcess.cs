using System.Diagnostics;
using System.Globalization;

namespace DataSpoc.Pipe.Lake;

/// <summary>
/// A process of this machine as a lock (<see cref="RunLock"/>) or a run's private folder names it: host name, pid, and
/// the PID namespace the pid belongs to (<see cref="Space"/>). A host name alone does not make a pid one this process can
/// look at: a container started with the host's name (<c>docker run --network host</c>, pods with <c>hostNetwork</c>)
/// has a PID namespace of its own, where the same pid is another process or none, so a live run there would be judged
/// gone and its lock taken over.
/// </summary>
internal static class HostProcess
{
    /// <summary>
    /// This process's PID namespace on this boot: <c>&lt;boot id&gt;/&lt;inode of /proc/self/ns/pid&gt;</c> (the inode alone
    /// may repeat after a reboot). Null where it cannot be read (not Linux): a holder is then judged by host name and pid.
    /// </summary>
    public static string? Space { get; } = ReadSpace();

    private static string? ReadSpace()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            var boot = File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim();
            var ns = new FileInfo("/proc/self/ns/pid").LinkTarget; // "pid:[4026531836]"
            return boot.Length > 0 && ns is { Length: > 0 } ? boot + "/" + ns.Replace("pid:", "", StringComparison.Ordinal).Trim('[', ']') : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// Whether the process <paramref name="pid"/> of <paramref name="host"/>, seen in PID namespace <paramref name="space"/>,
    /// is known to be gone. Only a process of this host and of this PID namespace can be looked at; any other counts as
    /// running (a lock's lease, a folder's owner, stays theirs). A record without a space (written by an older build)
    /// is judged by host name and pid, as that build did. With the process's <paramref name="startTime"/> (<see cref="StartTime"/>)
    /// a process given the pid since is no longer taken for it.
    /// </summary>
    public static bool IsGone(string host, int pid, string? space, long? startTime = null) =>
        CanLookAt(host, space) && (!IsAlive(pid) || startTime is not null && StartTime(pid) is { } now && now != startTime);

    /// <summary>
    /// Whether a pid recorded by <paramref name="host"/> in PID namespace <paramref name="space"/> names a process this
    /// process can look at (this host, this namespace; a record without a space, an older build's, by host name alone).
    /// </summary>
    public static bool CanLookAt(string host, string? space) => host == Environment.MachineName && (space is null || space == Space);

    /// <summary>
    /// Whether a process of this host still runs. A zombie (killed, not yet reaped by its parent) does not: it can never
    /// renew or release its lock, so waiting for its lease to run out would only lock the pipeline for nothing.
    /// </summary>
    public static bool IsAlive(int pid)
    {
        try
        {
            if (OperatingSystem.IsLinux() && Stat(pid) is { } stat && stat.State == 'Z') return false;
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }

    /// <summary>
    /// When the process <paramref name="pid"/> started, in clock ticks since boot (<c>/proc/&lt;pid&gt;/stat</c> field 22):
    /// with the pid, it names one process, not whichever process is given the pid once that one is gone. Null when there
    /// is no such process (or no /proc).
    /// </summary>
    public static long? StartTime(int pid) => Stat(pid)?.StartTime;

    /// <summary>
    /// The live processes of process group <paramref name="group"/> (<c>name (pid N)</c> of each): a zombie is dead already.
    /// A group's id is its first leader's pid, which the kernel gives no other process while any member lives, so members
    /// found belong to that group even when its leader is gone. Empty without /proc.
    /// </summary>
    public static IReadOnlyList<string> GroupMembers(int group)
    {
        var members = new List<string>();
        if (!OperatingSystem.IsLinux()) return members;
        IEnumerable<string> folders;
        try { folders = Directory.EnumerateDirectories("/proc"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return members; }
        foreach (var folder in folders)
            if (int.TryParse(Path.GetFileName(folder), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                && Stat(pid) is { State: not 'Z' } stat && stat.Group == group)
                members.Add($"{stat.Name} (pid {pid.ToString(CultureInfo.InvariantCulture)})");
        return members;
    }

    private sealed record ProcStat(string Name, char State, int Group, long StartTime);

    private static ProcStat? Stat(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
            // The command name (field 2) is in parentheses and may hold spaces or ')': fields are counted after the last ')'.
            var close = stat.LastIndexOf(')');
            if (close < 0) return null;
            var open = stat.IndexOf('(');
            var fields = stat[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries); // fields[0] is field 3 (state), [2] field 5 (process group)
            return open >= 0 && fields.Length > 19 && long.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out var start)
                && int.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var group)
                ? new ProcStat(stat[(open + 1)..close], fields[0][0], group, start) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
