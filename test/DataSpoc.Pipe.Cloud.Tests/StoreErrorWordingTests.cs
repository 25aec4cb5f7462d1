using DataSpoc.Pipe.Api;
using DataSpoc.Pipe.Cloud.Tests.Servers;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Cloud.Tests;

/// <summary>How a store's failures read when the endpoint is not reached or answers with something other than the service's errors.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class StoreErrorWordingTests(CloudServers servers)
{
    private static readonly CancellationToken Soon = new CancellationTokenSource(TimeSpan.FromSeconds(120)).Token;

    [Fact]
    public async Task Azure_an_endpoint_that_refuses_connections_is_named_once_with_the_attempts_and_validate_says_it_was_not_reached()
    {
        await using var proxy = new TcpFaultProxy(servers.Azure.Port);
        proxy.GoDown();
        var factory = CloudServers.Factory(servers.AzureEnvironment(proxy.Port));
        var options = new Dictionary<string, string> { ["retry_delay"] = "10ms" };
        var bucket = $"az://{CloudServers.BucketName}/{StoreTarget.NewPrefix()}";
        await using var store = factory.Open(bucket, options);

        var put = await Assert.ThrowsAsync<StorageException>(() => store.PutAsync("m.json", "{}"u8.ToArray(), WriteCondition.None, Soon));
        // Not the SDK's "Retry failed after 6 tries. Retry settings can be adjusted in ClientOptions.Retry ..." and each cause again.
        Assert.Equal($"Azure Blob put of {bucket}/m.json failed: could not reach the endpoint (6 attempts): Connection refused (127.0.0.1:{proxy.Port})", put.Message);
        Assert.True(put.Unreachable);

        var probe = await BucketProbe.RunAsync(factory, bucket, options, Soon);
        Assert.False(probe.Ok);
        Assert.StartsWith($"cannot write: Azure Blob put of {bucket}/.dataspoc/probe/", probe.Detail);
        Assert.EndsWith($"failed: could not reach the endpoint (6 attempts): Connection refused (127.0.0.1:{proxy.Port})", probe.Detail);
        Assert.DoesNotContain("denied", probe.Detail);
    }

    [Fact]
    public async Task Azure_an_error_whose_body_is_not_the_services_xml_keeps_its_status()
    {
        await using var proxy = new TcpFaultProxy(servers.Azure.Port);
        // A gateway's own page under an XML content type: the SDK's error parser used to fail on it and its message
        // ("Data at the root level is invalid") replaced the status.
        proxy.AnswerUnavailable("injected");
        var bucket = $"az://{CloudServers.BucketName}/{StoreTarget.NewPrefix()}";
        await using var store = CloudServers.Factory(servers.AzureEnvironment(proxy.Port)).Open(bucket, new Dictionary<string, string> { ["retry_delay"] = "10ms" });

        var list = await Assert.ThrowsAsync<StorageException>(async () => await store.ListAsync("", Soon).ToListAsync());
        Assert.StartsWith($"Azure Blob list of {bucket} (prefix '') failed: 503", list.Message);
        Assert.Contains("injected", list.Message);
        Assert.DoesNotContain("root level", list.Message);
    }
}
