using DataSpoc.Pipe.Cloud.Tests.Servers;
using Xunit.Abstractions;

namespace DataSpoc.Pipe.Cloud.Tests;

// The same contracts, once per store. All share the one set of servers. The object-store contracts measure the
// memory of their 200 MB uploads, so they run alone (MeasuredAloneCollection); the others run beside other servers' tests.

[Collection(MeasuredAloneCollection.Name)]
public sealed class LocalStoreContractTests(ITestOutputHelper output) : ObjectStoreContract(output)
{
    protected override StoreTarget Target { get; } = new LocalTarget();
}

[Collection(MeasuredAloneCollection.Name)]
public sealed class S3StoreContractTests(CloudServers servers, ITestOutputHelper output) : ObjectStoreContract(output)
{
    protected override StoreTarget Target { get; } = new S3Target(servers);
}

[Collection(MeasuredAloneCollection.Name)]
public sealed class AzureStoreContractTests(CloudServers servers, ITestOutputHelper output) : ObjectStoreContract(output)
{
    protected override StoreTarget Target { get; } = new AzureTarget(servers);
}

[Collection(MeasuredAloneCollection.Name)]
public sealed class GcsStoreContractTests(CloudServers servers, ITestOutputHelper output) : ObjectStoreContract(output)
{
    protected override StoreTarget Target { get; } = new GcsTarget(servers);
}

public sealed class LocalConditionalWriteTests : ConditionalWriteContract
{
    protected override StoreTarget Target { get; } = new LocalTarget();
}

[Collection(AzuriteCollection.Name)]
public sealed class AzureConditionalWriteTests(CloudServers servers) : ConditionalWriteContract
{
    protected override StoreTarget Target { get; } = new AzureTarget(servers);
}

[Collection(GcsStandInCollection.Name)]
public sealed class GcsConditionalWriteTests(CloudServers servers) : ConditionalWriteContract
{
    protected override StoreTarget Target { get; } = new GcsTarget(servers);
}

[Collection(S3rverCollection.Name)]
public sealed class S3UploadFaultTests(CloudServers servers) : UploadFaultContract
{
    protected override StoreTarget Target { get; } = new S3Target(servers);

    /// <summary>
    /// s3rver implements neither ListMultipartUploads nor AbortMultipartUpload, so what can be checked here is that
    /// the store sent the abort for its upload; real S3 then discards the parts.
    /// </summary>
    protected override Task AssertNoUnfinishedUploadsAsync(string prefix, TcpFaultProxy proxy)
    {
        Assert.Contains(proxy.DeleteRequests, line => line.Contains($"/{CloudServers.BucketName}/{prefix}/", StringComparison.Ordinal) && line.Contains("uploadId=", StringComparison.Ordinal));
        return Task.CompletedTask;
    }
}

[Collection(AzuriteCollection.Name)]
public sealed class AzureUploadFaultTests(CloudServers servers) : UploadFaultContract
{
    protected override StoreTarget Target { get; } = new AzureTarget(servers);
}

[Collection(GcsStandInCollection.Name)]
public sealed class GcsUploadFaultTests(CloudServers servers) : UploadFaultContract
{
    protected override StoreTarget Target { get; } = new GcsTarget(servers);

    protected override Task AssertNoUnfinishedUploadsAsync(string prefix, TcpFaultProxy proxy)
    {
        Assert.Equal(0, servers.Gcs.OpenSessionsUnder(prefix));
        return Task.CompletedTask;
    }

    /// <summary>
    /// An upload cancelled because the store stalled (a run whose lock renewals went unanswered cancels its uploads)
    /// discards its session best-effort: the put gives up on the unanswered DELETE within its short bound, not 15 s later.
    /// </summary>
    [Fact]
    public async Task An_upload_cancelled_on_a_stalled_store_ends_within_the_session_cancel_bound()
    {
        var prefix = StoreTarget.NewPrefix();
        await using var proxy = new TcpFaultProxy(Target.ServerPort);
        await using var store = Target.Open(prefix, proxy.Port);
        using var cancel = new CancellationTokenSource();
        var stalled = 0;
        proxy.OnUpload = total =>
        {
            if (total <= 4L << 20 || Interlocked.Exchange(ref stalled, 1) != 0) return;
            proxy.Stall();
            cancel.CancelAfter(TimeSpan.FromMilliseconds(500));
        };
        var cancelledAt = 0L;
        using var registration = cancel.Token.Register(() => Interlocked.Exchange(ref cancelledAt, System.Diagnostics.Stopwatch.GetTimestamp()));
        var (path, _) = TestFiles.Random(16L << 20, seed: 23);
        try
        {
            var put = store.PutFileAsync("raw/s/t/dt=2025-01-01/t_0000.parquet", path, cancel.Token);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => put.WaitAsync(TimeSpan.FromSeconds(120)));
            Assert.True(Interlocked.Read(ref cancelledAt) != 0, "the stall should hit during the upload");
            var afterCancel = System.Diagnostics.Stopwatch.GetElapsedTime(Interlocked.Read(ref cancelledAt));
            // A run that lost its lock on a 3 s lease leaves within a few of them; the unanswered DELETE held it 15 s.
            Assert.True(afterCancel < TimeSpan.FromSeconds(10),
                $"the put ended {afterCancel.TotalSeconds:0.0} s after its cancellation (session cancel bound {DataSpoc.Pipe.Cloud.GcsObjectStore.SessionCancelTimeout.TotalSeconds} s)");
        }
        finally { TestFiles.Delete(path); }
    }
}

public sealed class LocalRangedReadTests : RangedReadContract
{
    protected override StoreTarget Target { get; } = new LocalTarget();
}

[Collection(S3rverCollection.Name)]
public sealed class S3RangedReadTests(CloudServers servers) : RangedReadContract
{
    protected override StoreTarget Target { get; } = new S3Target(servers);

    [Fact] public Task Only_the_range_comes_from_s3rver() => Only_the_range_comes_from_the_server();
}

[Collection(AzuriteCollection.Name)]
public sealed class AzureRangedReadTests(CloudServers servers) : RangedReadContract
{
    protected override StoreTarget Target { get; } = new AzureTarget(servers);

    [Fact] public Task Only_the_range_comes_from_azurite() => Only_the_range_comes_from_the_server();
}

[Collection(GcsStandInCollection.Name)]
public sealed class GcsRangedReadTests(CloudServers servers) : RangedReadContract
{
    protected override StoreTarget Target { get; } = new GcsTarget(servers);

    [Fact] public Task Only_the_range_comes_from_the_gcs_stand_in() => Only_the_range_comes_from_the_server();
}
