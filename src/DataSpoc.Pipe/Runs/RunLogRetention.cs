using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Runs;

/// <summary>
/// Deletes a pipeline's run logs of runs started before a cutoff, never the latest one (so <c>status</c> still shows
/// the last run): what <c>logs --expire-older-than</c> does on request and <c>run_logs.keep</c> after every run.
/// </summary>
/// <remarks>
/// Log keys start with the run's UTC start time and stores list in key order, oldest first, so the walk can stop at the
/// first log young enough to keep: a pipeline that expires after every run lists one page and deletes the one or two
/// logs that aged out since, however long its history. A key is deleted only once a later one has been seen, which
/// is what keeps the latest.
/// </remarks>
public static class RunLogRetention
{
    /// <summary>What one expiry did: logs deleted, and (when asked to count them) logs kept.</summary>
    public readonly record struct Result(int Deleted, int? Kept);

    /// <param name="store">The pipeline's bucket.</param>
    /// <param name="pipeline">The pipeline's name.</param>
    /// <param name="cutoff">Logs of runs started before this are deleted.</param>
    /// <param name="countKept">List to the end to count the logs kept (an expiry on request reports it); otherwise stop at the first one kept.</param>
    /// <param name="cancellationToken">Stops between deletions.</param>
    public static async Task<Result> ExpireAsync(IObjectStore store, string pipeline, DateTimeOffset cutoff, bool countKept, CancellationToken cancellationToken)
    {
        var deleted = 0;
        var kept = 0;
        string? previous = null;
        await foreach (var o in store.ListAsync(LakePaths.LogsPrefix(pipeline), cancellationToken).ConfigureAwait(false))
        {
            if (!o.Key.EndsWith(".json", StringComparison.Ordinal)) continue;
            if (previous is not null)
            {
                // A later log exists, so the previous one is not the latest.
                if (LakePaths.StartOfLogKey(previous) is { } at && at < cutoff)
                {
                    await store.DeleteAsync(previous, cancellationToken).ConfigureAwait(false);
                    deleted++;
                }
                else if (!countKept && LakePaths.StartOfLogKey(previous) is not null) return new Result(deleted, null);
                else kept++;
            }
            previous = o.Key;
        }
        return new Result(deleted, countKept ? kept + (previous is null ? 0 : 1) : null);
    }
}
