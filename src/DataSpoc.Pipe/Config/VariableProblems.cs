namespace DataSpoc.Pipe.Config;

/// <summary>A <c>${VAR}</c> a pipeline needs that will not be there when it runs (names only, never a value).</summary>
/// <param name="Pipeline">The pipeline's name.</param>
/// <param name="Variable">The variable.</param>
/// <param name="File">The file that refers to it.</param>
/// <param name="Key">Where in that file.</param>
/// <param name="Message">What is wrong and how to fix it, naming the pipeline and the variable.</param>
public sealed record VariableProblem(string Pipeline, string Variable, string File, string Key, string Message);

/// <summary>
/// Checks a pipeline's <c>${VAR}</c>s against where its runs will find them: <c>validate</c> and <c>schedule install</c>
/// report the same findings. Needs the pipeline loaded with unset variables allowed
/// (<see cref="PipelineLoader.ForHome"/> with <c>allowUnsetVariables</c>).
/// </summary>
public static class VariableProblems
{
    /// <summary>What a cron job's environment holds: cron's own variables plus what the crontab line sets.</summary>
    private static readonly HashSet<string> CronEnvironment = new(StringComparer.Ordinal) { "HOME", "LOGNAME", "USER", "PATH", "SHELL", PipeHome.EnvironmentVariable };

    /// <summary>Variables set nowhere (neither environment nor <c>.env</c>) and without a default: a run would fail.</summary>
    public static IReadOnlyList<VariableProblem> Unset(PipelineDefinition pipeline, PipeHome home) =>
        Distinct(pipeline.Variables.Where(v => v.Origin == VariableOrigin.Unset)).Select(v => new VariableProblem(pipeline.Name, v.Name, v.File, v.Key,
            $"pipeline '{pipeline.Name}': ${{{v.Name}}} ({Where(v, home)}) is set neither in {home.EnvFilePath} nor in the environment, and has no default: " +
            $"add {v.Name}=... to {home.EnvFilePath}")).ToList();

    /// <summary>
    /// What a scheduled run would lack: the <see cref="Unset"/> variables, and those only the current shell provides
    /// (cron starts jobs with an almost empty environment, so those would be unset then).
    /// </summary>
    public static IReadOnlyList<VariableProblem> ForSchedule(PipelineDefinition pipeline, PipeHome home, PipeVariables variables)
    {
        var problems = Unset(pipeline, home).ToList();
        foreach (var v in Distinct(pipeline.Variables.Where(v =>
                     v is { Origin: VariableOrigin.Environment, HasDefault: false } && !variables.InDotEnv(v.Name) && !CronEnvironment.Contains(v.Name))))
            problems.Add(new VariableProblem(pipeline.Name, v.Name, v.File, v.Key,
                $"pipeline '{pipeline.Name}': ${{{v.Name}}} ({Where(v, home)}) is set only in this shell's environment, which cron does not pass on, " +
                $"so scheduled runs would fail: add {v.Name}=... to {home.EnvFilePath}"));
        return problems;
    }

    private static IEnumerable<VariableUse> Distinct(IEnumerable<VariableUse> uses) => uses.DistinctBy(v => v.Name);

    private static string Where(VariableUse v, PipeHome home)
    {
        var file = v.File.StartsWith(home.Root + Path.DirectorySeparatorChar, StringComparison.Ordinal) ? v.File[(home.Root.Length + 1)..] : v.File;
        return $"{file} {v.Key}";
    }
}
