using DataSpoc.Pipe.Sources.BuiltIn;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>The CLI's view of the built-in taps (csv, jsonl, postgres, …) shipped in the engine.</summary>
internal static class BuiltIns
{
    public static IReadOnlyCollection<string> Names => BuiltInTaps.Names;
}
