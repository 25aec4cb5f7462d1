using System.Text.RegularExpressions;
using DataSpoc.Pipe.Cloud.Tests.Servers;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Cloud.Tests.Runs;

/// <summary>A whole pipeline run (a real Singer tap subprocess) into a cloud bucket, read back through the bucket.</summary>
public abstract class PipelineRunContract
{
    protected abstract StoreTarget Target { get; }

    /// <summary>
    /// Whether the test server makes a PUT visible only once its whole body arrived, as the real services do.
    /// s3rver does not: it streams the body straight into the object file, so a dropped connection leaves a truncated object.
    /// </summary>
    protected virtual bool ServerCommitsPutsAtomically => true;

    [Fact]
    public async Task A_run_lands_the_contract_layout_and_parquet_that_reads_back_equal_to_the_input()
    {
        await using var lake = new CloudLake(Target);
        var result = await lake.RunAsync(lake.Pipeline("orders", count: 5));
        Assert.True(result.Succeeded, result.Log.Error);

        var keys = await lake.KeysAsync();
        Assert.Equal(5, keys.Count);
        Assert.Contains(".dataspoc/manifest.json", keys);
        Assert.Contains(".dataspoc/state/orders/state.json", keys);
        Assert.Contains(".dataspoc/state/orders/owner.json", keys);
        var dataFile = $"raw/shop/orders/dt=2025-01-20/orders_0000_{result.Log.RunId}.parquet";
        Assert.Contains(dataFile, keys);
        Assert.Single(keys, k => Regex.IsMatch(k, @"^\.dataspoc/logs/orders/2025-01-20T1\d-\d\d-\d\dZ_[^/]+\.json$"));

        Assert.Equal(CloudLake.ExpectedOrders(1, 5), await lake.OrdersAsync([dataFile]));
        var table = Assert.Single((await lake.ManifestAsync()).Tables.Values);
        Assert.Equal(("shop", "orders", "orders", 5L), (table.Source, table.Table, table.Pipeline, table.RowCount));
        Assert.StartsWith(lake.Bucket, table.Location);
        Assert.Equal("""{"bookmark":5}""", await lake.StateAsync("orders"));
    }

    [Fact]
    public async Task Incremental_state_round_trips_through_the_bucket_so_the_next_run_adds_only_new_rows()
    {
        await using var lake = new CloudLake(Target);
        Assert.True((await lake.RunAsync(lake.Pipeline("orders", count: 5))).Succeeded);
        var second = await lake.RunAsync(lake.Pipeline("orders", count: 8));
        Assert.True(second.Succeeded, second.Log.Error);

        Assert.Equal("""{"bookmark":8}""", await lake.StateAsync("orders"));
        // The tap saw the saved bookmark: the second file holds only ids 6..8.
        Assert.Equal(CloudLake.ExpectedOrders(6, 8), await lake.OrdersAsync([$"raw/shop/orders/dt=2025-01-20/orders_0001_{second.Log.RunId}.parquet"]));
        var parquet = (await lake.KeysAsync()).Where(k => k.EndsWith(".parquet", StringComparison.Ordinal)).ToList();
        Assert.Equal(CloudLake.ExpectedOrders(1, 8), await lake.OrdersAsync(parquet));
        Assert.Equal(8, Assert.Single((await lake.ManifestAsync()).Tables.Values).RowCount);
    }

