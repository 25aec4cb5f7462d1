using System.Reflection;

namespace DataSpoc.Pipe;

/// <summary>The tool's version, as printed by <c>--version</c> and written into run logs.</summary>
public static class ToolVersion
{
    public static string Current { get; } =
        typeof(ToolVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";
}
