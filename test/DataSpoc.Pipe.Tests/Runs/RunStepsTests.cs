using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Runs;

/// <summary>
/// The lake contract is what a reader of the bucket validates run logs against: it must name every <c>failed_step</c> a
/// run writes, and every signal that writes a <c>cancelled</c> log.
/// </summary>
public sealed class RunStepsTests
{
    private static string RunLogSection()
    {
        var contract = File.ReadAllText(Path.Combine(KubernetesObjects.RepoRoot, "docs", "lake-contract.md"));
        var start = contract.IndexOf("## Run log", StringComparison.Ordinal);
        var end = contract.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        return contract[start..(end < 0 ? contract.Length : end)];
    }

    [Fact]
    public void The_lake_contract_lists_every_failed_step_a_run_log_can_hold_in_run_order()
    {
        var section = RunLogSection();
        var failedStep = section[section.IndexOf("\"failed_step\"", StringComparison.Ordinal)..];
        var positions = RunSteps.All.Select(step => (step, at: failedStep.IndexOf($"\"{step}\"", StringComparison.Ordinal))).ToList();
        Assert.All(positions, p => Assert.True(p.at >= 0, $"lake-contract.md's failed_step does not list \"{p.step}\""));
        Assert.Equal(RunSteps.All, positions.OrderBy(p => p.at).Select(p => p.step));
    }

    [Fact]
    public void The_lake_contract_names_every_signal_that_cancels_a_run()
    {
        var section = RunLogSection();
        foreach (var signal in new[] { "SIGINT", "SIGTERM", "SIGHUP" }) Assert.Contains(signal, section);
    }
}