    [Fact]
    public async Task A_store_answering_503_from_the_commit_on_reports_the_runs_own_error_and_step_not_the_lock_release()
    {
        await using var lake = new CloudLake(Target);
        Assert.True((await lake.RunAsync(lake.Pipeline("orders", count: 5))).Succeeded);
        var manifestBefore = (await lake.Store.GetAsync(LakePaths.ManifestKey, CancellationToken.None))!.Content.ToArray();

        await using var proxy = new TcpFaultProxy(Target.ServerPort);
        // The data file's upload (several MB, at the commit) is the first request that big: from then on every request,
        // the rollback's, the run log's and the lock release's too, gets 503.
        proxy.OnUpload = total => { if (total > 1L << 20) proxy.AnswerUnavailable(); };
        var failed = await lake.RunAsync(lake.Pipeline("orders", count: 150_000, pad: 60), proxy.Port);

        // The run's own failure, not "get of .../locks/orders.lock failed" from releasing the lock (which used to throw).
        Assert.False(failed.Succeeded);
        Assert.Equal("commit", failed.Log.FailedStep);
        Assert.Contains(".parquet", failed.Log.Error);
        Assert.DoesNotContain("locks/orders.lock", failed.Log.Error);
        Assert.EndsWith("(and its run log could not be saved: see the notices; `status` does not show this run)", failed.Log.Error);
        Assert.Contains(failed.Log.Notices, n => n.StartsWith("the run log could not be saved: ", StringComparison.Ordinal));
        Assert.Contains(failed.Log.Notices, n => n.StartsWith($"the pipeline lock {lake.Bucket}/.dataspoc/locks/orders.lock could not be released (", StringComparison.Ordinal));
        Assert.False(failed.Log.StateCommitted);

        // Nothing of it became visible.
        Assert.Equal("{\"bookmark\":5}", await lake.StateAsync("orders"));
        Assert.Equal(manifestBefore, (await lake.Store.GetAsync(LakePaths.ManifestKey, CancellationToken.None))!.Content.ToArray());
    }

    [Fact]
    public async Task A_server_gone_mid_upload_fails_the_run_and_leaves_no_partial_object_and_state_untouched()
    {
        await using var lake = new CloudLake(Target);
        Assert.True((await lake.RunAsync(lake.Pipeline("orders", count: 5))).Succeeded);
        var before = await lake.KeysAsync();
        var manifestBefore = (await lake.Store.GetAsync(LakePaths.ManifestKey, CancellationToken.None))!.Content.ToArray();

        await using var proxy = new TcpFaultProxy(Target.ServerPort);
        // The data file of this run is several MB; small metadata calls stay far below this.
        proxy.OnUpload = total => { if (total > 1L << 20) proxy.GoDown(); };
        // A failed run, with its own step and error: the lock that cannot be released is a notice, not the error.
        var failed = await lake.RunAsync(lake.Pipeline("orders", count: 150_000, pad: 60), proxy.Port);
        Assert.False(failed.Succeeded);
        Assert.Equal("commit", failed.Log.FailedStep);
        Assert.DoesNotContain("locks/orders.lock", failed.Log.Error);
        Assert.Contains(failed.Log.Notices, n => n.Contains("locks/orders.lock could not be released", StringComparison.Ordinal));
        Assert.True(proxy.Uploaded > 1L << 20, "the fault should hit during the data upload");

        Assert.Equal("""{"bookmark":5}""", await lake.StateAsync("orders"));
        Assert.Equal(manifestBefore, (await lake.Store.GetAsync(LakePaths.ManifestKey, CancellationToken.None))!.Content.ToArray());
        // Whatever data file became visible is whole (a truncated Parquet file has no footer and does not read).
        var leftovers = (await lake.KeysAsync()).Except(before).Where(k => k.EndsWith(".parquet", StringComparison.Ordinal)).ToList();
        if (leftovers.Count > 0 && ServerCommitsPutsAtomically)
            Assert.Matches(@"^\d+\|\d+\|6\|\d+$", await lake.IdSummaryAsync(leftovers));

        // The failed run's process would be gone; its lock is released here as its lease expiring would.
        await lake.Store.DeleteAsync(LakePaths.LockKey("orders"), CancellationToken.None);
        var recovered = await lake.RunAsync(lake.Pipeline("orders", count: 150_000, pad: 60));
        Assert.True(recovered.Succeeded, recovered.Log.Error);
        // The recovery run rolled back the failed run's journal, so its leftover (whole or, on s3rver, truncated)
        // is gone or replaced: every id is there exactly once and every file reads.
        var keys = await lake.KeysAsync();
        Assert.DoesNotContain(keys, k => k.StartsWith(".dataspoc/journal/", StringComparison.Ordinal));
        Assert.Equal("150000|150000|1|150000", await lake.IdSummaryAsync(keys.Where(k => k.EndsWith(".parquet", StringComparison.Ordinal))));
        Assert.Equal("""{"bookmark":150000}""", await lake.StateAsync("orders"));
    }

