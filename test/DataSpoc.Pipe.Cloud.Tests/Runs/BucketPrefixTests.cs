using Azure.Storage.Blobs;

namespace DataSpoc.Pipe.Cloud.Tests.Runs;

/// <summary>
/// A bucket prefix is a plain folder name. The Azure SDK sends <c>az://lake/../victim</c>'s blob URL through
/// <see cref="System.Uri"/>, which removes the dot segments: the run would land in container <c>victim</c>.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class BucketPrefixTests(CloudServers servers)
{
    [Fact]
    public async Task A_run_into_an_azure_prefix_with_a_dot_dot_segment_is_refused_and_writes_nothing_into_the_other_container()
    {
        var victim = new BlobContainerClient(servers.Azure.ConnectionString(), "victim-" + Guid.NewGuid().ToString("N")[..10]);
        await victim.CreateAsync();
        var target = new AzureTarget(servers);
        await using var lake = new CloudLake(target); // only its runner: the pipeline names its own bucket
        var bucket = $"az://{CloudServers.BucketName}/../{victim.Name}";

        var refused = await Assert.ThrowsAsync<FormatException>(() => lake.RunAsync(CloudLake.Pipeline("orders", bucket, count: 3)));

        Assert.Equal($"bucket '{bucket}' must not contain empty, '.' or '..' segments in its bucket name or prefix", refused.Message);
        Assert.Empty(await victim.GetBlobsAsync().ToListAsync());
    }
}
