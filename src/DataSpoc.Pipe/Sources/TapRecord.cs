using System.Diagnostics;
using System.Globalization;
using DataSpoc.Pipe.Lake;

namespace DataSpoc.Pipe.Sources;

/// <summary>
/// The file <c>tap</c> in a run's private folder: the tap process the run started, <c>&lt;pid&gt;\n&lt;start
/// time&gt;\n&lt;pid space&gt;\n[group\n]</c> (<see cref="HostProcess"/>; <c>group</c> when the tap leads a process group
/// of its own, <see cref="TapLaunch"/>). A run killed where its tap cannot die with it (no setpriv), or whose tap started
/// processes (a wrapper script's worker: the kernel kills only the tap itself with its run), leaves them running; the run
/// that then removes the killed run's folder stops them first, so they do not go on extracting beside the next run,
/// reading files that are being deleted. The start time makes sure the process stopped is that tap, not one given its
/// pid since; a group's members are the tap's even once the tap is gone (<see cref="HostProcess.GroupMembers"/>). Any run may find the folder first (every run looks at
/// every pipeline's killed runs: <see cref="Runs.PrivateTempRoot.RemoveKilledRunFolders"/>); the stop is recorded in the
/// folder (<see cref="StoppedFileName"/>), so that the notice goes to the log of the killed run's own pipeline.
/// </summary>
internal static class TapRecord
{
    internal const string FileName = "tap";

    /// <summary>The file in a killed run's folder saying its tap was stopped: the sentence for its pipeline's run log.</summary>
    internal const string StoppedFileName = "tap-stopped";

    /// <summary>Records <paramref name="process"/> in <paramref name="runFolder"/>. Linux only: elsewhere a pid's start time cannot be read.</summary>
    public static void Write(string runFolder, Process process)
    {
        if (HostProcess.StartTime(process.Id) is not { } start) return;
        File.WriteAllText(Path.Combine(runFolder, FileName),
            string.Create(CultureInfo.InvariantCulture, $"{process.Id}\n{start}\n{HostProcess.Space}\n{(TapLaunch.LeadsOwnGroup(process) ? GroupLine + "\n" : "")}"));
    }

    private const string GroupLine = "group";

    /// <summary>
    /// Kills the tap recorded in <paramref name="runFolder"/> (a killed run's) and the processes it started, those that
    /// still run (a zombie is dead already). Returns a sentence naming them for the log of the killed run's pipeline when
    /// it did, or when another run did before (recorded in the folder), else null.
    /// </summary>
    public static string? StopLeftover(string runFolder)
    {
        string[] lines;
        try
        {
            var file = Path.Combine(runFolder, FileName);
            if (!File.Exists(file)) return null;
            lines = File.ReadAllLines(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        if (lines is not [var pidText, var startText, var space, ..]
            || !int.TryParse(pidText, NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
            || !long.TryParse(startText, NumberStyles.None, CultureInfo.InvariantCulture, out var start)
            || space != (HostProcess.Space ?? "")) // a pid of another PID namespace (a /tmp shared with a container) is not ours to look at
            return null;
        var leaderStart = HostProcess.StartTime(pid);
        if (leaderStart is not null && leaderStart != start) return StoppedBefore(runFolder); // the pid is another process's now: the tap and its group are gone
        var ownGroup = lines.Length > 3 && lines[3] == GroupLine;
        // What still runs, named when it is the tap's group: the tap itself may be dead (killed with its run) and its worker not.
        var members = ownGroup ? HostProcess.GroupMembers(pid) : [];
        if (ownGroup ? members.Count == 0 : leaderStart is null || !HostProcess.IsAlive(pid)) return StoppedBefore(runFolder);
        var stopped = $"stopped the tap of a killed run (pid {pid}, run {Path.GetFileName(runFolder)})" +
            (ownGroup ? $": {string.Join(", ", members)}" : ",") + " still running since that run ended";
        // Recorded before the kill: the pipeline's own run, finding the tap gone a moment later, then finds the record.
        try { File.WriteAllText(Path.Combine(runFolder, StoppedFileName), stopped); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // the folder was removed meanwhile: stopped all the same
        if (ownGroup)
        {
            TapLaunch.KillGroup(pid);
            return stopped;
        }
        try
        {
            using var tap = Process.GetProcessById(pid);
            tap.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return StoppedBefore(runFolder); // it ended meanwhile (perhaps stopped by another run)
        }
        return stopped;
    }

    /// <summary>The sentence another run recorded when it stopped the tap of <paramref name="runFolder"/>, else null.</summary>
    private static string? StoppedBefore(string runFolder)
    {
        try { return File.ReadAllText(Path.Combine(runFolder, StoppedFileName)); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }
}