    [Fact]
    public async Task A_store_that_stalls_mid_upload_loses_the_lock_at_its_lease_and_the_run_fails_with_nothing_committed()
    {
        await using var lake = new CloudLake(Target);
        Assert.True((await lake.RunAsync(lake.Pipeline("orders", count: 5))).Succeeded);
        var before = await lake.KeysAsync();
        var manifestBefore = (await lake.Store.GetAsync(LakePaths.ManifestKey, CancellationToken.None))!.Content.ToArray();

        await using var proxy = new TcpFaultProxy(Target.ServerPort);
        // The data file of this run is several MB; small metadata calls stay far below this. From then on the store
        // accepts connections and never answers: the upload, the lock's renewals, the rollback and the run log all hang.
        var stalledAt = 0L;
        proxy.OnUpload = total =>
        {
            if (total <= 1L << 20 || Interlocked.CompareExchange(ref stalledAt, System.Diagnostics.Stopwatch.GetTimestamp(), 0) != 0) return;
            proxy.Stall();
        };
        var lease = TimeSpan.FromSeconds(3);
        // Each SDK call would wait minutes (its timeouts times its retries) before the fix: the bound only keeps a failing
        // test finite. The lease ends the stalled calls; the way out (rollback, run log) waits at most one more lease.
        var failed = await lake.RunAsync(lake.Pipeline("orders", count: 150_000, pad: 60), lease, proxy.Port).WaitAsync(TimeSpan.FromSeconds(150));
        var afterStall = System.Diagnostics.Stopwatch.GetElapsedTime(Interlocked.Read(ref stalledAt));
        Assert.True(Interlocked.Read(ref stalledAt) != 0, $"the stall should hit during the data upload; the run ended without it: succeeded {failed.Succeeded}, step {failed.Log.FailedStep}, error {failed.Log.Error}, notices {string.Join(" | ", failed.Log.Notices)}");
        Assert.True(afterStall < 2 * lease + TimeSpan.FromSeconds(20), $"the run ended {afterStall.TotalSeconds:0.0} s after the store stalled (lease {lease.TotalSeconds} s): " +
            $"step {failed.Log.FailedStep}, error {failed.Log.Error}, notices {string.Join(" | ", failed.Log.Notices)}");

        Assert.False(failed.Succeeded);
        Assert.Equal("commit", failed.Log.FailedStep);
        Assert.StartsWith($"the run lost its pipeline lock {lake.Bucket}/{LakePaths.LockKey("orders")}: the store did not answer its renewal before its lease ran out at ", failed.Log.Error);
        Assert.Contains("; nothing of this run was committed (another run may be writing as this pipeline)", failed.Log.Error);
        Assert.False(failed.Log.StateCommitted);
        Assert.Contains(failed.Log.Notices, n => n.StartsWith("this run's failed commit could not be rolled back (the store did not answer in time)", StringComparison.Ordinal));
        Assert.Contains(failed.Log.Notices, n => n.StartsWith("the run log could not be saved: the store did not answer within 3s after the run lost its pipeline lock", StringComparison.Ordinal));

        // Nothing of it became visible: manifest and state as they were; whatever data file reached the server is whole.
        Assert.Equal("""{"bookmark":5}""", await lake.StateAsync("orders"));
        Assert.Equal(manifestBefore, (await lake.Store.GetAsync(LakePaths.ManifestKey, CancellationToken.None))!.Content.ToArray());
        var leftovers = (await lake.KeysAsync()).Except(before).Where(k => k.EndsWith(".parquet", StringComparison.Ordinal)).ToList();
        if (leftovers.Count > 0 && ServerCommitsPutsAtomically)
            Assert.Matches(@"^\d+\|\d+\|6\|\d+$", await lake.IdSummaryAsync(leftovers));

        // The lost lock is left as it was (it may be another run's by then). Each run's clock starts at CloudLake.Now, so a
        // lease that ran out in the failed run's clock has not in the next one's: it is moved back as time would move it.
        var lockKey = LakePaths.LockKey("orders");
        var held = LakeJson.Deserialize<RunLock.LockInfo>((await lake.Store.GetAsync(lockKey, CancellationToken.None))!.Content, "lock");
        Assert.Equal(failed.Log.RunId, held.RunId);
        await lake.Store.PutAsync(lockKey, LakeJson.Serialize(held with { ExpiresAt = CloudLake.Now.AddSeconds(-1) }), WriteCondition.None, CancellationToken.None);

        // The stall ends. The next run takes over the expired lock, rolls back the journal the failed run left and lands every row.
        proxy.Pass();
        var next = await lake.RunAsync(lake.Pipeline("orders", count: 150_000, pad: 60), proxy.Port).WaitAsync(TimeSpan.FromSeconds(150));
        Assert.True(next.Succeeded, next.Log.Error);
        Assert.Contains(next.Log.Notices, n => n.StartsWith($"rolled back the interrupted commit of run {failed.Log.RunId} ", StringComparison.Ordinal));
        // In single-writer mode (s3rver) a lock is created whatever is there: no takeover to tell of.
        if (Target.StorageOptions.GetValueOrDefault("conditional_writes") != "false")
        {
            Assert.Contains(next.Log.Notices, n => n.StartsWith($"took over a stale lock of run {failed.Log.RunId} (its lease expired at ", StringComparison.Ordinal));
            Assert.Contains(next.Log.Notices, n => n.StartsWith($"run {failed.Log.RunId} ended without a run log ", StringComparison.Ordinal));
        }
        var keys = await lake.KeysAsync();
        Assert.DoesNotContain(keys, k => k.StartsWith(".dataspoc/journal/", StringComparison.Ordinal));
        Assert.Equal("150000|150000|1|150000", await lake.IdSummaryAsync(keys.Where(k => k.EndsWith(".parquet", StringComparison.Ordinal))));
        Assert.Equal(150_000, Assert.Single((await lake.ManifestAsync()).Tables.Values).RowCount);
        Assert.Equal("""{"bookmark":150000}""", await lake.StateAsync("orders"));
    }
}

