using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Runs;

/// <summary>
/// Plans and commits a run's changes again while another commit of one of its tables got there first and nothing of this
/// one landed (<see cref="CommitConflictException"/>: another merge rewrote or removed a file this plan rewrote, or a
/// table changed since this plan read it, <see cref="CommitPlan.BaseChecks"/>): each attempt plans against the tables as
/// that commit left them. A whole run's commit, a split run's commit (<see cref="SplitRun"/>) and a compaction's
/// (<see cref="Tables.TableCompaction"/>) go through it.
/// </summary>
internal static class CommitAttempts
{
    /// <summary>How often a commit is planned (the last conflict fails the run).</summary>
    public const int Max = 8;

    /// <summary>
    /// Runs <paramref name="planAndCommit"/> (given the attempt, from 1) until it does not conflict. The notices a conflicting
    /// attempt added while planning are taken back (the next plan says its own), and one line says why it planned again.
    /// </summary>
    public static async Task<T> RunAsync<T>(List<string> notices, Func<int, Task<T>> planAndCommit, CancellationToken cancellationToken)
    {
        var planNotices = notices.Count;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await planAndCommit(attempt).ConfigureAwait(false);
            }
            catch (CommitConflictException conflict) when (attempt < Max)
            {
                notices.RemoveRange(planNotices, notices.Count - planNotices);
                notices.Add($"planned the commit again (attempt {attempt + 1}): {conflict.Message}");
                planNotices = notices.Count;
                await Task.Delay(Random.Shared.Next(10, 50 * attempt), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Reading <paramref name="key"/> for a plan failed: when another commit (a merge, a compaction, another pipeline's full
    /// reload) removed the file meanwhile, its rows are in that commit's files now, so the plan is stale rather than wrong
    /// and is planned again (<see cref="CommitConflictException"/>, naming <paramref name="reader"/>, "this merge"). Returns
    /// when the file is still there: the caller rethrows its own failure.
    /// </summary>
    public static async Task ThrowIfRemovedAsync(IObjectStore store, string key, string reader, CancellationToken cancellationToken)
    {
        if (!await store.ExistsAsync(key, cancellationToken).ConfigureAwait(false))
            throw new CommitConflictException($"{store.Bucket}/{key} was removed by another commit while {reader} read it");
    }
}
