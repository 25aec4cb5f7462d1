namespace DataSpoc.Pipe.Config;

/// <summary>
/// The <c>${VAR}</c> names a pipeline reads, found by loading it through <see cref="PipelineLoader"/> itself (its YAML,
/// the home's <c>config.yaml</c> defaults and its tap config file), so a reference counts exactly when the engine would
/// expand it: YAML comments and <c>$${</c> literals do not.
/// </summary>
public static class PipelineVariables
{
    /// <summary>
    /// Loads <paramref name="pipelineFile"/> and returns it with the variable names it reads, in first-use order. Values
    /// come from <paramref name="environment"/> when set there, else are empty (a <c>${VAR:-default}</c> takes its
    /// default), so a missing secret never stops the scan.
    /// </summary>
    public static (PipelineDefinition Pipeline, IReadOnlyList<string> Variables) Load(PipeHome home, string pipelineFile, Func<string, string?>? environment = null)
    {
        environment ??= VariableInterpolation.ProcessEnvironment;
        var names = new List<string>();
        string? Recording(string name)
        {
            if (!names.Contains(name, StringComparer.Ordinal)) names.Add(name);
            return environment(name) ?? "";
        }
        var pipeline = PipelineLoader.ForHome(home, Recording).LoadFile(pipelineFile);
        return (pipeline, names);
    }
}