/// <summary>
/// Runs that share a bucket: the manifest's read-modify-write and the per-pipeline lock. Only where the server
/// enforces conditional writes (Azurite, the GCS stand-in, file://); s3rver does not.
/// </summary>
public abstract class PipelineConcurrencyContract
{
    protected abstract StoreTarget Target { get; }

    [Fact]
    public async Task Eight_pipelines_finishing_at_once_leave_eight_manifest_entries()
    {
        await using var lake = new CloudLake(Target);
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            lake.RunAsync(lake.Pipeline($"orders-{i}", count: 3 + i, source: $"shop{i}"))));
        Assert.All(results, r => Assert.True(r.Succeeded, r.Log.Error));
        var manifest = await lake.ManifestAsync();
        Assert.Equal(Enumerable.Range(0, 8).Select(i => $"shop{i}"), manifest.Tables.Values.Select(t => t.Source).Order(StringComparer.Ordinal));
        Assert.Equal(Enumerable.Range(0, 8).Select(i => 3L + i), manifest.Tables.Values.OrderBy(t => t.Source, StringComparer.Ordinal).Select(t => t.RowCount));
        for (var i = 0; i < 8; i++)
            Assert.Equal($$"""{"bookmark":{{3 + i}}}""", await lake.StateAsync($"orders-{i}"));
    }

    [Fact]
    public async Task A_second_run_of_a_running_pipeline_is_refused_with_a_clear_message()
    {
        await using var lake = new CloudLake(Target);
        var first = lake.RunAsync(lake.Pipeline("orders", count: 5, sleep: 4));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await lake.Store.GetAsync(LakePaths.LockKey("orders"), CancellationToken.None) is null && DateTime.UtcNow < deadline)
            await Task.Delay(50);

        string message;
        try
        {
            var second = await lake.RunAsync(lake.Pipeline("orders", count: 5));
            Assert.False(second.Succeeded);
            message = second.Log.Error ?? "";
        }
        catch (PipelineLockedException e)
        {
            message = e.Message;
        }
        Assert.Contains("pipeline 'orders' is already running", message);
        Assert.True((await first).Succeeded);
        Assert.Equal("""{"bookmark":5}""", await lake.StateAsync("orders"));
    }

    [Fact]
    public async Task A_state_write_landing_after_another_run_took_the_lock_over_and_saved_a_later_state_is_refused()
    {
        await using var lake = new CloudLake(Target);
        Assert.True((await lake.RunAsync(lake.Pipeline("orders", count: 3))).Succeeded);
        var (stateKey, lockKey) = (LakePaths.StateKey("orders"), LakePaths.LockKey("orders"));
        var stalled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var answer = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // The first run's state write is sent, and lands only once the run that took its lock over saved a later state (a
        // PUT the store answers late); meanwhile its lock renewals fail, so its 2 s lease runs out.
        var inner = Target.Factory();
        var stalling = new ObjectStoreFactory().Register(BucketUri.Parse(lake.Bucket).Scheme, (uri, options) => new MeetingStore(inner.Open(lake.Bucket, options), async key =>
        {
            if (key == stateKey && !stalled.Task.IsCompleted)
            {
                stalled.SetResult();
                await answer.Task.ConfigureAwait(false);
            }
            else if (key == lockKey && stalled.Task.IsCompleted) throw new IOException("the store does not answer");
        }));
        var first = new PipelineRunner(stalling, new ShiftedTime(CloudLake.Now)) { LockLease = TimeSpan.FromSeconds(2) }
            .RunAsync(lake.Pipeline("orders", count: 5), new RunOptions(), CancellationToken.None);
        await stalled.Task.WaitAsync(TimeSpan.FromSeconds(60));
        // The taker's clock is past the first run's lease (each run's clock starts at CloudLake.Now otherwise).
        var taker = await new PipelineRunner(Target.Factory(), new ShiftedTime(CloudLake.Now.AddMinutes(10)))
            .RunAsync(lake.Pipeline("orders", count: 8), new RunOptions(), CancellationToken.None);
        Assert.True(taker.Succeeded, taker.Log.Error);
        Assert.Equal(2, taker.Log.Recovered?.Records); // ids 4..5, completed from the first run's journal
        Assert.Equal("""{"bookmark":8}""", await lake.StateAsync("orders"));

        answer.SetResult();
        var stopped = await first.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal("""{"bookmark":8}""", await lake.StateAsync("orders")); // not back to 5
        Assert.False(stopped.Succeeded);
        Assert.Equal("commit", stopped.Log.FailedStep);
        Assert.StartsWith($"the commit of run {stopped.Log.RunId} did not save {lake.Bucket}/{stateKey}: another run wrote it since this run read it", stopped.Log.Error);
        var parquet = (await lake.KeysAsync()).Where(k => k.EndsWith(".parquet", StringComparison.Ordinal)).ToList();
        Assert.Equal("8|8|1|8", await lake.IdSummaryAsync(parquet));
        Assert.Equal(8, Assert.Single((await lake.ManifestAsync()).Tables.Values).RowCount);
    }
}
