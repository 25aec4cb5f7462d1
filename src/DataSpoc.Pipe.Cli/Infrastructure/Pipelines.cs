using DataSpoc.Pipe.Config;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>The home folder's pipelines, by name, with the one-line error for an unknown name.</summary>
internal static class Pipelines
{
    public static PipeHome Home() => PipeHome.Resolve();

    /// <summary>Loads a pipeline by name; an unknown name is a usage error listing the known ones.</summary>
    public static PipelineDefinition Load(PipeHome home, string name)
    {
        var file = home.FindPipelineFile(name) ?? throw Unknown(home, name);
        return PipelineLoader.ForHome(home).LoadFile(file);
    }

    public static UsageException Unknown(PipeHome home, string name)
    {
        var known = home.PipelineNames();
        return new UsageException(known.Count == 0
            ? $"unknown pipeline '{name}': there are no pipelines in {home.PipelinesDirectory} yet (create one with: dataspoc-pipe add <name>)"
            : $"unknown pipeline '{name}'; known pipelines: {string.Join(", ", known)}");
    }

    /// <summary>Every pipeline name, or a usage error when there are none.</summary>
    public static IReadOnlyList<string> All(PipeHome home)
    {
        var names = home.PipelineNames();
        if (names.Count == 0)
            throw new UsageException($"there are no pipelines in {home.PipelinesDirectory} (create one with: dataspoc-pipe add <name>, or try: dataspoc-pipe demo)");
        return names;
    }
}
