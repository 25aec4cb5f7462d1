namespace DataSpoc.Pipe.Config;

/// <summary>Where a <c>${VAR}</c> got its value.</summary>
public enum VariableOrigin
{
    /// <summary>The process environment (or the lookup a .NET host passed in its place).</summary>
    Environment,
    /// <summary>The home's <c>.env</c>.</summary>
    DotEnv,
    /// <summary>Unset: the <c>${VAR:-default}</c> default applied.</summary>
    Default,
    /// <summary>Unset, without a default (only when the pipeline was loaded to be checked, not run).</summary>
    Unset,
}

/// <summary>One <c>${VAR}</c> reference in a pipeline's YAML or tap config, and where its value came from.</summary>
/// <param name="Name">The variable.</param>
/// <param name="Origin">Where its value came from.</param>
/// <param name="File">The file the reference is in.</param>
/// <param name="Key">The dotted key (YAML) or JSON path (tap config) of the value that holds it.</param>
/// <param name="HasDefault">Written as <c>${VAR:-default}</c>.</param>
public sealed record VariableUse(string Name, VariableOrigin Origin, string File, string Key, bool HasDefault);

/// <summary>
/// The values <c>${VAR}</c> expands to: the process environment first, then the home's private <c>.env</c>. Every
/// command (CLI, MCP server, <see cref="Api.PipeClient"/>) gets its variables from <see cref="ForHome"/>; the values of
/// <c>.env</c> are secrets, masked wherever a pipeline's output is shown.
/// </summary>
public sealed class PipeVariables
{
    private readonly Func<string, string?> _environment;
    private readonly IReadOnlyDictionary<string, string> _dotEnv;

    private PipeVariables(Func<string, string?> environment, IReadOnlyDictionary<string, string> dotEnv, string? dotEnvPath)
    {
        _environment = environment;
        _dotEnv = dotEnv;
        DotEnvPath = dotEnvPath;
    }

    /// <summary>
    /// The variables of <paramref name="home"/>'s pipelines: <paramref name="environment"/> (the process environment by
    /// default) over <c>&lt;home&gt;/.env</c>. Throws <see cref="ConfigException"/> when the <c>.env</c> is not private to
    /// the user or is not valid.
    /// </summary>
    public static PipeVariables ForHome(PipeHome home, Func<string, string?>? environment = null) =>
        new(environment ?? VariableInterpolation.ProcessEnvironment, DotEnvFile.Read(home.EnvFilePath).Values, home.EnvFilePath);

    /// <summary>Only <paramref name="environment"/> (the process environment by default): no <c>.env</c>.</summary>
    public static PipeVariables Environment(Func<string, string?>? environment = null) =>
        new(environment ?? VariableInterpolation.ProcessEnvironment, new Dictionary<string, string>(), null);

    /// <summary>The <c>.env</c> these variables read, when they read one.</summary>
    public string? DotEnvPath { get; }

    /// <summary>The values from <c>.env</c>: all of them secrets.</summary>
    public IEnumerable<string> DotEnvValues => _dotEnv.Values;

    /// <summary>A variable's value: the environment's when it is set there, else <c>.env</c>'s, else null.</summary>
    public string? Get(string name) => _environment(name) ?? _dotEnv.GetValueOrDefault(name);

    /// <summary>Whether <c>.env</c> assigns <paramref name="name"/>.</summary>
    public bool InDotEnv(string name) => _dotEnv.ContainsKey(name);

    /// <summary>Where <see cref="Get"/> finds <paramref name="name"/>; null when it is set nowhere.</summary>
    public VariableOrigin? OriginOf(string name) =>
        _environment(name) is not null ? VariableOrigin.Environment : _dotEnv.ContainsKey(name) ? VariableOrigin.DotEnv : null;
}

/// <summary>
/// Expands the <c>${VAR}</c>s of one pipeline's files and records each reference; when loading to check rather than to
/// run, an unset variable without default expands to nothing and is recorded as <see cref="VariableOrigin.Unset"/>.
/// </summary>
internal sealed class VariableScope(PipeVariables variables, bool allowUnset)
{
    public List<VariableUse> Uses { get; } = [];

    /// <summary>The variables whose values the last <see cref="Expand"/> took, by name and where each is set (never their values).</summary>
    public string LastOrigin { get; private set; } = "";

    /// <summary>
    /// The <c>.env</c> values the last <see cref="Expand"/> took, each with <see cref="LastOrigin"/>'s words for it: the
    /// pipeline refers to them (its tap is given them, maybe inside a longer value), see <see cref="ConfigSecrets.Unreferenced"/>.
    /// </summary>
    public IReadOnlyList<(string Origin, string Value)> LastDotEnv { get; private set; } = [];

    private string Describe(string name) => variables.OriginOf(name) == VariableOrigin.DotEnv
        ? $"${{{name}}} from {variables.DotEnvPath}"
        : $"${{{name}}} from the environment";

    /// <summary>
    /// Expands <paramref name="text"/> (a value at <paramref name="key"/> in <paramref name="file"/>); may throw
    /// <see cref="MissingVariableException"/> or <see cref="FormatException"/>. <paramref name="secret"/> says whether
    /// the result holds a variable's value: one made only of the file's text and <c>${VAR:-default}</c> defaults is as
    /// public as the file, so it is not masked (a default of <c>,</c> would otherwise mask every comma).
    /// </summary>
    public string Expand(string text, string file, string key, out bool substituted, out bool secret)
    {
        secret = false;
        LastOrigin = "";
        LastDotEnv = [];
        if (!text.Contains("${", StringComparison.Ordinal)) return VariableInterpolation.Expand(text, variables.Get, out substituted);
        var names = new List<string>();
        var unset = new HashSet<string>(StringComparer.Ordinal);
        var fromValue = false;
        var value = VariableInterpolation.Expand(text, name =>
            {
                names.Add(name);
                var found = variables.Get(name);
                fromValue |= !string.IsNullOrEmpty(found);
                return found;
            }, out substituted,
            allowUnset ? name => { unset.Add(name); return ""; } : null);
        secret = fromValue;
        var taken = names.Distinct(StringComparer.Ordinal).Where(n => !unset.Contains(n) && !string.IsNullOrEmpty(variables.Get(n))).ToList();
        LastOrigin = string.Join(", ", taken.Select(Describe));
        LastDotEnv = [.. taken.Where(n => variables.OriginOf(n) == VariableOrigin.DotEnv).Select(n => (Describe(n), variables.Get(n)!))];
        foreach (var name in names)
            Uses.Add(new VariableUse(name, unset.Contains(name) ? VariableOrigin.Unset : variables.OriginOf(name) ?? VariableOrigin.Default, file, key,
                text.Contains("${" + name + ":-", StringComparison.Ordinal)));
        return value;
    }
}
