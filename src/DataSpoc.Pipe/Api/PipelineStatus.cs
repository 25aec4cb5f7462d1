using DataSpoc.Pipe.Config;

namespace DataSpoc.Pipe.Api;

/// <summary>A pipeline's latest run and next scheduled time.</summary>
/// <param name="Pipeline">The pipeline's name.</param>
/// <param name="Status"><c>success</c> or <c>failure</c> (its latest run), <c>never run</c>, <c>invalid</c> (its YAML does not load) or <c>unknown</c> (its bucket could not be read).</param>
/// <param name="LastRun">When the latest run started.</param>
/// <param name="DurationSeconds">How long the latest run took.</param>
/// <param name="Records">Records the latest run wrote.</param>
/// <param name="RunId">The latest run's id.</param>
/// <param name="Schedule">The pipeline's cron expression, if scheduled.</param>
/// <param name="NextRun">The next time the schedule fires (UTC).</param>
/// <param name="Error">Why the latest run failed, or why the status is invalid/unknown (secrets masked).</param>
public sealed record PipelineStatus(string Pipeline, string Status, DateTimeOffset? LastRun, double? DurationSeconds, long? Records,
    string? RunId, string? Schedule, DateTimeOffset? NextRun, string? Error);

/// <summary>What <see cref="PipeClient.Validate"/> found.</summary>
/// <param name="Pipeline">The pipeline's name.</param>
/// <param name="Ok">True when there are no problems.</param>
/// <param name="Problems">Each problem, naming its key and file.</param>
public sealed record PipelineValidation(string Pipeline, bool Ok, IReadOnlyList<ValidationProblem> Problems);

/// <summary>One configuration problem.</summary>
/// <param name="Key">The dotted key, e.g. <c>transforms.orders.rename</c> or <c>destination.compression</c>.</param>
/// <param name="File">The file it is in.</param>
/// <param name="Line">The 1-based line, when known.</param>
/// <param name="Message">The full message (file, line, key and reason; never a secret).</param>
public sealed record ValidationProblem(string? Key, string? File, int? Line, string Message)
{
    internal static ValidationProblem From(ConfigException e) => new(e.Key, e.File, e.Line, e.Message);
}
