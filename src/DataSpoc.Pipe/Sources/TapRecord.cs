using System.Diagnostics;
using System.Globalization;
using DataSpoc.Pipe.Lake;

namespace DataSpoc.Pipe.Sources;

/// <summary>
/// The file <c>tap</c> in a run's private folder: the tap process the run started, <c>&lt;pid&gt;\n&lt;start
/// time&gt;\n&lt;pid space&gt;\n</c> (<see cref="HostProcess"/>). A run killed where its tap cannot die with it (no setpriv:
/// <see cref="TapLaunch"/>) leaves the tap running; the run that then removes the killed run's folder stops that tap first,
/// so it does not go on extracting beside the next run, reading files that are being deleted. The start time makes sure
/// the process stopped is that tap, not one given its pid since.
/// </summary>
internal static class TapRecord
{
    internal const string FileName = "tap";

    /// <summary>Records <paramref name="process"/> in <paramref name="runFolder"/>. Linux only: elsewhere a pid's start time cannot be read.</summary>
    public static void Write(string runFolder, Process process)
    {
        if (HostProcess.StartTime(process.Id) is not { } start) return;
        File.WriteAllText(Path.Combine(runFolder, FileName),
            string.Create(CultureInfo.InvariantCulture, $"{process.Id}\n{start}\n{HostProcess.Space}\n"));
    }

    /// <summary>
    /// Kills the tap recorded in <paramref name="runFolder"/> (a killed run's) if it still runs, with the processes it
    /// started. Returns a sentence for the run log when it did, else null.
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
            || space != (HostProcess.Space ?? "") // a pid of another PID namespace (a /tmp shared with a container) is not ours to look at
            || HostProcess.StartTime(pid) != start)
            return null;
        try
        {
            using var tap = Process.GetProcessById(pid);
            tap.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return null; // it ended meanwhile
        }
        return $"stopped the tap of a killed run (pid {pid}, run {Path.GetFileName(runFolder)}), still running since that run ended";
    }
}
