namespace DataSpoc.Pipe.Runs;

/// <summary>
/// The steps of a run, in the order it takes them: a failed or cancelled run log's <c>failed_step</c> names one
/// (docs/lake-contract.md lists them for readers of the bucket).
/// </summary>
internal static class RunSteps
{
    /// <summary>Opening the bucket, taking the pipeline's lock, creating the run's private temp folders.</summary>
    public const string Start = "start";
    /// <summary>Finishing or cleaning up what an interrupted run left (its journal, spool and temp files).</summary>
    public const string Recover = "recover";
    public const string Extract = "extract";
    public const string Write = "write";
    public const string Commit = "commit";

    public static readonly IReadOnlyList<string> All = [Start, Recover, Extract, Write, Commit];
}
