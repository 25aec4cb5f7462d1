namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>
/// The CLI's view of the built-in taps (csv, …) shipped in the engine.
/// TODO(taps): wire to DataSpoc.Pipe.Sources.BuiltIn.BuiltInTaps / BuiltInTapCommand once they land on main.
/// </summary>
internal static class BuiltIns
{
    public static IReadOnlyCollection<string> Names { get; } = [];

    public static Task<TapInvoker.Result> DiscoverAsync(string name, string configPath, CancellationToken cancellationToken) =>
        throw new UsageException($"built-in tap '{name}' is not available in this build");
}
