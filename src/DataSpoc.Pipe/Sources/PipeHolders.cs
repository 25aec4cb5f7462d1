using System.IO.Pipes;

namespace DataSpoc.Pipe.Sources;

/// <summary>
/// The other processes that hold a pipe we read from open (its write end, or a copy of any end). A background process
/// a tap left behind is found by what it holds, also one outside the tap's process group (<see cref="TapLaunch"/>): a
/// daemon that made a session of its own, or any where taps start without setsid. Linux names every open pipe
/// <c>pipe:[inode]</c> under <c>/proc/&lt;pid&gt;/fd</c>. Elsewhere, or without <c>/proc</c>, nothing is found.
/// </summary>
internal static class PipeHolders
{
    public sealed record Holder(int Pid, string Name);

    public static IReadOnlyList<Holder> Of(IEnumerable<Stream> readEnds, int? except = null)
    {
        if (!OperatingSystem.IsLinux()) return [];
        var pipes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var stream in readEnds)
            if (stream is PipeStream pipe && LinkOf($"/proc/self/fd/{pipe.SafePipeHandle.DangerousGetHandle()}") is { } id && id.StartsWith("pipe:", StringComparison.Ordinal))
                pipes.Add(id);
        if (pipes.Count == 0) return [];
        var self = Environment.ProcessId;
        var holders = new List<Holder>();
        IEnumerable<string> processes;
        try { processes = Directory.EnumerateDirectories("/proc"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return []; }
        foreach (var folder in processes)
        {
            if (!int.TryParse(Path.GetFileName(folder), out var pid) || pid == self || pid == except) continue;
            try
            {
                if (!Directory.EnumerateFileSystemEntries(Path.Combine(folder, "fd")).Any(fd => LinkOf(fd) is { } id && pipes.Contains(id))) continue;
                var name = File.Exists(Path.Combine(folder, "comm")) ? File.ReadAllText(Path.Combine(folder, "comm")).Trim() : "?";
                holders.Add(new Holder(pid, name));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process ended while we looked, or belongs to another user (it cannot hold our pipe then).
            }
        }
        return holders;
    }

    /// <summary>
    /// Stops every process <see cref="Of"/> finds but <paramref name="except"/> (the tap itself, which its caller kills),
    /// with the processes it started; returns <c>name (pid N)</c> of each.
    /// </summary>
    public static IReadOnlyList<string> Stop(IEnumerable<Stream> readEnds, int? except = null)
    {
        var stopped = new List<string>();
        foreach (var holder in Of(readEnds, except))
        {
            try
            {
                using var leftover = System.Diagnostics.Process.GetProcessById(holder.Pid);
                leftover.Kill(entireProcessTree: true);
                stopped.Add($"{holder.Name} (pid {holder.Pid})");
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                // It ended by itself meanwhile, or is not ours to stop: either way it no longer holds the pipe.
            }
        }
        return stopped;
    }

    private static string? LinkOf(string path)
    {
        try { return new FileInfo(path).LinkTarget; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }
}
