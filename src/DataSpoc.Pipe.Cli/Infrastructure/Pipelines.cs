using DataSpoc.Pipe.Api;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>The home folder and the application layer over it (<see cref="PipeClient"/>), as every command reaches them.</summary>
internal static class Pipelines
{
    public static PipeHome Home() => PipeHome.Resolve();

    /// <summary>
    /// <see cref="PipeHome.Init"/> for a command that then writes into <paramref name="writtenFolders"/> of the home
    /// (<c>init</c>, <c>add</c>, <c>demo</c>). A home that cannot be created, or one of those folders this user cannot write
    /// (a read-only home, a read-only filesystem), is a usage error naming the folder, raised before anything is written.
    /// Returns what <see cref="PipeHome.Init"/> created.
    /// </summary>
    public static IReadOnlyList<string> InitHome(PipeHome home, params string[] writtenFolders)
    {
        const string wayOut = "set DATASPOC_PIPE_HOME to a folder this user can write, or create the folder first";
        // Folders that exist are checked before init creates anything; those init creates are this user's.
        foreach (var folder in writtenFolders.Where(Directory.Exists))
            if (PipeHome.CannotWrite(folder) is { } why)
                throw new UsageException($"cannot write to the home folder {folder}: {why} ({wayOut}, or make it writable)");
        try
        {
            return home.Init();
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            // A service account's HOME often does not exist (nobody: /nonexistent): say what was to be created and the way out.
            throw new UsageException($"cannot create the home folder {home.Root}: {e.Message} ({wayOut})");
        }
    }

    /// <summary>The client over the home folder, with every store the CLI ships.</summary>
    public static PipeClient Client() => Client(null, Stores.Create());

    /// <summary>A client over <paramref name="home"/> (null: <c>$DATASPOC_PIPE_HOME</c>) that knows this binary is the one cron should start.</summary>
    public static PipeClient Client(string? home, ObjectStoreFactory stores) => new(home, stores) { ScheduledProgram = CronEntries.Program };

    /// <summary>Every pipeline name, or a usage error when there are none.</summary>
    public static IReadOnlyList<string> All(PipeClient client)
    {
        var names = client.Pipelines();
        if (names.Count == 0)
            throw new UsageException($"there are no pipelines in {Path.Combine(client.Home, "pipelines")} (create one with: dataspoc-pipe add <name>, or try: dataspoc-pipe demo)");
        return names;
    }
}
