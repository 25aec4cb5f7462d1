using DataSpoc.Pipe.Api;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>The home folder and the application layer over it (<see cref="PipeClient"/>), as every command reaches them.</summary>
internal static class Pipelines
{
    public static PipeHome Home() => PipeHome.Resolve();

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
