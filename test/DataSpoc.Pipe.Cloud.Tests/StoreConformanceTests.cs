using Amazon.S3;
using Amazon.S3.Model;
using DataSpoc.Pipe.Cloud.Tests.Servers;
using Xunit.Abstractions;

namespace DataSpoc.Pipe.Cloud.Tests;

// The same contracts, once per store. All share the one set of servers (and run one class at a time, which
// also keeps the memory measurements of the 200 MB uploads free of other tests' allocations).

[Collection(CloudServersCollection.Name)]
public sealed class LocalStoreContractTests(ITestOutputHelper output) : ObjectStoreContract(output)
{
    protected override StoreTarget Target { get; } = new LocalTarget();
}

[Collection(CloudServersCollection.Name)]
public sealed class S3StoreContractTests(CloudServers servers, ITestOutputHelper output) : ObjectStoreContract(output)
{
    protected override StoreTarget Target { get; } = new S3Target(servers);
}

[Collection(CloudServersCollection.Name)]
public sealed class AzureStoreContractTests(CloudServers servers, ITestOutputHelper output) : ObjectStoreContract(output)
{
    protected override StoreTarget Target { get; } = new AzureTarget(servers);
}

[Collection(CloudServersCollection.Name)]
public sealed class GcsStoreContractTests(CloudServers servers, ITestOutputHelper output) : ObjectStoreContract(output)
{
    protected override StoreTarget Target { get; } = new GcsTarget(servers);
}

[Collection(CloudServersCollection.Name)]
public sealed class LocalConditionalWriteTests : ConditionalWriteContract
{
    protected override StoreTarget Target { get; } = new LocalTarget();
}

[Collection(CloudServersCollection.Name)]
public sealed class AzureConditionalWriteTests(CloudServers servers) : ConditionalWriteContract
{
    protected override StoreTarget Target { get; } = new AzureTarget(servers);
}

[Collection(CloudServersCollection.Name)]
public sealed class GcsConditionalWriteTests(CloudServers servers) : ConditionalWriteContract
{
    protected override StoreTarget Target { get; } = new GcsTarget(servers);
}

[Collection(CloudServersCollection.Name)]
public sealed class S3UploadFaultTests(CloudServers servers) : UploadFaultContract
{
    protected override StoreTarget Target { get; } = new S3Target(servers);

    protected override async Task AssertNoUnfinishedUploadsAsync(string prefix)
    {
        using var s3 = new AmazonS3Client(S3rverServer.AccessKey, S3rverServer.SecretKey,
            new AmazonS3Config { ServiceURL = servers.S3.Endpoint, ForcePathStyle = true, AuthenticationRegion = "us-east-1" });
        var uploads = await s3.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = CloudServers.BucketName, Prefix = prefix + "/" });
        Assert.Empty(uploads.MultipartUploads ?? []);
    }
}

[Collection(CloudServersCollection.Name)]
public sealed class AzureUploadFaultTests(CloudServers servers) : UploadFaultContract
{
    protected override StoreTarget Target { get; } = new AzureTarget(servers);
}

[Collection(CloudServersCollection.Name)]
public sealed class GcsUploadFaultTests(CloudServers servers) : UploadFaultContract
{
    protected override StoreTarget Target { get; } = new GcsTarget(servers);

    protected override Task AssertNoUnfinishedUploadsAsync(string prefix)
    {
        Assert.Equal(0, servers.Gcs.OpenSessions);
        return Task.CompletedTask;
    }
}
