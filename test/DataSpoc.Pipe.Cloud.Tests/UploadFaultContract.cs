using DataSpoc.Pipe.Cloud.Tests.Servers;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Cloud.Tests;

/// <summary>
/// Uploads that go wrong half-way: cancelled, a dropped connection, a server that goes away; and a read whose answer
/// breaks off. A TCP proxy between the store and its test server injects the fault.
/// </summary>
public abstract class UploadFaultContract
{
    private const long FileSize = 64L << 20;
    private const long FaultAfter = 24L << 20;

    protected abstract StoreTarget Target { get; }

    /// <summary>Checks the server keeps no unfinished upload (S3 multipart uploads, GCS sessions) for the prefix.</summary>
    protected virtual Task AssertNoUnfinishedUploadsAsync(string prefix, TcpFaultProxy proxy) => Task.CompletedTask;

    private static CancellationToken Timeout(int seconds = 300) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;

    [Fact]
    public async Task Cancelling_a_large_upload_midway_leaves_no_object_and_no_unfinished_upload()
    {
        var prefix = StoreTarget.NewPrefix();
        await using var proxy = new TcpFaultProxy(Target.ServerPort);
        await using var store = Target.Open(prefix, proxy.Port);
        using var cancel = new CancellationTokenSource();
        proxy.OnUpload = total => { if (total > FaultAfter) cancel.Cancel(); };
        var (path, _) = TestFiles.Random(FileSize, seed: 21);
        try
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.PutFileAsync("raw/s/t/dt=2025-01-01/t_0000.parquet", path, cancel.Token));
        }
        finally { TestFiles.Delete(path); }
        await using var direct = Target.Open(prefix);
        Assert.Null(await direct.GetAsync("raw/s/t/dt=2025-01-01/t_0000.parquet", Timeout()));
        Assert.Empty(await direct.ListAsync("", Timeout()).ToListAsync());
        await AssertNoUnfinishedUploadsAsync(prefix, proxy);
    }

    [Fact]
    public async Task A_connection_reset_mid_upload_is_retried_and_the_object_lands_complete()
    {
        var prefix = StoreTarget.NewPrefix();
        await using var proxy = new TcpFaultProxy(Target.ServerPort);
        await using var store = Target.Open(prefix, proxy.Port);
        var reset = 0;
        proxy.OnUpload = total => { if (total > FaultAfter && Interlocked.Exchange(ref reset, 1) == 0) proxy.ResetAll(); };
        var (path, sha) = TestFiles.Random(FileSize, seed: 22);
        try
        {
            await store.PutFileAsync("big.bin", path, Timeout());
        }
        finally { TestFiles.Delete(path); }
        Assert.Equal(1, reset);
        await using var direct = Target.Open(prefix);
        Assert.Equal(sha, await TestFiles.Sha256Async(await direct.OpenReadAsync("big.bin", Timeout())));
    }

    [Fact]
    public async Task A_server_that_goes_away_mid_upload_fails_with_a_storage_error_and_leaves_no_object()
    {
        var prefix = StoreTarget.NewPrefix();
        await using var proxy = new TcpFaultProxy(Target.ServerPort);
        await using var store = Target.Open(prefix, proxy.Port);
        proxy.OnUpload = total => { if (total > FaultAfter) proxy.GoDown(); };
        var (path, _) = TestFiles.Random(FileSize, seed: 23);
        StorageException error;
        try
        {
            error = await Assert.ThrowsAsync<StorageException>(() => store.PutFileAsync("raw/s/t/dt=2025-01-01/t_0000.parquet", path, Timeout()));
        }
        finally { TestFiles.Delete(path); }
        Assert.Contains("t_0000.parquet", error.Message);
        Assert.Contains("put", error.Message);
        proxy.Accept();
        await using var direct = Target.Open(prefix);
        Assert.Null(await direct.GetAsync("raw/s/t/dt=2025-01-01/t_0000.parquet", Timeout()));
        Assert.Empty(await direct.ListAsync("", Timeout()).ToListAsync());
    }

    /// <summary>
    /// A small object (a lock, the manifest, a state) whose answer breaks off after its headers: the SDKs retry a request
    /// until headers arrive, not a body cut after them. A run read its lock so on s3rver (whose PUT is not atomic: a read
    /// racing the lock's renewal ended early) and failed its commit. The read is made again.
    /// </summary>
    [Fact]
    public async Task A_small_object_read_whose_answer_breaks_off_mid_body_is_read_again()
    {
        var prefix = StoreTarget.NewPrefix();
        await using var proxy = new TcpFaultProxy(Target.ServerPort);
        await using var store = Target.Open(prefix, proxy.Port);
        var content = System.Text.Encoding.UTF8.GetBytes("{\"run_id\":\"" + new string('r', 400) + "\"}");
        await store.PutAsync(".dataspoc/locks/orders.lock", content, WriteCondition.None, Timeout());

        proxy.CutResponseTo("GET", "orders.lock");
        var read = await store.GetAsync(".dataspoc/locks/orders.lock", Timeout());

        Assert.Single(proxy.CutResponses);
        Assert.Equal(content, read!.Content.ToArray());
    }

    /// <summary>
    /// An upload cancelled because the store stalled (a run whose lock renewals went unanswered cancels its uploads)
    /// discards what it left (an S3 multipart upload's abort, a GCS session's DELETE) best-effort: the put gives up on the
    /// unanswered request within a short bound, not 15 s (GCS) or 30 s (S3) later. Large enough for S3's multipart path.
    /// </summary>
    [Fact]
    public async Task An_upload_cancelled_on_a_stalled_store_ends_within_the_discard_bound()
    {
        var prefix = StoreTarget.NewPrefix();
        await using var proxy = new TcpFaultProxy(Target.ServerPort);
        await using var store = Target.Open(prefix, proxy.Port);
        using var cancel = new CancellationTokenSource();
        var stalled = 0;
        proxy.OnUpload = total =>
        {
            if (total <= FaultAfter || Interlocked.Exchange(ref stalled, 1) != 0) return;
            proxy.Stall();
            cancel.CancelAfter(TimeSpan.FromMilliseconds(500));
        };
        var cancelledAt = 0L;
        using var registration = cancel.Token.Register(() => Interlocked.Exchange(ref cancelledAt, System.Diagnostics.Stopwatch.GetTimestamp()));
        var (path, _) = TestFiles.Random(FileSize, seed: 24);
        try
        {
            var put = store.PutFileAsync("raw/s/t/dt=2025-01-01/t_0000.parquet", path, cancel.Token);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => put.WaitAsync(TimeSpan.FromSeconds(120)));
            Assert.True(Interlocked.Read(ref cancelledAt) != 0, "the stall should hit during the upload");
            var afterCancel = System.Diagnostics.Stopwatch.GetElapsedTime(Interlocked.Read(ref cancelledAt));
            // A run that lost its lock on a 3 s lease leaves within a few of them.
            Assert.True(afterCancel < TimeSpan.FromSeconds(10),
                $"the put ended {afterCancel.TotalSeconds:0.0} s after its cancellation (discard bound {DataSpoc.Pipe.Cloud.UnfinishedUploads.DiscardTimeout.TotalSeconds} s)");
        }
        finally { TestFiles.Delete(path); }
    }
}
