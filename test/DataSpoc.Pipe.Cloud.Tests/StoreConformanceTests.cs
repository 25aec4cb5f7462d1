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
