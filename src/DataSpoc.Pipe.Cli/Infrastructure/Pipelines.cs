using DataSpoc.Pipe.Api;
using DataSpoc.Pipe.Config;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>The home folder and the application layer over it (<see cref="PipeClient"/>), as every command reaches them.</summary>
internal static class Pipelines
{
    public static PipeHome Home() => PipeHome.Resolve();

    /// <summary>The client over the home folder, with every store the CLI ships.</summary>
    public static PipeClient Client() => new(null, Stores.Create());

    /// <summary>Every pipeline name, or a usage error when there are none.</summary>
    public static IReadOnlyList<string> All(PipeClient client)
    {
        var names = client.Pipelines();
        if (names.Count == 0)
            throw new UsageException($"there are no pipelines in {Path.Combine(client.Home, "pipelines")} (create one with: dataspoc-pipe add <name>, or try: dataspoc-pipe demo)");
        return names;
    }
}
