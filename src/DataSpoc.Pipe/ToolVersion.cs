using System.Reflection;

namespace DataSpoc.Pipe;

/// <summary>The tool's version, as printed by <c>--version</c> and written into run logs and table metadata.</summary>
public static class ToolVersion
{
    /// <summary>
    /// The release (<c>Version</c> in Directory.Build.props) and the build's commit, <c>0.1.0+1a2b3c4</c>: every build
    /// between two releases is <c>0.1.0</c>, so without the commit a run log, a lake's metadata or a support ticket
    /// could not tell which build wrote it. The .NET SDK puts the commit into the informational version when it builds
    /// in a git checkout (<c>SourceRevisionId</c>); a build outside one (a source archive) is the release alone.
    /// </summary>
    public static string Current { get; } = Of(typeof(ToolVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion);

    /// <summary>The release alone, <c>0.1.0</c>: where a build suffix does not fit (an image tag, a release URL).</summary>
    public static string Release => Current.Split('+')[0];

    /// <summary>The release with the commit shortened to 7 hex digits, as <c>git log --oneline</c> shows it.</summary>
    internal static string Of(string? informationalVersion)
    {
        if (informationalVersion is not { Length: > 0 }) return "0.0.0";
        var plus = informationalVersion.IndexOf('+');
        if (plus < 0) return informationalVersion;
        var commit = informationalVersion[(plus + 1)..];
        return commit.Length >= 7 && commit.All(char.IsAsciiHexDigit) ? informationalVersion[..plus] + "+" + commit[..7].ToLowerInvariant() : informationalVersion[..plus];
    }
}
